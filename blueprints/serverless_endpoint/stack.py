"""Blueprint: a SageMaker serverless endpoint, ready for ``cdk deploy``.

The same model definition as the real-time blueprint (image, model artifact, environment), served
without instances: a rotating KMS key, the model and its least-privilege role, the serverless
endpoint, and alarms on errors, latency, cold starts and concurrency to an encrypted SNS topic. No
VPC: serverless endpoints do not support one.
"""

from __future__ import annotations

from aws_cdk import Duration, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.model_settings import add_endpoint_outputs, build_model_parts
from mlblueprints.blueprints.serverless_endpoint.settings import ServerlessEndpointSettings
from mlblueprints.constructs.sagemaker.deployment import BlueGreenUpdate
from mlblueprints.constructs.sagemaker.serverless import ServerlessAlarms, ServerlessEndpoint
from mlblueprints.constructs.security.baseline import SecurityBaseline

__all__ = ["ServerlessEndpointStack"]


class ServerlessEndpointStack(Stack):
    """A serverless endpoint and everything it needs, deployable as one stack."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: ServerlessEndpointSettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints serverless SageMaker endpoint ({settings.memory_size_mb or 2048} MB)",
        )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        self.key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key
        image, model_data = build_model_parts(self, settings)
        self.endpoint = ServerlessEndpoint(
            self,
            "Endpoint",
            image=image,
            model_data=model_data,
            encryption_key=self.key.key,
            alarms=ServerlessAlarms(
                email=settings.alarm_email,
                **settings.explicit(
                    "invocation_5xx_errors",
                    "model_latency_p90_ms",
                    "cold_start_ms",
                    "concurrency_utilization",
                ),
            ),
            deployment=BlueGreenUpdate(wait_interval=Duration.seconds(settings.update_wait_seconds))
            if settings.update_wait_seconds is not None
            else None,
            removal_policy=removal_policy,
            **settings.explicit(
                "memory_size_mb", "max_concurrency", "provisioned_concurrency", "environment", "endpoint_name"
            ),
        )
        add_endpoint_outputs(self, self.endpoint)

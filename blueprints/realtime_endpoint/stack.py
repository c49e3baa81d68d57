"""Blueprint: a real-time SageMaker endpoint in a private VPC, ready for ``cdk deploy``.

Composes the catalog's constructs: the security baseline (a rotating KMS key and a private VPC with
the endpoints SageMaker needs) and a :class:`RealtimeEndpoint` with auto scaling and alarms.
Configured by :class:`RealtimeEndpointSettings`, which the catalog app reads from a JSON file or CDK
context.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy

from constructs import Construct
from mlblueprints.blueprints.model_settings import SMOKE_TEST_MODEL, build_model_parts
from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
from mlblueprints.blueprints.settings_base import construct_default
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.sagemaker.deployment import BlueGreenUpdate, RollingUpdate, deployment_for
from mlblueprints.constructs.sagemaker.endpoint import EndpointAlarms, EndpointAutoScaling, RealtimeEndpoint
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime

__all__ = ["SMOKE_TEST_MODEL", "RealtimeEndpointSettings", "RealtimeEndpointStack", "update_policy"]


class RealtimeEndpointStack(AvailabilityZonesAtDeployTime):
    """A real-time endpoint and everything it needs, deployable as one stack."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: RealtimeEndpointSettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints real-time SageMaker endpoint on {settings.instance_type}",
        )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        baseline = SecurityBaseline.create(
            self,
            create_vpc=settings.create_vpc,
            removal_policy=removal_policy,
            **({"vpc_cidr": settings.vpc_cidr} if settings.vpc_cidr else {}),
        )
        self.key, self.network = baseline.key, baseline.network

        image, model_data = build_model_parts(self, settings)
        auto_scaling = (
            EndpointAutoScaling(
                **settings.explicit("min_capacity", "max_capacity", "target_invocations_per_instance")
            )
            if settings.auto_scaling
            else None
        )
        self.endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            instance_type=settings.instance_type,
            image=image,
            model_data=model_data,
            vpc=self.network.vpc if self.network else None,
            subnets=self.network.subnets if self.network else None,
            encryption_key=self.key.key,
            auto_scaling=auto_scaling,
            alarms=EndpointAlarms(
                email=settings.alarm_email,
                **settings.explicit("model_latency_p90_ms", "invocation_5xx_errors"),
            ),
            deployment=update_policy(settings, auto_scaling),
            removal_policy=removal_policy,
            allow_unlisted_instance_types=settings.allow_unlisted_instance_types,
            **settings.explicit(
                "initial_instance_count", "environment", "network_isolation", "endpoint_name"
            ),
        )
        if self.network is not None:
            # The VPC's S3 gateway lets through exactly the model artifact (and ECR's image layers).
            self.network.allow_s3_objects(model_data.object_arn(self))
            # Interface and gateway endpoints first: the instances pull the image and the model
            # through them as soon as the endpoint is created.
            self.endpoint.endpoint.node.add_dependency(self.network)
        CfnOutput(
            self, "EndpointName", value=self.endpoint.endpoint_name, description="SageMaker endpoint name"
        )
        CfnOutput(self, "EndpointArn", value=self.endpoint.endpoint_arn, description="SageMaker endpoint ARN")
        if self.endpoint.alarm_topic is not None:
            CfnOutput(
                self,
                "AlarmTopicArn",
                value=self.endpoint.alarm_topic.topic_arn,
                description="Subscribe to this SNS topic to receive the endpoint's alarms",
            )


def update_policy(
    settings: RealtimeEndpointSettings, auto_scaling: EndpointAutoScaling | None
) -> BlueGreenUpdate | RollingUpdate | None:
    """The deployment policy the ``update_*`` settings name; ``None`` leaves the construct's default."""
    instance = check_instance_type(
        settings.instance_type,
        use=SageMakerUse.REALTIME_INFERENCE,
        allow_unlisted=settings.allow_unlisted_instance_types,
    )
    count = (
        settings.initial_instance_count
        or construct_default(RealtimeEndpoint, "initial_instance_count")["default"]
    )
    return deployment_for(
        settings.update_strategy,
        step_percent=settings.update_step_percent,
        wait_seconds=settings.update_wait_seconds,
        instance=instance,
        min_instances=auto_scaling.capacities(count)[0] if auto_scaling else count,
    )

"""Blueprint: a real-time SageMaker endpoint in a private VPC, ready for ``cdk deploy``.

Composes the catalog's constructs: the security baseline (a rotating KMS key and a private VPC with
the endpoints SageMaker needs) and a :class:`RealtimeEndpoint` with auto scaling and alarms.
Configured by :class:`RealtimeEndpointSettings`, which the catalog app reads from a JSON file or CDK
context.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Environment, RemovalPolicy
from aws_cdk import aws_kms as kms

from constructs import Construct
from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.endpoint import EndpointAlarms, EndpointAutoScaling, RealtimeEndpoint
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime

__all__ = ["SMOKE_TEST_MODEL", "RealtimeEndpointSettings", "RealtimeEndpointStack"]

SMOKE_TEST_MODEL = Path(__file__).parent / "smoke_test_model"


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

        if settings.image_uri:
            image = ContainerImage.from_image_uri(settings.image_uri)
        else:
            image = ContainerImage.from_dlc(
                settings.dlc_repository,
                settings.dlc_tag,
                allow_unlisted_tag=settings.allow_unlisted_image_tags,
            )
        if settings.model_data_url:
            data_key = (
                kms.Key.from_key_arn(self, "ModelDataKey", settings.model_data_kms_key_arn)
                if settings.model_data_kms_key_arn
                else None
            )
            model_data = ModelData.from_s3_url(settings.model_data_url, encryption_key=data_key)
        else:
            model_data = ModelData.from_directory(self, "SmokeTestModel", SMOKE_TEST_MODEL)

        self.endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            instance_type=settings.instance_type,
            image=image,
            model_data=model_data,
            vpc=self.network.vpc if self.network else None,
            subnets=self.network.subnets if self.network else None,
            encryption_key=self.key.key,
            auto_scaling=EndpointAutoScaling(
                **settings.explicit("min_capacity", "max_capacity", "target_invocations_per_instance")
            )
            if settings.auto_scaling
            else None,
            alarms=EndpointAlarms(**settings.explicit("model_latency_p90_ms", "invocation_5xx_errors")),
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

"""Blueprint: a real-time SageMaker endpoint in a private VPC, ready for ``cdk deploy``.

Composes the catalog's constructs: a rotating KMS key, a private VPC with the endpoints SageMaker
needs, and a :class:`RealtimeEndpoint` with auto scaling and alarms. Configured by
:class:`RealtimeEndpointSettings`, which the catalog app reads from CDK context or a JSON file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms

from constructs import Construct
from mlblueprints.constructs.container_image import ContainerImage
from mlblueprints.constructs.encryption_key import EncryptionKey
from mlblueprints.constructs.model_data import ModelData
from mlblueprints.constructs.private_network import PrivateNetwork
from mlblueprints.constructs.realtime_endpoint import EndpointAlarms, EndpointAutoScaling, RealtimeEndpoint

__all__ = ["BlueprintConfigError", "RealtimeEndpointSettings", "RealtimeEndpointStack"]

SMOKE_TEST_MODEL = Path(__file__).parent / "smoke_test_model"


class BlueprintConfigError(ValueError):
    """A blueprint setting (from context or a config file) that is missing, unknown or mistyped."""


@dataclass(frozen=True)
class RealtimeEndpointSettings:
    """Everything a user sets for this blueprint, without editing code.

    :param instance_type: e.g. ``ml.g5.xlarge`` (NVIDIA A10G), ``ml.inf2.xlarge``, ``ml.trn1.2xlarge``.
    :param image_uri: your own image in ECR. Exclusive with ``dlc_repository``/``dlc_tag``.
    :param dlc_repository: an AWS Deep Learning Containers repository, e.g. ``pytorch-inference``.
    :param dlc_tag: its tag, e.g. ``2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker``.
    :param model_data_url: ``s3://<bucket>/<key>.tar.gz``. Default: the bundled smoke-test model,
        which answers requests by echoing them, so that a first deploy can be invoked end to end.
    :param model_data_kms_key_arn: the KMS key of an SSE-KMS model bucket, granted for decryption.
    :param create_vpc: run the model in a new private VPC (default). ``False`` runs it without a VPC,
        still network-isolated.
    :param auto_scaling: register the variant with Application Auto Scaling (default). SageMaker
        refuses to change the instance type of a registered variant: deploy once with ``false``,
        then with the new ``instance_type`` and ``true`` again.
    :param retain_data: keep the KMS key and log groups when the stack is deleted (default).
    """

    instance_type: str
    dlc_repository: str | None = None
    dlc_tag: str | None = None
    image_uri: str | None = None
    model_data_url: str | None = None
    model_data_kms_key_arn: str | None = None
    initial_instance_count: int = 2
    auto_scaling: bool = True
    min_capacity: int | None = None
    max_capacity: int | None = None
    target_invocations_per_instance: float = 70.0
    model_latency_p90_ms: float = 1000.0
    invocation_5xx_errors: int = 1
    environment: dict[str, str] = field(default_factory=dict)
    create_vpc: bool = True
    vpc_cidr: str = "10.80.0.0/16"
    network_isolation: bool = True
    retain_data: bool = True
    allow_unlisted_instance_types: bool = False
    description: str | None = None

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any]) -> RealtimeEndpointSettings:
        """Build settings from a config mapping, naming any unknown key or wrong type."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise BlueprintConfigError(
                f"Stack {name!r}: unknown setting(s) {', '.join(map(repr, unknown))}. "
                f"Valid settings: {', '.join(sorted(known))}."
            )
        if "instance_type" not in config:
            raise BlueprintConfigError(
                f'Stack {name!r}: \'instance_type\' is required, e.g. "ml.g5.xlarge", "ml.inf2.xlarge" '
                'or "ml.trn1.2xlarge".'
            )
        for key, value in config.items():
            _check_type(name, key, value, known[key].type)
        return cls(**config)

    def image(self) -> ContainerImage:
        if self.image_uri and (self.dlc_repository or self.dlc_tag):
            raise BlueprintConfigError(
                "Set either image_uri (your own ECR image) or dlc_repository and dlc_tag (an AWS Deep "
                "Learning Container), not both."
            )
        if self.image_uri:
            return ContainerImage.from_image_uri(self.image_uri)
        if not (self.dlc_repository and self.dlc_tag):
            raise BlueprintConfigError(
                "No container image: set image_uri to your ECR image, or dlc_repository and dlc_tag to an "
                "AWS Deep Learning Container such as 'pytorch-inference' / "
                "'2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker'."
            )
        return ContainerImage.from_dlc(self.dlc_repository, self.dlc_tag)


_TYPE_NAMES = {
    "str": str,
    "str | None": str,
    "int": int,
    "int | None": int,
    "float": (int, float),
    "bool": bool,
    "dict[str, str]": dict,
}


def _check_type(stack: str, key: str, value: Any, annotation: str) -> None:
    expected = _TYPE_NAMES[annotation]
    if value is None and "None" in annotation:
        return
    wrong_bool = isinstance(value, bool) and expected is not bool
    if wrong_bool or not isinstance(value, expected):
        raise BlueprintConfigError(
            f"Stack {stack!r}: setting {key!r} is {value!r} ({type(value).__name__}); expected {annotation}."
        )


class RealtimeEndpointStack(Stack):
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
        image = settings.image()
        self.key = EncryptionKey(
            self,
            "Key",
            description=f"Encrypts the data of stack {self.stack_name}: volumes, logs, alarm topic",
            removal_policy=removal_policy,
        )
        self.key.allow_cloudwatch_logs()

        self.network: PrivateNetwork | None = None
        if settings.create_vpc:
            self.network = PrivateNetwork(
                self,
                "Network",
                encryption_key=self.key.key,
                cidr=settings.vpc_cidr,
                removal_policy=removal_policy,
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
            initial_instance_count=settings.initial_instance_count,
            environment=settings.environment,
            network_isolation=settings.network_isolation,
            vpc=self.network.vpc if self.network else None,
            subnets=self.network.subnets if self.network else None,
            encryption_key=self.key.key,
            auto_scaling=EndpointAutoScaling(
                min_capacity=settings.min_capacity,
                max_capacity=settings.max_capacity,
                target_invocations_per_instance=settings.target_invocations_per_instance,
            )
            if settings.auto_scaling
            else None,
            alarms=EndpointAlarms(
                model_latency_p90_ms=settings.model_latency_p90_ms,
                invocation_5xx_errors=settings.invocation_5xx_errors,
            ),
            removal_policy=removal_policy,
            allow_unlisted_instance_types=settings.allow_unlisted_instance_types,
        )
        if self.network is not None:
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

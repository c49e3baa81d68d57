"""Settings of the ``realtime-endpoint`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, model_validator

from mlblueprints.blueprints.settings_base import BlueprintSettings, construct_default
from mlblueprints.constructs.sagemaker.endpoint import (
    MAX_LATENCY_THRESHOLD_MS,
    EndpointAlarms,
    RealtimeEndpoint,
)
from mlblueprints.constructs.sagemaker.scaling import MAX_INSTANCES_PER_VARIANT, EndpointAutoScaling
from mlblueprints.constructs.security.private_network import PrivateNetwork, network_problems

__all__ = ["RealtimeEndpointSettings"]

# A KMS key ARN (grants and key policies need the key, not an alias: "Using aliases to control
# access to KMS keys", AWS KMS Developer Guide).
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})$"
Count = Annotated[int, Field(ge=1, le=MAX_INSTANCES_PER_VARIANT)]


class RealtimeEndpointSettings(BlueprintSettings):
    """A SageMaker real-time endpoint in a private VPC, on GPU, Inferentia or Trainium."""

    blueprint_name: ClassVar[str] = "realtime-endpoint"

    instance_type: str = Field(
        description="A SageMaker ProductionVariantInstanceType, e.g. ml.g5.xlarge, ml.g6.12xlarge, "
        "ml.p5.48xlarge, ml.inf2.xlarge, ml.trn1.2xlarge.",
        min_length=1,
    )
    dlc_repository: str | None = Field(
        None,
        description="An AWS Deep Learning Containers repository, e.g. pytorch-inference or "
        "pytorch-inference-neuronx. Required with dlc_tag unless image_uri is set.",
    )
    dlc_tag: str | None = Field(
        None,
        description="Its tag, e.g. 2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker. Required with dlc_repository.",
    )
    image_uri: str | None = Field(
        None,
        description="Your own image in ECR (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>), in the "
        "stack's region, instead of a DLC.",
    )
    allow_unlisted_image_tags: bool = Field(
        False, description="Accept a DLC tag newer than the catalog's image tables (synth warns)."
    )
    model_data_url: str | None = Field(
        None,
        description="s3://<bucket>/<key>.tar.gz. Default: the bundled smoke-test model. The model role may "
        "read exactly that object.",
    )
    model_data_kms_key_arn: str | None = Field(
        None,
        pattern=KMS_KEY_ARN,
        description="KMS key ARN (not an alias) of an SSE-KMS model bucket; the model role may decrypt with it.",
    )
    initial_instance_count: Count | None = Field(
        None,
        description="Instances at creation; 2 or more spread over availability zones.",
        json_schema_extra=construct_default(RealtimeEndpoint, "initial_instance_count"),
    )
    auto_scaling: bool = Field(
        True,
        description="Register the variant with Application Auto Scaling. To change instance_type later, "
        "deploy once with false, then with the new type and true.",
    )
    min_capacity: Count | None = Field(
        None, description="Auto-scaling minimum. Default: initial_instance_count."
    )
    max_capacity: Count | None = Field(None, description="Auto-scaling maximum. Default: twice min_capacity.")
    target_invocations_per_instance: float | None = Field(
        None,
        gt=0,
        le=1_000_000,
        description="Target tracking on SageMakerVariantInvocationsPerInstance (per minute).",
        json_schema_extra=construct_default(EndpointAutoScaling, "target_invocations_per_instance"),
    )
    model_latency_p90_ms: float | None = Field(
        None,
        gt=0,
        le=MAX_LATENCY_THRESHOLD_MS,
        description="Alarm when p90 ModelLatency stays above this for 3 minutes.",
        json_schema_extra=construct_default(EndpointAlarms, "model_latency_p90_ms"),
    )
    invocation_5xx_errors: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Alarm when a 5-minute window has at least this many 5XX errors.",
        json_schema_extra=construct_default(EndpointAlarms, "invocation_5xx_errors"),
    )
    environment: dict[str, str] | None = Field(None, description="Container environment variables.")
    endpoint_name: str | None = Field(
        None,
        description="A fixed endpoint name. Default: the construct path plus a block of the stack ID, new "
        "for each re-creation of the stack.",
    )
    create_vpc: bool = Field(
        True, description="Run the model in a new private VPC; false runs it without one."
    )
    vpc_cidr: str | None = Field(
        None,
        description="The new VPC's private IPv4 block, /16 to /19 (one /20 subnet per availability zone).",
        json_schema_extra=construct_default(PrivateNetwork, "cidr"),
    )
    network_isolation: bool | None = Field(
        None,
        description="No outbound network from the model container.",
        json_schema_extra=construct_default(RealtimeEndpoint, "network_isolation"),
    )
    retain_data: bool = Field(
        True,
        description="Keep the KMS key and log groups when the stack is deleted; false deletes them with it.",
    )
    allow_unlisted_instance_types: bool = Field(
        False, description="Accept an ml.* type newer than the installed botocore (synth warns)."
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    @model_validator(mode="after")
    def _one_image_source(self) -> RealtimeEndpointSettings:
        dlc = self.dlc_repository is not None or self.dlc_tag is not None
        if self.image_uri and dlc:
            raise ValueError(
                "set either image_uri (your own ECR image) or dlc_repository and dlc_tag (an AWS Deep "
                "Learning Container), not both"
            )
        if not self.image_uri and not (self.dlc_repository and self.dlc_tag):
            raise ValueError(
                "no container image: set image_uri to your ECR image, or both dlc_repository and dlc_tag, "
                'e.g. "pytorch-inference" and "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"'
            )
        if self.vpc_cidr is not None and not self.create_vpc:
            raise ValueError("vpc_cidr is set but create_vpc is false; drop one of them")
        if self.vpc_cidr is not None:
            problems = network_problems(self.vpc_cidr, max_azs=2)
            if problems:
                raise ValueError("; ".join(problem.message for problem in problems))
        if self.model_data_kms_key_arn and not self.model_data_url:
            raise ValueError(
                "model_data_kms_key_arn needs model_data_url (the bundled model is not KMS-encrypted)"
            )
        if not self.auto_scaling and (
            self.min_capacity or self.max_capacity or self.target_invocations_per_instance
        ):
            raise ValueError(
                "min_capacity, max_capacity and target_invocations_per_instance need auto_scaling: true"
            )
        return self

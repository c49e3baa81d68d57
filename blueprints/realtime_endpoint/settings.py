"""Settings of the ``realtime-endpoint`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from aws_cdk import Aws
from pydantic import Field

from mlblueprints.blueprints.settings_base import BlueprintSettings, construct_default, documented_default
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker.container_image import ContainerImage, image_problems
from mlblueprints.constructs.sagemaker.endpoint import (
    MAX_5XX_THRESHOLD,
    MAX_LATENCY_THRESHOLD_MS,
    EndpointAlarms,
    RealtimeEndpoint,
    count_problems,
)
from mlblueprints.constructs.sagemaker.model_data import ModelData, key_region_problems
from mlblueprints.constructs.sagemaker.scaling import (
    MAX_INSTANCES_PER_VARIANT,
    MAX_TARGET_INVOCATIONS,
    EndpointAutoScaling,
)
from mlblueprints.constructs.security.private_network import PrivateNetwork, network_problems

__all__ = ["RealtimeEndpointSettings"]

# A KMS key ARN (grants and key policies need the key, not an alias: "Using aliases to control
# access to KMS keys", AWS KMS Developer Guide).
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})$"
# Ranges are checked by the constructs' own rules (see ``preflight``); the schema states them for editors.
Count = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": MAX_INSTANCES_PER_VARIANT})]
Target = Annotated[float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_TARGET_INVOCATIONS})]
LatencyMs = Annotated[
    float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_LATENCY_THRESHOLD_MS})
]
ErrorCount = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": MAX_5XX_THRESHOLD})]


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
        None,
        description="Auto-scaling minimum.",
        json_schema_extra=documented_default(EndpointAutoScaling, "min_capacity"),
    )
    max_capacity: Count | None = Field(
        None,
        description="Auto-scaling maximum.",
        json_schema_extra=documented_default(EndpointAutoScaling, "max_capacity"),
    )
    target_invocations_per_instance: Target | None = Field(
        None,
        description="Target tracking on SageMakerVariantInvocationsPerInstance (per minute).",
        json_schema_extra=construct_default(EndpointAutoScaling, "target_invocations_per_instance"),
    )
    model_latency_p90_ms: LatencyMs | None = Field(
        None,
        description="Alarm when p90 ModelLatency stays above this for 3 minutes.",
        json_schema_extra=construct_default(EndpointAlarms, "model_latency_p90_ms"),
    )
    invocation_5xx_errors: ErrorCount | None = Field(
        None,
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

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """Every problem the constructs would raise, found on the raw config with their own checks.

        Runs whether or not the field types are right (a value of the wrong type is skipped here and
        reported by pydantic), so one run names every problem of the stack.
        """
        problems = _image_source_problems(config)
        if isinstance(config.get("vpc_cidr"), str):
            if config.get("create_vpc") is False:
                problems.append(
                    Problem("vpc_cidr is set but create_vpc is false; drop one of them", setting="vpc_cidr")
                )
            problems += network_problems(config["vpc_cidr"], max_azs=2)
        if config.get("model_data_kms_key_arn") and not config.get("model_data_url"):
            problems.append(
                Problem(
                    "model_data_kms_key_arn needs model_data_url: the bundled smoke-test model is not "
                    "KMS-encrypted",
                    setting="model_data_kms_key_arn",
                )
            )
        instance = None
        if isinstance(config.get("instance_type"), str):
            try:
                instance = check_instance_type(
                    config["instance_type"],
                    use=SageMakerUse.REALTIME_INFERENCE,
                    allow_unlisted=config.get("allow_unlisted_instance_types") is True,
                )
            except MlBlueprintsError as error:
                problems += error.problems
        image = _image(config)
        if isinstance(image, ContainerImage):
            problems += [
                p for error in image_problems(image, instance, region or Aws.REGION) for p in error.problems
            ]
        elif image is not None:
            problems += image
        if isinstance(config.get("model_data_url"), str):
            try:
                ModelData.from_s3_url(config["model_data_url"])
            except MlBlueprintsError as error:
                problems += error.problems
        key_arn = config.get("model_data_kms_key_arn")
        if isinstance(key_arn, str) and region:
            problems += key_region_problems(key_arn, region)
        count = _typed(config, "initial_instance_count", int, default=2)
        count_ok = count is not None and not count_problems(count)
        if count is not None:
            problems += count_problems(count)
        if count_ok:
            scaling = _typed_options(
                config,
                EndpointAutoScaling,
                min_capacity=int,
                max_capacity=int,
                target_invocations_per_instance=float,
            )
            if scaling is not None and config.get("auto_scaling", True) is True:
                problems += scaling.problems(count)
        alarms = _typed_options(config, EndpointAlarms, model_latency_p90_ms=float, invocation_5xx_errors=int)
        if alarms is not None:
            problems += alarms.problems()
        if config.get("auto_scaling") is False and any(
            config.get(k) is not None
            for k in ("min_capacity", "max_capacity", "target_invocations_per_instance")
        ):
            problems.append(
                Problem(
                    "min_capacity, max_capacity and target_invocations_per_instance need auto_scaling: true",
                    setting="auto_scaling",
                )
            )
        return problems


def _image_source_problems(config: dict[str, Any]) -> list[Problem]:
    dlc = config.get("dlc_repository") is not None or config.get("dlc_tag") is not None
    if config.get("image_uri") and dlc:
        return [
            Problem(
                "set either image_uri (your own ECR image) or dlc_repository and dlc_tag (an AWS Deep "
                "Learning Container), not both",
                setting="image_uri",
            )
        ]
    if not config.get("image_uri") and not (config.get("dlc_repository") and config.get("dlc_tag")):
        return [
            Problem(
                "no container image: set image_uri to your ECR image, or both dlc_repository and dlc_tag, "
                'e.g. "pytorch-inference" and "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"',
                setting="dlc_repository",
            )
        ]
    return []


def _image(config: dict[str, Any]) -> ContainerImage | list[Problem] | None:
    repository, tag, uri = config.get("dlc_repository"), config.get("dlc_tag"), config.get("image_uri")
    if isinstance(uri, str) and uri and not (repository or tag):
        try:
            return ContainerImage.from_image_uri(uri)
        except MlBlueprintsError as error:
            return error.problems
    if isinstance(repository, str) and isinstance(tag, str) and not uri:
        return ContainerImage.from_dlc(
            repository, tag, allow_unlisted_tag=config.get("allow_unlisted_image_tags") is True
        )
    return None


def _typed(config: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """``config[key]`` if it has the type pydantic will accept (strict: no bools for numbers)."""
    value = config.get(key, default)
    if value is None or isinstance(value, bool):
        return None
    if kind is float and isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # a JSON integer beyond any float: out of every range anyway
            return float("inf")
    return value if isinstance(value, kind) else None


def _typed_options(config: dict[str, Any], options: type, **kinds: type) -> Any:
    """``options(**values)`` from the keys that are set with the right type; ``None`` if one is mistyped."""
    values = {}
    for key, kind in kinds.items():
        if config.get(key) is None:
            continue
        value = _typed(config, key, kind)
        if value is None:
            return None
        values[key] = value
    return options(**values)

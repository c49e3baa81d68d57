"""Settings of the ``realtime-endpoint`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from aws_cdk import Aws
from pydantic import BaseModel, ConfigDict, Field

from mlblueprints.blueprints.instance_endpoint import (
    Count,
    GuardedUpdateSettings,
    instance_preflight,
    update_problems,
)
from mlblueprints.blueprints.model_settings import (
    KMS_KEY_ARN,
    model_preflight,
    typed,
    typed_options,
)
from mlblueprints.blueprints.settings_base import construct_default, documented_default
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.compute.regional_offerings import regional_hosting_problems
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker.endpoint import (
    EndpointAlarms,
    RealtimeEndpoint,
    count_problems,
    model_package_problems,
)
from mlblueprints.constructs.sagemaker.scaling import MAX_TARGET_INVOCATIONS, EndpointAutoScaling
from mlblueprints.constructs.sagemaker.traffic import DataCapture, shadow_problems

__all__ = ["RealtimeEndpointSettings", "VariantSettings"]

CapturePercent = Annotated[int, Field(json_schema_extra={"minimum": 0, "maximum": 100})]
Target = Annotated[float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_TARGET_INVOCATIONS})]


class VariantSettings(BaseModel):
    """Another model on the endpoint: an A/B variant, or the shadow."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str = Field(description="The variant's name; keep it across updates.", min_length=1)
    instance_type: str = Field(description="Its SageMaker instance type.", min_length=1)
    initial_instance_count: int = Field(1, description="Its instances at creation.")
    weight: float = Field(
        1.0,
        description="Its InitialVariantWeight: its share of traffic relative to the other variants' "
        "weights; for the shadow, the weight SageMaker mirrors requests to it by.",
    )
    dlc_repository: str | None = Field(None, description="A DLC repository (or image_uri).")
    dlc_tag: str | None = Field(None, description="Its tag.")
    image_uri: str | None = Field(None, description="Your own ECR image instead of a DLC.")
    model_data_url: str = Field(description="s3://<bucket>/<key>.tar.gz, or a folder ending in '/'.")
    model_data_kms_key_arn: str | None = Field(None, pattern=KMS_KEY_ARN, description="Its bucket's KMS key.")
    environment: dict[str, str] | None = Field(None, description="Its container environment variables.")


class RealtimeEndpointSettings(GuardedUpdateSettings):
    """A SageMaker real-time endpoint in a private VPC, on GPU, Inferentia or Trainium."""

    blueprint_name: ClassVar[str] = "realtime-endpoint"
    multi_model: ClassVar[bool] = False

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
    initial_variant_weight: float | None = Field(
        None,
        description="This model's share of traffic relative to the weights of variants.",
        json_schema_extra=construct_default(RealtimeEndpoint, "initial_variant_weight"),
    )
    variants: list[VariantSettings] | None = Field(
        None,
        description="A/B variants: more models sharing the traffic by weight (up to 9), each with name, "
        "instance_type, initial_instance_count, weight, the image keys, model_data_url and environment; "
        "each scales and alarms like this one.",
    )
    shadow: VariantSettings | None = Field(
        None,
        description="A shadow variant that gets a copy of the traffic and whose responses are discarded; "
        "only beside a single production variant.",
    )
    model_package_arn: str | None = Field(
        None,
        description="Serve this approved model package version (e.g. from the training blueprint's group). "
        "The image keys name its serving image, and model_data_url (with model_data_kms_key_arn) its "
        "artifacts, e.g. the training stack's ArtifactsLocation and ArtifactsKeyArn outputs.",
    )
    data_capture_percent: CapturePercent | None = Field(
        None,
        description="Capture this share of requests and responses to a KMS-encrypted, retained bucket "
        "(JSON lines under data-capture/<endpoint>/<variant>/).",
    )
    data_capture_of: Literal["requests", "responses", "requests-and-responses"] = Field(
        "requests-and-responses", description="What data capture records (with data_capture_percent)."
    )

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """Every problem the constructs would raise, found on the raw config with their own checks.

        Runs whether or not the field types are right (a value of the wrong type is skipped here and
        reported by pydantic), so one run names every problem of the stack.
        """
        problems, instance, count = instance_preflight(config, region=region)
        min_instances = count
        if count is not None and not count_problems(count):
            scaling = typed_options(
                config,
                EndpointAutoScaling,
                min_capacity=int,
                max_capacity=int,
                target_invocations_per_instance=float,
            )
            if scaling is not None and config.get("auto_scaling", True) is True:
                problems += scaling.problems(count)
                min_instances = scaling.capacities(count)[0]
        several = bool(config.get("variants")) or config.get("shadow") is not None
        if several and config.get("update_strategy") == "rolling":
            problems.append(
                Problem(
                    "update_strategy rolling with variants or a shadow: SageMaker does not do rolling updates "
                    'of multi-variant endpoints. Use "all-at-once", "canary" or "linear".',
                    setting="update_strategy",
                    value="rolling",
                )
            )
        elif not several:
            problems += update_problems(config, instance, min_instances)
        problems += variant_problems(config, region=region, instance=instance, multi_model=cls.multi_model)
        if "data_capture_of" in config and config.get("data_capture_percent") is None:
            problems.append(
                Problem(
                    "data_capture_of needs data_capture_percent: set the share of requests to capture.",
                    setting="data_capture_of",
                )
            )
        package = config.get("model_package_arn")
        if isinstance(package, str):
            problems += model_package_problems(package, region or Aws.REGION, multi_model=cls.multi_model)
            if not config.get("model_data_url"):
                problems.append(
                    Problem(
                        "model_package_arn needs model_data_url: where the package's artifacts are (e.g. the "
                        "training stack's ArtifactsLocation output), so the model's role may read them.",
                        setting="model_data_url",
                    )
                )
        capture = typed(config, "data_capture_percent", int)
        if capture is not None:
            problems += DataCapture(sampling_percent=capture).problems()
            if cls.multi_model:
                problems.append(
                    Problem(
                        "data_capture_percent on a multi-model endpoint: SageMaker's multi-model feature "
                        "matrix lists data capture as not applicable.",
                        setting="data_capture_percent",
                    )
                )
        alarms = typed_options(config, EndpointAlarms, model_latency_p90_ms=float, invocation_5xx_errors=int)
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


def variant_problems(
    config: dict[str, Any], *, region: str | None, instance, multi_model: bool
) -> list[Problem]:
    """Each variant's instance, image and model-data problems, and the set's names and weights."""
    problems: list[Problem] = []
    variants = config.get("variants") if isinstance(config.get("variants"), list) else []
    shadow = config.get("shadow") if isinstance(config.get("shadow"), dict) else None
    entries = [(f"variants[{i}]", v) for i, v in enumerate(variants) if isinstance(v, dict)]
    if shadow is not None:
        entries.append(("shadow", shadow))
    names = [construct_default(RealtimeEndpoint, "variant_name")["default"]]
    shadow_instance = None
    for label, entry in entries:
        variant_instance = None
        if isinstance(entry.get("instance_type"), str):
            try:
                variant_instance = check_instance_type(
                    entry["instance_type"],
                    use=SageMakerUse.REALTIME_INFERENCE,
                    allow_unlisted=config.get("allow_unlisted_instance_types") is True,
                )
            except MlBlueprintsError as error:
                problems += _prefixed(label, error.problems)
            if (
                variant_instance is not None
                and region
                and config.get("allow_unlisted_instance_types") is not True
            ):
                problems += _prefixed(label, regional_hosting_problems(entry["instance_type"], region))
        if label == "shadow":
            shadow_instance = variant_instance
        entry_problems, _ = model_preflight(
            {**entry, "allow_unlisted_image_tags": config.get("allow_unlisted_image_tags")},
            region=region,
            instance=variant_instance,
        )
        problems += _prefixed(label, entry_problems)
        name = entry.get("name")
        if isinstance(name, str):
            if name == names[0]:
                problems.append(
                    Problem(
                        f"{label}: variant name {name!r} is the main variant's name; use another.",
                        setting=label,
                    )
                )
            elif name in names:
                problems.append(
                    Problem(
                        f"{label}: variant name {name!r} is used twice; give each its own.", setting=label
                    )
                )
            names.append(name)
    if len(variants) + 1 > 10:
        problems.append(
            Problem(
                f"{len(variants) + 1} production variants: SageMaker takes at most 10.", setting="variants"
            )
        )
    if variants and shadow is not None:
        problems.append(
            Problem(
                "variants and shadow together: SageMaker allows a shadow only beside a single production "
                "variant. Test the challenger as an A/B variant or as the shadow, not both.",
                setting="shadow",
            )
        )
    if shadow is not None:
        problems += shadow_problems(
            str(shadow.get("name")), instance, shadow_instance, asynchronous=False, multi_model=multi_model
        )
    return problems


def _prefixed(label: str, problems: list[Problem]) -> list[Problem]:
    return [
        Problem(
            f"{label}: {p.message}", setting=f"{label}.{p.setting}" if p.setting else label, value=p.value
        )
        for p in problems
    ]

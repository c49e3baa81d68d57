"""Traffic and data of a real-time endpoint: A/B variants, a shadow variant, and data capture.

- Production variants share the endpoint's traffic by weight: "the ratio of the VariantWeight to the
  sum of all VariantWeight values" (botocore ``ProductionVariant.InitialVariantWeight``); at most 10
  (botocore ``ProductionVariantList``).
- A shadow variant receives a copy of the production traffic and its responses are discarded. "If
  you use this field, you can only specify one variant for ProductionVariants and one variant for
  ShadowProductionVariants" (botocore ``CreateEndpointConfigInput.ShadowProductionVariants``), and
  shadow tests exclude serverless, asynchronous, multi-model and Inf1 endpoints ("Exclusions",
  https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-exclusions.html).
- Data capture writes sampled requests and responses to S3 as JSON lines, under
  ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, encrypted with the endpoint's key; the
  model's execution role writes them (as AWS's own CDK code grants it). Multi-model endpoints do
  not capture data (their feature matrix marks it not applicable).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Token
from aws_cdk import aws_s3 as s3

from mlblueprints.constructs._private.service_models import member_rule, number_rule
from mlblueprints.constructs.compute.instance_types import InstanceType
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.model_data import ModelData

__all__ = ["DataCapture", "Variant", "shadow_problems", "variant_set_problems"]

DATA_CAPTURE_PREFIX = "data-capture/"


@dataclass(frozen=True)
class Variant:
    """Another model on the same endpoint: an A/B challenger, or the shadow of the production variant.

    :param name: the variant's name, stable across updates (a guarded update needs the same names).
    :param weight: its ``InitialVariantWeight``: for a production variant, its share of traffic
        relative to the other variants' weights; for the shadow, the weight SageMaker mirrors
        requests to it by.
    :param environment: the container's environment variables.
    """

    name: str
    image: ContainerImage
    model_data: ModelData
    instance_type: str
    initial_instance_count: int = 1
    weight: float = 1.0
    environment: dict[str, str] | None = None


def variant_set_problems(
    primary_name: str, primary_weight: float, variants: tuple[Variant, ...], shadow: Variant | None
) -> list[Problem]:
    """Names, weights and counts of the endpoint's variants as CreateEndpointConfig checks them."""
    problems = []
    limit = number_rule("CreateEndpointConfigInput", "ProductionVariants").maximum or 10
    if 1 + len(variants) > limit:
        problems.append(
            Problem(
                f"{1 + len(variants)} production variants: SageMaker takes at most {limit} per endpoint.",
                setting="variants",
                value=len(variants),
            )
        )
    if shadow is not None and variants:
        problems.append(
            Problem(
                "a shadow variant with A/B variants: SageMaker allows a shadow only beside a single "
                "production variant. Test the challenger as an A/B variant or as the shadow, not both.",
                setting="shadow",
                value=shadow.name,
            )
        )
    seen = {primary_name}
    name_rule = member_rule("ProductionVariant", "VariantName")
    for variant in (*variants, *((shadow,) if shadow else ())):
        if Token.is_unresolved(variant.name):
            continue
        violation = name_rule.violation(variant.name)
        if violation:
            problems.append(
                Problem(
                    f"variant name {variant.name!r} {violation}; use letters, digits and hyphens.",
                    setting="variants",
                    value=variant.name,
                )
            )
        if variant.name == primary_name:
            problems.append(
                Problem(
                    f"variant name {variant.name!r} is the main variant's name; give this variant another one.",
                    setting="variants",
                    value=variant.name,
                )
            )
        elif variant.name in seen:
            problems.append(
                Problem(
                    f"variant name {variant.name!r} is used twice; each variant of an endpoint needs its own name.",
                    setting="variants",
                    value=variant.name,
                )
            )
        seen.add(variant.name)
        if not 1 <= variant.initial_instance_count <= 1000:
            problems.append(
                Problem(
                    f"variant {variant.name!r}: initial_instance_count={variant.initial_instance_count}; use 1 "
                    "to 1000 instances.",
                    setting="variants",
                    value=variant.initial_instance_count,
                )
            )
    weights = [primary_weight, *(v.weight for v in variants)]
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        problems.append(
            Problem(
                f"variant weights {weights}: weights are 0 or more, and at least one must be above 0 for the "
                "endpoint to take traffic.",
                setting="variants",
            )
        )
    if shadow is not None and shadow.weight <= 0:
        problems.append(
            Problem(
                f"shadow variant {shadow.name!r} has weight {shadow.weight}: a shadow with weight 0 receives no "
                "copies. Use a weight above 0 (equal to the production weight copies every request).",
                setting="shadow",
                value=shadow.weight,
            )
        )
    return problems


def shadow_problems(
    shadow_name: str,
    instance: InstanceType | None,
    shadow_instance: InstanceType | None,
    *,
    asynchronous: bool,
    multi_model: bool,
) -> list[Problem]:
    """Shadow tests' exclusions (shadow-tests-exclusions.html) that an instance-backed endpoint can meet."""
    reasons = []
    if asynchronous:
        reasons.append("asynchronous endpoints")
    if multi_model:
        reasons.append("multi-model endpoints")
    if any(i is not None and i.family == "inf1" for i in (instance, shadow_instance)):
        reasons.append("endpoints on Inf1 instances")
    return [
        Problem(
            f"shadow variant {shadow_name!r}: SageMaker does not run shadow variants on {reason}. Compare the "
            "models as A/B variants instead, or use another instance type.",
            setting="shadow",
            value=shadow_name,
        )
        for reason in reasons
    ]


@dataclass(frozen=True)
class DataCapture:
    """Capture sampled requests and responses to S3, KMS-encrypted.

    :param sampling_percent: the share of requests captured (0-100).
    :param capture_input: capture request payloads.
    :param capture_output: capture response payloads.
    :param bucket: default: a KMS-encrypted, versioned, retained bucket created with the endpoint.
    :param json_content_types: content types to store as JSON text instead of base64.
    :param csv_content_types: content types to store as CSV text instead of base64.
    """

    sampling_percent: int = 100
    capture_input: bool = True
    capture_output: bool = True
    bucket: s3.IBucket | None = None
    json_content_types: tuple[str, ...] = ("application/json",)
    csv_content_types: tuple[str, ...] = ("text/csv",)

    def problems(self) -> list[Problem]:
        problems = []
        rule = number_rule("DataCaptureConfig", "InitialSamplingPercentage")
        if not rule.contains(self.sampling_percent):
            problems.append(
                Problem(
                    f"a data capture share of {self.sampling_percent}% (data_capture_percent): SageMaker samples "
                    f"{rule.describe()} percent of requests.",
                    setting="data_capture_percent",
                    value=self.sampling_percent,
                )
            )
        if not (self.capture_input or self.capture_output):
            problems.append(
                Problem(
                    "data capture of neither input nor output captures nothing: capture one of them, or turn "
                    "data capture off.",
                    setting="data_capture",
                )
            )
        for label, types in (
            ("json_content_types", self.json_content_types),
            ("csv_content_types", self.csv_content_types),
        ):
            if not 1 <= len(types) <= 10:
                problems.append(
                    Problem(f"data capture {label}: give 1 to 10 content types.", setting="data_capture")
                )
        return problems

    @property
    def capture_modes(self) -> list[str]:
        return [mode for mode, on in (("Input", self.capture_input), ("Output", self.capture_output)) if on]

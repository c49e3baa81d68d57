"""Settings of the ``realtime-endpoint`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from mlblueprints.blueprints.model_settings import ModelSettings, model_preflight, typed, typed_options
from mlblueprints.blueprints.settings_base import construct_default, documented_default
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker.deployment import default_deployment, deployment_for
from mlblueprints.constructs.sagemaker.endpoint import (
    MAX_5XX_THRESHOLD,
    MAX_LATENCY_THRESHOLD_MS,
    EndpointAlarms,
    RealtimeEndpoint,
    count_problems,
)
from mlblueprints.constructs.sagemaker.scaling import (
    MAX_INSTANCES_PER_VARIANT,
    MAX_TARGET_INVOCATIONS,
    EndpointAutoScaling,
)
from mlblueprints.constructs.security.private_network import PrivateNetwork, network_problems

__all__ = ["RealtimeEndpointSettings", "instance_preflight"]

# Ranges are checked by the constructs' own rules (see ``preflight``); the schema states them for editors.
Count = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": MAX_INSTANCES_PER_VARIANT})]
Target = Annotated[float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_TARGET_INVOCATIONS})]
LatencyMs = Annotated[
    float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_LATENCY_THRESHOLD_MS})
]
ErrorCount = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": MAX_5XX_THRESHOLD})]
StepPercent = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": 50})]
_WAIT = number_rule("TrafficRoutingConfig", "WaitIntervalInSeconds")
WaitSeconds = Annotated[int, Field(json_schema_extra={"minimum": _WAIT.minimum, "maximum": _WAIT.maximum})]


class RealtimeEndpointSettings(ModelSettings):
    """A SageMaker real-time endpoint in a private VPC, on GPU, Inferentia or Trainium."""

    blueprint_name: ClassVar[str] = "realtime-endpoint"

    instance_type: str = Field(
        description="A SageMaker ProductionVariantInstanceType, e.g. ml.g5.xlarge, ml.g6.12xlarge, "
        "ml.p5.48xlarge, ml.inf2.xlarge, ml.trn1.2xlarge.",
        min_length=1,
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
    allow_unlisted_instance_types: bool = Field(
        False, description="Accept an ml.* type newer than the installed botocore (synth warns)."
    )
    update_strategy: Literal["rolling", "all-at-once", "canary", "linear"] | None = Field(
        None,
        description="How updates reach the fleet, rolled back when an alarm fires: rolling batches, or "
        "blue/green shifting all at once, a canary, or linear steps.",
        json_schema_extra=documented_default(RealtimeEndpoint, "deployment"),
    )
    update_step_percent: StepPercent | None = Field(
        None,
        description="The rolling batch (5-50), canary (1-50) or linear step (10-50), in percent of the "
        "instances.",
        json_schema_extra={"x-default": "25 (rolling), 10 (canary), 20 (linear)"},
    )
    update_wait_seconds: WaitSeconds | None = Field(
        None,
        description="How long each step bakes under the alarms before the next.",
        json_schema_extra={"x-default": "300 (rolling), 600 (blue/green)"},
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
        problems += update_problems(config, instance, min_instances)
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


def instance_preflight(config: dict[str, Any], *, region: str | None):
    """Model, VPC, instance type and count problems of an instance-backed endpoint's raw config.

    Returns the problems, the instance type's facts (``None`` if unknown) and the typed instance count.
    """
    problems = []
    if isinstance(config.get("vpc_cidr"), str):
        if config.get("create_vpc") is False:
            problems.append(
                Problem("vpc_cidr is set but create_vpc is false; drop one of them", setting="vpc_cidr")
            )
        problems += network_problems(config["vpc_cidr"], max_azs=2)
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
    model_problems, _ = model_preflight(config, region=region, instance=instance)
    problems += model_problems
    count = typed(config, "initial_instance_count", int, default=2)
    if count is not None:
        problems += count_problems(count)
    return problems, instance, count


def update_problems(config: dict[str, Any], instance, min_instances: int | None) -> list[Problem]:
    """The deployment guardrail problems of ``update_*`` settings."""
    strategy = config.get("update_strategy")
    step, wait = typed(config, "update_step_percent", int), typed(config, "update_wait_seconds", int)
    if (strategy is not None and not isinstance(strategy, str)) or min_instances is None:
        return []
    if strategy is None and step is not None and not default_deployment(instance, min_instances).rolling:
        return [
            Problem(
                "update_step_percent needs update_strategy: the default here is all-at-once, which has no "
                'steps. Set "update_strategy": "canary" or "linear".',
                setting="update_step_percent",
            )
        ]
    try:
        deployment = deployment_for(
            strategy, step_percent=step, wait_seconds=wait, instance=instance, min_instances=min_instances
        )
    except KeyError:
        return []  # an unknown strategy: pydantic names it
    return deployment.problems(min_instances) if deployment is not None else []

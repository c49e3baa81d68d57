"""Settings of the ``realtime-endpoint`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.instance_endpoint import (
    Count,
    InstanceEndpointSettings,
    instance_preflight,
    update_problems,
)
from mlblueprints.blueprints.model_settings import typed_options
from mlblueprints.blueprints.settings_base import construct_default, documented_default
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.endpoint import EndpointAlarms, count_problems
from mlblueprints.constructs.sagemaker.scaling import MAX_TARGET_INVOCATIONS, EndpointAutoScaling

__all__ = ["RealtimeEndpointSettings"]

Target = Annotated[float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_TARGET_INVOCATIONS})]


class RealtimeEndpointSettings(InstanceEndpointSettings):
    """A SageMaker real-time endpoint in a private VPC, on GPU, Inferentia or Trainium."""

    blueprint_name: ClassVar[str] = "realtime-endpoint"

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

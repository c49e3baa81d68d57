"""Settings of the ``async-endpoint`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.instance_endpoint import (
    Count,
    GuardedUpdateSettings,
    instance_preflight,
    update_problems,
)
from mlblueprints.blueprints.model_settings import typed_options
from mlblueprints.blueprints.settings_base import construct_default, documented_default
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.async_inference import (
    MAX_BACKLOG_AGE_S,
    AsyncInference,
    BacklogScaling,
)
from mlblueprints.constructs.sagemaker.endpoint import AsyncEndpoint, EndpointAlarms, count_problems
from mlblueprints.constructs.sagemaker.scaling import MAX_INSTANCES_PER_VARIANT

__all__ = ["AsyncEndpointSettings"]

_CONCURRENT = number_rule("AsyncInferenceClientConfig", "MaxConcurrentInvocationsPerInstance")
MinCount = Annotated[int, Field(json_schema_extra={"minimum": 0, "maximum": MAX_INSTANCES_PER_VARIANT})]
Concurrent = Annotated[
    int, Field(json_schema_extra={"minimum": _CONCURRENT.minimum, "maximum": _CONCURRENT.maximum})
]
Backlog = Annotated[float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": 1_000_000})]
AgeSeconds = Annotated[int, Field(json_schema_extra={"minimum": 60, "maximum": MAX_BACKLOG_AGE_S})]


class AsyncEndpointSettings(GuardedUpdateSettings):
    """A SageMaker asynchronous endpoint: queued requests, results in S3, scale to zero."""

    blueprint_name: ClassVar[str] = "async-endpoint"
    not_applicable: ClassVar[dict[str, str]] = {
        "target_invocations_per_instance": "SageMaker does not publish InvocationsPerInstance for "
        "asynchronous endpoints; the fleet scales on the queue: set target_backlog_per_instance.",
        "shadow": "SageMaker does not run shadow variants on asynchronous endpoints.",
        "variants": "the async-endpoint blueprint serves one variant; run A/B tests with realtime-endpoint.",
        "initial_variant_weight": "the async-endpoint blueprint serves one variant; run A/B tests with "
        "realtime-endpoint.",
        "data_capture_percent": "the async-endpoint blueprint does not capture data (results are already in "
        "S3 under async-output/); capture with realtime-endpoint.",
        "data_capture_of": "the async-endpoint blueprint does not capture data (results are already in S3 "
        "under async-output/); capture with realtime-endpoint.",
    }

    initial_instance_count: Count | None = Field(
        None,
        description="Instances at creation; the fleet then follows the queue, down to min_capacity.",
        json_schema_extra=construct_default(AsyncEndpoint, "initial_instance_count"),
    )
    auto_scaling: bool = Field(
        True, description="Scale on the queue (down to min_capacity, woken from zero by a queued request)."
    )
    min_capacity: MinCount | None = Field(
        None,
        description="Scaling minimum; 0 scales to zero instances while the queue is empty.",
        json_schema_extra=construct_default(BacklogScaling, "min_capacity"),
    )
    max_capacity: Count | None = Field(
        None,
        description="Scaling maximum.",
        json_schema_extra=documented_default(BacklogScaling, "max_capacity"),
    )
    target_backlog_per_instance: Backlog | None = Field(
        None,
        description="Queued requests per instance that target tracking holds.",
        json_schema_extra=construct_default(BacklogScaling, "target_backlog_per_instance"),
    )
    max_concurrent_invocations_per_instance: Concurrent | None = Field(
        None,
        description="Requests one instance works on at once. Default: SageMaker chooses.",
    )
    include_response_in_notifications: bool = Field(
        False, description="Put responses of up to 128 KB into the success and error SNS messages."
    )
    oldest_request_age_s: AgeSeconds | None = Field(
        None,
        description="Alarm when the oldest queued request is older than this; allow for a cold start from zero.",
        json_schema_extra=construct_default(AsyncInference, "oldest_request_age_s"),
    )

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """The async constructs' own checks, on the raw config: one run names every problem."""
        default_count = construct_default(AsyncEndpoint, "initial_instance_count")["default"]
        problems, instance, count = instance_preflight(config, region=region, default_count=default_count)
        min_instances = count
        if count is not None and not count_problems(count):
            scaling = typed_options(
                config,
                BacklogScaling,
                min_capacity=int,
                max_capacity=int,
                target_backlog_per_instance=float,
            )
            if scaling is not None and config.get("auto_scaling", True) is True:
                problems += scaling.problems(count)
                min_instances = scaling.capacities(count)[0]
        problems += update_problems(config, instance, min_instances)
        options = typed_options(
            config, AsyncInference, max_concurrent_invocations_per_instance=int, oldest_request_age_s=int
        )
        if options is not None:
            problems += options.problems()
        alarms = typed_options(config, EndpointAlarms, model_latency_p90_ms=float, invocation_5xx_errors=int)
        if alarms is not None:
            problems += alarms.problems()
        if config.get("auto_scaling") is False and any(
            config.get(k) is not None for k in ("min_capacity", "max_capacity", "target_backlog_per_instance")
        ):
            problems.append(
                Problem(
                    "min_capacity, max_capacity and target_backlog_per_instance need auto_scaling: true",
                    setting="auto_scaling",
                )
            )
        return problems

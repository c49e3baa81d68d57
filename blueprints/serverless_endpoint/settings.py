"""Settings of the ``serverless-endpoint`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.model_settings import ModelSettings, model_preflight, typed, typed_options
from mlblueprints.blueprints.settings_base import construct_default
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.serverless import (
    ServerlessAlarms,
    ServerlessEndpoint,
    serverless_image_problems,
    serverless_model_data_problems,
    serverless_problems,
)

__all__ = ["ServerlessEndpointSettings"]

_MEMORY = number_rule("ProductionVariantServerlessConfig", "MemorySizeInMB")
_CONCURRENCY = number_rule("ProductionVariantServerlessConfig", "MaxConcurrency")
MemoryMb = Annotated[
    int,
    Field(json_schema_extra={"enum": list(range(_MEMORY.minimum, _MEMORY.maximum + 1, 1024))}),
]
Concurrency = Annotated[
    int, Field(json_schema_extra={"minimum": _CONCURRENCY.minimum, "maximum": _CONCURRENCY.maximum})
]

_NO_INSTANCES = "serverless endpoints have no instances to choose or count; size them with memory_size_mb and max_concurrency."
_NO_VPC = "SageMaker Serverless Inference does not support VPC configuration; use the realtime-endpoint blueprint to serve in a VPC."
_NO_SCALING = "serverless endpoints scale with requests on their own, up to max_concurrency and down to zero."


class ServerlessEndpointSettings(ModelSettings):
    """A SageMaker serverless endpoint: CPU inference that scales with requests and to zero when idle."""

    blueprint_name: ClassVar[str] = "serverless-endpoint"
    not_applicable: ClassVar[dict[str, str]] = {
        "instance_type": _NO_INSTANCES,
        "initial_instance_count": _NO_INSTANCES,
        "allow_unlisted_instance_types": _NO_INSTANCES,
        "create_vpc": _NO_VPC,
        "vpc_cidr": _NO_VPC,
        "network_isolation": "SageMaker Serverless Inference does not support network isolation; use the "
        "realtime-endpoint blueprint for an isolated container.",
        "auto_scaling": _NO_SCALING,
        "min_capacity": _NO_SCALING,
        "max_capacity": _NO_SCALING,
        "target_invocations_per_instance": _NO_SCALING,
        "update_step_percent": "serverless endpoints update blue/green, all at once (SageMaker does not do "
        "rolling updates of serverless endpoints).",
        "update_strategy": "serverless endpoints update blue/green, all at once (SageMaker does not do "
        "rolling updates of serverless endpoints).",
        "variants": "SageMaker Serverless Inference does not support multiple production variants.",
        "initial_variant_weight": "SageMaker Serverless Inference does not support multiple production variants.",
        "shadow": "SageMaker does not run shadow variants on serverless endpoints.",
        "data_capture_percent": "SageMaker Serverless Inference does not support data capture.",
        "data_capture_of": "SageMaker Serverless Inference does not support data capture.",
        "volume_size_gb": "serverless endpoints have no volume to size: each gets 5 GB of ephemeral disk.",
        "model_data_download_timeout_s": "SageMaker sets the download and startup timeouts of serverless "
        "endpoints itself; keep the model small enough (the image at most 10 GB, 5 GB of disk).",
        "container_startup_timeout_s": "SageMaker sets the download and startup timeouts of serverless "
        "endpoints itself; keep the model small enough (the image at most 10 GB, 5 GB of disk).",
    }

    memory_size_mb: MemoryMb | None = Field(
        None,
        description="Memory of each copy of the container, 1024 to 6144 MB in 1024 MB steps; at least the "
        "model's size in memory (larger sizes also get more vCPUs).",
        json_schema_extra=construct_default(ServerlessEndpoint, "memory_size_mb"),
    )
    max_concurrency: Concurrency | None = Field(
        None,
        description="Concurrent invocations before SageMaker throttles.",
        json_schema_extra=construct_default(ServerlessEndpoint, "max_concurrency"),
    )
    provisioned_concurrency: Concurrency | None = Field(
        None,
        description="Copies kept warm against cold starts, billed while idle; at most max_concurrency. "
        "Default: none, the endpoint scales to zero.",
    )
    invocation_5xx_errors: int | None = Field(
        None,
        description="Alarm when a 5-minute window has at least this many 5XX errors.",
        json_schema_extra=construct_default(ServerlessAlarms, "invocation_5xx_errors"),
    )
    model_latency_p90_ms: float | None = Field(
        None,
        description="Alarm when p90 ModelLatency stays above this for 3 minutes.",
        json_schema_extra=construct_default(ServerlessAlarms, "model_latency_p90_ms"),
    )
    cold_start_ms: float | None = Field(
        None,
        description="Alarm when a cold start (ModelSetupTime) takes longer than this.",
        json_schema_extra=construct_default(ServerlessAlarms, "cold_start_ms"),
    )
    concurrency_utilization: float | None = Field(
        None,
        description="Alarm when concurrent executions reach this share of max_concurrency (beyond it, "
        "requests are throttled).",
        json_schema_extra=construct_default(ServerlessAlarms, "concurrency_utilization"),
    )
    update_wait_seconds: int | None = Field(
        None,
        description="How long a new version bakes under the alarms before the old one goes.",
        json_schema_extra={"x-default": "600"},
    )

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """The serverless construct's own checks, on the raw config: one run names every problem."""
        problems, image = model_preflight(config, region=region, instance=None)
        if image is not None:
            problems += serverless_image_problems(image)
        problems += serverless_model_data_problems(config.get("model_data_url"))
        memory = typed(
            config,
            "memory_size_mb",
            int,
            default=construct_default(ServerlessEndpoint, "memory_size_mb")["default"],
        )
        concurrency = typed(
            config,
            "max_concurrency",
            int,
            default=construct_default(ServerlessEndpoint, "max_concurrency")["default"],
        )
        provisioned = typed(config, "provisioned_concurrency", int)
        if memory is not None and concurrency is not None:
            problems += serverless_problems(memory, concurrency, provisioned)
        alarms = typed_options(
            config,
            ServerlessAlarms,
            invocation_5xx_errors=int,
            model_latency_p90_ms=float,
            cold_start_ms=float,
            concurrency_utilization=float,
        )
        if alarms is not None:
            problems += alarms.problems()
        wait = typed(config, "update_wait_seconds", int)
        if wait is not None:
            rule = number_rule("TrafficRoutingConfig", "WaitIntervalInSeconds")
            if not rule.contains(wait):
                problems.append(
                    Problem(
                        f"update_wait_seconds={wait}: use {rule.describe()} seconds.",
                        setting="update_wait_seconds",
                        value=wait,
                    )
                )
        return problems

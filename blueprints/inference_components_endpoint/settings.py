"""Settings of the ``inference-components-endpoint`` blueprint, as a config file or CDK context gives them.

The top-level model keys (image, ``model_data_url``, ``environment``) are the first component, so a
real-time stack moves here by changing its ``blueprint`` and saying what a copy needs; more models
go under ``components``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mlblueprints.blueprints.instance_endpoint import Count, InstanceEndpointSettings, instance_preflight
from mlblueprints.blueprints.model_settings import KMS_KEY_ARN, model_preflight, typed
from mlblueprints.blueprints.settings_base import construct_default, documented_default
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker.inference_components import (
    ComponentSizing,
    CopyScaling,
    InferenceComponent,
    InferenceComponentEndpoint,
    component_problems,
    fleet_problems,
    placement_problems,
)

__all__ = ["ComponentSettings", "InferenceComponentsEndpointSettings"]

_WAIT = number_rule("InferenceComponentRollingUpdatePolicy", "WaitIntervalInSeconds")
MinCount = Annotated[int, Field(json_schema_extra={"minimum": 0, "maximum": 1000})]
MemoryMb = Annotated[int, Field(json_schema_extra={"minimum": 128})]
_SCALING_SETTINGS = ("min_copies", "max_copies", "target_concurrent_requests_per_copy")
_NO_VARIANT_SCALING = (
    "inference components scale their copies (min_copies, max_copies, target_concurrent_requests_per_copy) "
    "and the endpoint its instances (min_instances, max_instances)."
)
_COPY_UPDATES = (
    "inference components are updated a copy at a time, rolled back on their own alarms; "
    "update_wait_seconds sets how long each copy bakes."
)


class ComponentSettings(BaseModel):
    """Another model on the shared instances."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str = Field(description="The component's name (letters, digits, hyphens).", min_length=1)
    dlc_repository: str | None = Field(None, description="A DLC repository (or image_uri).")
    dlc_tag: str | None = Field(None, description="Its tag.")
    image_uri: str | None = Field(None, description="Your own ECR image instead of a DLC.")
    model_data_url: str = Field(description="s3://<bucket>/<key>.tar.gz of this model.")
    model_data_kms_key_arn: str | None = Field(None, pattern=KMS_KEY_ARN, description="Its bucket's KMS key.")
    environment: dict[str, str] | None = Field(None, description="Its container environment (at most 16).")
    memory_mb: int = Field(description="Memory per copy, in MB (128 or more).")
    accelerators: int | None = Field(
        None, description="GPUs or Neuron devices per copy (default 1 on accelerated types)."
    )
    cpu_cores: float | None = Field(None, description="CPU cores per copy (0.25 or more).")
    copies: int = Field(1, description="Copies at creation.")
    min_copies: int = Field(0, description="Scaling minimum; 0 scales the model to zero.")
    max_copies: int = Field(4, description="Scaling maximum.")
    target_concurrent_requests_per_copy: float = Field(
        5.0, description="Concurrent requests per copy to hold."
    )


class InferenceComponentsEndpointSettings(InstanceEndpointSettings):
    """Several models sharing one endpoint's instances, each scaling its copies, down to zero."""

    blueprint_name: ClassVar[str] = "inference-components-endpoint"
    not_applicable: ClassVar[dict[str, str]] = {
        "auto_scaling": _NO_VARIANT_SCALING,
        "min_capacity": _NO_VARIANT_SCALING,
        "max_capacity": _NO_VARIANT_SCALING,
        "target_invocations_per_instance": _NO_VARIANT_SCALING,
        "update_strategy": _COPY_UPDATES,
        "update_step_percent": _COPY_UPDATES,
        "variants": "inference components share one variant's instances; add models under components.",
        "initial_variant_weight": "inference components share one variant's instances; add models under components.",
        "shadow": "the inference-components-endpoint blueprint has no shadow variant; add the candidate under "
        "components and compare them, or use realtime-endpoint.",
        "data_capture_percent": "SageMaker documents data capture for model variants, not for inference "
        "components; capture with realtime-endpoint.",
        "data_capture_of": "SageMaker documents data capture for model variants, not for inference components; "
        "capture with realtime-endpoint.",
    }

    initial_instance_count: Count | None = Field(
        None,
        description="Instances at creation; managed instance scaling then follows the copies.",
        json_schema_extra=construct_default(InferenceComponentEndpoint, "initial_instance_count"),
    )
    min_instances: MinCount | None = Field(
        None,
        description="Managed instance scaling minimum; 0 lets the endpoint scale to zero instances.",
        json_schema_extra=construct_default(InferenceComponentEndpoint, "min_instances"),
    )
    max_instances: Count | None = Field(
        None,
        description="Managed instance scaling maximum.",
        json_schema_extra=documented_default(InferenceComponentEndpoint, "max_instances"),
    )
    routing_strategy: str | None = Field(
        None,
        description="How requests pick a copy: LEAST_OUTSTANDING_REQUESTS, RANDOM, ...",
        json_schema_extra=construct_default(InferenceComponentEndpoint, "routing_strategy"),
    )
    component_name: str = Field(
        "Main", description="The name of the component the top-level model keys define."
    )
    memory_mb: MemoryMb = Field(description="Memory per copy of the top-level model, in MB.")
    accelerators: int | None = Field(
        None,
        description="GPUs or Neuron devices per copy of the top-level model (default 1 on accelerated types).",
    )
    cpu_cores: float | None = Field(None, description="CPU cores per copy of the top-level model.")
    copies: int | None = Field(
        None,
        description="Copies at creation.",
        json_schema_extra=construct_default(InferenceComponent, "copies"),
    )
    min_copies: int | None = Field(
        None,
        description="Copy scaling minimum; 0 scales to zero.",
        json_schema_extra=construct_default(CopyScaling, "min_copies"),
    )
    max_copies: int | None = Field(
        None,
        description="Copy scaling maximum.",
        json_schema_extra=construct_default(CopyScaling, "max_copies"),
    )
    target_concurrent_requests_per_copy: float | None = Field(
        None,
        description="Concurrent requests per copy that target tracking holds.",
        json_schema_extra=construct_default(CopyScaling, "target_concurrent_requests_per_copy"),
    )
    components: list[ComponentSettings] | None = Field(
        None,
        description="More models on the same instances, each with name, image keys, model_data_url, environment, "
        "memory_mb, accelerators, cpu_cores, copies, min_copies, max_copies and target_concurrent_requests_per_copy.",
    )

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """The inference-component constructs' checks on the raw config: one run names every problem."""
        default_count = construct_default(InferenceComponentEndpoint, "initial_instance_count")["default"]
        problems, instance, count = instance_preflight(config, region=region, default_count=default_count)
        entries = [
            ("components", entry) for entry in config.get("components") or [] if isinstance(entry, dict)
        ]
        for i, (_, entry) in enumerate(entries):
            label = f"components[{i}]"
            entry_instance = instance
            if entry_instance is None and isinstance(config.get("instance_type"), str):
                try:
                    entry_instance = check_instance_type(
                        config["instance_type"], use=SageMakerUse.REALTIME_INFERENCE
                    )
                except MlBlueprintsError:
                    entry_instance = None
            entry_problems, _ = model_preflight(
                {**entry, "allow_unlisted_image_tags": config.get("allow_unlisted_image_tags")},
                region=region,
                instance=entry_instance,
            )
            problems += [
                Problem(f"{label}: {p.message}", setting=f"{label}.{p.setting}", value=p.value)
                for p in entry_problems
            ]
        for label, url in (
            ("model_data_url", config.get("model_data_url")),
            *(
                (f"components[{i}].model_data_url", entry.get("model_data_url"))
                for i, (_, entry) in enumerate(entries)
            ),
        ):
            if isinstance(url, str) and url.endswith("/"):
                problems.append(
                    Problem(
                        f"{label}={url!r} is a folder, but an inference component loads one model.tar.gz archive. "
                        "Give the archive's URL (uncompressed folders are for realtime-endpoint).",
                        setting=label,
                        value=url,
                    )
                )
        sizings = [_sizing(config, config.get("component_name", "Main"))]
        sizings += [_sizing(entry, entry.get("name")) for _, entry in entries]
        sizings = [sizing for sizing in sizings if sizing is not None]
        for sizing in sizings:
            problems += component_problems(sizing, instance)
        if count is not None:
            minimum = typed(config, "min_instances", int, default=0)
            maximum = typed(config, "max_instances", int, default=count + 1)
            if instance is not None and maximum is not None:
                problems += placement_problems(sizings, instance, maximum)
            strategy = config.get("routing_strategy", "LEAST_OUTSTANDING_REQUESTS")
            if minimum is not None and maximum is not None and isinstance(strategy, str):
                problems += fleet_problems(count, minimum, maximum, strategy)
        wait = typed(config, "update_wait_seconds", int)
        if wait is not None and not _WAIT.contains(wait):
            problems.append(
                Problem(
                    f"update_wait_seconds={wait}: use {_WAIT.describe()} seconds.",
                    setting="update_wait_seconds",
                )
            )
        return problems


def _sizing(config: dict[str, Any], name: Any) -> ComponentSizing | None:
    """A component's sizing from its raw settings; ``None`` if a value has the wrong type (pydantic says so)."""
    values = {
        "memory_mb": typed(config, "memory_mb", int),
        "accelerators": typed(config, "accelerators", int),
        "cpu_cores": typed(config, "cpu_cores", float),
        "copies": typed(config, "copies", int, default=1),
    }
    scaling = {
        key: typed(config, key, kind)
        for key, kind in (
            ("min_copies", int),
            ("max_copies", int),
            ("target_concurrent_requests_per_copy", float),
        )
        if config.get(key) is not None
    }
    if (
        not isinstance(name, str)
        or values["memory_mb"] is None
        or values["copies"] is None
        or None in scaling.values()
    ):
        return None
    if any(config.get(key) is not None and values[key] is None for key in ("accelerators", "cpu_cores")):
        return None
    environment = config.get("environment") if isinstance(config.get("environment"), dict) else None
    return ComponentSizing(name=name, environment=environment, scaling=CopyScaling(**scaling), **values)

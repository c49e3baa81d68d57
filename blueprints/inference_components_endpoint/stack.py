"""Blueprint: several models sharing one SageMaker endpoint's instances, ready for ``cdk deploy``.

The instance-backed stack (key, private VPC, alarms) with an :class:`InferenceComponentEndpoint`:
the top-level model keys are the first component, ``components`` add more; each component scales
its copies to zero and back, and managed instance scaling follows the copies down to zero instances.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration

from mlblueprints.blueprints.inference_components_endpoint.settings import (
    ComponentSettings,
    InferenceComponentsEndpointSettings,
)
from mlblueprints.blueprints.instance_endpoint import InstanceEndpointStack
from mlblueprints.blueprints.model_settings import build_model_parts
from mlblueprints.constructs.sagemaker.inference_components import (
    CopyScaling,
    InferenceComponent,
    InferenceComponentEndpoint,
)

__all__ = ["InferenceComponentsEndpointSettings", "InferenceComponentsEndpointStack"]


class InferenceComponentsEndpointStack(InstanceEndpointStack):
    """An inference-component endpoint and everything it needs, deployable as one stack."""

    kind = "inference-component"

    def create_endpoint(
        self, settings: InferenceComponentsEndpointSettings, **props: Any
    ) -> InferenceComponentEndpoint:
        image, model_data = props.pop("image"), props.pop("model_data")
        environment = props.pop("environment", None)
        main = InferenceComponent(
            name=settings.component_name,
            image=image,
            model_data=model_data,
            memory_mb=settings.memory_mb,
            accelerators=settings.accelerators,
            cpu_cores=settings.cpu_cores,
            environment=environment,
            scaling=CopyScaling(
                **settings.explicit("min_copies", "max_copies", "target_concurrent_requests_per_copy")
            ),
            **settings.explicit("copies"),
        )
        others = [self._component(i, entry) for i, entry in enumerate(settings.components or ())]
        endpoint = InferenceComponentEndpoint(
            self,
            "Endpoint",
            components=[main, *others],
            **(
                {"update_wait": Duration.seconds(settings.update_wait_seconds)}
                if settings.update_wait_seconds is not None
                else {}
            ),
            **settings.explicit("min_instances", "max_instances", "routing_strategy"),
            **props,
        )
        if self.network is not None:
            for component in others:
                self.network.allow_s3_objects(component.model_data.object_arn(self))
        return endpoint

    def _component(self, index: int, entry: ComponentSettings) -> InferenceComponent:
        image, model_data = build_model_parts(self, entry, key_id=f"Component{index}ModelDataKey")
        return InferenceComponent(
            name=entry.name,
            image=image,
            model_data=model_data,
            memory_mb=entry.memory_mb,
            accelerators=entry.accelerators,
            cpu_cores=entry.cpu_cores,
            copies=entry.copies,
            environment=entry.environment,
            scaling=CopyScaling(
                min_copies=entry.min_copies,
                max_copies=entry.max_copies,
                target_concurrent_requests_per_copy=entry.target_concurrent_requests_per_copy,
            ),
        )

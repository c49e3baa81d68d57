"""Blueprint: a real-time SageMaker endpoint in a private VPC, ready for ``cdk deploy``.

Composes the catalog's constructs: the security baseline (a rotating KMS key and a private VPC with
the endpoints SageMaker needs) and a :class:`RealtimeEndpoint` with auto scaling, alarms and safe
updates. Configured by :class:`RealtimeEndpointSettings`, which the catalog app reads from a JSON
file or CDK context.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mlblueprints.blueprints.instance_endpoint import InstanceEndpointStack
from mlblueprints.blueprints.model_settings import SMOKE_TEST_MODEL, build_model_parts
from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings, VariantSettings
from mlblueprints.blueprints.settings_base import construct_default
from mlblueprints.constructs.sagemaker.endpoint import EndpointAutoScaling, RealtimeEndpoint
from mlblueprints.constructs.sagemaker.traffic import DATA_CAPTURE_PREFIX, DataCapture, Variant

__all__ = ["SMOKE_TEST_MODEL", "RealtimeEndpointSettings", "RealtimeEndpointStack"]


class RealtimeEndpointStack(InstanceEndpointStack):
    """A real-time endpoint and everything it needs, deployable as one stack."""

    kind = "real-time"
    multi_model = False

    def create_endpoint(self, settings: RealtimeEndpointSettings, **props: Any) -> RealtimeEndpoint:
        auto_scaling = (
            EndpointAutoScaling(
                **settings.explicit("min_capacity", "max_capacity", "target_invocations_per_instance")
            )
            if settings.auto_scaling
            else None
        )
        count = (
            settings.initial_instance_count
            or construct_default(RealtimeEndpoint, "initial_instance_count")["default"]
        )
        variants = [self._variant(f"Variant{i}", v) for i, v in enumerate(settings.variants or ())]
        shadow = self._variant("Shadow", settings.shadow) if settings.shadow else None
        several = bool(variants) or shadow is not None
        endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            auto_scaling=auto_scaling,
            deployment=None
            if several and settings.update_strategy is None and settings.update_step_percent is None
            else self.update_policy(auto_scaling.capacities(count)[0] if auto_scaling else count),
            multi_model=self.multi_model,
            variants=variants,
            shadow=shadow,
            data_capture=DataCapture(
                sampling_percent=settings.data_capture_percent,
                capture_input=settings.data_capture_of != "responses",
                capture_output=settings.data_capture_of != "requests",
            )
            if settings.data_capture_percent is not None
            else None,
            **settings.explicit("initial_variant_weight", "model_package_arn"),
            **props,
        )
        if self.network is not None:
            for variant in (*variants, *((shadow,) if shadow else ())):
                self.network.allow_s3_objects(variant.model_data.object_arn(self))
                if variant.model_data.is_prefix:
                    self.network.allow_s3_objects(
                        variant.model_data.bucket_arn(self), actions=("s3:ListBucket",)
                    )
            if endpoint.capture_bucket is not None:
                self.network.allow_s3_objects(
                    endpoint.capture_bucket.arn_for_objects(f"{DATA_CAPTURE_PREFIX}*"),
                    actions=("s3:PutObject", "s3:AbortMultipartUpload"),
                )
        return endpoint

    def _variant(self, id: str, settings: VariantSettings) -> Variant:
        """A variant's image and model data, from its settings (``id`` scopes an imported key)."""
        image, model_data = build_model_parts(self, settings, key_id=f"{id}ModelDataKey")
        if image.is_dlc and self.settings.allow_unlisted_image_tags:
            image = dataclasses.replace(image, allow_unlisted_tag=True)
        return Variant(
            name=settings.name,
            image=image,
            model_data=model_data,
            instance_type=settings.instance_type,
            initial_instance_count=settings.initial_instance_count,
            weight=settings.weight,
            environment=settings.environment,
        )

"""Settings of the ``multi-model-endpoint`` blueprint: the real-time settings, models under one prefix."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.model_settings import image_of
from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.variant_options import multi_model_problems

__all__ = ["MultiModelEndpointSettings"]


class MultiModelEndpointSettings(RealtimeEndpointSettings):
    """Many models behind one real-time endpoint, loaded on demand from one S3 prefix."""

    blueprint_name: ClassVar[str] = "multi-model-endpoint"
    multi_model: ClassVar[bool] = True

    model_data_url: str = Field(
        description="s3://<bucket>/<prefix>/ holding one model.tar.gz per model; callers name one with "
        "TargetModel (its key under the prefix).",
    )

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = super().preflight(config, region=region)
        url = config.get("model_data_url")
        if isinstance(url, str) and not url.endswith("/"):
            # The generic advice (an archive, or a folder) would be half wrong here.
            problems = [p for p in problems if p.setting != "model_data_url"]
            problems.append(
                Problem(
                    f"model_data_url={url!r}: a multi-model endpoint loads its models from an S3 folder, "
                    "'s3://<bucket>/<prefix>/' ending in '/', with one model.tar.gz per model under it.",
                    setting="model_data_url",
                    value=url,
                )
            )
        image = image_of(config)
        if not isinstance(image, ContainerImage) or not isinstance(config.get("instance_type"), str):
            return problems
        try:
            instance = check_instance_type(
                config["instance_type"],
                use=SageMakerUse.REALTIME_INFERENCE,
                allow_unlisted=config.get("allow_unlisted_instance_types") is True,
            )
        except MlBlueprintsError:
            return problems  # reported by the real-time checks
        return problems + multi_model_problems(image, instance)

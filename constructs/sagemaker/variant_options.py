"""Per-variant settings for large models, and which instance types and images can host several models.

Large models need time and disk: SageMaker waits ``ModelDataDownloadTimeoutInSeconds`` for the
artifacts and ``ContainerStartupHealthCheckTimeoutInSeconds`` for the container's first healthy
ping, and "if the size of the model is larger than 30 GB and you are using an instance without a
local disk, you should increase VolumeSizeInGB" ("Large model inference",
https://docs.aws.amazon.com/sagemaker/latest/dg/large-model-inference-hosting.html). Only EBS
volumes are sized ("Currently only Amazon EBS gp2 storage volumes are supported", botocore
``ProductionVariant.VolumeSizeInGB``); instance types with local NVMe storage get none.

Multi-model endpoints run on "all of the CPU instance types", and on GPU "only with SageMaker AI's
NVIDIA Triton Inference Server container" on the single-GPU sizes the supported-instance table lists
(https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-support.html). Of the AWS Deep Learning
Containers, the PyTorch, TensorFlow and MXNet inference images and Triton support them on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration

from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compute.instance_types import AcceleratorKind, InstanceType
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.container_image import ContainerImage

__all__ = ["MULTI_MODEL_DLC_REPOSITORIES", "LargeModelOptions", "multi_model_problems"]

MULTI_MODEL_DLC_REPOSITORIES = frozenset(
    {"pytorch-inference", "tensorflow-inference", "mxnet-inference", "sagemaker-tritonserver"}
)
TRITON_REPOSITORY = "sagemaker-tritonserver"


@dataclass(frozen=True)
class LargeModelOptions:
    """Startup time and disk for a model that takes long to load.

    :param model_data_download_timeout: how long SageMaker downloads the artifacts (60 s to 1 hour).
        Default: SageMaker's.
    :param container_startup_timeout: how long the container may take to pass its first health
        check, e.g. while it loads weights onto the accelerators (60 s to 1 hour). Default: SageMaker's.
    :param volume_size_gb: the EBS ML storage volume (1-512 GB), for types without local storage; a
        bit more than the model's size. Default: SageMaker's.
    """

    model_data_download_timeout: Duration | None = None
    container_startup_timeout: Duration | None = None
    volume_size_gb: int | None = None

    def problems(self, instance: InstanceType | None) -> list[Problem]:
        problems = []
        for label, value, member in (
            (
                "model_data_download_timeout_s",
                self.model_data_download_timeout,
                "ModelDataDownloadTimeoutInSeconds",
            ),
            (
                "container_startup_timeout_s",
                self.container_startup_timeout,
                "ContainerStartupHealthCheckTimeoutInSeconds",
            ),
        ):
            if value is None:
                continue
            rule = number_rule("ProductionVariant", member)
            if not rule.contains(value.to_seconds()):
                problems.append(
                    Problem(
                        f"{label}={value.to_seconds():g}: SageMaker accepts {rule.describe()} seconds.",
                        setting=label,
                        value=value.to_seconds(),
                    )
                )
        if self.volume_size_gb is not None:
            rule = number_rule("ProductionVariant", "VolumeSizeInGB")
            if not rule.contains(self.volume_size_gb):
                problems.append(
                    Problem(
                        f"volume_size_gb={self.volume_size_gb}: SageMaker accepts {rule.describe()} GB.",
                        setting="volume_size_gb",
                        value=self.volume_size_gb,
                    )
                )
            elif instance is not None and instance.has_instance_storage:
                problems.append(
                    Problem(
                        f"volume_size_gb={self.volume_size_gb}: {instance.name} serves from local NVMe instance "
                        "storage and gets no EBS ML storage volume to size. Drop volume_size_gb (the local "
                        "disk holds the model), or use a type without instance storage such as ml.inf2.xlarge.",
                        setting="volume_size_gb",
                        value=self.volume_size_gb,
                    )
                )
        return problems

    def variant_properties(self) -> dict:
        """The ``CfnEndpointConfig.ProductionVariantProperty`` keyword arguments these options set."""
        properties = {}
        if self.model_data_download_timeout is not None:
            properties["model_data_download_timeout_in_seconds"] = int(
                self.model_data_download_timeout.to_seconds()
            )
        if self.container_startup_timeout is not None:
            properties["container_startup_health_check_timeout_in_seconds"] = int(
                self.container_startup_timeout.to_seconds()
            )
        if self.volume_size_gb is not None:
            properties["volume_size_in_gb"] = self.volume_size_gb
        return properties


def multi_model_problems(image: ContainerImage, instance: InstanceType | None) -> list[Problem]:
    """Why SageMaker cannot host a multi-model endpoint of ``image`` on ``instance``."""
    if instance is None:
        return []
    name = f"{image.repository_name}:{image.tag}"
    kind = instance.accelerator
    if kind in (AcceleratorKind.AWS_INFERENTIA, AcceleratorKind.AWS_TRAINIUM, AcceleratorKind.INTEL_GAUDI):
        return [
            Problem(
                f"multi-model on {instance.name}: SageMaker hosts multi-model endpoints on CPU instances, and "
                f"on single-GPU instances with its Triton image, not on {instance.accelerator_name}. Use a CPU "
                "type such as ml.m5.xlarge, a single-GPU type such as ml.g5.xlarge with Triton, or "
                "inference components to share Neuron instances between models.",
                setting="instance_type",
                value=instance.name,
            )
        ]
    if kind is AcceleratorKind.NVIDIA_GPU:
        problems = []
        if image.is_dlc and image.repository_name != TRITON_REPOSITORY:
            problems.append(
                Problem(
                    f"multi-model on GPU with {name}: SageMaker serves GPU multi-model endpoints only with its "
                    f"NVIDIA Triton Inference Server image ({TRITON_REPOSITORY}, e.g. tag 25.09-py3). Use that "
                    "image, or a CPU instance type for this one.",
                    setting="dlc_repository",
                    value=image.repository_name,
                )
            )
        if instance.accelerator_count is not None and instance.accelerator_count != 1:
            problems.append(
                Problem(
                    f"multi-model on {instance.name} ({instance.accelerator_count} GPUs): SageMaker's GPU "
                    "multi-model endpoints run on single-GPU instance types (ml.g5.xlarge to ml.g5.16xlarge, "
                    "ml.g4dn.xlarge, ...). Use one of those, or inference components to share a multi-GPU "
                    "instance between models.",
                    setting="instance_type",
                    value=instance.name,
                )
            )
        return problems
    if image.is_dlc and image.repository_name not in MULTI_MODEL_DLC_REPOSITORIES:
        return [
            Problem(
                f"multi-model with {name}: of the AWS Deep Learning Containers, "
                f"{', '.join(sorted(MULTI_MODEL_DLC_REPOSITORIES))} support multi-model endpoints. Use one "
                "of those, or your own image built with the SageMaker inference toolkit's multi-model support.",
                setting="dlc_repository",
                value=image.repository_name,
            )
        ]
    return []

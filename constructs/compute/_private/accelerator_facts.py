"""Accelerator facts that botocore's SageMaker model does not carry.

botocore lists which instance types SageMaker accepts; it does not say which accelerator a family
has, how many each size carries, or which families have local NVMe instance storage. Those facts are
written down here, once, from these sources (checked 2026-11):

- Neuron hardware pages (awsdocs-neuron.readthedocs-hosted.com, general/arch/neuron-hardware/
  inf1-arch, inf2-arch, trn1-arch, trn2-arch): chips per size and memory per chip.
- AWS Batch User Guide "GPU jobs" and the EC2 accelerated-computing instance pages: GPUs per size.
- SageMaker HyperPod GPU documentation: 8 x H100 80 GB on p5, 8 x H200 141 GB on p5e/p5en.
- CreateEndpointConfig API reference, KmsKeyId: instance types with local (NVMe) storage refuse a
  KmsKeyId; "Instance storage volumes" in the SageMaker guide, and the SageMaker Python SDK's
  ``volume_size_supported`` for the family list.

A size missing from ``count_by_size`` (or ``memory_gib`` of ``None``) means AWS does not document it
in the sources above; callers treat that as unknown, never as zero.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class AcceleratorKind(enum.Enum):
    NVIDIA_GPU = "NVIDIA GPU"
    AWS_TRAINIUM = "AWS Trainium"
    AWS_INFERENTIA = "AWS Inferentia"
    INTEL_GAUDI = "Intel Gaudi"
    NONE = "none"
    UNKNOWN = "unknown (instance type newer than the installed botocore)"


class NeuronSdk(enum.Enum):
    """Neuron SDK generation a Neuron instance needs: Inferentia1 runs ``neuron``, the rest ``neuronx``."""

    NEURON = "neuron"
    NEURONX = "neuronx"


@dataclass(frozen=True)
class FamilyFacts:
    kind: AcceleratorKind
    accelerator_name: str | None
    memory_gib: int | None
    count_by_size: dict[str, int] = field(default_factory=dict)
    neuron_sdk: NeuronSdk | None = None


def _gpus(name: str | None, memory_gib: int | None, counts: dict[str, int]) -> FamilyFacts:
    return FamilyFacts(AcceleratorKind.NVIDIA_GPU, name, memory_gib, counts)


_ONE_TO_SIXTEEN = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1}
_G5_LIKE = {**_ONE_TO_SIXTEEN, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}

FAMILY_FACTS: dict[str, FamilyFacts] = {
    "p2": _gpus("NVIDIA K80", 12, {"xlarge": 1, "8xlarge": 8, "16xlarge": 16}),
    "p3": _gpus("NVIDIA V100", 16, {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    "p3dn": _gpus("NVIDIA V100", 32, {"24xlarge": 8}),
    "p4d": _gpus("NVIDIA A100", 40, {"24xlarge": 8}),
    "p4de": _gpus("NVIDIA A100", 80, {"24xlarge": 8}),
    "p5": _gpus("NVIDIA H100", 80, {"4xlarge": 1, "48xlarge": 8}),
    "p5e": _gpus("NVIDIA H200", 141, {"48xlarge": 8}),
    "p5en": _gpus("NVIDIA H200", 141, {"48xlarge": 8}),
    "p6-b200": _gpus("NVIDIA B200", None, {"48xlarge": 8}),
    "p6-b300": _gpus("NVIDIA B300", None, {"48xlarge": 8}),
    "p6e-gb200": _gpus("NVIDIA GB200", None, {}),
    # Graviton (arm64) hosts with NVIDIA T4G GPUs: EC2 only, no SageMaker hosting.
    "g5g": _gpus("NVIDIA T4G", 16, {**_ONE_TO_SIXTEEN, "16xlarge": 2, "metal": 2}),
    "g4dn": _gpus("NVIDIA T4", 16, {**_ONE_TO_SIXTEEN, "12xlarge": 4}),
    "g5": _gpus("NVIDIA A10G", 24, _G5_LIKE),
    "g6": _gpus("NVIDIA L4", 24, _G5_LIKE),
    "gr6": _gpus("NVIDIA L4", 24, {"4xlarge": 1, "8xlarge": 1}),
    "g6e": _gpus("NVIDIA L40S", 48, _G5_LIKE),
    "g7": _gpus(None, None, {}),
    "g7e": _gpus(None, None, {}),
    "inf1": FamilyFacts(
        AcceleratorKind.AWS_INFERENTIA,
        "AWS Inferentia",
        8,
        {"xlarge": 1, "2xlarge": 1, "6xlarge": 4, "24xlarge": 16},
        NeuronSdk.NEURON,
    ),
    "inf2": FamilyFacts(
        AcceleratorKind.AWS_INFERENTIA,
        "AWS Inferentia2",
        32,
        {"xlarge": 1, "8xlarge": 1, "24xlarge": 6, "48xlarge": 12},
        NeuronSdk.NEURONX,
    ),
    "trn1": FamilyFacts(
        AcceleratorKind.AWS_TRAINIUM, "AWS Trainium", 32, {"2xlarge": 1, "32xlarge": 16}, NeuronSdk.NEURONX
    ),
    "trn1n": FamilyFacts(
        AcceleratorKind.AWS_TRAINIUM, "AWS Trainium", 32, {"32xlarge": 16}, NeuronSdk.NEURONX
    ),
    "trn2": FamilyFacts(
        AcceleratorKind.AWS_TRAINIUM, "AWS Trainium2", 96, {"48xlarge": 16}, NeuronSdk.NEURONX
    ),
    "dl1": FamilyFacts(AcceleratorKind.INTEL_GAUDI, "Habana Gaudi", 32, {"24xlarge": 8}),
}

# Families whose SageMaker hosts use local NVMe instance storage instead of an EBS ML storage volume:
# CreateEndpointConfig fails if KmsKeyId is set for them (the NVMe volumes are encrypted by a hardware
# module on the instance), and ProductionVariant.VolumeSizeInGB is refused. EC2's naming marks most
# of them with a "d" (c5d, m6gd, p4d, g4dn); the GPU and Trainium families from g5 and trn1 on have
# NVMe storage without the letter. tests/constructs/test_instance_types.py fails when botocore lists
# a hosting family that is in neither set, so each new family gets classified on purpose.
INSTANCE_STORAGE_FAMILIES: frozenset[str] = frozenset(
    {
        "c5d", "c6gd", "m5d", "m6gd", "r5d", "r6gd", "r7gd",
        "dl1", "g4dn", "g5", "g6", "g6e", "g7", "g7e",
        "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200",
        "trn1", "trn1n", "trn2",
    }
)  # fmt: skip

# Hosting families that serve from an EBS ML storage volume, which the endpoint's KMS key encrypts.
EBS_ONLY_FAMILIES: frozenset[str] = frozenset(
    {
        "t2", "m4", "m5", "m6g", "m6i", "m7i", "m8g",
        "c4", "c5", "c6g", "c6gn", "c6i", "c6in", "c7g", "c7i", "c8g",
        "r5", "r6g", "r6i", "r7i", "r8g",
        "p2", "p3", "inf1", "inf2",
    }
)  # fmt: skip

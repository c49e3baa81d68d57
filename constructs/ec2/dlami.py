"""The AWS Deep Learning AMI for an instance type, resolved from AWS's public SSM parameters at deploy time.

The AMI is never looked up at synth: the template names a public SSM parameter, and CloudFormation
resolves it when it deploys (a parameter of type ``AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>``),
so synth needs no credentials and every deploy takes the newest image of that line.

- GPU DLAMIs: ``/aws/service/deeplearning/ami/<arch>/<ami_type>/latest/ami-id``, where ``ami_type``
  is the AMI's name without "deep", "learning" and "ami" ("Finding the ID of a DLAMI", AWS Deep
  Learning AMIs Developer Guide, https://docs.aws.amazon.com/dlami/latest/devguide/find-dlami-id.html).
  The AMI names are those of the DLAMI release notes: "Deep Learning Base OSS Nvidia Driver GPU AMI
  (Ubuntu 22.04 | Ubuntu 24.04 | Amazon Linux 2023)" and "Deep Learning OSS Nvidia Driver AMI GPU
  PyTorch <version> (<OS>)"; their "supported_ec2_instances" rows give the families below (x86_64:
  G4dn, G5, G6, Gr6, G6e, G7e, P4d, P4de, P5, P5e, P5en, P6-B200, P6-B300; arm64: G5g, P6e-GB200,
  P6e-GB300; Base OSS Nvidia Driver GPU AMI (Amazon Linux 2023) 20260519 and its ARM64 twin).
- Neuron DLAMIs: ``/aws/service/neuron/dlami/<name>/<os>/latest/image_id`` (note ``image_id``; AWS
  Neuron documentation, "Neuron DLAMI", SSM parameters, SDK 2.32.0: ``multi-framework/ubuntu-24.04``,
  ``base/ubuntu-24.04``, ``base/amazon-linux-2023``). They support Inf2, Trn1, Trn1n, Trn2 and Trn3;
  "Starting with version 2.26.1, Neuron DLAMIs no longer support Inf1 instance types".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2

from mlblueprints.constructs.compute.ec2_instance_types import Ec2InstanceType
from mlblueprints.constructs.compute.instance_types import AcceleratorKind
from mlblueprints.constructs.errors import Problem

__all__ = ["DeepLearningAmi", "DlamiFlavor", "DlamiOs", "dlami_problems"]


class DlamiOs(enum.Enum):
    """The operating system of the image, as it appears in the SSM parameter path."""

    UBUNTU_22_04 = "ubuntu-22.04"
    UBUNTU_24_04 = "ubuntu-24.04"
    AMAZON_LINUX_2023 = "amazon-linux-2023"


class DlamiFlavor(enum.Enum):
    """What the image carries besides the accelerator's driver and runtime."""

    BASE = "base"  # GPU: OSS NVIDIA driver, CUDA, EFA, NCCL; Neuron: driver, runtime and tools
    PYTORCH = "pytorch"  # GPU only: a PyTorch version's environment (name the version)
    MULTI_FRAMEWORK = "multi-framework"  # Neuron only: PyTorch and JAX environments


GPU_FAMILIES_X86 = frozenset(
    {"g4dn", "g5", "g6", "gr6", "g6e", "g7e", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300"}
)
GPU_FAMILIES_ARM = frozenset({"g5g", "p6e-gb200", "p6e-gb300"})
NEURON_FAMILIES = frozenset({"inf2", "trn1", "trn1n", "trn2", "trn3"})
# Neuron DLAMIs are published for these systems only ("Neuron DLAMI": Ubuntu 22.04 is end of support).
_NEURON_OS = {
    DlamiFlavor.BASE: (DlamiOs.UBUNTU_24_04, DlamiOs.AMAZON_LINUX_2023),
    DlamiFlavor.MULTI_FRAMEWORK: (DlamiOs.UBUNTU_24_04,),
}


@dataclass(frozen=True)
class DeepLearningAmi:
    """The DLAMI line for an instance type; :meth:`machine_image` resolves it at deploy time."""

    ssm_parameter: str
    family: str  # "gpu" or "neuron"
    os: DlamiOs

    @classmethod
    def for_instance(
        cls,
        instance: Ec2InstanceType,
        *,
        os: DlamiOs = DlamiOs.UBUNTU_24_04,
        flavor: DlamiFlavor = DlamiFlavor.BASE,
        pytorch_version: str | None = None,
    ) -> DeepLearningAmi:
        problems = dlami_problems(instance, os=os, flavor=flavor, pytorch_version=pytorch_version)
        if problems:
            from mlblueprints.constructs.errors import InstanceTypeError

            raise InstanceTypeError(problems)
        if instance.is_neuron:
            return cls(f"/aws/service/neuron/dlami/{flavor.value}/{os.value}/latest/image_id", "neuron", os)
        name = (
            f"base-oss-nvidia-driver-gpu-{os.value}"
            if flavor is DlamiFlavor.BASE
            else f"oss-nvidia-driver-gpu-pytorch-{pytorch_version}-{os.value}"
        )
        return cls(
            f"/aws/service/deeplearning/ami/{instance.cpu_architecture}/{name}/latest/ami-id", "gpu", os
        )

    def machine_image(self) -> ec2.IMachineImage:
        """The image, read from the public SSM parameter by CloudFormation at deploy time."""
        return ec2.MachineImage.from_ssm_parameter(
            self.ssm_parameter,
            os=ec2.OperatingSystemType.LINUX,
        )


def dlami_problems(
    instance: Ec2InstanceType,
    *,
    os: DlamiOs,
    flavor: DlamiFlavor,
    pytorch_version: str | None = None,
) -> list[Problem]:
    """Why no DLAMI line fits ``instance`` with these choices; empty when one does."""
    name, family = instance.name, instance.family
    if family == "inf1":
        return [
            Problem(
                f"{name}: current Neuron DLAMIs no longer support Inf1 (dropped in Neuron SDK 2.26.1, "
                '"Neuron DLAMI"); use inf2 (e.g. inf2.xlarge).',
                setting="instance_type",
                value=name,
            )
        ]
    if instance.is_neuron:
        if family not in NEURON_FAMILIES:
            return [
                Problem(
                    f"{name}: no Neuron DLAMI lists the {family} family.", setting="instance_type", value=name
                )
            ]
        if flavor is DlamiFlavor.PYTORCH:
            return [
                Problem(
                    f"dlami flavor 'pytorch' is a GPU DLAMI and would not run on {name} (AWS "
                    f"{instance.accelerator_name}): use 'base' or 'multi-framework' (the Neuron DLAMI with "
                    "PyTorch and JAX environments).",
                    setting="dlami_flavor",
                    value=flavor.value,
                )
            ]
        if os not in _NEURON_OS[flavor]:
            allowed = ", ".join(o.value for o in _NEURON_OS[flavor])
            return [
                Problem(
                    f"dlami_os {os.value!r}: AWS publishes the Neuron {flavor.value} DLAMI for {allowed} only.",
                    setting="dlami_os",
                    value=os.value,
                )
            ]
        return []
    if instance.accelerator is not AcceleratorKind.NVIDIA_GPU:
        return [
            Problem(
                f"{name} has no NVIDIA GPU, Inferentia or Trainium accelerator: the Deep Learning AMIs are "
                "for accelerated instances (e.g. g6e.xlarge, p5.48xlarge, trn1.32xlarge, inf2.xlarge).",
                setting="instance_type",
                value=name,
            )
        ]
    supported = GPU_FAMILIES_ARM if instance.cpu_architecture == "arm64" else GPU_FAMILIES_X86
    if family not in supported:
        return [
            Problem(
                f"{name}: the GPU DLAMIs do not list the {family} family among their supported instances "
                f"({instance.cpu_architecture}: {', '.join(sorted(supported))}).",
                setting="instance_type",
                value=name,
            )
        ]
    if flavor is DlamiFlavor.MULTI_FRAMEWORK:
        return [
            Problem(
                f"dlami flavor 'multi-framework' is a Neuron DLAMI and would not run on {name} (NVIDIA GPU): "
                "use 'base' or 'pytorch'.",
                setting="dlami_flavor",
                value=flavor.value,
            )
        ]
    if flavor is DlamiFlavor.PYTORCH and not pytorch_version:
        return [
            Problem(
                "dlami flavor 'pytorch' needs pytorch_version, e.g. '2.9' (a version the DLAMI release notes "
                "list for your OS), or use 'base'.",
                setting="pytorch_version",
            )
        ]
    return []

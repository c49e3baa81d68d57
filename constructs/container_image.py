"""Container images for SageMaker models: AWS Deep Learning Containers or your own ECR image.

An image has to match its instance: a CUDA image cannot drive a Neuron device, a Neuron image finds
no Neuron device on a GPU host, and Inferentia1 (Neuron SDK ``neuron``) and Inferentia2/Trainium
(``neuronx``) need different builds. SageMaker only finds out when the endpoint fails its health check,
twenty minutes into a deploy; :func:`check_image_for_instance` finds out at synth.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from aws_cdk import Aws, Stack, Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk.region_info import FactName, RegionInfo

from constructs import Construct
from mlblueprints.constructs.instance_types import AcceleratorKind, InstanceType, NeuronSdk

__all__ = [
    "ContainerImage",
    "ImageAccelerator",
    "ImageCompatibilityError",
    "check_image_for_instance",
    "image_advice",
]


class ImageCompatibilityError(ValueError):
    """A container image that cannot use the accelerator of the instance it is placed on."""


class ImageAccelerator(enum.Enum):
    """Which accelerator runtime an image is built for, read from its repository name and tag."""

    CUDA = "CUDA (NVIDIA GPU)"
    NEURON = "Neuron SDK 'neuron' (Inferentia1)"
    NEURONX = "Neuron SDK 'neuronx' (Inferentia2, Trainium)"
    UNKNOWN = "unknown"


# Whole words of a repository name or tag ("pytorch-inference-neuronx", "2.9.0-neuronx-py312"),
# so that a name such as "neuronpedia-llm" is not taken for a Neuron image.
_NEURONX = re.compile(r"(^|[-_./:])neuronx([-_./:]|$)")
_NEURON = re.compile(r"(^|[-_./:])neuron([-_./:]|$)")
_CUDA_TAG = re.compile(r"(^|[-_.])(cu\d{2,3}|gpu|cuda)([-_.]|$)")
_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+)(?::(?P<tag>[\w.-]+))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def classify_image(repository_name: str | None, tag: str | None) -> ImageAccelerator:
    """Read the accelerator runtime from the naming AWS Deep Learning Containers use.

    ``pytorch-inference-neuronx:2.9.0-neuronx-...`` is neuronx, ``pytorch-inference-neuron`` is
    neuron, ``...-gpu-py312-cu124-...`` is CUDA. Unresolved tokens and other names are UNKNOWN.
    """
    parts = [p.lower() for p in (repository_name, tag) if p and not Token.is_unresolved(p)]
    if any(_NEURONX.search(p) for p in parts):
        return ImageAccelerator.NEURONX
    if any(_NEURON.search(p) for p in parts):
        return ImageAccelerator.NEURON
    if tag and not Token.is_unresolved(tag) and _CUDA_TAG.search(tag.lower()):
        return ImageAccelerator.CUDA
    return ImageAccelerator.UNKNOWN


@dataclass(frozen=True)
class ContainerImage:
    """A model container image in ECR, and what the model's role needs to pull it.

    Build one with :meth:`from_dlc`, :meth:`from_ecr_repository` or :meth:`from_image_uri`.
    """

    repository_name: str
    tag: str
    _uri: str | None = None
    _repository: ecr.IRepository | None = None
    _dlc: bool = False

    @classmethod
    def from_dlc(cls, repository_name: str, tag: str) -> ContainerImage:
        """An AWS Deep Learning Container, e.g. ``("pytorch-inference-neuronx", "2.9.0-neuronx-...")``.

        The registry account differs by region (763104351884 in most, others in opt-in regions); it is
        resolved from CDK's region facts for the stack's region, through a mapping when the stack is
        region-agnostic.
        """
        return cls(repository_name=repository_name, tag=tag, _dlc=True)

    @classmethod
    def from_ecr_repository(cls, repository: ecr.IRepository, tag: str) -> ContainerImage:
        """Your own image (bring-your-own container) in an ECR repository you create or import."""
        return cls(repository_name=repository.repository_name, tag=tag, _repository=repository)

    @classmethod
    def from_image_uri(cls, uri: str) -> ContainerImage:
        """An ECR image by URI: ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``."""
        match = _ECR_URI.match(uri)
        if not match or not (match["tag"] or match["digest"]):
            raise ValueError(
                f"Container image {uri!r} is not an Amazon ECR image URI. SageMaker pulls model images "
                "from ECR only: use '<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>' "
                "(or '@sha256:<digest>'; push the image to ECR first), or an AWS Deep Learning Container."
            )
        return cls(repository_name=match["repository"], tag=match["tag"] or match["digest"], _uri=uri)

    @property
    def accelerator(self) -> ImageAccelerator:
        return classify_image(self.repository_name, self.tag)

    def bind(self, scope: Construct, role: iam.IGrantable) -> str:
        """Grant ``role`` pull access to exactly this repository and return the image URI."""
        stack = Stack.of(scope)
        if self._repository is not None:
            repository_arn = self._repository.repository_arn
            uri = self._repository.repository_uri_for_tag(self.tag)
        else:
            if self._dlc:
                account, region = _dlc_account(stack), Aws.REGION
                uri = f"{account}.dkr.ecr.{region}.{Aws.URL_SUFFIX}/{self.repository_name}:{self.tag}"
            else:
                match = _ECR_URI.match(self._uri or "")
                assert match, self._uri
                account, region, uri = match["account"], match["region"], self._uri
            repository_arn = stack.format_arn(
                service="ecr",
                account=account,
                region=region,
                resource="repository",
                resource_name=self.repository_name,
            )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resource_arns=[repository_arn],
        )
        # GetAuthorizationToken is account-level: IAM accepts no narrower resource for it.
        iam.Grant.add_to_principal(grantee=role, actions=["ecr:GetAuthorizationToken"], resource_arns=["*"])
        return uri


def _dlc_account(stack: Stack) -> str:
    """The Deep Learning Containers registry account of the stack's region (a mapping if agnostic)."""
    if not Token.is_unresolved(stack.region) and RegionInfo.get(stack.region).dlc_repository_account is None:
        raise ValueError(
            f"AWS Deep Learning Containers are not published in region {stack.region!r} (CDK's region "
            "facts list no registry account for it). Deploy to a region that has them, or use your own "
            "image with ContainerImage.from_ecr_repository() / image_uri."
        )
    return stack.regional_fact(FactName.DLC_REPOSITORY_ACCOUNT)


def check_image_for_instance(image: ContainerImage, instance: InstanceType) -> None:
    """Raise :class:`ImageCompatibilityError` if ``image`` cannot use ``instance``'s accelerator."""
    runtime = image.accelerator
    if runtime is ImageAccelerator.UNKNOWN:
        return
    name = f"{image.repository_name}:{image.tag}"
    kind = instance.accelerator
    neuron_instance = kind in (AcceleratorKind.AWS_INFERENTIA, AcceleratorKind.AWS_TRAINIUM)
    if kind is AcceleratorKind.NVIDIA_GPU and runtime in (ImageAccelerator.NEURON, ImageAccelerator.NEURONX):
        raise ImageCompatibilityError(
            f"Container image {name!r} is built for the AWS Neuron SDK, but {instance.name!r} has "
            f"{instance.accelerator_name or 'NVIDIA GPUs'}: the model would find no Neuron device. Use a "
            "CUDA image such as 'pytorch-inference:<version>-gpu-...-cu124-...-sagemaker', or a Neuron "
            "instance type such as 'ml.inf2.xlarge'."
        )
    if neuron_instance and runtime is ImageAccelerator.CUDA:
        raise ImageCompatibilityError(
            f"Container image {name!r} is a CUDA (NVIDIA GPU) image, but {instance.name!r} has "
            f"{instance.accelerator_name} accelerators, which run only Neuron SDK images. Use a Neuron "
            f"image such as '{_neuron_example(instance)}', or a GPU instance type such as 'ml.g5.xlarge'."
        )
    if neuron_instance and instance.neuron_sdk is NeuronSdk.NEURON and runtime is ImageAccelerator.NEURONX:
        raise ImageCompatibilityError(
            f"Container image {name!r} is a Neuron 'neuronx' image (Inferentia2/Trainium), but "
            f"{instance.name!r} is Inferentia1, which needs the 'neuron' SDK. Use "
            f"'{_neuron_example(instance)}', or an Inferentia2 instance type such as 'ml.inf2.xlarge'."
        )
    if neuron_instance and instance.neuron_sdk is NeuronSdk.NEURONX and runtime is ImageAccelerator.NEURON:
        raise ImageCompatibilityError(
            f"Container image {name!r} is a Neuron 'neuron' image (Inferentia1), but {instance.name!r} "
            f"({instance.accelerator_name}) needs the 'neuronx' SDK. Use '{_neuron_example(instance)}'."
        )
    if kind is AcceleratorKind.INTEL_GAUDI:
        raise ImageCompatibilityError(
            f"Container image {name!r} is built for {runtime.value}, but {instance.name!r} has Intel "
            "Gaudi accelerators, which run only Habana SynapseAI images. Use a Gaudi image, or a GPU "
            "(ml.g5.xlarge) or Neuron (ml.inf2.xlarge) instance type for this image."
        )
    if kind is AcceleratorKind.NONE and runtime in (ImageAccelerator.NEURON, ImageAccelerator.NEURONX):
        raise ImageCompatibilityError(
            f"Container image {name!r} is built for {runtime.value}, but {instance.name!r} has no "
            "accelerator, and a Neuron-compiled model cannot run without one. Use a Neuron instance "
            "type such as 'ml.inf2.xlarge', or a CPU image."
        )


def image_advice(image: ContainerImage, instance: InstanceType) -> str | None:
    """A combination that deploys and runs but wastes money or speed; the construct warns about it."""
    if instance.accelerator is AcceleratorKind.NONE and image.accelerator is ImageAccelerator.CUDA:
        return (
            f"Container image {image.repository_name}:{image.tag} is a CUDA image on {instance.name}, "
            "which has no GPU: it runs on the CPU only. Use a GPU instance type or the CPU image."
        )
    return None


def _neuron_example(instance: InstanceType) -> str:
    if instance.neuron_sdk is NeuronSdk.NEURON:
        return "pytorch-inference-neuron:<version>-neuron-py310-sdk2.20.2-ubuntu20.04"
    return "pytorch-inference-neuronx:<version>-neuronx-py312-sdk2.31.1-ubuntu24.04"

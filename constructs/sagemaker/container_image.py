"""Container images for SageMaker models: AWS Deep Learning Containers or your own ECR image.

An image has to match its instance: a CUDA image cannot drive a Neuron device, a Neuron image finds
no Neuron device on a GPU host, and Inferentia1 (Neuron SDK ``neuron``) and Inferentia2/Trainium
(``neuronx``) need different builds. SageMaker only finds out when the endpoint fails its health check,
twenty minutes into a deploy; :func:`check_image_for_instance` finds out at synth.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import re
from dataclasses import dataclass

from aws_cdk import Aws, CfnMapping, CfnRule, Fn, Stack, Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs import Construct
from mlblueprints.constructs._private.service_models import partition_of, partitions
from mlblueprints.constructs.compute.instance_types import AcceleratorKind, InstanceType, NeuronSdk
from mlblueprints.constructs.ecr.repository import is_repository_name
from mlblueprints.constructs.errors import ImageCompatibilityError, MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker._private.dlc_catalog import (
    DlcRepository,
    find_repository,
    is_ec2_tag,
    repository_names,
)

__all__ = [
    "ContainerImage",
    "ImageAccelerator",
    "ImageCompatibilityError",
    "check_image_for_instance",
    "image_advice",
    "image_problems",
]

ALLOW_UNLISTED_TAGS_CONTEXT_KEY = "mlblueprints:allowUnlistedImageTags"
# ``service`` of :func:`image_problems` for a training job ("sagemaker" is an endpoint).
TRAINING_SERVICE = "sagemaker-training"


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
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.(?P<suffix>amazonaws\.com(?:\.cn)?)/"
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
    _in_stack_registry: bool = False
    allow_unlisted_tag: bool = False

    @classmethod
    def from_dlc(cls, repository_name: str, tag: str, *, allow_unlisted_tag: bool = False) -> ContainerImage:
        """An AWS Deep Learning Container, e.g. ``("pytorch-inference-neuronx", "2.9.0-neuronx-...")``.

        Repository, tag, registry account and regions come from the SageMaker Python SDK's image
        tables (and AWS's published Neuron image list). A stack pinned to a region gets that region's
        registry account, and an image not published there is refused; a region-agnostic stack gets
        a mapping of the accounts and a CloudFormation ``Rules`` assertion that stops a deploy in a
        region without the image at change-set creation.

        :param allow_unlisted_tag: accept a tag newer than the tables (synth warns). Also for a whole
            app: ``-c mlblueprints:allowUnlistedImageTags=true``.
        """
        return cls(repository_name=repository_name, tag=tag, _dlc=True, allow_unlisted_tag=allow_unlisted_tag)

    @classmethod
    def from_ecr_repository(cls, repository: ecr.IRepository, tag: str) -> ContainerImage:
        """Your own image (bring-your-own container) in an ECR repository you create or import."""
        return cls(repository_name=repository.repository_name, tag=tag, _repository=repository)

    @classmethod
    def from_repository_name(cls, repository_name: str, tag: str) -> ContainerImage:
        """Your own image by repository name, in the stack's own account and region.

        For an image a ``container-image`` stack published (its RepositoryName and ImageTag outputs):
        the URI follows the stack wherever it is deployed.
        """
        problems = image_reference_problems(repository_name, tag)
        if problems:
            raise ImageCompatibilityError(problems)
        return cls(repository_name=repository_name, tag=tag, _in_stack_registry=True)

    @classmethod
    def from_image_uri(cls, uri: str) -> ContainerImage:
        """An ECR image by URI: ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>``."""
        match = _ECR_URI.match(uri) if not Token.is_unresolved(uri) else None
        if not match or not (match["tag"] or match["digest"]):
            raise ImageCompatibilityError(
                f"Container image {uri!r} is not an Amazon ECR image URI. SageMaker pulls model images "
                "from ECR only: use '<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>' "
                "(or '@sha256:<digest>'; push the image to ECR first), or an AWS Deep Learning Container."
            )
        if match["tag"] == "latest" and not match["digest"]:
            raise ImageCompatibilityError(_latest_problem(uri))
        partition = partition_of(match["region"])
        if partition is None:
            raise ImageCompatibilityError(
                Problem(
                    f"Container image {uri!r} names ECR region {match['region']!r}, which is not a region the "
                    "installed botocore knows. Check the URI; it is shown in the ECR console.",
                    setting="image_uri",
                    value=uri,
                )
            )
        expected_suffix = partitions()[partition]["outputs"]["dnsSuffix"]
        if match["suffix"] != expected_suffix:
            raise ImageCompatibilityError(
                Problem(
                    f"Container image {uri!r}: ECR in {match['region']} is reached at *.{expected_suffix}, not "
                    f"*.{match['suffix']}. Use '{match['account']}.dkr.ecr.{match['region']}.{expected_suffix}/...'.",
                    setting="image_uri",
                    value=uri,
                )
            )
        return cls(repository_name=match["repository"], tag=match["tag"] or match["digest"], _uri=uri)

    @property
    def accelerator(self) -> ImageAccelerator:
        return classify_image(self.repository_name, self.tag)

    @property
    def is_dlc(self) -> bool:
        return self._dlc

    @property
    def uri_region(self) -> str | None:
        """The region in an ``image_uri``; ``None`` for other sources."""
        match = _ECR_URI.match(self._uri or "")
        return match["region"] if match else None

    @property
    def dlc_repository(self) -> DlcRepository | None:
        return find_repository(self.repository_name) if self._dlc else None

    def bind(self, scope: Construct, role: iam.IGrantable) -> str:
        """Grant ``role`` pull access to exactly this repository and return the image URI."""
        uri, repository_arn = self.locate(scope)
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resource_arns=[repository_arn],
        )
        # GetAuthorizationToken is account-level: IAM accepts no narrower resource for it.
        iam.Grant.add_to_principal(grantee=role, actions=["ecr:GetAuthorizationToken"], resource_arns=["*"])
        return uri

    def locate(self, scope: Construct) -> tuple[str, str]:
        """The image URI and its repository's ARN in ``scope``'s stack, granting nothing.

        For an image that is only named (a model package's serving image), not pulled by a role of
        this stack.
        """
        stack = Stack.of(scope)
        if self._repository is not None:
            repository_arn = self._repository.repository_arn
            uri = self._repository.repository_uri_for_tag(self.tag)
        else:
            if self._in_stack_registry:
                account, region = stack.account, stack.region
                uri = f"{account}.dkr.ecr.{region}.{_url_suffix(stack)}/{self.repository_name}:{self.tag}"
            elif self._dlc:
                account, region = _dlc_account(stack, self), Aws.REGION
                uri = f"{account}.dkr.ecr.{region}.{Aws.URL_SUFFIX}/{self.repository_name}:{self.tag}"
            else:
                match = _ECR_URI.match(self._uri or "")
                assert match, self._uri
                account, region, uri = match["account"], match["region"], self._uri
                if Token.is_unresolved(stack.region):
                    _assert_region(
                        stack,
                        f"ImageRegion{_short_hash(self._uri)}",
                        [region],
                        f"The model image {self._uri} is in ECR region {region}; SageMaker pulls images "
                        f"from the endpoint's own region only. Deploy this stack to {region}, or "
                        "replicate the image to this region's ECR and use its URI.",
                    )
            repository_arn = stack.format_arn(
                service="ecr",
                account=account,
                region=region,
                resource="repository",
                resource_name=self.repository_name,
            )
        return uri, repository_arn


# A Docker image tag: "up to 128 characters: lowercase and uppercase letters, digits, underscores,
# periods, and hyphens; it can't start with a period or a hyphen" (Docker docs, "docker image tag").
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def image_reference_problems(repository_name: str, tag: str) -> list[Problem]:
    """What ECR would refuse in a repository name and tag, or what would not pin the image."""
    problems = []
    if not Token.is_unresolved(repository_name) and not is_repository_name(repository_name):
        problems.append(
            Problem(
                f"image_repository={repository_name!r} is not an ECR repository name: 2 to 256 lower-case letters, "
                "digits and '._-' separators, with '/' between path parts, e.g. 'mlblueprints/serving-gpu' (the "
                "RepositoryName output of a container-image stack).",
                setting="image_repository",
                value=repository_name,
            )
        )
    if Token.is_unresolved(tag):
        return problems
    if tag == "latest":
        problems.append(_latest_problem(f"{repository_name}:{tag}"))
    elif not _IMAGE_TAG.fullmatch(tag):
        problems.append(
            Problem(
                f"image_tag={tag!r} is not an ECR image tag: up to 128 letters, digits, '_', '.' and '-', not "
                "starting with '.' or '-' (the ImageTag output of a container-image stack).",
                setting="image_tag",
                value=tag,
            )
        )
    return problems


def _url_suffix(stack: Stack) -> str:
    """``amazonaws.com`` (``amazonaws.com.cn`` in China) for a pinned stack; ``AWS::URLSuffix`` if agnostic."""
    partition = None if Token.is_unresolved(stack.region) else partition_of(stack.region)
    return partitions()[partition]["outputs"]["dnsSuffix"] if partition else Aws.URL_SUFFIX


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8].upper()


def _assert_region(stack: Stack, id: str, regions: list[str], message: str) -> None:
    """A ``Rules`` assertion: CloudFormation refuses the change set outside ``regions``."""
    if stack.node.try_find_child(id) is None:
        rule = CfnRule(stack, id)
        rule.add_assertion(Fn.condition_contains(sorted(regions), Aws.REGION), message)


def _dlc_account(stack: Stack, image: ContainerImage) -> str:
    """The registry account of the image in the stack's region, or a mapping plus a region rule."""
    repository = image.dlc_repository
    assert repository is not None, image.repository_name  # image_problems refuses unknown repositories
    regions = repository.regions_for_tag(image.tag) or frozenset(repository.registries)
    if not Token.is_unresolved(stack.region):
        account = repository.registry_account(stack.region)
        assert account is not None, stack.region  # image_problems refuses unpublished regions
        return account
    suffix = _short_hash(f"{image.repository_name}:{image.tag}")
    mapping_id = f"DlcRegistry{suffix}"
    mapping = stack.node.try_find_child(mapping_id)
    if mapping is None:
        mapping = CfnMapping(
            stack,
            mapping_id,
            mapping={region: {"account": repository.registries[region]} for region in sorted(regions)},
        )
    _assert_region(
        stack,
        f"DlcRegion{suffix}",
        list(regions),
        f"AWS publishes the Deep Learning Container {image.repository_name}:{image.tag} only in "
        f"{', '.join(sorted(regions))}. Deploy to one of those regions, or use your own image in this "
        "region's ECR.",
    )
    return mapping.find_in_map(Aws.REGION, "account")


def image_problems(
    image: ContainerImage, instance: InstanceType | None, region: str, *, service: str = "sagemaker"
) -> list[MlBlueprintsError]:
    """Everything that stops ``image`` from serving on ``instance`` in ``region`` (a token if agnostic)."""
    problems: list[Problem] = []
    name = f"{image.repository_name}:{image.tag}"
    pinned = not Token.is_unresolved(region)
    if image.is_dlc:
        problems += _dlc_problems(image, region if pinned else None, service)
    elif pinned and image.uri_region and image.uri_region != region:
        problems.append(
            Problem(
                f"Container image {image._uri} is in ECR region {image.uri_region}, but the stack deploys to "
                f"{region}: SageMaker pulls model images from its own region only. Replicate the image to "
                f"{region} (ECR replication) and use that URI, or deploy the stack to {image.uri_region}.",
                setting="image_uri",
                value=image._uri,
            )
        )
    if instance is not None:
        try:
            check_image_for_instance(image, instance, service=service)
        except ImageCompatibilityError as error:
            problems += error.problems
        repository = image.dlc_repository
        if repository is not None and repository.arch != instance.cpu_architecture:
            problems.append(
                Problem(
                    f"Container image {name!r} is built for {repository.arch}, but {instance.name!r} runs "
                    f"on {instance.cpu_architecture} (AWS Graviton or NVIDIA Grace) processors. Use an arm64 image such as "
                    "'pytorch-inference-graviton', or an x86_64 instance type such as 'ml.c7i.xlarge'."
                    if instance.cpu_architecture == "arm64"
                    else f"Container image {name!r} is built for {repository.arch}, but "
                    f"{instance.name!r} runs on x86_64 processors. Use a Graviton instance type such as "
                    "'ml.c7g.xlarge', or an x86_64 image.",
                    setting="dlc_repository",
                    value=image.repository_name,
                )
            )
    return [ImageCompatibilityError(problems)] if problems else []


def _dlc_problems(image: ContainerImage, region: str | None, service: str) -> list[Problem]:
    repository = image.dlc_repository
    name = f"{image.repository_name}:{image.tag}"
    if repository is None:
        close = difflib.get_close_matches(image.repository_name.lower(), repository_names(), n=3, cutoff=0.6)
        return [
            Problem(
                f"{image.repository_name!r} is not an AWS Deep Learning Containers repository known to the "
                "catalog's image tables. "
                + (f"Closest: {', '.join(close)}." if close else "Use one such as 'pytorch-inference'."),
                setting="dlc_repository",
                value=image.repository_name,
            )
        ]
    problems = []
    if service == TRAINING_SERVICE and repository.purpose == "inference":
        problems.append(
            Problem(
                f"{image.repository_name!r} holds inference images; a training job needs a training image such "
                f"as {image.repository_name.replace('inference', 'training')!r}.",
                setting="dlc_repository",
                value=image.repository_name,
            )
        )
    if service == "sagemaker" and repository.purpose == "training":
        problems.append(
            Problem(
                f"{image.repository_name!r} holds training images; a SageMaker endpoint needs an inference "
                f"image such as {image.repository_name.replace('training', 'inference')!r}.",
                setting="dlc_repository",
                value=image.repository_name,
            )
        )
    if not _DOCKER_TAG.fullmatch(image.tag):
        problems.append(
            Problem(
                f"Image tag {image.tag!r} is not a valid image tag: letters, digits, '_', '.' and '-', at most "
                "128 characters, not starting with '.' or '-'.",
                setting="dlc_tag",
                value=image.tag,
            )
        )
    elif image.tag == "latest":
        problems.append(_latest_problem(name))
    elif service in ("sagemaker", TRAINING_SERVICE) and is_ec2_tag(image.tag):
        problems.append(
            Problem(
                f"Image tag {image.tag!r} is an EC2/ECS/EKS build ('-ec2'), not tested on SageMaker. Use the "
                f"'-sagemaker' build of the same version, e.g. {image.tag.replace('-ec2', '-sagemaker')!r}.",
                setting="dlc_tag",
                value=image.tag,
            )
        )
    elif not repository.is_known_tag(image.tag) and not image.allow_unlisted_tag:
        newest = ", ".join(repository.tags()[:3])  # the SDK's base tags; build suffixes may follow
        problems.append(
            Problem(
                f"Image tag {image.tag!r} of {image.repository_name!r} is not in the catalog's image tables "
                f"({repository.source}). Known base tags include {newest} (a build suffix such as "
                "-cu124-ubuntu22.04-sagemaker may follow). For a tag published after that "
                'release, set "allow_unlisted_image_tags": true (allow_unlisted_tag=True on '
                "ContainerImage.from_dlc; context key 'mlblueprints:allowUnlistedImageTags').",
                setting="dlc_tag",
                value=image.tag,
            )
        )
    if region is not None:
        regions = repository.regions_for_tag(image.tag) or frozenset(repository.registries)
        if region not in regions:
            problems.append(
                Problem(
                    f"AWS does not publish {name} in {region}; it is published in {', '.join(sorted(regions))}. "
                    "Deploy to one of those regions, or push your own image to this region's ECR.",
                    setting="dlc_repository",
                    value=image.repository_name,
                )
            )
    return problems


# The Docker/OCI image tag grammar, which ECR enforces.
_DOCKER_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def _latest_problem(name: str) -> Problem:
    return Problem(
        f"Container image {name!r} uses the mutable 'latest' tag: each new instance could start a "
        "different image than the one tested. Pin a version tag (or an @sha256 digest).",
        setting="image",
        value=name,
    )


def check_image_for_instance(
    image: ContainerImage, instance: InstanceType, *, service: str = "sagemaker"
) -> None:
    """Raise :class:`ImageCompatibilityError` if ``image`` cannot use ``instance``'s accelerator.

    ``service`` (an endpoint, or :data:`TRAINING_SERVICE`) picks the images and instance types the
    message suggests instead.
    """
    training = service == TRAINING_SERVICE
    cuda_example = (
        "pytorch-training:<version>-gpu-py312"
        if training
        else "pytorch-inference:<version>-gpu-...-cu124-...-sagemaker"
    )
    neuron_type = "ml.trn1.32xlarge" if training else "ml.inf2.xlarge"
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
            f"CUDA image such as '{cuda_example}', or a Neuron instance type such as '{neuron_type}'."
        )
    if neuron_instance and runtime is ImageAccelerator.CUDA:
        raise ImageCompatibilityError(
            f"Container image {name!r} is a CUDA (NVIDIA GPU) image, but {instance.name!r} has "
            f"{instance.accelerator_name} accelerators, which run only Neuron SDK images. Use a Neuron "
            f"image such as '{_neuron_example(instance, training)}', or a GPU instance type such as 'ml.g5.xlarge'."
        )
    if neuron_instance and instance.neuron_sdk is NeuronSdk.NEURON and runtime is ImageAccelerator.NEURONX:
        raise ImageCompatibilityError(
            f"Container image {name!r} is a Neuron 'neuronx' image (Inferentia2/Trainium), but "
            f"{instance.name!r} is Inferentia1, which needs the 'neuron' SDK. Use "
            f"'{_neuron_example(instance, training)}', or an Inferentia2 instance type such as 'ml.inf2.xlarge'."
        )
    if neuron_instance and instance.neuron_sdk is NeuronSdk.NEURONX and runtime is ImageAccelerator.NEURON:
        raise ImageCompatibilityError(
            f"Container image {name!r} is a Neuron 'neuron' image (Inferentia1), but {instance.name!r} "
            f"({instance.accelerator_name}) needs the 'neuronx' SDK. Use '{_neuron_example(instance, training)}'."
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
            f"type such as '{neuron_type}', or a CPU image."
        )


def image_advice(image: ContainerImage, instance: InstanceType) -> str | None:
    """A combination that deploys and runs but wastes money or speed; the construct warns about it."""
    if instance.accelerator is AcceleratorKind.NONE and image.accelerator is ImageAccelerator.CUDA:
        return (
            f"Container image {image.repository_name}:{image.tag} is a CUDA image on {instance.name}, "
            "which has no GPU: it runs on the CPU only. Use a GPU instance type or the CPU image."
        )
    return None


def _neuron_example(instance: InstanceType, training: bool = False) -> str:
    if training:
        return "pytorch-training-neuronx:2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04"
    if instance.neuron_sdk is NeuronSdk.NEURON:
        return "pytorch-inference-neuron:<version>-neuron-py310-sdk2.20.2-ubuntu20.04"
    return "pytorch-inference-neuronx:<version>-neuronx-py312-sdk2.31.1-ubuntu24.04"

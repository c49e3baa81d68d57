"""Container image / instance compatibility and ECR image references."""

import pytest

from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.sagemaker.container_image import (
    ContainerImage,
    ImageAccelerator,
    ImageCompatibilityError,
    check_image_for_instance,
    image_advice,
)

GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
NEURONX_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
)
NEURON_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuron", "1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04"
)


def _instance(name):
    return check_instance_type(name, use=SageMakerUse.REALTIME_INFERENCE)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (GPU_IMAGE, ImageAccelerator.CUDA),
        (NEURONX_IMAGE, ImageAccelerator.NEURONX),
        (NEURON_IMAGE, ImageAccelerator.NEURON),
        (ContainerImage.from_dlc("my-model", "v3"), ImageAccelerator.UNKNOWN),
    ],
)
def test_image_accelerator_is_read_from_repository_and_tag(image, expected):
    assert image.accelerator is expected


@pytest.mark.parametrize(
    ("image", "instance"),
    [
        (GPU_IMAGE, "ml.g5.xlarge"),
        (GPU_IMAGE, "ml.p5.48xlarge"),
        (NEURONX_IMAGE, "ml.inf2.xlarge"),
        (NEURONX_IMAGE, "ml.trn1.2xlarge"),
        (NEURON_IMAGE, "ml.inf1.xlarge"),
        (ContainerImage.from_dlc("my-model", "v3"), "ml.inf2.xlarge"),
    ],
)
def test_matching_images_are_accepted(image, instance):
    check_image_for_instance(image, _instance(instance))


def test_neuron_image_on_gpu_instance_rejected():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"built for the AWS Neuron SDK, but 'ml.g5.xlarge' has NVIDIA A10G.*Use a CUDA image",
    ):
        check_image_for_instance(NEURONX_IMAGE, _instance("ml.g5.xlarge"))


def test_cuda_image_on_neuron_instance_rejected():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"CUDA \(NVIDIA GPU\) image, but .ml.inf2.xlarge. has AWS Inferentia2.*neuronx",
    ):
        check_image_for_instance(GPU_IMAGE, _instance("ml.inf2.xlarge"))
    with pytest.raises(ImageCompatibilityError, match=r"'ml.trn1.2xlarge' has AWS Trainium"):
        check_image_for_instance(GPU_IMAGE, _instance("ml.trn1.2xlarge"))


def test_neuronx_image_on_inferentia1_rejected():
    with pytest.raises(
        ImageCompatibilityError, match=r"'ml.inf1.xlarge' is Inferentia1, which needs the 'neuron' SDK"
    ):
        check_image_for_instance(NEURONX_IMAGE, _instance("ml.inf1.xlarge"))


def test_neuron_v1_image_on_inferentia2_rejected():
    with pytest.raises(ImageCompatibilityError, match=r"needs the 'neuronx' SDK"):
        check_image_for_instance(NEURON_IMAGE, _instance("ml.inf2.xlarge"))


def test_neuron_image_on_cpu_instance_rejected():
    with pytest.raises(ImageCompatibilityError, match=r"'ml.m5.xlarge' has no accelerator.*ml.inf2.xlarge"):
        check_image_for_instance(NEURONX_IMAGE, _instance("ml.m5.xlarge"))


def test_cuda_image_on_cpu_instance_is_advice_not_an_error():
    # CUDA images fall back to the CPU: it deploys and runs, only slower; the construct warns.
    check_image_for_instance(GPU_IMAGE, _instance("ml.m5.xlarge"))
    assert "has no GPU" in image_advice(GPU_IMAGE, _instance("ml.m5.xlarge"))
    assert image_advice(GPU_IMAGE, _instance("ml.g5.xlarge")) is None


def test_gpu_and_neuron_images_rejected_on_gaudi():
    for image in (GPU_IMAGE, NEURONX_IMAGE):
        with pytest.raises(ImageCompatibilityError, match=r"'ml.dl1.24xlarge' has Intel Gaudi"):
            check_image_for_instance(image, _instance("ml.dl1.24xlarge"))


def test_neuron_must_be_a_whole_word_of_the_name():
    assert ContainerImage.from_dlc("neuronpedia-llm", "1.0").accelerator is ImageAccelerator.UNKNOWN
    assert ContainerImage.from_dlc("team/llm", "2.1-neuronx").accelerator is ImageAccelerator.NEURONX


def test_image_uri_must_be_ecr():
    with pytest.raises(ValueError, match=r"'docker.io/library/python:3.12' is not an Amazon ECR image URI"):
        ContainerImage.from_image_uri("docker.io/library/python:3.12")


@pytest.mark.parametrize(
    ("uri", "tag"),
    [
        ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/llm:1.0", "1.0"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/llm@sha256:" + "a" * 64, "sha256:" + "a" * 64),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/llm:1.0@sha256:" + "b" * 64, "1.0"),
    ],
)
def test_fips_and_digest_image_uris_are_accepted(uri, tag):
    assert ContainerImage.from_image_uri(uri).tag == tag


def test_image_uri_needs_a_tag_or_digest():
    with pytest.raises(ValueError, match="is not an Amazon ECR image URI"):
        ContainerImage.from_image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/llm")


def test_dlc_in_a_region_without_deep_learning_containers_is_rejected():
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_iam as iam

    stack = Stack(App(), "Test", env=Environment(account="123456789012", region="us-iso-east-1"))
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    with pytest.raises(ValueError, match=r"not published in region 'us-iso-east-1'.*from_ecr_repository"):
        GPU_IMAGE.bind(stack, role)


def test_ecr_image_uri_is_parsed():
    image = ContainerImage.from_image_uri(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/llm:1.4.0-neuronx"
    )
    assert (image.repository_name, image.tag) == ("team/llm", "1.4.0-neuronx")
    assert image.accelerator is ImageAccelerator.NEURONX


def _bound(image, stack=None):
    from aws_cdk import App, Stack
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    stack = stack or Stack(App(), "Test")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    uri = stack.resolve(image.bind(stack, role))
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    return uri, policy["Properties"]["PolicyDocument"]["Statement"]


def test_own_image_uri_is_pulled_from_its_own_account_and_repository():
    uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/llm:1.4.0"
    resolved, statements = _bound(ContainerImage.from_image_uri(uri))
    assert resolved == uri
    assert ":ecr:eu-west-1:123456789012:repository/team/llm" in str(statements[0]["Resource"])


def test_ecr_repository_image_is_pulled_from_that_repository():
    from aws_cdk import App, Stack
    from aws_cdk import aws_ecr as ecr

    stack = Stack(App(), "Repo")
    repository = ecr.Repository.from_repository_name(stack, "Models", "byoc-llm")
    image = ContainerImage.from_ecr_repository(repository, "2.0")
    assert (image.repository_name, image.tag) == ("byoc-llm", "2.0")
    uri, statements = _bound(image, stack)
    assert "/byoc-llm:2.0" in str(uri)
    assert "repository/byoc-llm" in str(statements[0]["Resource"])

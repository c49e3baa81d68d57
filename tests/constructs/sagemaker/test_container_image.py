"""Container images: accelerator, architecture, purpose, tag and region checks, and ECR references."""

from __future__ import annotations

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.errors import ImageCompatibilityError, MlBlueprintsError
from mlblueprints.constructs.sagemaker.container_image import (
    ContainerImage,
    ImageAccelerator,
    check_image_for_instance,
    image_advice,
)
from mlblueprints.constructs.sagemaker.endpoint import RealtimeEndpoint
from mlblueprints.constructs.sagemaker.model_data import ModelData

GPU_TAG = "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"
NEURONX_TAG = "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", GPU_TAG)
NEURONX_IMAGE = ContainerImage.from_dlc("pytorch-inference-neuronx", NEURONX_TAG)
NEURON_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuron", "1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04"
)
OWN_IMAGE = ContainerImage.from_image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:v3")
MODEL_URL = "s3://my-models/llm/model.tar.gz"
# The AWS Deep Learning Containers registry of af-south-1 (an opt-in region with its own account).
AF_SOUTH_1_REGISTRY = "626614931356"
NEURON_REGIONS = (
    "ap-east-2, ap-northeast-1, ap-south-1, ap-southeast-1, ap-southeast-2, eu-central-1, eu-west-1, "
    "eu-west-3, sa-east-1, us-east-1, us-east-2, us-west-2"
)


def _instance(name):
    return check_instance_type(name, use=SageMakerUse.REALTIME_INFERENCE)


def _stack(region: str | None = None) -> Stack:
    env = Environment(account="123456789012", region=region) if region else None
    return Stack(App(), "Test", env=env)


def _endpoint(image, instance_type="ml.g5.xlarge", *, region=None, stack=None, **props):
    return RealtimeEndpoint(
        stack or _stack(region),
        "Endpoint",
        instance_type=instance_type,
        image=image,
        model_data=ModelData.from_s3_url(MODEL_URL),
        **props,
    )


# --- accelerator runtime vs. instance --------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (GPU_IMAGE, ImageAccelerator.CUDA),
        (NEURONX_IMAGE, ImageAccelerator.NEURONX),
        (NEURON_IMAGE, ImageAccelerator.NEURON),
        (OWN_IMAGE, ImageAccelerator.UNKNOWN),
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
        (OWN_IMAGE, "ml.inf2.xlarge"),
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


def test_cuda_image_on_inferentia_rejected():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"CUDA \(NVIDIA GPU\) image, but .ml.inf2.xlarge. has AWS Inferentia2.*neuronx",
    ):
        check_image_for_instance(GPU_IMAGE, _instance("ml.inf2.xlarge"))


def test_cuda_image_on_trainium_rejected():
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


@pytest.mark.parametrize("image", [GPU_IMAGE, NEURONX_IMAGE], ids=["cuda", "neuronx"])
def test_gpu_and_neuron_images_rejected_on_gaudi(image):
    with pytest.raises(ImageCompatibilityError, match=r"'ml.dl1.24xlarge' has Intel Gaudi"):
        check_image_for_instance(image, _instance("ml.dl1.24xlarge"))


def test_neuron_must_be_a_whole_word_of_the_name():
    assert ContainerImage.from_dlc("neuronpedia-llm", "1.0").accelerator is ImageAccelerator.UNKNOWN
    assert ContainerImage.from_dlc("team/llm", "2.1-neuronx").accelerator is ImageAccelerator.NEURONX


# --- what RealtimeEndpoint refuses about a Deep Learning Container ---------------------------------


def test_unknown_dlc_repository_rejected_with_closest_names():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"'pytorch-inferenc' is not an AWS Deep Learning Containers repository.*Closest: pytorch-inference",
    ):
        _endpoint(ContainerImage.from_dlc("pytorch-inferenc", GPU_TAG))


def test_unknown_dlc_tag_rejected_pointing_to_the_escape_hatch():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"Image tag '9.9.9-gpu-py312' of 'pytorch-inference' is not in the catalog's image tables.*"
        r"allow_unlisted_tag=True",
    ):
        _endpoint(ContainerImage.from_dlc("pytorch-inference", "9.9.9-gpu-py312"))


def test_unknown_dlc_tag_passes_with_the_escape_hatch():
    endpoint = _endpoint(
        ContainerImage.from_dlc("pytorch-inference", "9.9.9-gpu-py312", allow_unlisted_tag=True)
    )
    assert endpoint.model.image_uri


def test_latest_dlc_tag_rejected():
    with pytest.raises(
        ImageCompatibilityError, match=r"'pytorch-inference:latest' uses the mutable 'latest' tag"
    ):
        _endpoint(ContainerImage.from_dlc("pytorch-inference", "latest"))


def test_latest_image_uri_rejected():
    with pytest.raises(ImageCompatibilityError, match=r"uses the mutable 'latest' tag.*Pin a version tag"):
        ContainerImage.from_image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/llm:latest")


def test_ec2_build_of_a_dlc_rejected_for_an_endpoint():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"'2.6.0-gpu-py312-cu124-ubuntu22.04-ec2' is an EC2/ECS/EKS build.*"
        r"'2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker'",
    ):
        _endpoint(ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-ec2"))


def test_training_repository_rejected_for_an_endpoint():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"'pytorch-training' holds training images; a SageMaker endpoint needs an inference image "
        r"such as 'pytorch-inference'",
    ):
        _endpoint(ContainerImage.from_dlc("pytorch-training", GPU_TAG))


def test_x86_dlc_on_graviton_instance_rejected():
    with pytest.raises(
        ImageCompatibilityError,
        match=r"built for x86_64, but 'ml.c7g.xlarge' runs on arm64 \(AWS Graviton or NVIDIA Grace\).*pytorch-inference-graviton",
    ):
        _endpoint(
            ContainerImage.from_dlc("pytorch-inference", "2.6.0-cpu-py312-ubuntu22.04-sagemaker"),
            "ml.c7g.xlarge",
        )


def test_graviton_dlc_on_x86_instance_rejected():
    with pytest.raises(ImageCompatibilityError, match=r"built for arm64, but 'ml.m5.xlarge' runs on x86_64"):
        _endpoint(
            ContainerImage.from_dlc("pytorch-inference-graviton", "2.4.0-cpu-py311-ubuntu22.04-sagemaker"),
            "ml.m5.xlarge",
        )


def test_neuron_dlc_in_a_region_without_neuron_images_rejected_naming_the_regions():
    with pytest.raises(
        ImageCompatibilityError,
        match=rf"AWS does not publish pytorch-inference-neuronx:{NEURONX_TAG} in eu-west-2; "
        rf"it is published in {NEURON_REGIONS}\.",
    ):
        _endpoint(NEURONX_IMAGE, "ml.inf2.xlarge", region="eu-west-2")


def test_dlc_in_a_region_without_deep_learning_containers_rejected():
    with pytest.raises(
        ImageCompatibilityError, match=r"does not publish pytorch-inference:.* in us-iso-east-1"
    ):
        _endpoint(GPU_IMAGE, region="us-iso-east-1")


def test_image_uri_in_another_region_than_the_stack_rejected():
    image = ContainerImage.from_image_uri("123456789012.dkr.ecr.us-west-2.amazonaws.com/llm:1.0")
    with pytest.raises(
        ImageCompatibilityError,
        match=r"is in ECR region us-west-2, but the stack deploys to us-east-1.*Replicate the image",
    ):
        _endpoint(image, region="us-east-1")


def test_image_problems_come_in_one_error_with_the_other_problems():
    with pytest.raises(MlBlueprintsError, match=r"^Invalid settings:\n- ") as error:
        _endpoint(ContainerImage.from_dlc("pytorch-training", "latest"), initial_instance_count=0)
    messages = [problem.message for problem in error.value.problems]
    assert any("holds training images" in m for m in messages)
    assert any("'latest' tag" in m for m in messages)
    assert any("initial_instance_count=0" in m for m in messages)


# --- registry account and region assertions in the template ----------------------------------------


def _model_image(stack: Stack):
    (model,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Model").values()
    return model["Properties"]["PrimaryContainer"]["Image"]


def test_pinned_stack_takes_the_registry_account_of_its_region():
    stack = _stack("af-south-1")
    _endpoint(GPU_IMAGE, "ml.g4dn.xlarge", stack=stack)  # af-south-1 hosts no g5
    image = _model_image(stack)
    assert image == {
        "Fn::Join": [
            "",
            [
                f"{AF_SOUTH_1_REGISTRY}.dkr.ecr.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                f"/pytorch-inference:{GPU_TAG}",
            ],
        ]
    }
    template = Template.from_stack(stack).to_json()
    assert "Mappings" not in template
    assert not [rule for rule in template.get("Rules", {}) if rule.startswith("DlcRegion")]


@pytest.fixture(scope="module")
def agnostic_neuronx_template():
    stack = _stack()
    _endpoint(NEURONX_IMAGE, "ml.inf2.xlarge", stack=stack)
    return Template.from_stack(stack).to_json()


def test_agnostic_stack_asserts_the_image_regions_in_its_rules(agnostic_neuronx_template):
    rules = {k: v for k, v in agnostic_neuronx_template["Rules"].items() if k.startswith("DlcRegion")}
    (rule,) = rules.values()
    (assertion,) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert ", ".join(regions) == NEURON_REGIONS
    assert "eu-west-2" not in regions
    assert "pytorch-inference-neuronx" in assertion["AssertDescription"]


def test_agnostic_stack_maps_each_region_to_its_registry_account(agnostic_neuronx_template):
    mappings = {k: v for k, v in agnostic_neuronx_template["Mappings"].items() if k.startswith("DlcRegistry")}
    ((mapping_id, mapping),) = mappings.items()
    assert ", ".join(mapping) == NEURON_REGIONS
    assert mapping["us-east-1"] == {"account": "763104351884"}
    (model,) = [
        r for r in agnostic_neuronx_template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"
    ]
    image = model["Properties"]["PrimaryContainer"]["Image"]["Fn::Join"][1]
    assert image[0] == {"Fn::FindInMap": [mapping_id, {"Ref": "AWS::Region"}, "account"]}


def test_agnostic_stack_asserts_the_region_of_an_image_uri():
    stack = _stack()
    _endpoint(
        ContainerImage.from_image_uri("123456789012.dkr.ecr.us-west-2.amazonaws.com/llm:1.0"), stack=stack
    )
    rules = Template.from_stack(stack).to_json()["Rules"]
    (rule,) = [v for k, v in rules.items() if k.startswith("ImageRegion")]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Contains": [["us-west-2"], {"Ref": "AWS::Region"}]}


# --- ECR image references --------------------------------------------------------------------------


def test_image_uri_must_be_ecr():
    with pytest.raises(
        ImageCompatibilityError, match=r"'docker.io/library/python:3.12' is not an Amazon ECR image URI"
    ):
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
    with pytest.raises(ImageCompatibilityError, match="is not an Amazon ECR image URI"):
        ContainerImage.from_image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/llm")


def test_ecr_image_uri_is_parsed():
    image = ContainerImage.from_image_uri(
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/llm:1.4.0-neuronx"
    )
    assert (image.repository_name, image.tag, image.uri_region) == ("team/llm", "1.4.0-neuronx", "eu-west-1")
    assert image.accelerator is ImageAccelerator.NEURONX


def _bound(image, stack=None):
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
    assert (statements[1]["Action"], statements[1]["Resource"]) == ("ecr:GetAuthorizationToken", "*")


def test_ecr_repository_image_is_pulled_from_that_repository():
    stack = Stack(App(), "Repo")
    repository = ecr.Repository.from_repository_name(stack, "Models", "byoc-llm")
    image = ContainerImage.from_ecr_repository(repository, "2.0")
    assert (image.repository_name, image.tag) == ("byoc-llm", "2.0")
    uri, statements = _bound(image, stack)
    assert "/byoc-llm:2.0" in str(uri)
    assert "repository/byoc-llm" in str(statements[0]["Resource"])


def test_image_uri_dns_suffix_must_match_its_partition():
    with pytest.raises(
        ImageCompatibilityError, match=r"ECR in cn-north-1 is reached at \*\.amazonaws\.com\.cn"
    ):
        ContainerImage.from_image_uri("123456789012.dkr.ecr.cn-north-1.amazonaws.com/model:1")
    assert ContainerImage.from_image_uri(
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/model:1"
    ).uri_region == ("cn-north-1")
    with pytest.raises(ImageCompatibilityError, match=r"names ECR region 'zz-nowhere-9'"):
        ContainerImage.from_image_uri("123456789012.dkr.ecr.zz-nowhere-9.amazonaws.com/model:1")


def test_a_latest_tag_and_an_unpublished_region_are_reported_together():
    from mlblueprints.constructs.sagemaker.container_image import image_problems

    (error,) = image_problems(
        ContainerImage.from_dlc("pytorch-inference-neuronx", "latest"), None, "eu-west-2"
    )
    messages = " | ".join(problem.message for problem in error.problems)
    assert "mutable 'latest' tag" in messages
    assert "does not publish pytorch-inference-neuronx:latest in eu-west-2" in messages


def test_grace_superchip_families_are_arm64():
    assert check_instance_type(
        "ml.p6e-gb200.36xlarge", use=SageMakerUse.REALTIME_INFERENCE
    ).cpu_architecture == ("arm64")
    assert _instance("ml.g6.xlarge").cpu_architecture == "x86_64"


def test_unknown_repository_without_a_close_name_gets_an_example_not_a_false_match():
    from mlblueprints.constructs.sagemaker.container_image import image_problems

    (error,) = image_problems(ContainerImage.from_dlc("zzzz", "1.0"), None, "us-east-1")
    assert "Closest" not in str(error) and "Use one such as 'pytorch-inference'" in str(error)


def test_malformed_tag_is_refused_even_with_the_unlisted_tag_escape_hatch():
    from mlblueprints.constructs.sagemaker.container_image import image_problems

    image = ContainerImage.from_dlc("pytorch-inference", "2.6 gpu", allow_unlisted_tag=True)
    (error,) = image_problems(image, None, "us-east-1")
    assert "'2.6 gpu' is not a valid image tag" in str(error)
    assert not image_problems(
        ContainerImage.from_dlc("pytorch-inference", "9.9.9-gpu-py399", allow_unlisted_tag=True),
        None,
        "us-east-1",
    )

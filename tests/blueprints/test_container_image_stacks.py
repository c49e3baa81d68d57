"""The container-image blueprint: the example as the contract synthesized it, the Docker builder
under every gate, the settings' refusals, and endpoint and training stacks using the image by name."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from conftest import ACCOUNT, cdk_json_context, mask_template, templates_of

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError

EXAMPLE = "ServingImage"
SERVING_DOCKERFILE = (
    'FROM public.ecr.aws/docker/library/python:3.12-slim\nEXPOSE 8080\nENTRYPOINT ["serve"]\n'
)
GPU_DLC = {"dlc_repository": "pytorch-inference", "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"}


def _problems(stacks: dict) -> str:
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    return str(caught.value)


@pytest.fixture()
def context_dir(tmp_path):
    (tmp_path / "Dockerfile").write_text(SERVING_DOCKERFILE)
    return tmp_path


def test_template_snapshot(contract_templates, snapshot_json):
    template = mask_template(contract_templates[f"{EXAMPLE}-agnostic"])
    assert template == snapshot_json


def test_example_settings_reach_the_repository(contract_templates):
    template = Template.from_json(contract_templates[f"{EXAMPLE}-agnostic"])
    (repository,) = template.find_resources("AWS::ECR::Repository").values()
    properties = repository["Properties"]
    assert properties["RepositoryName"] == "mlblueprints/serving-gpu"
    assert properties["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert properties["ImageTagMutabilityExclusionFilters"] == [
        {
            "ImageTagMutabilityExclusionFilterType": "WILDCARD",
            "ImageTagMutabilityExclusionFilterValue": "dev-*",
        }
    ]
    assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert properties["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    rules = json.loads(properties["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rules[1]["selection"]["countNumber"] == 20
    assert repository["DeletionPolicy"] == "Retain"
    # checkov's immutability check is skipped on this repository only, for the named moving tags.
    (skip,) = repository["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_51" and "dev-*" in skip["comment"]
    (build,) = template.find_resources("Custom::CDKContainerImageBuild").values()
    assert build["Properties"]["tagPrefix"] == "gpu-"
    assert "--file Dockerfile.gpu" in build["Properties"]["buildCommand"]
    outputs = template.to_json()["Outputs"]
    assert {"RepositoryName", "RepositoryUri", "ImageTag", "ImageUri"} <= set(outputs)


def test_pinned_example_names_its_account_and_region(contract_templates):
    # The build role's wildcard on the bootstrap bucket is concrete when pinned; the contract synthesized
    # it under every gate, so its acknowledgement matched the concrete evidence too.
    pinned = json.dumps(contract_templates[f"{EXAMPLE}-eu-west-1"])
    agnostic = json.dumps(contract_templates[f"{EXAMPLE}-agnostic"])
    assert f"cdk-hnb659fds-assets-{ACCOUNT}-eu-west-1/*" in pinned
    assert ACCOUNT not in agnostic and "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}" in agnostic


def test_docker_builder_passes_every_gate_agnostic_pinned_and_in_china(context_dir, tmp_path_factory):
    entry = {"blueprint": "container-image", "directory": str(context_dir), "builder": "docker"}
    stacks = {
        "Agnostic": entry,
        "Pinned": {**entry, "env": {"account": ACCOUNT, "region": "us-east-1"}},
        "China": {**entry, "env": {"account": ACCOUNT, "region": "cn-north-1"}, "retain_data": False},
    }
    outdir = tmp_path_factory.mktemp("docker.out")
    app = App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}, outdir=str(outdir))
    build_app(app).synth()  # a failing gate raises
    templates = templates_of(outdir)
    china = Template.from_json(templates["China"])
    (repository,) = china.find_resources("AWS::ECR::Repository").values()
    assert repository["DeletionPolicy"] == "Delete"
    assert repository["Properties"]["EmptyOnDelete"] is True
    # retain_data false deletes the copy function's log group too (and the key it is encrypted with).
    assert {g["DeletionPolicy"] for g in china.find_resources("AWS::Logs::LogGroup").values()} == {"Delete"}
    assert {k["DeletionPolicy"] for k in china.find_resources("AWS::KMS::Key").values()} == {"Delete"}
    copy = json.dumps(templates["China"])
    assert "arn:aws-cn:ecr:cn-north-1" in copy or '"Ref": "AWS::Partition"' in copy
    assert {"Agnostic", "Pinned", "China"} <= set(templates)


def test_registry_settings_are_opt_in(context_dir):
    stacks = {
        "Registry": {
            "blueprint": "container-image",
            "directory": str(context_dir),
            "registry": {"enhanced_scanning": True, "replicate_to": ["us-west-2"]},
        }
    }
    app = build_app(App(context={"stacks": json.dumps(stacks)}))
    template = Template.from_stack(app.node.find_child("Registry"))
    template.has_resource_properties(
        "AWS::ECR::PullThroughCacheRule",
        {"EcrRepositoryPrefix": "ecr-public", "UpstreamRegistryUrl": "public.ecr.aws"},
    )
    template.has_resource_properties("AWS::ECR::RegistryScanningConfiguration", {"ScanType": "ENHANCED"})
    template.resource_count_is("AWS::ECR::ReplicationConfiguration", 1)
    # ECR Public is not in aws-cn: an agnostic stack's change set is refused there.
    (assertion,) = template.to_json()["Rules"]["PullThroughCacheOutsideChina"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]}]}


def test_ecr_public_features_are_refused_in_china_at_synth_and_at_deploy(context_dir, contract_templates):
    message = _problems(
        {
            "China": {
                "blueprint": "container-image",
                "directory": str(context_dir),
                "builder": "codebuild",
                "registry": {},
                "env": {"account": ACCOUNT, "region": "cn-northwest-1"},
            }
        }
    )
    assert "builder 'codebuild'" in message and "use builder 'docker' there" in message
    assert "the pull-through cache uses Amazon ECR Public" in message
    agnostic = contract_templates[f"{EXAMPLE}-agnostic"]
    assert "ImageBuildOutsideChina" in agnostic["Rules"]
    assert "ImageBuildOutsideChina" not in contract_templates[f"{EXAMPLE}-eu-west-1"].get("Rules", {})
    assert "ImageBuildOutsideChina" not in contract_templates["TrainingImage-agnostic"].get("Rules", {})


def test_every_problem_of_the_settings_at_once(context_dir):
    (context_dir / "Dockerfile.shell").write_text("FROM x\nUSER nobody\nENTRYPOINT python serve.py\n")
    message = _problems(
        {
            "Bad": {
                "blueprint": "container-image",
                "directory": str(context_dir),
                "dockerfile": "Dockerfile.shell",
                "tag_prefix": "-x",
                "keep_tagged_images": 0,
                "mutable_tag_patterns": ["*"],
                "pull_accounts": ["*"],
                "registry": {"pull_through_prefix": "X", "replicate_to": ["mars-1"]},
            }
        }
    )
    for expected in (
        "tag_prefix '-x'",
        "keep_tagged_images=0",
        "makes every tag mutable",
        "pull account '*'",
        "pull_through_prefix='X'",
        "'mars-1' is not a region",
    ):
        assert expected in message, expected
    # The Dockerfile's contract is checked once the build settings are valid.
    message = _problems(
        {
            "Shell": {
                "blueprint": "container-image",
                "directory": str(context_dir),
                "dockerfile": "Dockerfile.shell",
            }
        }
    )
    assert "[exec-form-entrypoint]" in message and "[runs-as-root]" in message and "[port-8080]" in message
    assert "contract to 'none'" in message
    build_app(
        App(
            context={
                "stacks": json.dumps(
                    {
                        "Any": {
                            "blueprint": "container-image",
                            "directory": str(context_dir),
                            "dockerfile": "Dockerfile.shell",
                            "contract": "none",
                        }
                    }
                )
            }
        )
    )
    missing = _problems({"Missing": {"blueprint": "container-image", "directory": str(context_dir / "nope")}})
    assert "is not a directory" in missing


def test_endpoint_uses_the_image_by_name_and_may_pull_that_repository_only():
    stacks = {
        "ByName": {
            "blueprint": "realtime-endpoint",
            "instance_type": "ml.g5.xlarge",
            "image_repository": "mlblueprints/serving-gpu",
            "image_tag": "gpu-0123abcd",
            "env": {"account": ACCOUNT, "region": "eu-west-1"},
        }
    }
    app = build_app(App(context={"stacks": json.dumps(stacks)}))
    template = Template.from_stack(app.node.find_child("ByName")).to_json()
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    image = model["Properties"]["PrimaryContainer"]["Image"]
    assert image == f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/mlblueprints/serving-gpu:gpu-0123abcd"
    pulls = [
        statement["Resource"]
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ecr:BatchGetImage" in statement["Action"]
    ]
    (pull,) = pulls
    assert pull["Fn::Join"][1][-1] == f":ecr:eu-west-1:{ACCOUNT}:repository/mlblueprints/serving-gpu"


def test_training_uses_the_image_by_name():
    stacks = {
        "Train": {
            "blueprint": "training-pipeline",
            "instance_type": "ml.g5.xlarge",
            "image_repository": "mlblueprints/training-gpu",
            "image_tag": "gpu-0123abcd",
            "channels": {"train": {"s3_uri": "s3://data/train/"}},
        }
    }
    app = build_app(App(context={"stacks": json.dumps(stacks)}))
    template = json.dumps(Template.from_stack(app.node.find_child("Train")).to_json())
    assert "/mlblueprints/training-gpu:gpu-0123abcd" in template


def test_image_by_name_refusals():
    base = {"blueprint": "realtime-endpoint", "instance_type": "ml.g5.xlarge"}
    message = _problems(
        {
            "Both": {**base, **GPU_DLC, "image_repository": "ml/x", "image_tag": "v1"},
            "NoTag": {**base, "image_repository": "ml/x"},
            "BadName": {**base, "image_repository": "ML/X", "image_tag": "latest"},
            "BadTag": {**base, "image_repository": "ml/x", "image_tag": "-v1"},
        }
    )
    assert "Stack 'Both': image_repository and dlc_repository both name an image" in message
    assert "Stack 'NoTag': image_repository and image_tag go together: set image_tag too" in message
    assert "Stack 'BadName': image_repository='ML/X' is not an ECR repository name" in message
    assert "'latest' tag" in message
    assert "Stack 'BadTag': image_tag='-v1' is not an ECR image tag" in message

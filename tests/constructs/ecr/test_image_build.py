"""RepositoryImage: both builders publish into the hardened repository, least privilege, every refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Match, Template

from mlblueprints.constructs.ecr.image_build import ImageBuilder, RepositoryImage
from mlblueprints.constructs.ecr.repository import ImageRepository, RepositoryError

DOCKERFILE = 'FROM public.ecr.aws/docker/library/python:3.12-slim\nEXPOSE 8080\nENTRYPOINT ["serve"]\n'


@pytest.fixture()
def context_dir(tmp_path) -> Path:
    (tmp_path / "Dockerfile.gpu").write_text(DOCKERFILE)
    return tmp_path


def _stack(region: str | None = None) -> Stack:
    env = Environment(account="123456789012", region=region) if region else None
    return Stack(App(), "Images", env=env)


def _image(stack: Stack, directory: Path, builder: ImageBuilder, **props) -> RepositoryImage:
    repository = ImageRepository(stack, "Repository", repository_name="ml/serving")
    return RepositoryImage(
        stack,
        "Image",
        repository=repository,
        directory=directory,
        file="Dockerfile.gpu",
        builder=builder,
        **props,
    )


def _policies_of(template: Template, role_prefix: str) -> list[dict]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if any(role["Ref"].startswith(role_prefix) for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_codebuild_pushes_a_content_tag_into_the_repository_with_encrypted_logs(context_dir):
    stack = _stack()
    image = _image(stack, context_dir, ImageBuilder.CODEBUILD, tag_prefix="gpu-")
    template = Template.from_stack(stack)
    (build,) = template.find_resources("Custom::CDKContainerImageBuild").values()
    repository_id = stack.get_logical_id(image.repository.repository.node.default_child)
    assert {"Ref": repository_id} in build["Properties"]["repositoryUri"]["Fn::Join"][1]
    # deploy-time-build tags each build "<prefix><random ID>"; the tag is the resource's attribute.
    assert build["Properties"]["tagPrefix"] == "gpu-" and "imageTag" not in build["Properties"]
    build_id = next(
        k for k, v in template.to_json()["Resources"].items() if v["Type"] == "Custom::CDKContainerImageBuild"
    )
    assert stack.resolve(image.image_tag) == {"Fn::GetAtt": [build_id, "ImageTag"]}
    assert "--file Dockerfile.gpu --platform linux/amd64" in build["Properties"]["buildCommand"]
    key_arn = {
        "Fn::GetAtt": [stack.get_logical_id(image.repository.encryption_key.node.default_child), "Arn"]
    }
    (project,) = template.find_resources("AWS::CodeBuild::Project").values()
    assert project["Properties"]["EncryptionKey"] == key_arn
    # The project's role may use the key for the project's artifacts, with these actions only.
    key_grants = [
        statement
        for statement in _policies_of(template, "ContainerImageBuild")
        if statement["Resource"] == key_arn
    ]
    assert [sorted(s["Action"]) for s in key_grants] == [
        ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    ]
    logs_config = project["Properties"]["LogsConfig"]["CloudWatchLogs"]
    assert logs_config["Status"] == "ENABLED"
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert all(group["Properties"]["KmsKeyId"] == key_arn for group in groups.values()), groups
    assert {"Ref": next(k for k in groups if k.startswith("ContainerImageBuild"))} == logs_config["GroupName"]
    # The deploy-time handler has a name of its own, which the key policy names for its log group.
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": {"Fn::Join": ["", ["mlblueprints-image-build-", Match.any_value()]]},
            "MemorySize": 256,
        },
    )


def test_docker_builds_an_asset_and_copies_it_with_a_role_that_touches_two_repositories(context_dir):
    stack = _stack("eu-west-1")
    image = _image(stack, context_dir, ImageBuilder.DOCKER, build_args={"BASE": "cuda"})
    template = Template.from_stack(stack)
    assert image.image_tag == image.asset.asset_hash
    (copy,) = template.find_resources("Custom::CDKECRDeployment").values()
    assert json.dumps(copy["Properties"]["DestImage"]).endswith(f':{image.image_tag}"]]}}')
    assert "cdk-hnb659fds-container-assets" in json.dumps(copy["Properties"]["SrcImage"])
    statements = _policies_of(template, "ImageCopyRole")
    by_resource = {json.dumps(s["Resource"]): s["Action"] for s in statements}
    assert by_resource.pop('"*"') == "ecr:GetAuthorizationToken"
    repository_arn = json.dumps(
        {"Fn::GetAtt": [stack.get_logical_id(image.repository.repository.node.default_child), "Arn"]}
    )
    assert "ecr:PutImage" in by_resource.pop(repository_arn)
    bootstrap = next(r for r in by_resource if "repository/cdk-hnb659fds-container-assets-123456789012" in r)
    assert sorted(by_resource.pop(bootstrap)) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    (logs,) = by_resource.values()
    assert logs == ["logs:CreateLogStream", "logs:PutLogEvents"]
    # The asset is staged with its Dockerfile, build arguments and platform; synth ran no Docker.
    assembly = stack.node.root.synth()
    manifest = json.loads(Path(assembly.directory, "Images.assets.json").read_text())
    (source,) = [asset["source"] for asset in manifest["dockerImages"].values()]
    assert source["dockerFile"] == "Dockerfile.gpu"
    assert source["dockerBuildArgs"] == {"BASE": "cuda"}
    assert source["platform"] == "linux/amd64"


def test_two_docker_images_of_a_stack_share_the_copy_role_and_each_may_push(context_dir):
    stack = _stack()
    for name in ("A", "B"):
        repository = ImageRepository(stack, f"Repository{name}")
        RepositoryImage(
            stack, f"Image{name}", repository=repository, directory=context_dir, file="Dockerfile.gpu"
        )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::Function", 1)
    pushed = [
        s["Resource"]["Fn::GetAtt"][0]
        for s in _policies_of(template, "ImageCopyRole")
        if "ecr:PutImage" in s["Action"]
    ]
    assert sorted(pushed) == sorted(
        k for k in template.find_resources("AWS::ECR::Repository") if k.startswith("Repository")
    )


def test_every_problem_at_once(tmp_path):
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    stack = _stack()
    repository = ImageRepository(stack, "Repository")
    with pytest.raises(RepositoryError) as error:
        RepositoryImage(
            stack,
            "Image",
            repository=repository,
            directory=tmp_path,
            file="Dockerfile.neuron",
            platform="linux/arm",
            tag_prefix="-gpu",
            build_args={"1BAD": "x"},
        )
    message = str(error.value)
    assert "Dockerfile.neuron' does not exist" in message and "found: Dockerfile" in message
    assert "platform 'linux/arm': use 'linux/amd64' or 'linux/arm64'" in message
    assert "tag_prefix '-gpu'" in message
    assert "build argument '1BAD'" in message
    with pytest.raises(RepositoryError, match="is not a directory"):
        RepositoryImage(stack, "Missing", repository=repository, directory=tmp_path / "nope")
    with pytest.raises(RepositoryError, match="at most 64 characters"):
        RepositoryImage(stack, "Long", repository=repository, directory=tmp_path, tag_prefix="a" * 65)


@pytest.mark.parametrize("builder", list(ImageBuilder))
def test_handler_logs_exist_encrypted_before_the_handler_runs_even_without_the_feature_flag(
    context_dir, builder
):
    stack = _stack()  # a plain App: no useCdkManagedLogGroup flag from cdk.json
    image = _image(stack, context_dir, builder)
    template = Template.from_stack(stack).to_json()
    key_arn = {
        "Fn::GetAtt": [stack.get_logical_id(image.repository.encryption_key.node.default_child), "Arn"]
    }
    handler_groups = {
        name: group
        for name, group in template["Resources"].items()
        if group["Type"] == "AWS::Logs::LogGroup" and "/aws/lambda/mlblueprints-image-" in json.dumps(group)
    }
    (group_id,) = handler_groups
    assert handler_groups[group_id]["Properties"]["KmsKeyId"] == key_arn
    assert handler_groups[group_id]["DeletionPolicy"] == "RetainExceptOnCreate"
    (custom,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] in ("Custom::CDKECRDeployment", "Custom::CDKContainerImageBuild")
    ]
    assert group_id in custom["DependsOn"]


def test_copy_function_is_sized_for_ml_images(context_dir):
    stack = _stack()
    _image(stack, context_dir, ImageBuilder.DOCKER)
    Template.from_stack(stack).has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": Match.object_like({}), "MemorySize": 3008, "EphemeralStorage": {"Size": 10240}},
    )


def test_shared_build_logs_are_kept_if_any_image_keeps_its_data(context_dir):
    from aws_cdk import RemovalPolicy

    stack = _stack()
    for name, policy in (("Scratch", RemovalPolicy.DESTROY), ("Kept", RemovalPolicy.RETAIN)):
        repository = ImageRepository(stack, f"Repository{name}", removal_policy=policy)
        RepositoryImage(
            stack,
            f"Image{name}",
            repository=repository,
            directory=context_dir,
            file="Dockerfile.gpu",
            builder=ImageBuilder.CODEBUILD,
            removal_policy=policy,
        )
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 2  # the build project's and the handler's, one each per stack
    assert {group["DeletionPolicy"] for group in groups.values()} == {"RetainExceptOnCreate"}


def test_codebuild_refuses_build_arguments_a_shell_would_split(context_dir):
    with pytest.raises(RepositoryError, match=r"build argument BASE='cuda 12': the CodeBuild builder"):
        _image(_stack(), context_dir, ImageBuilder.CODEBUILD, build_args={"BASE": "cuda 12"})
    _image(_stack(), context_dir, ImageBuilder.DOCKER, build_args={"BASE": "cuda 12"})


def test_a_stacks_own_codebuild_project_is_left_alone(context_dir):
    from aws_cdk import aws_codebuild as codebuild

    stack = _stack()
    own = codebuild.Project(
        stack, "OwnProject", build_spec=codebuild.BuildSpec.from_object({"version": "0.2"})
    )
    _image(stack, context_dir, ImageBuilder.CODEBUILD)
    assert own.node.default_child.logs_config is None
    assert own.node.try_find_child("Logs") is None

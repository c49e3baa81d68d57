"""Publish an image built from a Dockerfile directory into an :class:`ImageRepository`.

Two builders, one result (``<repository URI>:<tag>``):

- :attr:`ImageBuilder.DOCKER`: the CDK way. ``cdk synth`` stages the directory as a Docker image
  asset (no Docker needed to synthesize); ``cdk deploy`` builds it with the machine's Docker and
  publishes it to the CDK bootstrap repository, and a deploy-time copy (cdklabs' ``cdk-ecr-deployment``)
  puts it into the hardened repository, where SageMaker pulls it.
- :attr:`ImageBuilder.CODEBUILD`: for machines without Docker. ``cdk deploy`` uploads the directory as
  a zip asset, and CodeBuild builds and pushes the image during the deployment (cdklabs'
  ``deploy-time-build``). The project's logs and artifacts are encrypted with the repository's key.

The repository's tags are immutable, so a fixed tag could be pushed once only. Each builder tags
an image anew exactly when the build context changes: with Docker, the asset's content hash; with
CodeBuild, a fresh 32-character ID per build, which runs only when the zipped context (named by its
content hash) changes. An unchanged directory deploys without a rebuild.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import ArnFormat, CfnDeletionPolicy, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct
from mlblueprints.constructs._private.names import stack_id_suffix
from mlblueprints.constructs._private.retention import named_log_group_removal_policy
from mlblueprints.constructs.compliance.acknowledge import (
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
    nag_evidence,
    skip_checkov,
)
from mlblueprints.constructs.compliance.functions import accept_deploy_time_function
from mlblueprints.constructs.ecr._private.ecr_public import assert_not_china, ecr_public_problems
from mlblueprints.constructs.ecr.repository import ImageRepository, RepositoryError
from mlblueprints.constructs.errors import AcknowledgementError, Problem
from mlblueprints.constructs.security.encryption_key import allow_cloudwatch_logs

__all__ = ["CODEBUILD_ECR_PUBLIC", "PLATFORMS", "ImageBuilder", "RepositoryImage", "image_build_problems"]

# The platforms both builders can produce (Docker's platform strings; deploy-time-build runs an
# amd64 or an arm64 CodeBuild project for them). SageMaker's accelerated instances are x86_64 except
# the Graviton (ml.*g.*) families.
PLATFORMS = ("linux/amd64", "linux/arm64")


def _asset_platform(name: str) -> ecr_assets.Platform:
    # Looked up when an image is built, not at import: each jsii static read costs a round trip.
    return {"linux/amd64": ecr_assets.Platform.LINUX_AMD64, "linux/arm64": ecr_assets.Platform.LINUX_ARM64}[
        name
    ]


# A Docker image tag is at most 128 characters ("docker image tag", Docker docs); the Docker
# builder's content hash takes 64 of them (the CodeBuild builder's ID, 32).
_HASH_LENGTH = 64
_MAX_TAG_PREFIX = 128 - _HASH_LENGTH
_TAG_PREFIX = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHELL_SAFE = re.compile(r"^[A-Za-z0-9._:/@+=,-]*$")
# The Lambda handler deploy-time-build adds to a stack, once (its construct ID starts with this).
_DEPLOY_TIME_BUILD_HANDLER = "DeployTimeBuildCustomResourceHandler"
_DEPLOY_TIME_BUILD_PROJECT = "ContainerImageBuild"
_COPY_ROLE_ID = "ImageCopyRole"
# The copy function's memory and /tmp (Lambda allows up to 10,240 MB of each, "Lambda quotas").
_COPY_MEMORY_MB = 3008
_COPY_EPHEMERAL_MB = 10240
# deploy-time-build's CodeBuild project logs in to ECR Public (for public base images) in every build.
CODEBUILD_ECR_PUBLIC = {
    "feature": "builder 'codebuild' (deploy-time-build logs its builds in to public.ecr.aws)",
    "setting": "builder",
    "instead": "use builder 'docker' there",
}


class ImageBuilder(enum.Enum):
    """Where the image is built during ``cdk deploy``."""

    DOCKER = "docker"
    CODEBUILD = "codebuild"


class RepositoryImage(Construct):
    """An image from ``directory``, pushed to ``repository`` under a tag that changes with its content.

    :param directory: the Docker build context; holds ``file``.
    :param file: the Dockerfile, relative to ``directory``. Default ``"Dockerfile"``.
    :param build_args: ``--build-arg`` values.
    :param builder: default :attr:`ImageBuilder.DOCKER` (needs Docker at ``cdk deploy``).
    :param tag_prefix: put before the generated part of the tag, e.g. ``"serving-gpu-"``.
    :param platform: ``"linux/amd64"`` (default) or ``"linux/arm64"``.
    :param log_retention: how long CodeBuild's build logs are kept (:attr:`ImageBuilder.CODEBUILD`).
    :param removal_policy: of the build logs; default ``RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repository: ImageRepository,
        directory: str | Path,
        file: str = "Dockerfile",
        build_args: Mapping[str, str] | None = None,
        builder: ImageBuilder = ImageBuilder.DOCKER,
        tag_prefix: str = "",
        platform: str = "linux/amd64",
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        build_args = dict(build_args or {})
        problems = image_build_problems(
            directory=directory,
            file=file,
            build_args=build_args,
            tag_prefix=tag_prefix,
            platform=platform,
            builder=builder,
        )
        if builder is ImageBuilder.CODEBUILD:
            problems += ecr_public_problems(Stack.of(self).region, **CODEBUILD_ECR_PUBLIC)
        if problems:
            raise RepositoryError(problems)
        self.repository = repository
        self.builder = builder
        directory = str(Path(directory).resolve())
        if builder is ImageBuilder.DOCKER:
            self.image_tag = self._publish_with_docker(
                directory, file, build_args, tag_prefix, platform, removal_policy
            )
        else:
            self.image_tag = self._publish_with_codebuild(
                directory, file, build_args, tag_prefix, platform, log_retention, removal_policy
            )

    @property
    def image_uri(self) -> str:
        """``<account>.dkr.ecr.<region>.<suffix>/<repository>:<tag>``, what a SageMaker model names."""
        return self.repository.repository.repository_uri_for_tag(self.image_tag)

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (e.g. a SageMaker execution role) pull the image."""
        return self.repository.grant_pull(grantee)

    def _publish_with_docker(
        self,
        directory: str,
        file: str,
        build_args: dict[str, str],
        tag_prefix: str,
        platform: str,
        removal_policy: RemovalPolicy,
    ) -> str:
        # Imported here: the package carries the copy's Lambda binary, which only this builder needs.
        from cdk_ecr_deployment import DockerImageName, ECRDeployment

        self.asset = ecr_assets.DockerImageAsset(
            self,
            "Asset",
            directory=directory,
            file=file,
            build_args=build_args or None,
            platform=_asset_platform(platform),
        )
        tag = f"{tag_prefix}{self.asset.asset_hash}"
        # The copy's own role, handed over immutable: the library would add a statement letting it pull
        # from and push to every repository of the account (and read any S3 object).
        # One role per stack, as the copy's Lambda handler is one per stack; each image adds its grants.
        stack = Stack.of(self)
        role = stack.node.try_find_child(_COPY_ROLE_ID) or iam.Role(
            stack,
            _COPY_ROLE_ID,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies images from the CDK bootstrap repository into this stack's ECR repositories",
        )
        self.asset.repository.grant_pull(role)
        # AWS's push policy includes ecr:BatchGetImage ("IAM permissions for pushing an image").
        self.repository.repository.grant_pull_push(role)
        self.copy = ECRDeployment(
            self,
            "Copy",
            src=DockerImageName(self.asset.image_uri),
            dest=DockerImageName(self.repository.repository.repository_uri_for_tag(tag)),
            role=role.without_policy_updates(),
            # ML images run to several GB: the library's 512 MB is sized for small service images.
            memory_limit=_COPY_MEMORY_MB,
        )
        self._accept_copy_function(role, removal_policy)
        return tag

    def _publish_with_codebuild(
        self,
        directory: str,
        file: str,
        build_args: dict[str, str],
        tag_prefix: str,
        platform: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> str:
        from cdklabs.deploy_time_build import ContainerImageBuild

        assert_not_china(Stack.of(self), id="ImageBuildOutsideChina", **CODEBUILD_ECR_PUBLIC)
        self.build = ContainerImageBuild(
            self,
            "Build",
            directory=directory,
            file=file,
            build_args=build_args or None,
            repository=self.repository.repository,
            tag_prefix=tag_prefix or None,
            platform=_asset_platform(platform),
        )
        # deploy-time-build adds its CodeBuild project (one per platform) and its Lambda handler to the
        # stack, not to this construct; find them to encrypt, log and justify what they do.
        stack = Stack.of(self)
        # Only deploy-time-build's own projects: a stack may hold CodeBuild projects of its own.
        for project in (
            child
            for child in stack.node.children
            if isinstance(child, codebuild.Project) and child.node.id.startswith(_DEPLOY_TIME_BUILD_PROJECT)
        ):
            self._harden_project(project, log_retention, removal_policy)
        handler = next(
            child
            for child in stack.node.children
            if isinstance(child, lambda_.Function) and child.node.id.startswith(_DEPLOY_TIME_BUILD_HANDLER)
        )
        self._accept_build_handler(handler, removal_policy)
        # Lambda would create the group itself, unencrypted, if the build started before it existed.
        self.build.node.add_dependency(_handler_log_group(handler))
        return self.build.image_tag

    def _harden_project(
        self, project: codebuild.Project, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy
    ) -> None:
        cfn = project.node.default_child
        if cfn.logs_config is not None:  # another RepositoryImage of this stack did it already
            _keep_most_retentive(project.node.find_child("Logs"), removal_policy)
            return
        key = self.repository.encryption_key
        name = f"/aws/codebuild/mlblueprints/{project.node.id}-{stack_id_suffix()}"
        allow_cloudwatch_logs(key, f"/aws/codebuild/mlblueprints/{project.node.id}-*")
        log_group = logs.LogGroup(
            project,
            "Logs",
            log_group_name=name,
            encryption_key=key,
            retention=log_retention,
            removal_policy=named_log_group_removal_policy(removal_policy),
        )
        log_group.grant_write(project)
        # What CodeBuild needs of a customer-managed key for the project's encryption ("Data encryption",
        # AWS CodeBuild User Guide); the key's policy lets CloudWatch Logs encrypt the build logs.
        key.grant(project, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        cfn.encryption_key = key.key_arn
        cfn.logs_config = codebuild.CfnProject.LogsConfigProperty(
            cloud_watch_logs=codebuild.CfnProject.CloudWatchLogsConfigProperty(
                status="ENABLED", group_name=log_group.log_group_name
            )
        )
        acknowledge_inline_policy(project.role)
        acknowledge(
            project.role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly]",
            topic="ECR Public read-only for the image build",
            reason="The build logs in to public.ecr.aws to pull base images (AWS's Neuron and Deep Learning "
            "Container bases are published there); the managed policy only reads public images.",
            packs=(Pack.AWS_SOLUTIONS,),
        )
        policy = project.role.node.find_child("DefaultPolicy")
        statements = Stack.of(project).resolve(policy.document.to_json())["Statement"]
        for statement in statements:
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for resource in resources:
                evidence = nag_evidence(project, resource)
                if "*" in evidence:
                    acknowledge(
                        policy,
                        f"IAM5[Resource::{evidence}]",
                        topic="deploy-time image build",
                        reason=_wildcard_reason(evidence),
                        packs=(Pack.AWS_SOLUTIONS,),
                    )
        for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*"):
            acknowledge(
                policy,
                f"IAM5[Action::{action}]",
                topic="deploy-time image build",
                reason="aws-cdk-lib's grantRead on the bootstrap assets bucket, which holds the build context.",
                packs=(Pack.AWS_SOLUTIONS,),
            )
        acknowledge(
            project,
            "CodeBuildProjectSourceRepoUrl",
            topic="CodeBuild source",
            reason="The project has no source repository (NO_SOURCE): the build context comes from the CDK "
            "assets bucket, so there are no repository credentials to protect.",
            packs=(Pack.HIPAA_SECURITY, Pack.PCI_DSS_321),
        )
        acknowledge(
            project,
            "codebuild_project_environment_privileged_check",
            topic="CT.CODEBUILD.PR.4: privileged mode for docker build",
            reason="CodeBuild runs the Docker daemon only in privileged mode, and building an image needs it. "
            "The project builds this stack's own Dockerfile directory, from its own assets bucket, and "
            "runs only during cdk deploy.",
            packs=(Pack.CONTROL_TOWER,),
        )
        skip_checkov(
            cfn,
            CKV_AWS_316="CodeBuild runs the Docker daemon only in privileged mode, which docker build needs; "
            "the project builds this stack's own Dockerfile directory during cdk deploy.",
        )

    def _accept_build_handler(self, handler: lambda_.Function, removal_policy: RemovalPolicy) -> None:
        _accept_deploy_time_function(
            handler,
            removal_policy=removal_policy,
            role=handler.role,
            managed_basic_execution=True,
            name="mlblueprints-image-build",
            key=self.repository.encryption_key,
            purpose="deploy-time-build's handler starts the CodeBuild build and reports its result to "
            "CloudFormation",
        )

    def _accept_copy_function(self, role: iam.Role, removal_policy: RemovalPolicy) -> None:
        handler = next(
            child
            for child in Stack.of(self).node.children
            if isinstance(child, lambda_.Function) and "CDKECRDeployment" in child.node.id
        )
        handler.node.default_child.ephemeral_storage = lambda_.CfnFunction.EphemeralStorageProperty(
            size=_COPY_EPHEMERAL_MB
        )
        function_name = _accept_deploy_time_function(
            handler,
            removal_policy=removal_policy,
            role=role,
            managed_basic_execution=False,
            name="mlblueprints-image-copy",
            key=self.repository.encryption_key,
            purpose="cdk-ecr-deployment's handler copies the image from the CDK bootstrap repository into "
            "this repository",
        )
        # Lambda would create the group itself, unencrypted, if the copy ran before it existed.
        self.copy.node.add_dependency(_handler_log_group(handler))
        if function_name is None:  # another image of this stack set the handler up
            return
        # By name, not by the log group's ARN: the group names the function, which depends on this role.
        streams = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/lambda/{function_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[streams])
        )
        acknowledge_wildcard_resource(
            role.node.find_child("DefaultPolicy"),
            streams,
            topic="deploy-time image copy",
            reason="The log streams of the copy function's own log group; Lambda names each stream at run time.",
        )
        acknowledge_wildcard_resource(
            role.node.find_child("DefaultPolicy"),
            "*",
            topic="deploy-time image copy",
            reason="ecr:GetAuthorizationToken has no resource-level permissions (Service Authorization "
            "Reference); the copy reads the bootstrap repository and writes this stack's repository only.",
        )


def _handler_log_group(handler: lambda_.Function) -> logs.LogGroup:
    log_group = handler.node.try_find_child("LogGroup")
    if not isinstance(log_group, logs.LogGroup):
        raise TypeError(
            f"{handler.node.path} has no LogGroup child: the construct library changed its layout"
        )
    return log_group


def _keep_most_retentive(log_group: logs.LogGroup, removal_policy: RemovalPolicy) -> None:
    """One log group serves every image of the stack: retained if any image's data is retained."""
    cfn = log_group.node.default_child
    already_retained = cfn.cfn_options.deletion_policy in (
        CfnDeletionPolicy.RETAIN,
        CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE,
    )
    if not already_retained or removal_policy is RemovalPolicy.RETAIN:
        log_group.apply_removal_policy(named_log_group_removal_policy(removal_policy))


def _accept_deploy_time_function(
    handler: lambda_.Function,
    *,
    removal_policy: RemovalPolicy,
    role: iam.IRole,
    managed_basic_execution: bool,
    name: str,
    key: kms.IKey,
    purpose: str,
) -> str | None:
    """Name and encrypt the logs of a construct library's deploy-time Lambda handler; justify the rest.

    Such a handler is a stack-level singleton, shared by every image of the stack: done once (the
    function's name is returned the first time, ``None`` after). It gets
    a name of its own (``name``-<stack ID block>) so that the key policy can name its log group
    without referring to the function, which would close a dependency cycle through the build.
    """
    cfn = handler.node.default_child
    if cfn.get_metadata("checkov"):
        _keep_most_retentive(_handler_log_group(handler), removal_policy)
        return None
    cfn.memory_size = cfn.memory_size or 256
    function_name = f"{name}-{stack_id_suffix()}"
    cfn.function_name = function_name
    # aws-cdk-lib creates the group only under the useCdkManagedLogGroup feature flag; without it,
    # Lambda would create it on first run, unencrypted and kept forever.
    log_group = handler.node.try_find_child("LogGroup") or logs.LogGroup(
        handler,
        "LogGroup",
        log_group_name=f"/aws/lambda/{function_name}",
        retention=logs.RetentionDays.ONE_YEAR,
    )
    log_group.apply_removal_policy(named_log_group_removal_policy(removal_policy))
    allow_cloudwatch_logs(key, f"/aws/lambda/{name}-*")
    log_group.node.default_child.kms_key_id = key.key_arn
    accept_deploy_time_function(
        handler,
        purpose=purpose,
        role=role,
        managed_basic_execution=managed_basic_execution,
        library_runtime=True,
    )
    return function_name


def _wildcard_reason(evidence: str) -> str:
    """Why each wildcard resource of the CodeBuild project's role is as narrow as it can be."""
    if evidence == "*":
        return (
            "ecr:GetAuthorizationToken and ecr-public:GetAuthorizationToken have no resource-level permissions "
            "(Service Authorization Reference); pushes are limited to this stack's repository."
        )
    if ":log-group:/aws/codebuild/" in evidence or ":report-group/" in evidence:
        return (
            "aws-cdk-lib's CodeBuild project grants its default log group and report groups, named after the "
            "project; the builds log to the project's own KMS-encrypted group instead."
        )
    if ":s3:::" in evidence:
        return (
            "The build reads its zipped build context from the CDK bootstrap assets bucket, where each "
            "asset's key is its content hash."
        )
    raise AcknowledgementError(f"no reason known for the wildcard {evidence!r} of the image build role")


def image_build_problems(
    *,
    directory: str | Path,
    file: str,
    build_args: Mapping[str, str],
    tag_prefix: str,
    platform: str,
    builder: ImageBuilder = ImageBuilder.DOCKER,
) -> list[Problem]:
    """What would make the build fail at deploy, found at synth; every problem at once."""
    problems = []
    path = Path(directory)
    if not path.is_dir():
        problems.append(
            Problem(
                f"directory {str(directory)!r} is not a directory: give the Docker build context, e.g. "
                "'containers/serving'.",
                setting="directory",
                value=str(directory),
            )
        )
    elif not (path / file).is_file():
        problems.append(
            Problem(
                f"{str(path / file)!r} does not exist: 'dockerfile' names the Dockerfile inside the directory "
                f"(found: {', '.join(sorted(p.name for p in path.glob('Dockerfile*'))) or 'no Dockerfile'}).",
                setting="dockerfile",
                value=file,
            )
        )
    if platform not in PLATFORMS:
        problems.append(
            Problem(
                f"platform {platform!r}: use {' or '.join(map(repr, PLATFORMS))}.",
                setting="platform",
                value=platform,
            )
        )
    if tag_prefix and (len(tag_prefix) > _MAX_TAG_PREFIX or not _TAG_PREFIX.fullmatch(tag_prefix)):
        problems.append(
            Problem(
                f"tag_prefix {tag_prefix!r}: use letters, digits, '.', '_' and '-' (not first), at most "
                f"{_MAX_TAG_PREFIX} characters: the generated part (up to 64 characters) follows it in a 128-character "
                "tag.",
                setting="tag_prefix",
                value=tag_prefix,
            )
        )
    for name, value in build_args.items():
        if builder is ImageBuilder.CODEBUILD and not _SHELL_SAFE.fullmatch(value):
            problems.append(
                Problem(
                    f"build argument {name}={value!r}: the CodeBuild builder passes it through a shell command "
                    "line (deploy-time-build's buildspec), where spaces, quotes and '$' break the build; use "
                    "letters, digits and '._:/@+=,-', or the docker builder.",
                    setting="build_args",
                    value=value,
                )
            )
        if not _BUILD_ARG.fullmatch(name):
            problems.append(
                Problem(
                    f"build argument {name!r}: Dockerfile ARG names are letters, digits and '_', not starting "
                    "with a digit.",
                    setting="build_args",
                    value=name,
                )
            )
    return problems

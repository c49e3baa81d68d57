"""Blueprint: a hardened ECR repository with an image built from a local Dockerfile directory.

For teams that bring their own training or serving container: the repository (scan on push,
immutable tags, KMS, lifecycle rules, pull for named accounts only, retained) and the image,
published by ``cdk deploy`` under a new tag whenever the build context changes, with Docker (a CDK image asset) or, on a
machine without Docker, in CodeBuild. Optionally the account's registry settings in the region:
a pull-through cache for AWS's public Deep Learning Containers, enhanced scanning, replication.
Endpoint and training stacks use the image by repository name and tag (the outputs).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.container_image.settings import ContainerImageSettings
from mlblueprints.constructs.ecr.image_build import ImageBuilder, RepositoryImage
from mlblueprints.constructs.ecr.registry import RegistrySettings
from mlblueprints.constructs.ecr.repository import ImageRepository

__all__ = ["ContainerImageStack"]


class ContainerImageStack(Stack):
    """The repository, the image and (optionally) the registry settings, deployable as one stack."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: ContainerImageSettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints container image from {settings.directory} ({settings.builder} build)",
        )
        repository_options = settings.explicit(
            "repository_name", "mutable_tag_patterns", "keep_tagged_images", "pull_accounts"
        )
        if settings.expire_untagged_days is not None:
            repository_options["expire_untagged_after"] = Duration.days(settings.expire_untagged_days)
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        self.repository = ImageRepository(
            self, "Repository", removal_policy=removal_policy, **repository_options
        )
        build_options = settings.explicit("build_args", "tag_prefix", "platform")
        if settings.dockerfile is not None:
            build_options["file"] = settings.dockerfile
        self.image = RepositoryImage(
            self,
            "Image",
            repository=self.repository,
            directory=settings.directory,
            builder=ImageBuilder(settings.builder),
            removal_policy=removal_policy,
            **build_options,
        )
        self.registry = (
            RegistrySettings(self, "Registry", **settings.registry.model_dump())
            if settings.registry is not None
            else None
        )
        CfnOutput(
            self,
            "RepositoryName",
            value=self.repository.repository.repository_name,
            description="ECR repository name",
        )
        CfnOutput(
            self, "RepositoryUri", value=self.repository.repository_uri, description="ECR repository URI"
        )
        CfnOutput(
            self,
            "ImageTag",
            value=self.image.image_tag,
            description="The image's tag: its prefix and a part that changes with the build context",
        )
        CfnOutput(
            self,
            "ImageUri",
            value=self.image.image_uri,
            description="The image, for image_uri of an endpoint or training stack",
        )

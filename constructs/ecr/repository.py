"""A hardened ECR repository for the training and serving images a team builds itself.

Defaults follow what a platform team would require: images scanned on push, tags immutable (with
at most five wildcard exclusions for a team's moving tags, "Exclusion filter pattern rules" in the
aws-cdk-lib ECR documentation), a customer-managed KMS key, lifecycle rules that keep the last
tagged images and expire untagged ones, pull granted only to named SageMaker roles and named
accounts (a resource policy that never says ``*``), and the repository retained when the stack
is deleted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from mlblueprints.constructs._private.service_models import service_model
from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge, skip_checkov
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.security.encryption_key import EncryptionKey

__all__ = ["ImageRepository", "RepositoryError", "is_repository_name"]

MAX_EXCLUSION_FILTERS = 5
_PATTERN = re.compile(r"^[A-Za-z0-9._*-]{1,128}$")
_ACCOUNT = re.compile(r"^\d{12}$")


class RepositoryError(MlBlueprintsError):
    """Repository settings ECR would refuse, or that would open the repository too wide."""


class ImageRepository(Construct):
    """An ECR repository: scan on push, immutable tags, KMS, lifecycle rules, explicit pull access.

    :param mutable_tag_patterns: tags that may move (e.g. ``"dev-*"``), at most five wildcard
        patterns; every other tag is immutable.
    :param keep_tagged_images: how many tagged images the lifecycle policy keeps.
    :param expire_untagged_after: how long untagged images (superseded layers of a moving tag,
        failed pushes) are kept.
    :param pull_accounts: other AWS accounts that may pull, named one by one.
    :param removal_policy: default ``RETAIN``: the images outlive the stack.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repository_name: str | None = None,
        encryption_key: kms.IKey | None = None,
        mutable_tag_patterns: Sequence[str] = (),
        keep_tagged_images: int = 30,
        expire_untagged_after: Duration = Duration.days(7),
        pull_accounts: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = repository_problems(
            repository_name=repository_name,
            mutable_tag_patterns=mutable_tag_patterns,
            keep_tagged_images=keep_tagged_images,
            expire_untagged_days=expire_untagged_after.to_seconds() / 86400,
            pull_accounts=pull_accounts,
        )
        if problems:
            raise RepositoryError(problems)
        if encryption_key is None:
            encryption_key = EncryptionKey(
                self,
                "Key",
                description=f"Encrypts the images of {self.node.path}",
                removal_policy=removal_policy,
            ).key
        self.encryption_key = encryption_key
        self.repository = ecr.Repository(
            self,
            "Resource",
            repository_name=repository_name,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION
            if mutable_tag_patterns
            else ecr.TagMutability.IMMUTABLE,
            image_tag_mutability_exclusion_filters=[
                ecr.ImageTagMutabilityExclusionFilter.wildcard(pattern) for pattern in mutable_tag_patterns
            ]
            or None,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            empty_on_delete=removal_policy is RemovalPolicy.DESTROY,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description="Expire untagged images",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=expire_untagged_after,
                    rule_priority=1,
                ),
                ecr.LifecycleRule(
                    description=f"Keep the last {keep_tagged_images} tagged images",
                    tag_status=ecr.TagStatus.TAGGED,
                    tag_pattern_list=["*"],
                    max_image_count=keep_tagged_images,
                    rule_priority=2,
                ),
            ],
        )
        if mutable_tag_patterns:
            acknowledge(
                self.repository,
                "ecr_private_tag_immutability_enabled_check",
                topic="CT.ECR.PR.3 with tag immutability exclusions",
                reason=f"Every tag is immutable except those matching {', '.join(mutable_tag_patterns)} "
                "(ECR's IMMUTABLE_WITH_EXCLUSION), which the team moves on purpose; released tags cannot "
                "be overwritten.",
                packs=(Pack.CONTROL_TOWER,),
            )
            skip_checkov(
                self.repository.node.default_child,
                CKV_AWS_51=f"Every tag is immutable except those matching {', '.join(mutable_tag_patterns)} "
                "(IMMUTABLE_WITH_EXCLUSION), which the team moves on purpose.",
            )
        for account in pull_accounts:
            self.repository.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"PullFrom{account}",
                    principals=[iam.AccountPrincipal(account)],
                    actions=[
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                )
            )

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (e.g. a SageMaker execution role) pull images from this repository."""
        return self.repository.grant_pull(grantee)

    @property
    def repository_uri(self) -> str:
        return self.repository.repository_uri


def repository_problems(
    *,
    repository_name: str | None,
    mutable_tag_patterns: Sequence[str],
    keep_tagged_images: int,
    expire_untagged_days: float,
    pull_accounts: Sequence[str],
) -> list[Problem]:
    """What ECR would refuse, or what would open the repository too wide; every problem at once."""
    problems = []
    if repository_name is not None and not is_repository_name(repository_name):
        problems.append(
            Problem(
                f"repository_name={repository_name!r}: use 2 to 256 lower-case letters, digits and '._-/' "
                "separators, e.g. 'ml/llama-serving'.",
                setting="repository_name",
                value=repository_name,
            )
        )
    if len(mutable_tag_patterns) > MAX_EXCLUSION_FILTERS:
        problems.append(
            Problem(
                f"{len(mutable_tag_patterns)} mutable tag patterns: ECR takes at most {MAX_EXCLUSION_FILTERS}.",
                setting="mutable_tag_patterns",
            )
        )
    for pattern in mutable_tag_patterns:
        if not _PATTERN.fullmatch(pattern):
            problems.append(
                Problem(
                    f"mutable tag pattern {pattern!r}: use letters, digits, '.', '_', '-' and '*' wildcards, at most "
                    "128 characters.",
                    setting="mutable_tag_patterns",
                    value=pattern,
                )
            )
        elif pattern.strip("*") == "":
            problems.append(
                Problem(
                    f"mutable tag pattern {pattern!r} makes every tag mutable: name the moving tags, e.g. 'dev-*'.",
                    setting="mutable_tag_patterns",
                    value=pattern,
                )
            )
    if keep_tagged_images < 1:
        problems.append(
            Problem(
                f"keep_tagged_images={keep_tagged_images}: keep at least 1.", setting="keep_tagged_images"
            )
        )
    if expire_untagged_days < 1 or expire_untagged_days != int(expire_untagged_days):
        problems.append(
            Problem(
                f"expire untagged images after {expire_untagged_days:g} days: ECR counts whole days; use 1 day "
                "or more.",
                setting="expire_untagged_days",
            )
        )
    for account in pull_accounts:
        if not _ACCOUNT.fullmatch(account):
            problems.append(
                Problem(
                    f"pull account {account!r}: name each account by its 12-digit ID; a repository policy never "
                    "opens pulls to '*' or to an organization-wide pattern here.",
                    setting="pull_accounts",
                    value=account,
                )
            )
    return problems


def is_repository_name(name: str) -> bool:
    """Whether ECR takes ``name`` as a repository name (botocore's CreateRepository limits and pattern)."""
    shape = service_model("ecr").member_shape("CreateRepositoryRequest", "repositoryName")
    return shape["min"] <= len(name) <= shape["max"] and re.fullmatch(shape["pattern"], name) is not None

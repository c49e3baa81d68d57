"""Account-level ECR settings a platform team turns on once: a pull-through cache for the public
Deep Learning Containers, enhanced scanning, and replication to other regions.

Each is a singleton of the account and region (one registry scanning configuration, one replication
configuration): deploy :class:`RegistrySettings` in one stack per region only. Limits come from
botocore's ECR model (repository prefix 2-30 characters and its pattern, at most two scanning
rules, registry IDs of 12 digits).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aws, Stack, Token
from aws_cdk import aws_ecr as ecr

from constructs import Construct
from mlblueprints.constructs._private.service_models import known_regions, service_model
from mlblueprints.constructs.ecr._private.ecr_public import assert_not_china, ecr_public_problems
from mlblueprints.constructs.ecr.repository import RepositoryError
from mlblueprints.constructs.errors import Problem

__all__ = ["CACHE_ECR_PUBLIC", "PUBLIC_DLC_REGISTRY", "RegistrySettings"]

# AWS publishes its Deep Learning Containers on ECR Public too (public.ecr.aws/deep-learning-containers).
PUBLIC_DLC_REGISTRY = "public.ecr.aws"
CACHE_ECR_PUBLIC = {
    "feature": "the pull-through cache",
    "setting": "pull_through_prefix",
    "instead": "set pull_through_prefix to null there",
}


class RegistrySettings(Construct):
    """The account's registry settings in this region.

    :param pull_through_prefix: cache ECR Public under this repository prefix, so a private VPC
        pulls ``<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/deep-learning-containers/...``
        through the account's own registry. ``None``: no cache.
    :param enhanced_scanning: scan continuously with Amazon Inspector instead of basic scan on push.
    :param replicate_to: regions to copy every repository's images to (same account).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pull_through_prefix: str | None = "ecr-public",
        enhanced_scanning: bool = False,
        replicate_to: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        problems = registry_problems(pull_through_prefix, replicate_to, stack.region)
        if pull_through_prefix:
            problems += ecr_public_problems(stack.region, **CACHE_ECR_PUBLIC)
            assert_not_china(stack, id="PullThroughCacheOutsideChina", **CACHE_ECR_PUBLIC)
        if problems:
            raise RepositoryError(problems)
        self.pull_through_cache = (
            ecr.CfnPullThroughCacheRule(
                self,
                "PublicCache",
                ecr_repository_prefix=pull_through_prefix,
                upstream_registry="ecr-public",
                upstream_registry_url=PUBLIC_DLC_REGISTRY,
            )
            if pull_through_prefix
            else None
        )
        self.scanning = (
            ecr.CfnRegistryScanningConfiguration(
                self,
                "Scanning",
                scan_type="ENHANCED",
                rules=[
                    ecr.CfnRegistryScanningConfiguration.ScanningRuleProperty(
                        scan_frequency="CONTINUOUS_SCAN",
                        repository_filters=[
                            ecr.CfnRegistryScanningConfiguration.RepositoryFilterProperty(
                                filter="*", filter_type="WILDCARD"
                            )
                        ],
                    )
                ],
            )
            if enhanced_scanning
            else None
        )
        self.replication = (
            ecr.CfnReplicationConfiguration(
                self,
                "Replication",
                replication_configuration=ecr.CfnReplicationConfiguration.ReplicationConfigurationProperty(
                    rules=[
                        ecr.CfnReplicationConfiguration.ReplicationRuleProperty(
                            destinations=[
                                ecr.CfnReplicationConfiguration.ReplicationDestinationProperty(
                                    region=region, registry_id=Aws.ACCOUNT_ID
                                )
                                for region in replicate_to
                            ]
                        )
                    ]
                ),
            )
            if replicate_to
            else None
        )

    def cached_image_uri(self, repository: str, tag: str) -> str:
        """The URI that pulls ``public.ecr.aws/<repository>:<tag>`` through this account's cache."""
        if self.pull_through_cache is None:
            raise RepositoryError(
                Problem("no pull-through cache: set pull_through_prefix.", setting="pull_through_prefix")
            )
        prefix = self.pull_through_cache.ecr_repository_prefix
        return f"{Aws.ACCOUNT_ID}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{prefix}/{repository}:{tag}"


def registry_problems(prefix: str | None, replicate_to: Sequence[str], region: str) -> list[Problem]:
    problems = []
    if prefix is not None:
        # botocore's length limits and pattern for the prefix (CreatePullThroughCacheRuleRequest).
        violation = _prefix_violation(prefix)
        if violation:
            problems.append(
                Problem(
                    f"pull_through_prefix={prefix!r}: use 2 to 30 lower-case letters, digits and '._-/' separators, "
                    "e.g. 'ecr-public'.",
                    setting="pull_through_prefix",
                    value=prefix,
                )
            )
    regions = known_regions()
    for destination in replicate_to:
        if destination not in regions:
            problems.append(
                Problem(
                    f"replicate_to {destination!r} is not a region botocore knows.", setting="replicate_to"
                )
            )
        elif not Token.is_unresolved(region) and destination == region:
            problems.append(
                Problem(
                    f"replicate_to {destination!r} is this stack's own region: replicate to other regions.",
                    setting="replicate_to",
                )
            )
    if len(set(replicate_to)) != len(replicate_to):
        problems.append(Problem("replicate_to names a region twice.", setting="replicate_to"))
    return problems


def _prefix_violation(prefix: str) -> str | None:
    shape = service_model("ecr").member_shape("CreatePullThroughCacheRuleRequest", "ecrRepositoryPrefix")
    if not shape["min"] <= len(prefix) <= shape["max"]:
        return "length"
    if not re.fullmatch(shape["pattern"].strip("^$"), prefix):
        return "pattern"
    return None

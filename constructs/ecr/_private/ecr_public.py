"""Where ECR Public can be used: not in the China partition.

"Amazon ECR Public is not available in China Regions" (Getting Started with Amazon Web Services in
China, "Amazon Elastic Container Registry Public in Amazon Web Services China",
https://docs.amazonaws.cn/en_us/aws/latest/userguide/ecr-public.html). A feature that logs in to
ECR Public or caches it is refused at synth for a stack pinned there, and by a CloudFormation
``Rules`` assertion at change-set creation for an environment-agnostic stack.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnRule, Fn, Stack, Token

from mlblueprints.constructs._private.service_models import partition_of
from mlblueprints.constructs.errors import Problem

CHINA_PARTITION = "aws-cn"


def ecr_public_problems(region: str | None, *, feature: str, setting: str, instead: str) -> list[Problem]:
    """A problem if ``region`` (a pinned stack's) is a China region, where ``feature`` cannot work."""
    if not region or Token.is_unresolved(region) or partition_of(region) != CHINA_PARTITION:
        return []
    return [
        Problem(
            f"{feature} uses Amazon ECR Public, which is not available in the China Regions ({region}); "
            f"{instead}.",
            setting=setting,
        )
    ]


def assert_not_china(stack: Stack, *, id: str, feature: str, instead: str, setting: str = "") -> None:
    """For an environment-agnostic stack: CloudFormation refuses the change set in aws-cn.

    Takes the same keywords as :func:`ecr_public_problems` (``setting`` is not needed here).
    """
    del setting
    if Token.is_unresolved(stack.region) and stack.node.try_find_child(id) is None:
        CfnRule(stack, id).add_assertion(
            Fn.condition_not(Fn.condition_equals(Aws.PARTITION, CHINA_PARTITION)),
            f"{feature} uses Amazon ECR Public, which is not available in the China Regions; {instead}.",
        )

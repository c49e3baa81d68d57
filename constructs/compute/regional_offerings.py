"""Which regions offer a SageMaker hosting instance type: refused at synth when pinned, asserted at deploy when not.

botocore lists every type the SageMaker API knows; not every region offers each one (``ml.p5.48xlarge``
is not hosted in ``af-south-1``), and CreateEndpointConfig fails there only at deploy time. The
regional table is cfn-lint's (see ``_private/hosting_regions.py``). A stack pinned to a region gets a
synth error that names the regions offering the type; an environment-agnostic stack gets a
CloudFormation ``Rules`` assertion, so the change set fails at once in a region without it instead of
twenty minutes into the deploy.
"""

from __future__ import annotations

import functools
import hashlib

from aws_cdk import Aws, CfnRule, Fn, Stack, Token

from constructs import Construct
from mlblueprints.constructs.compute._private.ec2_regions import EC2_ACCELERATED_BY_REGION
from mlblueprints.constructs.compute._private.hosting_regions import CFN_LINT_VERSION, HOSTING_BY_REGION
from mlblueprints.constructs.errors import Problem

__all__ = [
    "assert_ec2_offered_at_deploy",
    "assert_hosted_at_deploy",
    "ec2_regions",
    "hosting_regions",
    "regional_ec2_problems",
    "regional_hosting_problems",
]


def _decode(table: dict[str, str], prefix: str) -> dict[str, frozenset[str]]:
    decoded = {}
    for region, encoded in table.items():
        names = set()
        for group in filter(None, encoded.split(";")):
            family, _, sizes = group.partition(":")
            names.update(f"{prefix}{family}.{size}" for size in sizes.split(","))
        decoded[region] = frozenset(names)
    return decoded


@functools.cache
def _types_by_region() -> dict[str, frozenset[str]]:
    return _decode(HOSTING_BY_REGION, "ml.")


@functools.cache
def _ec2_types_by_region() -> dict[str, frozenset[str]]:
    return _decode(EC2_ACCELERATED_BY_REGION, "")


def ec2_regions(instance_type: str) -> frozenset[str]:
    """The regions that offer the accelerated EC2 ``instance_type`` (empty if none is known to)."""
    return frozenset(region for region, names in _ec2_types_by_region().items() if instance_type in names)


def regional_ec2_problems(
    instance_type: str, region: str, *, setting: str = "instance_type"
) -> list[Problem]:
    """Why ``region`` does not offer the accelerated EC2 ``instance_type`` (nothing when unknown)."""
    if (
        Token.is_unresolved(instance_type)
        or Token.is_unresolved(region)
        or region not in _ec2_types_by_region()
    ):
        return []
    regions = ec2_regions(instance_type)
    if not regions or region in regions:
        return []
    return [
        Problem(
            f"{instance_type} is not offered in {region} (cfn-lint {CFN_LINT_VERSION}'s regional EC2 data, from "
            f"AWS's price list); it is offered in {', '.join(sorted(regions))}. Deploy to one of those regions, "
            "or choose a type this region offers.",
            setting=setting,
            value=instance_type,
        )
    ]


def assert_ec2_offered_at_deploy(scope: Construct, instance_type: str) -> None:
    """For an environment-agnostic stack: a ``Rules`` assertion that the deploy region offers the type."""
    _assert_offered(
        scope, instance_type, ec2_regions(instance_type), set(_ec2_types_by_region()), "Ec2Region", ""
    )


def hosting_regions(instance_type: str) -> frozenset[str]:
    """The regions that offer ``instance_type`` for SageMaker hosting (empty if none is known to)."""
    return frozenset(region for region, names in _types_by_region().items() if instance_type in names)


def regional_hosting_problems(
    instance_type: str, region: str, *, setting: str = "instance_type"
) -> list[Problem]:
    """Why ``region`` cannot host ``instance_type`` (nothing for an unknown region, token or unlisted type)."""
    if Token.is_unresolved(instance_type) or Token.is_unresolved(region) or region not in _types_by_region():
        return []
    regions = hosting_regions(instance_type)
    if not regions or region in regions:
        return []  # a type no region lists is newer than the table: check_instance_type decides
    return [
        Problem(
            f"{instance_type} is not offered for SageMaker hosting in {region} (cfn-lint {CFN_LINT_VERSION}'s "
            f"regional data); it is offered in {', '.join(sorted(regions))}. Deploy to one of those regions, or "
            "choose a type this region offers.",
            setting=setting,
            value=instance_type,
        )
    ]


def assert_hosted_at_deploy(scope: Construct, instance_type: str) -> None:
    """For an environment-agnostic stack: a ``Rules`` assertion that the deploy region offers the type."""
    _assert_offered(
        scope,
        instance_type,
        hosting_regions(instance_type),
        set(_types_by_region()),
        "HostingRegion",
        " for SageMaker hosting",
    )


def _assert_offered(
    scope: Construct, instance_type: str, regions: frozenset[str], known: set[str], prefix: str, what: str
) -> None:
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region) or Token.is_unresolved(instance_type):
        return
    if not regions or regions >= known:
        return  # unknown to the table, or offered everywhere it knows
    rule_id = f"{prefix}{hashlib.sha256(instance_type.encode()).hexdigest()[:8].upper()}"
    if stack.node.try_find_child(rule_id) is None:
        CfnRule(stack, rule_id).add_assertion(
            Fn.condition_contains(sorted(regions), Aws.REGION),
            f"{instance_type} is not offered{what} in this region; it is offered in {', '.join(sorted(regions))}.",
        )

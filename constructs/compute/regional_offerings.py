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
from mlblueprints.constructs._private.service_models import service_endpoint_regions
from mlblueprints.constructs.compute._private.ec2_regions import EC2_ACCELERATED_BY_REGION
from mlblueprints.constructs.compute._private.hosting_regions import CFN_LINT_VERSION, HOSTING_BY_REGION
from mlblueprints.constructs.compute._private.hyperpod_regions import HYPERPOD_BY_REGION
from mlblueprints.constructs.compute._private.resource_type_regions import (
    PROVIDER_REGIONS,
    RESOURCE_TYPE_REGIONS,
)
from mlblueprints.constructs.errors import Problem

__all__ = [
    "assert_ec2_offered_at_deploy",
    "assert_hosted_at_deploy",
    "assert_resource_types_at_deploy",
    "assert_services_at_deploy",
    "ec2_regions",
    "hosting_regions",
    "hyperpod_known_regions",
    "hyperpod_regions",
    "regional_ec2_problems",
    "regional_hosting_problems",
    "resource_type_problems",
    "resource_type_regions",
    "service_region_problems",
    "service_regions",
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


@functools.cache
def _hyperpod_types_by_region() -> dict[str, frozenset[str]]:
    return _decode(HYPERPOD_BY_REGION, "ml.")


def hyperpod_known_regions() -> frozenset[str]:
    """The regions cfn-lint knows (its provider schemas): a region it does not list is newer than its data."""
    return frozenset(PROVIDER_REGIONS)


def hyperpod_regions(instance_type: str) -> frozenset[str]:
    """The regions whose HyperPod clusters (AWS::SageMaker::Cluster) take ``instance_type``."""
    return frozenset(
        region for region, names in _hyperpod_types_by_region().items() if instance_type in names
    )


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


def resource_type_regions(*resource_types: str) -> frozenset[str]:
    """The regions where CloudFormation offers every one of ``resource_types`` (cfn-lint's provider schemas)."""
    found = [_resource_type_regions()[name] for name in resource_types]
    return frozenset.intersection(*found)


@functools.cache
def _resource_type_regions() -> dict[str, frozenset[str]]:
    return {name: frozenset(regions.split(",")) for name, regions in RESOURCE_TYPE_REGIONS.items()}


def resource_type_problems(
    region: str | None, *resource_types: str, what: str, setting: str
) -> list[Problem]:
    """Why a stack pinned to ``region`` cannot have ``resource_types`` (``what`` names the feature)."""
    if region is None or Token.is_unresolved(region):
        return []
    missing = [name for name in resource_types if region not in _resource_type_regions()[name]]
    if not missing:
        return []
    regions = resource_type_regions(*resource_types)
    return [
        Problem(
            f"{what} needs {', '.join(missing)}, which CloudFormation does not offer in {region} (cfn-lint "
            f"{CFN_LINT_VERSION}'s provider schemas); deploy to one of {', '.join(sorted(regions))}.",
            setting=setting,
            value=region,
        )
    ]


def assert_resource_types_at_deploy(scope: Construct, *resource_types: str, what: str) -> None:
    """For an environment-agnostic stack: a ``Rules`` assertion that the region offers ``resource_types``."""
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region):
        return
    regions = resource_type_regions(*resource_types)
    rule_id = (
        f"ResourceTypes{hashlib.sha256('|'.join(sorted(resource_types)).encode()).hexdigest()[:8].upper()}"
    )
    if stack.node.try_find_child(rule_id) is None:
        CfnRule(stack, rule_id).add_assertion(
            Fn.condition_contains(sorted(regions), Aws.REGION),
            f"{what} needs {', '.join(resource_types)}, which CloudFormation offers in "
            f"{', '.join(sorted(regions))} only.",
        )


def service_regions(*endpoint_prefixes: str) -> frozenset[str]:
    """The regions where every one of the services (botocore endpoint prefixes, e.g. ``comprehendmedical``) has
    an endpoint, in botocore's endpoint data."""
    return frozenset.intersection(*(service_endpoint_regions()[prefix] for prefix in endpoint_prefixes))


def service_region_problems(
    region: str | None, *endpoint_prefixes: str, what: str, setting: str = "env"
) -> list[Problem]:
    """Why a stack pinned to ``region`` cannot use the services (``what`` names them for the reader)."""
    if region is None or Token.is_unresolved(region):
        return []
    regions = service_regions(*endpoint_prefixes)
    if region in regions:
        return []
    return [
        Problem(
            f"{what} is not offered in {region} (botocore's endpoint data); deploy to one of "
            f"{', '.join(sorted(regions))}.",
            setting=setting,
            value=region,
        )
    ]


def assert_services_at_deploy(scope: Construct, *endpoint_prefixes: str, what: str) -> None:
    """For an environment-agnostic stack: a ``Rules`` assertion that the region offers the services."""
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region):
        return
    regions = service_regions(*endpoint_prefixes)
    rule_id = (
        f"Services{hashlib.sha256('|'.join(sorted(endpoint_prefixes)).encode()).hexdigest()[:8].upper()}"
    )
    if stack.node.try_find_child(rule_id) is None:
        CfnRule(stack, rule_id).add_assertion(
            Fn.condition_contains(sorted(regions), Aws.REGION),
            f"{what} is offered in {', '.join(sorted(regions))} only.",
        )

"""Acknowledging a compliance finding next to the resource it covers.

The gates run as CDK policy-validation plugins; an acknowledgement is CDK's own
``Validations.of(construct).acknowledge(...)``, recorded in the cloud assembly's metadata under
``aws:cdk:acknowledged-rules`` so that audits (and ``tests/test_compliance.py``) can list every one.

Rule IDs are derived here and nowhere else: HIPAA Security, NIST 800-53 rev5 and PCI DSS 3.2.1 share
their rule names (all three map AWS Config managed rules), so one call with the shared name
acknowledges the finding in each. AwsSolutions names its rules differently (``IAM5``, ``S1``) and
IAM5 carries the offending resource as "evidence", which :func:`nag_evidence` renders the way cdk-nag
does, for token and concrete ARNs alike: the same acknowledgement holds whether the stack is
environment-agnostic or pinned to an account and region.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations

from constructs import IConstruct
from mlblueprints.constructs.errors import AcknowledgementError

__all__ = [
    "REGULATORY_PACKS",
    "Pack",
    "acknowledge",
    "acknowledge_inline_policy",
    "acknowledge_newer_resource_type",
    "acknowledge_wildcard_resource",
    "nag_evidence",
    "rule_id",
    "skip_checkov",
]


class Pack(enum.Enum):
    """A gate and the prefix of its rule IDs."""

    AWS_SOLUTIONS = "AwsSolutions"
    HIPAA_SECURITY = "HIPAA.Security"
    NIST_800_53_R5 = "NIST.800.53.R5"
    PCI_DSS_321 = "PCI.DSS.321"
    SERVERLESS = "Serverless"
    CONTROL_TOWER = "cdk-validator-cfnguard"


# The three packs that map AWS Config managed rules and so share rule names.
REGULATORY_PACKS: tuple[Pack, ...] = (Pack.HIPAA_SECURITY, Pack.NIST_800_53_R5, Pack.PCI_DSS_321)


def rule_id(pack: Pack, rule: str) -> str:
    """The ID ``pack`` reports ``rule`` under.

    cdk-nag: ``HIPAA.Security-IAMNoInlinePolicy``. The Control Tower plugin: its guard rule name behind
    the plugin name, ``cdk-validator-cfnguard::lambda_inside_vpc_check`` (control CT.LAMBDA.PR.3).
    """
    if pack is Pack.CONTROL_TOWER:
        return f"{pack.value}::{rule}"
    return f"{pack.value}-{rule}"


def acknowledge(
    scope: IConstruct,
    rule: str,
    *,
    topic: str,
    reason: str,
    packs: Iterable[Pack] = REGULATORY_PACKS,
) -> None:
    """Acknowledge ``rule`` of each of ``packs`` on ``scope`` with one specific ``reason``.

    ``topic`` names what is accepted ("KMS on the access-log bucket") and leads the recorded reason,
    so that a reader of the validation report sees which trade-off each entry is.
    """
    packs = tuple(packs)
    if not packs:
        raise AcknowledgementError("acknowledge() needs at least one pack")
    if not topic.strip() or not reason.strip():
        raise AcknowledgementError(
            f"acknowledge({rule!r}) needs a topic and a reason that says why it is safe here"
        )
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=rule_id(pack, rule), reason=f"{topic}: {reason}") for pack in packs)
    )


def nag_evidence(scope: IConstruct, value: str) -> str:
    """``value`` as cdk-nag prints it in a finding: ``arn:<AWS::Partition>:ec2:<AWS::Region>:...``.

    Resolved in ``scope``'s stack, so a pinned stack's concrete ARN and an agnostic stack's
    pseudo-parameter references both come out exactly as the rule reports them.
    """
    return _render(Stack.of(scope).resolve(value))


def _render(resolved: Any) -> str:
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and len(resolved) == 1:
        ((function, argument),) = resolved.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}]+)\}", r"<\1>", argument)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_render(part) for part in parts)
        # Other functions cdk-nag prints as compact JSON.
        return json.dumps(resolved, separators=(",", ":"))
    raise AcknowledgementError(f"cannot render {resolved!r} as cdk-nag evidence")


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, *, topic: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard ``resource`` (an ARN or ``"*"``) on ``scope``."""
    acknowledge(
        scope,
        f"IAM5[Resource::{nag_evidence(scope, resource)}]",
        topic=topic,
        reason=reason,
        packs=(Pack.AWS_SOLUTIONS,),
    )


def acknowledge_inline_policy(role: IConstruct) -> None:
    """Accept the inline (default) policy CDK writes for a role that only this construct uses."""
    acknowledge(
        role,
        "IAMNoInlinePolicy",
        topic="inline policy on a single-purpose role",
        reason="The policy holds grants for this one role only and is created and deleted with it; AWS "
        "IAM guidance recommends inline policies for such a strict one-to-one relationship, and every "
        "statement is scoped to this construct's own resources.",
    )


def skip_checkov(resource: CfnResource, **reasons: str) -> None:
    """Record checkov skips (``CKV_AWS_115="why"``) in ``resource``'s metadata, where checkov reads them.

    For resources the cdk-nag acknowledgements cannot reach, such as a construct library's own Lambda
    handlers: each skip names one check and says why it does not apply there.
    """
    if not reasons or not all(reason.strip() for reason in reasons.values()):
        raise AcknowledgementError("skip_checkov() needs a reason for every check it skips")
    existing = (resource.get_metadata("checkov") or {}).get("skip", [])
    resource.add_metadata(
        "checkov",
        {"skip": [*existing, *({"id": check, "comment": reason} for check, reason in reasons.items())]},
    )


def acknowledge_newer_resource_type(resource: CfnResource) -> None:
    """Accept aws-cdk-lib's "Unknown resource type" for a CloudFormation type newer than its bundled schemas.

    CloudFormation has the type (cfn-lint's provider schemas list it, and the blueprint's region checks come
    from them), and the cfn-lint gate validates the resource against its schema.
    """
    Validations.of(resource).acknowledge(
        Acknowledgment(
            id="CloudFormation-Validate::F3006",
            reason=f"{resource.cfn_resource_type}: a CloudFormation type newer than aws-cdk-lib's bundled schemas; "
            "cfn-lint, which knows it, validates it.",
        )
    )

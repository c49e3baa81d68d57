"""Acknowledging cdk-nag findings next to the resource they cover.

cdk-nag 3 runs its packs as CDK policy-validation plugins; an acknowledgement is CDK's own
``Validations.of(construct).acknowledge(...)``, recorded in the cloud assembly's metadata under
``aws:cdk:acknowledged-rules`` so that audits (and ``tests/test_compliance.py``) can list every one.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations

from constructs import IConstruct


def acknowledge(scope: IConstruct, topic: str, reason: str, *rule_ids: str) -> None:
    """Acknowledge each of ``rule_ids`` on ``scope`` with one specific ``reason``.

    ``topic`` names what is accepted ("KMS on the access-log bucket") and leads the recorded reason,
    so that a reader of the validation report sees which trade-off each entry is.
    """
    if not rule_ids:
        raise ValueError("acknowledge() needs at least one rule id")
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=rule_id, reason=f"{topic}: {reason}") for rule_id in rule_ids)
    )


def acknowledge_inline_policy(role: IConstruct) -> None:
    """Accept the inline (default) policy CDK writes for a role that only this construct uses."""
    acknowledge(
        role,
        "inline policy on a single-purpose role",
        "The policy holds grants for this one role only and is created and deleted with it; AWS IAM "
        "guidance recommends inline policies for such a strict one-to-one relationship, and every "
        "statement is scoped to this construct's own resources.",
        "HIPAA.Security-IAMNoInlinePolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    )

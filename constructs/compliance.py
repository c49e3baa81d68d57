"""The compliance gate: every cdk-nag pack the catalog promises, as CDK policy-validation plugins.

``add_compliance_packs(app)`` makes ``app.synth()`` (and ``cdk synth``) fail on any finding that is
not acknowledged next to its resource; the report is written to ``cdk.out/validation-report.json``.
"""

from __future__ import annotations

from aws_cdk import Stage, Validations
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

__all__ = ["COMPLIANCE_PACKS", "add_compliance_packs"]

COMPLIANCE_PACKS: tuple[type[NagPack], ...] = (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)


def add_compliance_packs(app: Stage) -> None:
    """Run all five packs on every stack of ``app`` when it synthesizes."""
    Validations.of(app).add_plugins(*(pack(app) for pack in COMPLIANCE_PACKS))

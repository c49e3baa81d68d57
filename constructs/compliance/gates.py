"""The compliance gates: five cdk-nag packs and AWS Control Tower's proactive controls.

``add_compliance_gates(app)`` makes ``app.synth()`` (and ``cdk synth``) fail on any finding that is not
acknowledged next to its resource; the report is written to ``cdk.out/validation-report.json``.
The Control Tower gate is independent of cdk-nag: the ``cdklabs.cdk-validator-cfnguard`` plugin runs
the bundled cfn-guard binary with the Control Tower rules over each synthesized template.
"""

from __future__ import annotations

from aws_cdk import IPolicyValidationPluginBeta1, Stage, Validations
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from mlblueprints.constructs.compliance.control_tower import ControlTowerChecks

__all__ = ["COMPLIANCE_PACKS", "add_compliance_gates", "compliance_gates"]

COMPLIANCE_PACKS: tuple[type[NagPack], ...] = (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)


def compliance_gates(app: Stage) -> list[IPolicyValidationPluginBeta1]:
    """A fresh plugin for each of the six gates."""
    return [*(pack(app) for pack in COMPLIANCE_PACKS), ControlTowerChecks()]


def add_compliance_gates(app: Stage) -> None:
    """Run all six gates on every stack of ``app`` when it synthesizes."""
    Validations.of(app).add_plugins(*compliance_gates(app))

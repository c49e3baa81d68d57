"""AWS Control Tower proactive controls as a gate: cdk-validator-cfnguard, with every finding an error.

``cdklabs.cdk-validator-cfnguard`` 0.0.62 runs its bundled cfn-guard binary with the Control Tower
rules over each template, but leaves each finding's severity unset. aws-cdk-lib 2.275 then treats a
plugin report as failed only while no finding is acknowledged: once one finding is acknowledged, it
recomputes success from severities, and every remaining unacknowledged finding stops failing synth.
:class:`ControlTowerChecks` wraps the plugin and marks every finding ``error``, so one acknowledged
finding never waves the others through (``tests/test_compliance.py`` proves it).

The plugin hands every one of its 237 guard rules to cfn-guard for every template, about a second
per template on two cores. A rule that names none of a template's resource types can only answer
"not applicable", so each run skips those rules: the findings are the same, the gate is about five
times faster. Which types a rule names is read from the plugin's own rule files
(``_private/control_tower_rule_types.py``, regenerated and compared by a test).

Acknowledge a finding with the plugin's guard rule name:
``acknowledge(scope, "lambda_inside_vpc_check", ..., packs=(Pack.CONTROL_TOWER,))``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsii
from aws_cdk import (
    IPolicyValidationContextBeta1,
    IPolicyValidationPluginBeta1,
    PolicyValidationPluginReportBeta1,
    PolicyViolatingResourceBeta1,
    PolicyViolationBeta1,
)
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from mlblueprints.constructs.compliance._private.control_tower_rule_types import RULE_TYPES

__all__ = ["ControlTowerChecks"]


@jsii.implements(IPolicyValidationPluginBeta1)
class ControlTowerChecks:
    """The Control Tower rules of cdk-validator-cfnguard; every finding fails synth unless acknowledged.

    :param disabled_rules: guard rule file names to skip, e.g. ``["ct-lambda-pr-3"]`` (not the
        ``CT.LAMBDA.PR.3`` control ID, which the plugin silently ignores).
    """

    def __init__(self, *, disabled_rules: list[str] | None = None) -> None:
        self._disabled_rules = list(disabled_rules or [])
        self._inner = CfnGuardValidator(control_tower_rules_enabled=True, disabled_rules=self._disabled_rules)

    @property
    def name(self) -> str:
        # The inner name: acknowledgement IDs are "<plugin name>::<guard rule name>".
        return self._inner.name

    @property
    def version(self) -> str | None:
        return self._inner.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._inner.rule_ids

    def validate(self, context: IPolicyValidationContextBeta1) -> PolicyValidationPluginReportBeta1:
        present = _resource_types(context.template_paths)
        skipped = [rule for rule, types in RULE_TYPES.items() if types and not set(types) & present]
        validator = CfnGuardValidator(
            control_tower_rules_enabled=True, disabled_rules=sorted({*self._disabled_rules, *skipped})
        )
        report = validator.validate(context)
        violations = [
            PolicyViolationBeta1(
                rule_name=violation.rule_name,
                description=violation.description,
                fix=violation.fix,
                rule_metadata=violation.rule_metadata,
                severity=violation.severity or "error",
                violating_resources=[
                    PolicyViolatingResourceBeta1(
                        locations=list(resource.locations),
                        resource_logical_id=resource.resource_logical_id,
                        template_path=resource.template_path,
                    )
                    for resource in violation.violating_resources
                ],
            )
            for violation in report.violations
        ]
        return PolicyValidationPluginReportBeta1(
            success=report.success,
            violations=violations,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
        )


def _resource_types(template_paths: list[str]) -> set[str]:
    types: set[str] = set()
    for path in template_paths:
        resources = json.loads(Path(path).read_text()).get("Resources", {})
        types.update(resource.get("Type", "") for resource in resources.values())
    return types

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

With several templates and cores, the plugin's own code runs on a share of the templates in one
Node.js process per core (``_private/guard_runner.py``); one template, or one core, goes through jsii.

Acknowledge a finding with the plugin's guard rule name:
``acknowledge(scope, "lambda_inside_vpc_check", ..., packs=(Pack.CONTROL_TOWER,))``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
from mlblueprints.constructs.compliance._private.guard_runner import validate_in_parallel

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
        template_paths = list(context.template_paths)
        present = _resource_types(template_paths)
        skipped = [rule for rule, types in RULE_TYPES.items() if types and not set(types) & present]
        disabled = sorted({*self._disabled_rules, *skipped})
        if not set(RULE_TYPES) - set(disabled):
            # No rule applies to these templates (an ECR registry stack, say): cfn-guard refuses to run
            # without rules, and there is nothing to find.
            return PolicyValidationPluginReportBeta1(success=True, violations=[])
        workers = min(os.cpu_count() or 1, len(template_paths))
        report = None
        if workers > 1:
            report = validate_in_parallel(
                template_paths, {"controlTowerRulesEnabled": True, "disabledRules": disabled}, workers
            )
        if report is None:  # one template, one core, or no Node.js to spare: the plugin through jsii
            report = _as_dict(
                CfnGuardValidator(control_tower_rules_enabled=True, disabled_rules=disabled).validate(context)
            )
        return PolicyValidationPluginReportBeta1(
            success=report["success"],
            violations=[_violation(violation) for violation in report["violations"]],
        )


def _violation(violation: dict[str, Any]) -> PolicyViolationBeta1:
    return PolicyViolationBeta1(
        rule_name=violation["ruleName"],
        description=violation.get("description") or "",
        fix=violation.get("fix"),
        rule_metadata=violation.get("ruleMetadata"),
        severity=violation.get("severity") or "error",
        violating_resources=[
            PolicyViolatingResourceBeta1(
                locations=list(resource.get("locations", [])),
                resource_logical_id=resource["resourceLogicalId"],
                template_path=resource["templatePath"],
            )
            for resource in violation.get("violatingResources", [])
        ],
    )


def _as_dict(report: PolicyValidationPluginReportBeta1) -> dict[str, Any]:
    """The jsii report in the plugin's own JSON shape, so both paths share :func:`_violation`."""
    return {
        "success": report.success,
        "violations": [
            {
                "ruleName": violation.rule_name,
                "description": violation.description,
                "fix": violation.fix,
                "ruleMetadata": violation.rule_metadata,
                "severity": violation.severity,
                "violatingResources": [
                    {
                        "locations": list(resource.locations),
                        "resourceLogicalId": resource.resource_logical_id,
                        "templatePath": resource.template_path,
                    }
                    for resource in violation.violating_resources
                ],
            }
            for violation in report.violations
        ],
    }


def _resource_types(template_paths: list[str]) -> set[str]:
    types: set[str] = set()
    for path in template_paths:
        resources = json.loads(Path(path).read_text()).get("Resources", {})
        types.update(resource.get("Type", "") for resource in resources.values())
    return types

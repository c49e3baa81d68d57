"""cfn-lint and checkov over synthesized templates, with the catalog's accepted exceptions and reasons.

The gates (cdk-nag packs, Control Tower) run at synth; these two read the templates afterwards. The
test suite and ``mlblueprints scan`` use the same runners and the same exceptions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = [
    "CFN_LINT_IGNORED",
    "CFN_LINT_REGIONS",
    "Finding",
    "checkov_path",
    "lint_regions",
    "run_cfn_lint",
    "run_checkov",
]

# Environment-agnostic stacks are linted against the regions with the widest accelerator choice.
CFN_LINT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1")
# cfn-lint findings accepted in synthesized templates, each with its reason.
CFN_LINT_IGNORED = {
    "W3005": (
        "aws-cdk-lib makes a resource depend on a whole construct (a role with its default policy, a subnet "
        "with its route table association) so that all of it exists first; cfn-lint calls the part the resource "
        "already reads with Ref or GetAtt redundant. Harmless: the rest of that DependsOn is what keeps a policy "
        "attached before the resource uses the role."
    ),
}
_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Finding:
    """One result of a scanner: a failure, or an exception accepted with its reason (``acknowledged``)."""

    tool: str
    rule: str
    stack: str
    resource: str
    message: str
    acknowledged: bool = False
    reason: str = ""
    severity: str = "error"


def lint_regions(template: dict, regions: tuple[str, ...] = CFN_LINT_REGIONS) -> tuple[str, ...]:
    """The regions to lint ``template`` in: ``regions``, narrowed to those its ``Rules`` allow.

    A stack whose services or resource types some regions lack carries ``Rules`` assertions
    (``Fn::Contains`` of its regions and ``AWS::Region``), so CloudFormation refuses it elsewhere; linting it
    in a region it refuses would only report what it already stops.
    """
    allowed = set(regions)
    for rule in (template.get("Rules") or {}).values():
        for assertion in rule.get("Assertions", []):
            contains = assertion.get("Assert", {}).get("Fn::Contains")
            if (
                isinstance(contains, list)
                and len(contains) == 2
                and contains[1] == {"Ref": "AWS::Region"}
                and isinstance(contains[0], list)
            ):
                allowed &= set(contains[0])
            equals = assertion.get("Assert", {}).get("Fn::Equals")
            if isinstance(equals, list) and {"Ref": "AWS::Region"} in equals:
                allowed &= {value for value in equals if isinstance(value, str)}
    return tuple(r for r in regions if r in allowed) or regions


def run_cfn_lint(stack: str, template: dict, *, regions: tuple[str, ...] = CFN_LINT_REGIONS) -> list[Finding]:
    """cfn-lint's matches for ``template``: warnings in ``CFN_LINT_IGNORED`` are acknowledged, the rest fail."""
    try:
        from cfnlint.api import ManualArgs, lint
    except ImportError as error:
        raise MlBlueprintsError(
            Problem(
                "cfn-lint is not installed: pip install 'mlblueprints[dev]' (or make install).",
                setting="scan",
            )
        ) from error
    findings = []
    for match in lint(json.dumps(template), config=ManualArgs(regions=list(lint_regions(template, regions)))):
        rule = match.rule.id
        resource = "/".join(str(part) for part in match.path[:2]) if match.path else ""
        ignored = rule in CFN_LINT_IGNORED
        findings.append(
            Finding("cfn-lint", rule, stack, resource, match.message, acknowledged=ignored,
                    reason=CFN_LINT_IGNORED.get(rule, ""), severity="error" if rule.startswith("E") else "warning")
        )  # fmt: skip
    return findings


def _suppress_comment(check: dict) -> str:
    """A skipped check's reason: checkov puts it under check_result (older releases: at the top level)."""
    return (check.get("check_result") or {}).get("suppress_comment") or check.get("suppress_comment") or ""


def checkov_path() -> str | None:
    """checkov from its own virtualenv (.venv-scan: it pins an older botocore), or on PATH."""
    local = _REPO / ".venv-scan" / "bin" / "checkov"
    return str(local) if local.exists() else shutil.which("checkov")


def run_checkov(directory: Path, stacks: dict[str, str]) -> list[Finding]:
    """checkov on the templates in ``directory`` (``stacks``: file name -> stack), offline.

    ``--skip-download`` keeps it from calling its vendor's platform (which it otherwise tries, and
    waits on, in a network without it); skipped checks come back with their recorded reasons.
    """
    checkov = checkov_path()
    if checkov is None:
        raise MlBlueprintsError(
            Problem("checkov is not installed: make install creates .venv-scan with it.", setting="scan")
        )
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    done = subprocess.run(
        [checkov, "--directory", str(directory), "--framework", "cloudformation", "--output", "json", "--compact",
         "--skip-download"],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    try:
        reports = json.loads(done.stdout) if done.stdout.strip() else []
    except ValueError as error:
        raise MlBlueprintsError(
            Problem(f"checkov did not answer in JSON: {done.stderr[-500:]}", setting="scan")
        ) from error
    reports = reports if isinstance(reports, list) else [reports]
    findings = []
    for report in reports:
        results = report.get("results", {}) if isinstance(report, dict) else {}
        for check, acknowledged in [(c, False) for c in results.get("failed_checks", [])] + [
            (c, True) for c in results.get("skipped_checks", [])
        ]:
            stack = stacks.get(Path(check.get("file_path", "")).name, Path(check.get("file_path", "")).stem)
            findings.append(
                Finding("checkov", check["check_id"], stack, check.get("resource", ""), check.get("check_name", ""),
                        acknowledged=acknowledged, reason=_suppress_comment(check) if acknowledged else "")
            )  # fmt: skip
    return findings

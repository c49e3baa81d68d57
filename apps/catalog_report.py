"""What the documentation site reports about each blueprint, measured when the site is built.

One in-process synth of every blueprint's example config under the six gates, then cfn-lint and checkov over
the templates (``mlblueprints scan``'s runners), gives each blueprint's compliance report: every gate, what it
found, and every acknowledgement with its reason. The same templates give its cost (``mlblueprints cost``'s
items, priced from the bundled snapshot so the site is the same on every machine) and the instance types it
deploys. Nothing here is typed by hand: change a blueprint and its page changes with the next build.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from mlblueprints.apps.cli.cost import HOURS_PER_MONTH, CostLine, cost_lines
from mlblueprints.apps.cli.prices import PriceBook
from mlblueprints.apps.cli.scan import GATES, gate_findings, scan_assembly, synthesize_catalog
from mlblueprints.blueprints.registry import BLUEPRINTS
from mlblueprints.constructs.compliance.scanners import Finding

__all__ = [
    "CHECKS",
    "BlueprintReport",
    "blueprint_reports",
    "check_of",
    "example_stacks",
    "measure",
    "serve_stand_in_site",
]

REPO = Path(__file__).resolve().parents[1]

# Every check a blueprint passes, in the order its page shows them: the six gates at synth (five cdk-nag packs
# and the Control Tower proactive controls), CloudFormation's schema rules CDK applies at synth, then the two
# template scanners.
CHECKS = {
    "AwsSolutions": "cdk-nag AwsSolutions",
    "HIPAA.Security": "cdk-nag HIPAA Security",
    "NIST.800.53.R5": "cdk-nag NIST 800-53 rev5",
    "PCI.DSS.321": "cdk-nag PCI DSS 3.2.1",
    "Serverless": "cdk-nag Serverless",
    "cdk-validator-cfnguard": "AWS Control Tower proactive controls",
    "CloudFormation-Validate": "CloudFormation schema (CDK's default rules)",
    "@aws-cdk": "aws-cdk-lib's own warnings",
    "cfn-lint": "cfn-lint",
    "checkov": "checkov",
}
_ML_INSTANCE = re.compile(r"\bml\.[a-z0-9-]+\.[a-z0-9]+\b")


def check_of(finding: Finding) -> str:
    """The check (a key of :data:`CHECKS`) a finding belongs to."""
    if finding.tool != "gate":
        return finding.tool
    return next((check for check in CHECKS if finding.rule.startswith(check)), finding.rule.split("::")[0])


def example_stacks() -> dict[str, dict]:
    """Every blueprint's example stacks, by stack name."""
    stacks: dict[str, dict] = {}
    for blueprint in BLUEPRINTS.values():
        stacks.update(json.loads(blueprint.example.read_text())["stacks"])
    return stacks


def measure(workdir: Path, stacks: dict[str, dict] | None = None) -> tuple[dict[str, dict], list[Finding]]:
    """Synthesize ``stacks`` (every blueprint's example by default) under the six gates into ``workdir``, then
    scan: the templates by stack, and every finding (acknowledged or not) of every check."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    # The docs-site blueprint serves the built site, which is what is being built: a one-page stand-in.
    stand_in = workdir / "site-stand-in"
    stand_in.mkdir()
    (stand_in / "index.html").write_text("<!doctype html><title>mlblueprints</title>")
    stacks = serve_stand_in_site(stacks or example_stacks(), stand_in)
    assembly = synthesize_catalog(stacks, list(GATES), workdir / "cdk.out", directory=REPO)
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(assembly.glob("*.template.json"))
    }
    return templates, scan_assembly(assembly, list(GATES)).findings


def serve_stand_in_site(stacks: dict[str, dict], folder: Path) -> dict[str, dict]:
    """``stacks`` with each docs-site stack serving ``folder``: where the site is not built (the test suite) or is
    being built (``make docs``). The resources are the same; only the files' asset hash differs."""
    return {
        name: {**entry, "site_folder": str(folder)} if entry.get("blueprint") == "docs-site" else entry
        for name, entry in stacks.items()
    }


@dataclass(frozen=True)
class BlueprintReport:
    """A blueprint's example as measured: its stacks, findings by check, cost items and instance types."""

    name: str
    stacks: tuple[str, ...]
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    cost: tuple[CostLine, ...] = ()
    instance_types: tuple[str, ...] = ()

    @property
    def failures(self) -> list[Finding]:
        """What no acknowledgement covers: a gate failure, a cfn-lint match or a checkov failure."""
        return [f for found in self.findings.values() for f in found if not f.acknowledged]

    @property
    def acknowledged(self) -> list[Finding]:
        return [f for found in self.findings.values() for f in found if f.acknowledged]

    @property
    def hourly_default(self) -> float:
        return sum(line.hourly_default or 0 for line in self.cost)

    @property
    def hourly_max(self) -> float:
        return sum(line.hourly_max or 0 for line in self.cost)

    @property
    def monthly_default(self) -> float:
        return self.hourly_default * HOURS_PER_MONTH


def blueprint_reports(templates: dict[str, dict], findings: list[Finding]) -> dict[str, BlueprintReport]:
    """Each blueprint's report from its example stacks' templates and findings (``measure``'s results)."""
    from mlblueprints.constructs.compute.instance_types import _all_listed

    book = PriceBook("us-east-1")  # the bundled snapshot: no credentials, the same site on every machine
    by_stack: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_stack[finding.stack].append(finding)
    reports = {}
    for name, blueprint in BLUEPRINTS.items():
        stacks = tuple(json.loads(blueprint.example.read_text())["stacks"])
        missing = [stack for stack in stacks if stack not in templates]
        if missing:
            raise ValueError(f"{name}: no template for {', '.join(missing)}")
        checks: dict[str, list[Finding]] = {check: [] for check in CHECKS}
        lines: list[CostLine] = []
        types: set[str] = set()
        for stack in stacks:
            for finding in by_stack[stack]:
                checks.setdefault(check_of(finding), []).append(finding)
            stack_lines = cost_lines(stack, templates[stack], book)
            lines += stack_lines
            types |= {line.name for line in stack_lines if line.kind in ("hosting", "ec2", "hyperpod")}
            types |= set(_ML_INSTANCE.findall(json.dumps(templates[stack]))) & _all_listed()
        reports[name] = BlueprintReport(name, stacks, checks, tuple(lines), tuple(sorted(types)))
    return reports


def gate_findings_of(assembly: Path) -> list[Finding]:
    """The gates' findings in a cloud assembly (acknowledged ones from its metadata), without the scanners."""
    templates = {
        p.name: p.name.removesuffix(".template.json") for p in sorted(assembly.glob("*.template.json"))
    }
    return gate_findings(assembly, templates)

"""``scan``: synthesize under the compliance gates, run cfn-lint and checkov, report every finding and
every acknowledgement with its reason; JSON, Markdown and SARIF 2.1.0 files for CI code scanning.

What is scanned: the examples of the named blueprints (all of them by default), a config file
(``--config``), or your own CDK app (``--app app.py``: a Python file that builds an ``aws_cdk.App``
and calls ``synth()``; it runs with the chosen gates put on its App).
"""

from __future__ import annotations

import json
import runpy
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from mlblueprints.apps.cli.output import console, print_json
from mlblueprints.constructs.compliance.scanners import Finding
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["GATES", "ScanReport", "register", "scan_assembly", "to_markdown", "to_sarif"]

# The gates by the names the command line takes, and the pack prefix of their rule IDs.
GATES = {
    "aws-solutions": "AwsSolutions",
    "hipaa": "HIPAA.Security",
    "nist": "NIST.800.53.R5",
    "pci": "PCI.DSS.321",
    "serverless": "Serverless",
    "control-tower": "cdk-validator-cfnguard",
}
ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
REPO = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def gate_plugins(app, names: list[str]) -> list:
    """The validation plugins of the named gates."""
    from cdk_nag import (
        AwsSolutionsChecks,
        HIPAASecurityChecks,
        NIST80053R5Checks,
        PCIDSS321Checks,
        ServerlessChecks,
    )

    from mlblueprints.constructs.compliance.control_tower import ControlTowerChecks

    makers = {
        "aws-solutions": lambda: AwsSolutionsChecks(app),
        "hipaa": lambda: HIPAASecurityChecks(app),
        "nist": lambda: NIST80053R5Checks(app),
        "pci": lambda: PCIDSS321Checks(app),
        "serverless": lambda: ServerlessChecks(app),
        "control-tower": ControlTowerChecks,
    }
    return [makers[name]() for name in names]


def parse_gates(text: str) -> list[str]:
    names = list(GATES) if text == "all" else [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in GATES]
    if unknown or not names:
        raise MlBlueprintsError(
            Problem(
                f"--gates {text!r}: use 'all' or some of {', '.join(GATES)}, comma-separated.",
                setting="gates",
            )
        )
    return names


def _context() -> dict:
    """cdk.json's feature flags (this directory's, else the catalog's), so synth matches `cdk synth`."""
    for candidate in (Path.cwd() / "cdk.json", REPO / "cdk.json"):
        if candidate.exists():
            return json.loads(candidate.read_text()).get("context", {})
    return {}


def _synth(app, outdir: Path) -> None:
    """Synthesize; a gate finding fails synth after writing validation-report.json, which is read later."""
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise


def synthesize_catalog(stacks: dict, gates: list[str], outdir: Path) -> Path:
    from aws_cdk import App, Validations

    from mlblueprints.apps.catalog import build_app

    app = App(context={**_context(), "stacks": json.dumps(stacks)}, outdir=str(outdir))
    build_app(app, gates=False)
    Validations.of(app).add_plugins(*gate_plugins(app, gates))
    _synth(app, outdir)
    return outdir


def synthesize_user_app(path: Path, gates: list[str], outdir: Path) -> Path:
    """Run the user's app file with the gates put on every App it creates."""
    import aws_cdk

    original = aws_cdk.App

    class GatedApp(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            kwargs["outdir"] = str(outdir)
            super().__init__(*args, **kwargs)
            aws_cdk.Validations.of(self).add_plugins(*gate_plugins(self, gates))

    aws_cdk.App = GatedApp
    sys.path.insert(0, str(path.parent))
    try:
        runpy.run_path(str(path), run_name="__main__")
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
    finally:
        aws_cdk.App = original
        sys.path.remove(str(path.parent))
    return outdir


@dataclass
class ScanReport:
    stacks: list[str]
    gates: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.acknowledged and f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.acknowledged and f.severity != "error"]

    @property
    def acknowledged(self) -> list[Finding]:
        return [f for f in self.findings if f.acknowledged]

    def to_dict(self) -> dict:
        return {
            "stacks": self.stacks,
            "gates": self.gates,
            "summary": {
                "failures": len(self.failures),
                "warnings": len(self.warnings),
                "acknowledged": len(self.acknowledged),
            },
            "findings": [asdict(f) for f in self.findings],
        }


def _pack_of(rule: str) -> str:
    for pack in GATES.values():
        if rule.startswith(pack):
            return pack
    return "other"


def gate_findings(assembly: Path, stack_of_template: dict[str, str]) -> list[Finding]:
    """Unacknowledged findings from validation-report.json, acknowledged ones from the assembly's metadata."""
    findings = []
    report_file = assembly / "validation-report.json"
    if report_file.exists():
        report = json.loads(report_file.read_text())
        for plugin in report.get("pluginReports", []):
            for violation in plugin.get("violations", []):
                rule = violation.get("ruleName", "")
                rule = rule if rule.startswith(plugin["pluginName"]) else f"{plugin['pluginName']}::{rule}"
                for construct in violation.get("violatingConstructs", []) or violation.get(
                    "violatingResources", []
                ):
                    template = Path(construct.get("templatePath", "")).name
                    stack = (
                        stack_of_template.get(template) or construct.get("constructPath", "").split("/")[0]
                    )
                    findings.append(
                        Finding("gate", rule, stack, construct.get("constructPath") or construct.get("resourceLogicalId", ""),
                                violation.get("description", ""))
                    )  # fmt: skip
    for metadata in sorted(assembly.glob("*.metadata.json")):
        stack = metadata.name.removesuffix(".metadata.json")
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry.get("type") != ACKNOWLEDGED:
                    continue
                for rule, reason in entry["data"].items():
                    findings.append(
                        Finding("gate", rule.removeprefix("Annotation::"), stack, path, "", acknowledged=True, reason=reason)
                    )  # fmt: skip
    return findings


def scan_assembly(assembly: Path, gates: list[str], *, progress: Progress | None = None) -> ScanReport:
    """Read the gates' results, then cfn-lint and checkov the assembly's templates."""
    from mlblueprints.constructs.compliance.scanners import run_cfn_lint, run_checkov

    templates = {
        p.name: p.name.removesuffix(".template.json") for p in sorted(assembly.glob("*.template.json"))
    }
    report = ScanReport(stacks=list(templates.values()), gates=gates)
    report.findings += [
        f for f in gate_findings(assembly, templates) if f.acknowledged or _wanted(f.rule, gates)
    ]
    task = progress.add_task("cfn-lint", total=len(templates)) if progress else None
    for name, stack in templates.items():
        report.findings += run_cfn_lint(stack, json.loads((assembly / name).read_text()))
        if progress:
            progress.advance(task)
    if progress:
        progress.add_task("checkov (offline)", total=None)
    with tempfile.TemporaryDirectory() as scratch:
        for name in templates:
            (Path(scratch) / name).write_text((assembly / name).read_text())
        report.findings += run_checkov(Path(scratch), templates)
    return report


def _wanted(rule: str, gates: list[str]) -> bool:
    return _pack_of(rule) in {GATES[g] for g in gates} or _pack_of(rule) == "other"


def to_markdown(report: ScanReport) -> str:
    lines = [
        "# mlblueprints scan",
        "",
        f"Stacks: {', '.join(report.stacks)}. Gates: {', '.join(report.gates)}, then cfn-lint and checkov.",
        "",
        f"**{len(report.failures)} failures**, {len(report.warnings)} warnings, {len(report.acknowledged)} "
        "acknowledged findings, each with its reason.",
        "",
    ]
    if report.failures or report.warnings:
        lines += [
            "## Findings",
            "",
            "| tool | rule | stack | resource | message |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in report.failures + report.warnings:
            lines.append(f"| {f.tool} | {f.rule} | {f.stack} | `{f.resource}` | {_cell(f.message)} |")
        lines.append("")
    lines += [
        "## Acknowledged",
        "",
        "| tool | rule | stack | resource | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in report.acknowledged:
        lines.append(f"| {f.tool} | {f.rule} | {f.stack} | `{f.resource}` | {_cell(f.reason)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_sarif(report: ScanReport) -> dict:
    """SARIF 2.1.0: one run per tool; acknowledged findings carry a suppression with their reason."""
    runs = []
    for tool in ("gate", "cfn-lint", "checkov"):
        findings = [f for f in report.findings if f.tool == tool]
        rules = sorted({f.rule for f in findings})
        results = []
        for f in findings:
            result = {
                "ruleId": f.rule,
                "level": "error" if f.severity == "error" else "warning",
                "message": {"text": f.message or f.reason or f.rule},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": f"{f.stack}.template.json"}},
                        "logicalLocations": [{"fullyQualifiedName": f"{f.stack}/{f.resource}".rstrip("/")}],
                    }
                ],
            }
            if f.acknowledged:
                result["suppressions"] = [{"kind": "inSource", "justification": f.reason or "accepted"}]
            results.append(result)
        name = {"gate": "mlblueprints compliance gates (cdk-nag, Control Tower)"}.get(tool, tool)
        runs.append(
            {
                "tool": {"driver": {"name": name, "informationUri": "https://github.com/cdklabs/cdk-nag",
                                    "rules": [{"id": r} for r in rules]}},
                "results": results,
            }
        )  # fmt: skip
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def scan(
    blueprints: Annotated[
        list[str] | None, typer.Argument(help="Blueprints whose examples to scan. Default: all.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="A stacks config file (as `cdk synth -c config=`).")
    ] = None,
    app_file: Annotated[
        Path | None, typer.Option("--app", help="Your CDK app: a Python file (or a directory with app.py).")
    ] = None,
    gates: Annotated[str, typer.Option(help=f"'all' or some of: {', '.join(GATES)}.")] = "all",
    output_dir: Annotated[Path, typer.Option(help="Where scan.json, scan.md and scan.sarif go.")] = Path(
        "scan-report"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Synthesize under the gates, run cfn-lint and checkov (offline), and report per stack.

    Exits 1 on any finding that is not acknowledged (cdk-nag, Control Tower, cfn-lint errors, checkov).
    """
    chosen = parse_gates(gates)
    output_dir.mkdir(parents=True, exist_ok=True)
    assembly = output_dir / "cdk.out"
    with Progress(console=console, transient=True, disable=as_json) as progress:
        progress.add_task("synthesizing under the gates", total=None)
        if app_file is not None:
            path = app_file / "app.py" if app_file.is_dir() else app_file
            if not path.exists():
                raise MlBlueprintsError(Problem(f"--app {app_file}: no such Python file.", setting="app"))
            synthesize_user_app(path.resolve(), chosen, assembly.resolve())
        else:
            synthesize_catalog(_stacks(blueprints, config), chosen, assembly)
        report = scan_assembly(assembly, chosen, progress=progress)
    (output_dir / "scan.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    (output_dir / "scan.md").write_text(to_markdown(report))
    (output_dir / "scan.sarif").write_text(json.dumps(to_sarif(report), indent=2) + "\n")
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report, output_dir)
    if report.failures:
        raise typer.Exit(1)


def _stacks(blueprints: list[str] | None, config: Path | None) -> dict:
    from mlblueprints.apps.cli.catalog_commands import blueprint_named
    from mlblueprints.blueprints.registry import BLUEPRINTS

    if config is not None:
        if not config.exists():
            raise MlBlueprintsError(Problem(f"--config {config}: no such file.", setting="config"))
        return json.loads(config.read_text())["stacks"]
    stacks: dict = {}
    for name in blueprints or list(BLUEPRINTS):
        stacks.update(json.loads(blueprint_named(name).example.read_text())["stacks"])
    return stacks


def _print(report: ScanReport, output_dir: Path) -> None:
    table = Table(title="mlblueprints scan")
    for column in ("stack", "tool", "failures", "warnings", "acknowledged"):
        table.add_column(column)
    for stack in report.stacks:
        for tool in ("gate", "cfn-lint", "checkov"):
            mine = [f for f in report.findings if f.stack == stack and f.tool == tool]
            counts = Counter("ack" if f.acknowledged else f.severity for f in mine)
            table.add_row(stack, tool, str(counts["error"]), str(counts["warning"]), str(counts["ack"]))
    console.print(table)
    for f in report.failures:
        console.print(f"[red]FAIL[/] {f.tool} {f.rule} {f.stack} {f.resource}: {f.message}", markup=True)
    console.print(
        f"{len(report.failures)} failures, {len(report.warnings)} warnings, {len(report.acknowledged)} acknowledged. "
        f"Reports: {output_dir / 'scan.md'}, {output_dir / 'scan.sarif'}, {output_dir / 'scan.json'}."
    )


def register(app: typer.Typer) -> None:
    app.command()(scan)

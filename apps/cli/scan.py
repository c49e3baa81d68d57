"""``scan``: synthesize under the compliance gates, run cfn-lint and checkov, report every finding and
every acknowledgement with its reason; JSON, Markdown and SARIF 2.1.0 files for CI code scanning.

What is scanned: the examples of the named blueprints (all of them by default), a config file
(``--config``), or your own CDK app (``--app app.py``: a Python file that builds an ``aws_cdk.App``
and calls ``synth()``; it runs with the chosen gates put on its App).
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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


def _synth(app, outdir: Path) -> None:
    """Synthesize; a gate finding fails synth after writing validation-report.json, which is read later."""
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise


def synthesize_catalog(
    stacks: dict, gates: list[str], outdir: Path, *, directory: Path | None = None
) -> Path:
    """Synthesize ``stacks`` under ``gates`` into ``outdir``, in ``directory`` (the examples' paths are the repo's)."""
    from aws_cdk import Validations

    from mlblueprints.apps.cli.catalog_commands import catalog_app, in_directory

    outdir = outdir.resolve()
    with in_directory(directory or Path.cwd()):
        app = catalog_app(stacks, outdir)
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
            raise _app_failed(path, error) from error
    except Exception as error:
        raise _app_failed(path, error) from error
    finally:
        aws_cdk.App = original
        sys.path.remove(str(path.parent))
    return outdir


def _app_failed(path: Path, error: BaseException) -> MlBlueprintsError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return MlBlueprintsError(
        Problem(
            f"--app {path}: the app failed before it synthesized: {type(error).__name__}: {first}",
            setting="app",
        )
    )


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
            "findings": [asdict(f) | {"source": _source(f)} for f in self.findings],
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
    # checkov is a process of its own: it runs on the second core while cfn-lint lints here.
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(max_workers=1) as pool:
        for name in templates:
            (Path(scratch) / name).write_text((assembly / name).read_text())
        checkov = pool.submit(run_checkov, Path(scratch), templates)
        if progress:
            progress.add_task("checkov (offline)", total=None)
        task = progress.add_task("cfn-lint", total=len(templates)) if progress else None
        for name, stack in templates.items():
            report.findings += run_cfn_lint(stack, json.loads((assembly / name).read_text()))
            if progress:
                progress.advance(task)
        report.findings += checkov.result()
    return report


def _wanted(rule: str, gates: list[str]) -> bool:
    return _pack_of(rule) in {GATES[g] for g in gates} or _pack_of(rule) == "other"


def _source(finding: Finding) -> str:
    """The tool, and for the gates the pack (AwsSolutions, HIPAA.Security, ..., cdk-validator-cfnguard)."""
    return f"gate: {_pack_of(finding.rule)}" if finding.tool == "gate" else finding.tool


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
    header = ["| tool / pack | rule | stack | resource | {} |", "| --- | --- | --- | --- | --- |"]
    if report.failures or report.warnings:
        lines += ["## Findings", "", header[0].format("message"), header[1]]
        for f in report.failures + report.warnings:
            lines.append(f"| {_source(f)} | {f.rule} | {f.stack} | `{f.resource}` | {_cell(f.message)} |")
        lines.append("")
    lines += ["## Acknowledged", "", header[0].format("reason"), header[1]]
    for f in report.acknowledged:
        lines.append(f"| {_source(f)} | {f.rule} | {f.stack} | `{f.resource}` | {_cell(f.reason)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _qualified(finding: Finding) -> str:
    resource = finding.resource.lstrip("/")
    return resource if resource.startswith(f"{finding.stack}/") else f"{finding.stack}/{resource}".rstrip("/")


def to_sarif(report: ScanReport, templates_dir: str = "cdk.out") -> dict:
    """SARIF 2.1.0: one run per tool; acknowledged findings carry a suppression with their reason.

    ``templates_dir`` is where the templates are, relative to the repository root (``%SRCROOT%``), so that
    code scanning can place each result."""
    runs = []
    for tool in ("gate", "cfn-lint", "checkov"):
        findings = [f for f in report.findings if f.tool == tool]
        rules = sorted({f.rule for f in findings})
        results = []
        for f in findings:
            result = {
                "ruleId": f.rule,
                "level": "error" if f.severity == "error" else "warning",
                "message": {"text": f.message or f"{f.rule} on {f.resource} (acknowledged)"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": f"{templates_dir}/{f.stack}.template.json",
                                "uriBaseId": "%SRCROOT%",
                            }
                        },
                        "logicalLocations": [{"fullyQualifiedName": _qualified(f)}],
                    }
                ],
            }
            if f.acknowledged:
                result["suppressions"] = [{"kind": "inSource", "justification": f.reason or "accepted"}]
            results.append(result)
        name = {"gate": "mlblueprints compliance gates (cdk-nag, Control Tower)"}.get(tool, tool)
        descriptions = {f.rule: f.message for f in findings if f.message}
        runs.append(
            {
                "tool": {"driver": {"name": name, "informationUri": "https://github.com/cdklabs/cdk-nag",
                                    "rules": [{"id": r, **({"shortDescription": {"text": descriptions[r][:1000]}}
                                                          if r in descriptions else {})} for r in rules]}},
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
    """Synthesize under the gates, run cfn-lint and checkov (offline), and report per stack and pack.

    Exits 1 on any finding that is not acknowledged (cdk-nag, Control Tower, cfn-lint errors, checkov).
    """
    from mlblueprints.apps.cli.catalog_commands import REPO as CATALOG
    from mlblueprints.apps.cli.catalog_commands import load_stacks

    chosen = parse_gates(gates)
    if sum(bool(x) for x in (blueprints, config, app_file)) > 1:
        raise MlBlueprintsError(
            Problem("scan one thing at a time: blueprint names, --config FILE or --app APP.", setting="scan")
        )
    stacks = load_stacks(config) if config is not None else None
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        assembly = output_dir / "cdk.out"
        # A previous scan's templates must not be read as this one's.
        shutil.rmtree(assembly, ignore_errors=True)
        assembly.mkdir()
    except OSError as error:
        raise MlBlueprintsError(
            Problem(
                f"--output-dir {output_dir}: cannot write there ({error.strerror}).", setting="output_dir"
            )
        ) from error
    with Progress(console=console, transient=True, disable=as_json) as progress:
        progress.add_task("synthesizing under the gates", total=None)
        if app_file is not None:
            path = app_file / "app.py" if app_file.is_dir() else app_file
            if not path.is_file():
                raise MlBlueprintsError(Problem(f"--app {app_file}: no such Python file.", setting="app"))
            synthesize_user_app(path.resolve(), chosen, assembly.resolve())
        elif stacks is not None:
            synthesize_catalog(stacks, chosen, assembly)
        else:
            synthesize_catalog(_stacks(blueprints), chosen, assembly, directory=CATALOG)
        report = scan_assembly(assembly, chosen, progress=progress)
    if not report.stacks:
        raise MlBlueprintsError(Problem("the app synthesized no stack: nothing was scanned.", setting="scan"))
    (output_dir / "scan.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    (output_dir / "scan.md").write_text(to_markdown(report))
    sarif = to_sarif(report, assembly.as_posix())
    (output_dir / "scan.sarif").write_text(json.dumps(sarif, indent=2) + "\n")
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report, output_dir)
    if report.failures:
        raise typer.Exit(1)


def _stacks(blueprints: list[str] | None) -> dict:
    from mlblueprints.apps.cli.catalog_commands import blueprint_named
    from mlblueprints.blueprints.registry import BLUEPRINTS

    stacks: dict = {}
    for name in blueprints or list(BLUEPRINTS):
        stacks.update(json.loads(blueprint_named(name).example.read_text())["stacks"])
    return stacks


def _print(report: ScanReport, output_dir: Path) -> None:
    table = Table(title="mlblueprints scan")
    for column in ("stack", "tool / pack", "failures", "warnings", "acknowledged"):
        table.add_column(column, no_wrap=column != "stack")
    for stack in report.stacks:
        mine = [f for f in report.findings if f.stack == stack]
        for source in sorted({_source(f) for f in mine} | {"cfn-lint", "checkov"}):
            counts = Counter("ack" if f.acknowledged else f.severity for f in mine if _source(f) == source)
            table.add_row(stack, source, str(counts["error"]), str(counts["warning"]), str(counts["ack"]))
    console.print(table)
    for f in report.failures:
        console.print(f"[red]FAIL[/] {_source(f)} {f.rule} {f.stack} {f.resource}: {f.message}", markup=True)
    console.print(
        f"{len(report.failures)} failures, {len(report.warnings)} warnings, {len(report.acknowledged)} acknowledged. "
        f"Reports: {output_dir / 'scan.md'}, {output_dir / 'scan.sarif'}, {output_dir / 'scan.json'}."
    )


def register(app: typer.Typer) -> None:
    app.command()(scan)

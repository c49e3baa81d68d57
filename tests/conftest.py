"""Shared fixtures. jsii starts Node.js on the first aws_cdk import, so pin it before anything else.

The default catalog is synthesized once per test session, by the real CDK CLI (``cdk synth``) with
all six compliance gates, offline and without AWS credentials; every blueprint test reads its
templates from that one cloud assembly. The path ``cdk deploy`` takes, stacks pinned to an account
and region, is synthesized once too (``pinned_assembly``): every registered blueprint's example
config, agnostic and pinned to several regions, one of them in ``aws-cn``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from mlblueprints.apps.runtime import pinned_node_path, use_pinned_node

use_pinned_node()

REPO = Path(__file__).resolve().parents[1]


def offline_env() -> dict[str, str]:
    """The environment of a machine with no AWS credentials and the venv's tools first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JSII_NODE"] = str(pinned_node_path())
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


@pytest.fixture(scope="session")
def catalog_assembly(tmp_path_factory) -> Path:
    """``cdk synth`` of the default catalog app; returns the cloud assembly directory."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    result = subprocess.run(
        [str(REPO / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--output", str(outdir)],
        cwd=REPO,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    return outdir


@pytest.fixture(scope="session")
def catalog_templates(catalog_assembly) -> dict[str, dict]:
    return templates_of(catalog_assembly)


def templates_of(assembly: Path) -> dict[str, dict]:
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(assembly.glob("*.template.json"))
    }


def cdk_json_context() -> dict:
    """The feature flags of cdk.json, so an in-process App synthesizes as ``cdk synth`` does."""
    return json.loads((REPO / "cdk.json").read_text())["context"]


ACCOUNT = "123456789012"
# What the docs-site blueprint serves in tests: the suite does not build the documentation site first.
STAND_IN_SITE = REPO / "tests" / "data" / "site"
# Where the contract synthesizes each blueprint's example: agnostic, and pinned as cdk deploy pins.
PINNED_REGIONS = ("us-east-1", "eu-west-1", "ap-northeast-1")
# China (aws-cn): Neuron images are not published there, so the GPU example stands for the partition.
CHINA_STACK = ("GpuEndpoint", "cn-north-1")


def pinned_regions(blueprint) -> tuple[str, ...]:
    """Where the contract pins ``blueprint``'s example: ``PINNED_REGIONS``, each one the blueprint does not
    offer replaced by one it does (of the same area where it can: ap-northeast-1 by an ap- region)."""
    offered = blueprint.settings.offered_regions()
    if offered is None:
        return PINNED_REGIONS
    chosen: list[str] = [region for region in PINNED_REGIONS if region in offered]
    for region in PINNED_REGIONS:
        if region in offered:
            continue
        spare = sorted(r for r in offered if r not in chosen and "-gov-" not in r)
        if not spare:
            break  # a blueprint offered in fewer regions (docs-site: us-east-1 alone) is pinned to those
        area = [r for r in spare if r.split("-")[0] == region.split("-")[0]]
        chosen.append((area or spare)[0])
    return tuple(chosen)


def contract_stacks() -> dict[str, dict]:
    """Every blueprint's example stacks, agnostic and pinned; the GPU example also in aws-cn."""
    from mlblueprints.apps.catalog import EXAMPLE_STACKS
    from mlblueprints.blueprints.registry import BLUEPRINTS

    stacks: dict[str, dict] = {}
    for blueprint in BLUEPRINTS.values():
        for name, entry in json.loads(blueprint.example.read_text())["stacks"].items():
            stacks[f"{name}-agnostic"] = entry
            for region in pinned_regions(blueprint):
                stacks[f"{name}-{region}"] = {**entry, "env": {"account": ACCOUNT, "region": region}}
    name, region = CHINA_STACK
    stacks[f"{name}-{region}"] = {**EXAMPLE_STACKS[name], "env": {"account": ACCOUNT, "region": region}}
    from mlblueprints.apps.catalog_report import serve_stand_in_site

    return serve_stand_in_site(stacks, STAND_IN_SITE)  # the suite does not build the documentation site


@pytest.fixture(scope="session")
def contract_assembly(tmp_path_factory) -> Path:
    """One in-process synth, all six gates, of :func:`contract_stacks` (a failing gate fails it)."""
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app

    outdir = tmp_path_factory.mktemp("contract.out")
    context = {**cdk_json_context(), "stacks": json.dumps(contract_stacks())}
    build_app(App(context=context, outdir=str(outdir))).synth()
    return outdir


@pytest.fixture(scope="session")
def contract_templates(contract_assembly) -> dict[str, dict]:
    return templates_of(contract_assembly)


@pytest.fixture(scope="session")
def scanned_templates(catalog_templates, contract_templates) -> dict[str, dict]:
    """What cfn-lint and checkov scan: the default catalog, and every blueprint's example as the
    contract synthesized it environment-agnostic (its resources are the same when pinned)."""
    agnostic = {name: t for name, t in contract_templates.items() if name.endswith("-agnostic")}
    return {**catalog_templates, **agnostic}


@pytest.fixture(scope="session")
def scanned_directory(scanned_templates, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("scanned")
    for name, template in scanned_templates.items():
        (directory / f"{name}.template.json").write_text(json.dumps(template))
    return directory


@pytest.fixture(scope="session")
def scanner_findings(scanned_templates, scanned_directory) -> list:
    """cfn-lint's and checkov's findings (acknowledged ones with their reasons) over the scanned templates,
    by the runners ``mlblueprints scan`` and the documentation site use."""
    from mlblueprints.constructs.compliance.scanners import run_cfn_lint, run_checkov

    findings = [f for stack, template in scanned_templates.items() for f in run_cfn_lint(stack, template)]
    return findings + run_checkov(
        scanned_directory, {f"{name}.template.json": name for name in scanned_templates}
    )


def one_resource(template: dict, type_: str) -> tuple[str, dict]:
    """The one resource of ``type_`` in ``template``, as (logical ID, resource); fails if there are none or several."""
    (found,) = [(k, r) for k, r in template["Resources"].items() if r["Type"] == type_]
    return found


_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def mask_template(value):
    """Mask what changes without a change in behaviour: asset hashes and CDK version metadata."""
    if isinstance(value, dict):
        return {k: mask_template(v) for k, v in value.items() if k != "CDKMetadata"}
    if isinstance(value, list):
        return [mask_template(v) for v in value]
    if isinstance(value, str):
        return _ASSET_HASH.sub("<asset-hash>", value)
    return value


@pytest.fixture
def snapshot_json(snapshot):
    from syrupy.extensions.json import JSONSnapshotExtension

    return snapshot.use_extension(JSONSnapshotExtension)

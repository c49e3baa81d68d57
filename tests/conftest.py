"""Shared fixtures. jsii starts Node.js on the first aws_cdk import, so pin it before anything else.

The default catalog is synthesized once per test session, by the real CDK CLI (``cdk synth``) with
all five compliance packs, offline and without AWS credentials; every blueprint test reads its
templates from that one cloud assembly.
"""

from __future__ import annotations

import json
import os
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
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(catalog_assembly.glob("*.template.json"))
    }

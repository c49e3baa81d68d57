"""The install itself: the package layout, the pinned Node.js and the pinned CDK CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mlblueprints.apps.runtime import pinned_node_path

REPO = Path(__file__).resolve().parents[1]


def test_constructs_library_is_not_shadowed_from_repo_root():
    # `python -c` puts the current directory first on sys.path: the repo's constructs/ folder must
    # not win over the constructs library, which is why it has no __init__.py.
    out = subprocess.run(
        [sys.executable, "-c", "import constructs; print(constructs.__file__)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "JSII_NODE": str(pinned_node_path())},
    ).stdout.strip()
    assert "site-packages" in out, out
    assert not out.startswith(str(REPO / "constructs")), out


def test_catalog_folders_have_no_root_init():
    assert not (REPO / "constructs" / "__init__.py").exists()
    assert not (REPO / "blueprints" / "__init__.py").exists()


def test_package_maps_constructs_and_blueprints_folders():
    import mlblueprints.blueprints
    import mlblueprints.constructs

    assert Path(next(iter(mlblueprints.constructs.__path__))).resolve() == REPO / "constructs"
    assert Path(next(iter(mlblueprints.blueprints.__path__))).resolve() == REPO / "blueprints"


def test_jsii_runs_on_supported_node():
    version = subprocess.run(
        [os.environ["JSII_NODE"], "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    assert major in (22, 24), f"jsii would run on Node {version}; need 22 or 24"


def test_cdk_cli_is_pinned_to_the_2_1148_line():
    lock = json.loads((REPO / "package-lock.json").read_text())
    cli_version = lock["packages"]["node_modules/aws-cdk"]["version"]
    assert cli_version.startswith("2.1148."), cli_version


def test_cdk_json_fails_synth_on_schema_violations_and_stays_offline():
    cdk_json = json.loads((REPO / "cdk.json").read_text())
    assert cdk_json["context"]["@aws-cdk/core:validateAgainstDefaultRules"] is True
    assert cdk_json["notices"] is False


def test_ruff_lint_and_format_are_clean():
    ruff = REPO / ".venv" / "bin" / "ruff"
    subprocess.run([str(ruff), "check", "--quiet", "."], cwd=REPO, check=True)
    subprocess.run([str(ruff), "format", "--check", "--quiet", "."], cwd=REPO, check=True)


def test_benchmark_worker_uses_the_current_catalog_api():
    # The benchmark runs its worker as a separate script; keep it in step with the app it measures
    # without synthesizing the catalog a second time here.
    import ast
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "synth_benchmark", REPO / "benchmarks" / "synth_benchmark.py"
    )
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    imported = {
        (node.module, alias.name)
        for node in ast.walk(ast.parse(benchmark.WORKER))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    import mlblueprints.apps.catalog as catalog

    for module, name in imported:
        if module == "mlblueprints.apps.catalog":
            assert hasattr(catalog, name), name
    assert ("mlblueprints.apps.catalog", "build_app") in imported

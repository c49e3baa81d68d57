"""The install itself: the package layout, the pinned Node.js and the pinned CDK CLI."""

import json
import os
import shutil
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


def test_a_built_wheel_installs_into_a_fresh_virtualenv_and_synthesizes(tmp_path):
    # `pip install .` (not editable): the bundled model, example and schemas must be package data.
    # Built from a copy: setuptools leaves build/ and *.egg-info/ beside the sources it builds.
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "node_modules", "cdk.out", "build", "*.egg-info", "__pycache__"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mlblueprints-*.whl")
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for shipped in (
        "mlblueprints/blueprints/realtime_endpoint/smoke_test_model/code/inference.py",
        "mlblueprints/blueprints/realtime_endpoint/example.json",
        "mlblueprints/blueprints/schemas/config.schema.json",
    ):
        assert (site / shipped).is_file(), shipped
    # The dependencies (aws-cdk-lib, jsii, ...) come from the project's virtualenv, after the fresh
    # one's own site-packages, so the catalog itself is the installed wheel, not the editable checkout.
    import aws_cdk

    (site / "project-dependencies.pth").write_text(str(Path(aws_cdk.__file__).parents[1]) + "\n")
    script = (
        "import sys, mlblueprints.blueprints.registry as r; assert r.__file__.startswith(sys.argv[1]), r.__file__\n"
        "from mlblueprints.apps.runtime import use_pinned_node; use_pinned_node()\n"
        "from aws_cdk import App\n"
        "from mlblueprints.apps.catalog import build_app\n"
        "assembly = build_app(App(outdir=sys.argv[2])).synth()\n"
        "print(len(assembly.stacks))\n"
    )
    result = subprocess.run(
        [str(python), "-c", script, str(site), str(tmp_path / "out")],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "3"


def _without_metadata(template: dict) -> dict:
    template = json.loads(json.dumps(template))
    template["Resources"].pop("CDKMetadata", None)
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if not template.get("Conditions"):
        template.pop("Conditions", None)
    for resource in template["Resources"].values():
        resource.pop("Metadata", None)
    return template


def test_hand_written_l1_reference_is_the_same_app_as_the_catalog(catalog_templates, tmp_path):
    # make bench compares the catalog with this reference; it only measures the constructs' cost while
    # both synthesize the same templates under the same gates.
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "l1_hand_written", REPO / "benchmarks" / "l1_hand_written.py"
    )
    reference = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = reference  # its dataclasses resolve annotations through the module
    spec.loader.exec_module(reference)
    from aws_cdk import App

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    assembly = reference.build(App(context=context, outdir=str(tmp_path))).synth()
    for name, template in catalog_templates.items():
        assert _without_metadata(assembly.get_stack_by_name(name).template) == _without_metadata(template), (
            name
        )

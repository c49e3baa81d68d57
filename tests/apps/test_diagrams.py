"""The README's architecture pictures: one per blueprint, drawn from its example, never stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlblueprints.apps.cli.diagram import COLUMNS, DIAGRAM_DIR, architecture_graph, draw
from mlblueprints.blueprints.registry import BLUEPRINTS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_diagram_matches_the_blueprint_and_is_in_the_readme(name, contract_templates):
    first = next(iter(json.loads(BLUEPRINTS[name].example.read_text())["stacks"]))
    current = architecture_graph(contract_templates[f"{first}-agnostic"])
    stored = json.loads((DIAGRAM_DIR / f"{name}.json").read_text())
    assert stored == current, f"docs/diagrams/{name} is stale: run `make diagrams`"
    assert (DIAGRAM_DIR / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (DIAGRAM_DIR / f"{name}.svg").read_text()
    assert f"](docs/diagrams/{name}.svg)" in (REPO / "README.md").read_text()


def test_graph_groups_types_hides_plumbing_and_follows_references():
    template = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
            "A": {"Type": "AWS::S3::Bucket", "Properties": {"KeyArn": {"Fn::GetAtt": ["Key", "Arn"]}}},
            "B": {"Type": "AWS::S3::Bucket", "Properties": {}, "DependsOn": "Key"},
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "A"}}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Env": {"Ref": "A"}}},
        }
    }
    graph = architecture_graph(template)
    assert [(n["label"], n["count"], n["column"]) for n in graph["nodes"]] == [
        ("KMS Key", 1, "Security"), ("S3 Bucket", 2, "Data"), ("Lambda Function", 1, "Compute"),
    ]  # fmt: skip
    assert graph["edges"] == [
        ["AWS::Lambda::Function", "AWS::S3::Bucket"],
        ["AWS::S3::Bucket", "AWS::KMS::Key"],
    ]
    assert {n["column"] for n in graph["nodes"]} <= set(COLUMNS)


def test_drawing_is_deterministic(tmp_path):
    graph = json.loads((DIAGRAM_DIR / "serverless-endpoint.json").read_text())
    for run in ("a", "b"):
        draw(graph, "serverless-endpoint", tmp_path / f"{run}.png", tmp_path / f"{run}.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_without_matplotlib_diagram_says_how_to_install_it(tmp_path, monkeypatch):
    import builtins

    from mlblueprints.constructs.errors import MlBlueprintsError

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(MlBlueprintsError, match=r"mlblueprints\[diagram\]"):
        draw({"nodes": [], "edges": []}, "x", tmp_path / "x.png", tmp_path / "x.svg")

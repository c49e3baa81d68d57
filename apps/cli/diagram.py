"""``diagram BLUEPRINT``: an architecture picture drawn from the blueprint's synthesized template.

The template's resources are grouped by type (eight interface endpoints are one box, "VPC endpoint
x8"), placed in columns by role (network, security, data, compute, operations), and joined where one
refers to another (``Ref``, ``Fn::GetAtt``, ``DependsOn``). Plumbing (policies, routes, associations,
permissions) is left out. The graph is written next to the pictures (``<name>.json``): a test compares
it with the current template, so a picture never silently describes an older blueprint.
Drawn with matplotlib (PNG and SVG; no Graphviz binary needed), deterministically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mlblueprints.apps.cli.output import console

__all__ = ["COLUMNS", "architecture_graph", "draw", "register"]

DIAGRAM_DIR = Path(__file__).resolve().parents[2] / "docs" / "diagrams"
COLUMNS = ("Network", "Security", "Data", "Compute", "Operations")
_ROLE_BY_SERVICE = {
    "EC2": "Network", "ElasticLoadBalancingV2": "Network", "CloudFront": "Network", "WAFv2": "Security",
    "KMS": "Security", "IAM": "Security", "Cognito": "Security", "SecretsManager": "Security",
    "S3": "Data", "ECR": "Data", "SQS": "Data", "DynamoDB": "Data", "FSx": "Data",
    "SageMaker": "Compute", "Lambda": "Compute", "StepFunctions": "Compute", "AutoScaling": "Compute",
    "CodeBuild": "Compute", "Batch": "Compute", "Transcribe": "Compute", "Comprehend": "Compute",
    "Lex": "Compute", "Kendra": "Compute", "Textract": "Compute", "CloudTrail": "Operations",
    "CloudWatch": "Operations", "Logs": "Operations", "SNS": "Operations", "Events": "Operations",
    "ApplicationAutoScaling": "Operations", "SSM": "Operations",
}  # fmt: skip
_COMPUTE_EC2 = {"AWS::EC2::LaunchTemplate", "AWS::EC2::PlacementGroup", "AWS::EC2::Instance"}
# Plumbing: real, but a reader of the picture learns nothing from it.
_HIDDEN = {
    "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::Lambda::Permission", "AWS::EC2::Route",
    "AWS::EC2::RouteTable", "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::SecurityGroupEgress", "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy",
    "AWS::KMS::Alias", "AWS::CDK::Metadata", "AWS::EC2::VPCGatewayAttachment", "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::AutoScaling::ScalingPolicy", "AWS::AutoScaling::ScheduledAction", "AWS::Cognito::UserPoolGroup",
    "AWS::SNS::Subscription", "AWS::EC2::FlowLog", "AWS::Lambda::LayerVersion",
}  # fmt: skip


def _role(resource_type: str) -> str:
    if resource_type in _COMPUTE_EC2:
        return "Compute"
    if resource_type.startswith("Custom::"):
        return "Operations"
    service = resource_type.split("::")[1] if resource_type.count("::") == 2 else ""
    return _ROLE_BY_SERVICE.get(service, "Operations")


def _label(resource_type: str) -> str:
    if resource_type.startswith("Custom::"):
        return resource_type.removeprefix("Custom::")
    service, kind = resource_type.split("::")[1:]
    return f"{service} {kind}"


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def architecture_graph(template: dict) -> dict:
    """Boxes (a resource type, how many, its column) and the arrows between them, sorted (deterministic)."""
    resources = template.get("Resources", {})
    group_of = {}
    counts: dict[str, int] = {}
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind in _HIDDEN:
            continue
        group_of[logical_id] = kind
        counts[kind] = counts.get(kind, 0) + 1
    edges = set()
    for logical_id, resource in resources.items():
        source = group_of.get(logical_id)
        if source is None:
            continue
        depends = resource.get("DependsOn", [])
        targets = _references(resource.get("Properties", {})) | set(
            [depends] if isinstance(depends, str) else depends
        )
        for target in targets:
            destination = group_of.get(target)
            if destination and destination != source:
                edges.add((source, destination))
    nodes = [
        {"type": kind, "label": _label(kind), "count": count, "column": _role(kind)}
        for kind, count in sorted(counts.items(), key=lambda item: (COLUMNS.index(_role(item[0])), item[0]))
    ]
    return {"nodes": nodes, "edges": sorted([list(edge) for edge in edges])}


def draw(graph: dict, title: str, png: Path, svg: Path) -> None:
    """Columns of boxes with arrows, as PNG and SVG (fixed metadata and ids: the same graph, the same files)."""
    try:
        import matplotlib
    except ImportError as error:
        from mlblueprints.constructs.errors import MlBlueprintsError, Problem

        raise MlBlueprintsError(
            Problem("diagram draws with matplotlib: pip install 'mlblueprints[diagram]' (make install has it).",
                    setting="diagram")
        ) from error  # fmt: skip

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "mlblueprints"
    matplotlib.rcParams["svg.fonttype"] = "none"
    columns: dict[str, list[dict]] = {name: [] for name in COLUMNS}
    for node in graph["nodes"]:
        columns[node["column"]].append(node)
    rows = max(1, *(len(nodes) for nodes in columns.values()))
    figure, axes = plt.subplots(figsize=(15, 1.0 + 0.62 * rows), dpi=100)
    axes.set_xlim(0, len(COLUMNS))
    axes.set_ylim(rows + 0.3, -0.9)
    axes.axis("off")
    axes.set_title(title, fontsize=13, loc="left")
    position = {}
    colors = {
        "Network": "#dbeafe",
        "Security": "#fde2e2",
        "Data": "#e0f2e9",
        "Compute": "#fff1d6",
        "Operations": "#ece4f7",
    }
    for index, name in enumerate(COLUMNS):
        axes.text(index + 0.5, -0.45, name, ha="center", va="center", fontsize=11, fontweight="bold")
        for row, node in enumerate(columns[name]):
            x, y = index + 0.5, row + 0.3
            position[node["type"]] = (x, y)
            label = node["label"] + (f"  x{node['count']}" if node["count"] > 1 else "")
            axes.text(x, y, label, ha="center", va="center", fontsize=8.5,
                      bbox={"boxstyle": "round,pad=0.35", "facecolor": colors[name], "edgecolor": "#555555"})  # fmt: skip
    for source, destination in graph["edges"]:
        (x1, y1), (x2, y2) = position[source], position[destination]
        axes.annotate("", xy=(x2, y2), xytext=(x1, y1),
                      arrowprops={"arrowstyle": "->", "color": "#8a8a8a", "lw": 0.6, "alpha": 0.55,
                                  "shrinkA": 14, "shrinkB": 14, "connectionstyle": "arc3,rad=0.08"})  # fmt: skip
    figure.tight_layout()
    figure.savefig(png, metadata={"Software": None})
    figure.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(figure)


def blueprint_template(name: str) -> tuple[str, dict]:
    """The first stack of the blueprint's example, synthesized environment-agnostic without gates."""
    from mlblueprints.apps.cli.catalog_commands import REPO, blueprint_named, synthesize_templates

    blueprint = blueprint_named(name)
    stack, config = next(iter(json.loads(blueprint.example.read_text())["stacks"].items()))
    return blueprint.name, synthesize_templates({stack: config}, REPO)[stack]


def write_diagram(name: str, template: dict, output_dir: Path) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    graph = architecture_graph(template)
    paths = [output_dir / f"{name}.png", output_dir / f"{name}.svg", output_dir / f"{name}.json"]
    draw(graph, f"{name} (from its example's template)", paths[0], paths[1])
    paths[2].write_text(json.dumps(graph, indent=1) + "\n")
    return paths


def diagram(
    blueprints: Annotated[list[str] | None, typer.Argument(help="Blueprints to draw. Default: all.")] = None,
    output_dir: Annotated[
        Path,
        typer.Option(help="Where <name>.png, .svg and .json go (make diagrams: the README's docs/diagrams)."),
    ] = Path("diagrams"),
) -> None:
    """Draw each blueprint's architecture from its synthesized example (PNG and SVG)."""
    from mlblueprints.blueprints.registry import BLUEPRINTS

    for requested in blueprints or list(BLUEPRINTS):
        name, template = blueprint_template(requested)
        paths = write_diagram(name, template, output_dir)
        console.print(f"{name}: {', '.join(str(p) for p in paths)}")


def register(app: typer.Typer) -> None:
    app.command()(diagram)

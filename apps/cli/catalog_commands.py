"""``list``, ``show`` and ``init``: what the catalog offers, each blueprint's settings, a config to start from."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mlblueprints.apps.cli.output import console, print_json
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = [
    "REPO",
    "blueprint_named",
    "catalog_app",
    "cdk_context",
    "in_directory",
    "load_stacks",
    "register",
    "synthesize_templates",
]

REPO = Path(__file__).resolve().parents[2]
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


@contextlib.contextmanager
def in_directory(path: Path):
    """Run in ``path``: the catalog's examples name their files relative to the repository."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def cdk_context() -> dict:
    """cdk.json's feature flags (this directory's, else the catalog's), so synth matches `cdk synth`."""
    for candidate in (Path.cwd() / "cdk.json", REPO / "cdk.json"):
        if candidate.exists():
            return json.loads(candidate.read_text()).get("context", {})
    return {}


def catalog_app(stacks: dict, outdir: Path | str):
    """The catalog app building ``stacks``, without gates (the caller adds those it wants)."""
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app

    app = App(context={**cdk_context(), "stacks": json.dumps(stacks)}, outdir=str(outdir))
    return build_app(app, gates=False)


def synthesize_templates(stacks: dict, directory: Path) -> dict[str, dict]:
    """Each stack's template, synthesized without gates in ``directory`` (where the config's paths start)."""
    import tempfile

    with tempfile.TemporaryDirectory() as outdir, in_directory(directory):
        assembly = catalog_app(stacks, outdir).synth()
        return {stack.stack_name: stack.template for stack in assembly.stacks}


def load_stacks(path: Path) -> dict:
    """The ``stacks`` of a config file, or one clean error saying what is wrong with the file."""
    if not path.is_file():
        raise MlBlueprintsError(Problem(f"{path}: no such config file.", setting="config", value=str(path)))
    try:
        document = json.loads(path.read_text())
    except ValueError as error:
        raise MlBlueprintsError(
            Problem(f"{path} is not JSON: {error}.", setting="config", value=str(path))
        ) from error
    if not isinstance(document, dict) or not isinstance(document.get("stacks"), dict):
        raise MlBlueprintsError(
            Problem(f'{path}: a config is an object with "stacks": {{"StackName": {{"blueprint": ...}}}}; '
                    "`mlblueprints init BLUEPRINT` writes one.", setting="config", value=str(path))
        )  # fmt: skip
    return document["stacks"]


def blueprint_named(name: str):
    """The registry's blueprint ``name`` (case-insensitive), or an error with the closest names."""
    from mlblueprints.blueprints.registry import BLUEPRINTS, retired_blueprint

    found = BLUEPRINTS.get(name.lower().replace("_", "-"))
    if found is None and retired_blueprint(name):
        raise MlBlueprintsError(Problem(retired_blueprint(name), setting="blueprint", value=name))
    if found is None:
        close = difflib.get_close_matches(name.lower(), list(BLUEPRINTS), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise MlBlueprintsError(
            Problem(
                f"{name!r} is not a blueprint of the catalog.{hint} `mlblueprints list` shows them all.",
                setting="blueprint",
                value=name,
            )
        )
    return found


def _settings_rows(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", []))
    rows = []
    for name, spec in schema.get("properties", {}).items():
        if name == "blueprint":
            continue
        kinds = [
            part.get("type") for part in spec.get("anyOf", [spec]) if part.get("type") not in (None, "null")
        ]
        rows.append(
            {
                "setting": name,
                "type": " | ".join(dict.fromkeys(k for k in kinds if k)) or "object",
                "required": name in required,
                "default": spec.get("default", spec.get("x-default")),
                "description": spec.get("description", ""),
            }
        )
    return rows


def _first_sentence(text: str, limit: int = 110) -> str:
    """A summary shortened for the table (its first sentence, at most ``limit`` characters): `show` gives it all."""
    sentence = text.split(". ")[0]
    if len(sentence) <= limit:
        return sentence.rstrip(".")
    return sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " ..."


def list_blueprints(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The catalog's blueprints, with what each deploys."""
    from mlblueprints.blueprints.registry import BLUEPRINTS

    rows = [
        {"name": b.name, "summary": b.summary, "example": str(b.example), "schema": str(b.schema_path)}
        for b in BLUEPRINTS.values()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="mlblueprints catalog", show_lines=True)
    table.add_column("blueprint", style="bold", no_wrap=True)
    table.add_column("what it deploys")
    for row in rows:
        table.add_row(row["name"], _first_sentence(row["summary"]))
    console.print(table)
    console.print(
        "`mlblueprints show NAME` tells what it deploys and lists its settings; `mlblueprints init NAME` writes a config."
    )


def show(
    blueprint: Annotated[str, typer.Argument(help="A blueprint name, e.g. realtime-endpoint.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the settings' JSON Schema.")] = False,
) -> None:
    """A blueprint's settings (type, default, what each does) and its example config."""
    found = blueprint_named(blueprint)
    schema = json.loads(found.schema_path.read_text())
    example = json.loads(found.example.read_text())
    if as_json:
        print_json({"name": found.name, "schema": schema, "example": example})
        return
    console.print(f"[bold]{found.name}[/]: {found.summary}\n")
    table = Table(title="settings", show_lines=False)
    for column in ("setting", "type", "required", "default", "description"):
        table.add_column(column, overflow="fold", no_wrap=column in ("setting", "type"))
    for row in _settings_rows(schema):
        default = "" if row["default"] is None else json.dumps(row["default"])
        table.add_row(
            row["setting"], row["type"], "yes" if row["required"] else "", default, row["description"]
        )
    console.print(table)
    console.print(f"\nExample ({found.example}):")
    console.print_json(json.dumps(example))


def init(
    blueprint: Annotated[str, typer.Argument(help="A blueprint name, e.g. realtime-endpoint.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The config file to write.")] = Path(
        "stacks.json"
    ),
    stack: Annotated[str | None, typer.Option(help="The stack's name. Default: the example's.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a config file for BLUEPRINT from its example, with "$schema" so editors complete and check it.

    Deploy it with `cdk deploy -c config=FILE`.
    """
    from mlblueprints.blueprints.registry import SCHEMA_DIR

    found = blueprint_named(blueprint)
    if stack is not None and not _STACK_NAME.match(stack):
        raise MlBlueprintsError(
            Problem(f"--stack {stack!r}: a CloudFormation stack name is a letter, then letters, digits and hyphens "
                    "(128 at most).", setting="stack", value=stack)
        )  # fmt: skip
    if output.exists() and not force:
        raise MlBlueprintsError(
            Problem(
                f"{output} exists; pass --force to overwrite it, or --output another file.", setting="output"
            )
        )
    example = json.loads(found.example.read_text())
    name, config = next(iter(example["stacks"].items()))
    schema = SCHEMA_DIR / "config.schema.json"
    relative = os.path.relpath(schema, output.resolve().parent)
    document = {"$schema": Path(relative).as_posix(), "stacks": {stack or name: config}}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    console.print(f"Wrote {output}: stack {stack or name!r} of blueprint {found.name}.")
    console.print(
        f"From the catalog's directory: `cdk synth -c config={output.resolve()}` checks it, "
        f"`cdk deploy -c config={output.resolve()}` deploys it; `mlblueprints cost {output}` prices it."
    )


def register(app: typer.Typer) -> None:
    app.command("list")(list_blueprints)
    app.command()(show)
    app.command()(init)

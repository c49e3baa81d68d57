"""JSON Schemas and README settings tables, generated from the blueprints' settings models.

    .venv/bin/python -m mlblueprints.blueprints.docs          # rewrite schemas/ and the README tables

A config file that names ``blueprints/schemas/config.schema.json`` in ``"$schema"`` is completed and
checked by editors; the README's tables sit between ``<!-- settings:NAME -->`` markers. Tests fail
when either drifts from the settings.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

from mlblueprints.blueprints.registry import BLUEPRINTS, SCHEMA_DIR, Blueprint  # noqa: E402
from mlblueprints.blueprints.settings_base import ACCOUNT_ID, STACK_NAME  # noqa: E402
from mlblueprints.constructs._private.service_models import known_regions  # noqa: E402

__all__ = ["config_schema", "markdown_text", "render_readme", "settings_table", "stack_schema"]

CONFIG_SCHEMA = SCHEMA_DIR / "config.schema.json"
_ENV_SCHEMA = {
    "type": "object",
    "description": "Pin the stack to an account and/or region. Default: the CLI's (CDK_DEFAULT_ACCOUNT/REGION).",
    "properties": {
        "account": {"type": "string", "pattern": ACCOUNT_ID.pattern},
        "region": {"type": "string", "enum": sorted(known_regions())},
    },
    "additionalProperties": False,
}


def stack_schema(blueprint: Blueprint) -> dict[str, Any]:
    """The JSON Schema of one stack entry of ``blueprint``: its settings plus ``blueprint`` and ``env``."""
    schema = blueprint.settings.model_json_schema()
    schema["title"] = f"{blueprint.name} stack"
    schema["description"] = blueprint.summary
    schema["properties"] = {
        "blueprint": {"const": blueprint.name, "description": "The blueprint this stack deploys."},
        "env": _ENV_SCHEMA,
        **schema["properties"],
    }
    schema["required"] = ["blueprint", *schema.get("required", [])]
    return schema


def config_schema() -> dict[str, Any]:
    """The schema of a whole config file: ``{"$schema": ..., "stacks": {NAME: <a stack entry>}}``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlblueprints catalog configuration",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "stacks": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": STACK_NAME.pattern},
                "additionalProperties": {
                    "oneOf": [{"$ref": blueprint.schema_path.name} for blueprint in BLUEPRINTS.values()]
                },
            },
        },
        "required": ["stacks"],
        "additionalProperties": False,
    }


def markdown_text(text: str) -> str:
    """Plain text as one Markdown table cell: a placeholder such as ``<bucket>`` stays visible (GitHub and
    Python-Markdown would take it for an HTML tag and drop it), and ``|`` cannot end the cell."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "/")
        .replace("\n", " ")
    )


def settings_table(blueprint: Blueprint) -> str:
    """The README table of ``blueprint``'s settings: name, default, meaning."""
    rows = ["| Setting | Default | Meaning |", "| --- | --- | --- |"]
    rows.append(f'| `blueprint` | required | `"{blueprint.name}"` |')
    rows.append(
        '| `env` | the CLI\'s account and region | `{"account": "...", "region": "..."}` pins the stack. |'
    )
    for name, field in blueprint.settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if field.is_required():
            default = "required"
        elif "x-default" in extra:
            default = str(extra["x-default"])
        elif "default" in extra:
            default = f"`{json.dumps(extra['default'])}`"
        elif field.default is None:
            default = "—"
        else:
            default = f"`{json.dumps(field.default)}`"
        rows.append(f"| `{name}` | {default} | {markdown_text(field.description or '')} |")
    return "\n".join(rows)


def blueprints_table() -> str:
    """The README table of the registry: name, stack class, what it deploys."""
    rows = ["| Blueprint | Stack class | What it deploys |", "| --- | --- | --- |"]
    for blueprint in BLUEPRINTS.values():
        stack = blueprint.stack_path
        rows.append(f"| `{blueprint.name}` | `{stack}` | {markdown_text(blueprint.summary)} |")
    return "\n".join(rows)


def _replace_block(text: str, marker: str, content: str) -> str:
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    block = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not block.search(text):
        raise ValueError(f"README.md has no {start} ... {end} block")
    replacement = f"{start}\n{content}\n{end}"
    return block.sub(lambda _, replacement=replacement: replacement, text)


def render_readme(text: str) -> str:
    """``text`` with the registry table and every ``<!-- settings:NAME -->`` table regenerated."""
    text = _replace_block(text, "blueprints", blueprints_table())
    for blueprint in BLUEPRINTS.values():
        text = _replace_block(text, f"settings:{blueprint.name}", settings_table(blueprint))
    return text


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def main(readme: Path) -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for blueprint in BLUEPRINTS.values():
        blueprint.schema_path.write_text(_dump(stack_schema(blueprint)))
    CONFIG_SCHEMA.write_text(_dump(config_schema()))
    readme.write_text(render_readme(readme.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")))

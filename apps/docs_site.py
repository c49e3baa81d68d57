"""The documentation site, generated from the catalog itself at build time (mkdocs-material).

    .venv/bin/python -m mlblueprints.apps.docs_site build     # or: make docs  ->  site/
    .venv/bin/python -m mlblueprints.apps.docs_site sources   # only the Markdown, under build/docs/

Nothing on the site is copied by hand: the gallery and each blueprint's page come from the registry (its
summary and example config), the settings models (the settings table and the JSON Schema) and the diagrams
``mlblueprints diagram`` draws (docs/diagrams). A blueprint added to the registry gets its page and card with
no other edit. The output folder is static HTML, ready for GitHub Pages or S3 behind CloudFront.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

from mlblueprints.blueprints.docs import settings_table, stack_schema  # noqa: E402
from mlblueprints.blueprints.registry import BLUEPRINTS, Blueprint  # noqa: E402

__all__ = ["SITE", "SOURCES", "blueprint_page", "build", "gallery_page", "write_sources"]

REPO = Path(__file__).resolve().parents[1]
DIAGRAMS = REPO / "docs" / "diagrams"
SOURCES = REPO / "build" / "docs"
SITE = REPO / "site"


def _purpose(blueprint: Blueprint) -> str:
    """The summary's first clause: the card's one line."""
    summary = blueprint.summary.strip()
    for stop in (": ", "; ", ". "):
        if stop in summary[:160]:
            summary = summary.split(stop, 1)[0]
            break
    return summary.rstrip(".")


def gallery_page() -> str:
    """The gallery: a card per blueprint with its diagram, its purpose and a link to its page."""
    lines = [
        "# Blueprint gallery",
        "",
        "Every blueprint of the catalog, generated from its registry entry. Each deploys with "
        "`cdk deploy -c config=<file>` and passes the six compliance gates.",
        "",
        '<div class="grid cards" markdown>',
        "",
    ]
    for name, blueprint in BLUEPRINTS.items():
        lines += [
            f"-   [![{name}](blueprints/{name}.svg)](blueprints/{name}.md)",
            "",
            f"    **[{name}](blueprints/{name}.md)**",
            "",
            f"    {_purpose(blueprint)}.",
            "",
        ]
    lines += ["</div>", ""]
    return "\n".join(lines)


def blueprint_page(blueprint: Blueprint) -> str:
    """One blueprint: its diagram, what it deploys, how to deploy it, its settings and their JSON Schema."""
    example = json.loads(blueprint.example.read_text())
    example.pop("$schema", None)
    schema = json.dumps(stack_schema(blueprint), indent=2)
    relative_example = blueprint.example.relative_to(REPO / "blueprints")
    return "\n".join(
        [
            f"# {blueprint.name}",
            "",
            f"![{blueprint.name}]({blueprint.name}.svg)",
            "",
            blueprint.summary,
            "",
            "## Deploy",
            "",
            "```bash",
            "make synth            # once: installs everything, synthesizes the default catalog",
            f"cdk deploy --all -c config=blueprints/{relative_example}",
            "```",
            "",
            f"Stack class: `{blueprint.stack_path}`. Copy the example, change what you need, and deploy your copy.",
            "",
            "## Example config",
            "",
            "```json",
            json.dumps(example, indent=2),
            "```",
            "",
            "## Settings",
            "",
            settings_table(blueprint),
            "",
            "## JSON Schema",
            "",
            '??? note "The stack entry\'s JSON Schema (editors complete and check configs with it)"',
            "",
            "    ```json",
            *(f"    {line}" for line in schema.splitlines()),
            "    ```",
            "",
        ]
    )


def mkdocs_config(sources: Path, site: Path) -> dict:
    return {
        "site_name": "mlblueprints",
        "site_description": "AWS CDK blueprints for accelerated machine learning",
        "docs_dir": str(sources),
        "site_dir": str(site),
        "use_directory_urls": False,
        "theme": {"name": "material", "features": ["navigation.sections", "content.code.copy"]},
        "markdown_extensions": [
            "admonition",
            "pymdownx.details",
            "pymdownx.superfences",
            "attr_list",
            "md_in_html",
            "tables",
        ],
        "nav": [
            {"Gallery": "index.md"},
            {"Blueprints": [{name: f"blueprints/{name}.md"} for name in BLUEPRINTS]},
        ],
    }


def write_sources(sources: Path = SOURCES) -> list[Path]:
    """The site's Markdown and pictures under ``sources`` (emptied first); returns the pages written."""
    if sources.exists():
        shutil.rmtree(sources)
    (sources / "blueprints").mkdir(parents=True)
    pages = [sources / "index.md"]
    pages[0].write_text(gallery_page())
    for name, blueprint in BLUEPRINTS.items():
        page = sources / "blueprints" / f"{name}.md"
        page.write_text(blueprint_page(blueprint))
        shutil.copy(DIAGRAMS / f"{name}.svg", sources / "blueprints" / f"{name}.svg")
        pages.append(page)
    return pages


def build(sources: Path = SOURCES, site: Path = SITE) -> Path:
    """Write the sources and build the static site into ``site`` (strict: a broken link fails the build)."""
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    write_sources(sources)
    config_file = sources.parent / "mkdocs.yml"
    config_file.write_text(json.dumps(mkdocs_config(sources, site), indent=2))  # JSON is YAML
    mkdocs_build(load_config(str(config_file), strict=True))
    return site


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "build"
    if command == "sources":
        print(f"{len(write_sources())} pages under {SOURCES}")
    elif command == "build":
        print(f"site built in {build()}")
    else:
        print("usage: python -m mlblueprints.apps.docs_site [build|sources]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

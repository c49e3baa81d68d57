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

__all__ = ["SITE", "SOURCES", "blueprint_page", "browse", "build", "gallery_page", "write_sources"]

REPO = Path(__file__).resolve().parents[1]
DIAGRAMS = REPO / "docs" / "diagrams"
SOURCES = REPO / "build" / "docs"
SITE = REPO / "site"


def _purpose(blueprint: Blueprint, limit: int = 170) -> str:
    """The summary's first clause (outside parentheses), cut at a word near ``limit``: the card's one line."""
    summary, depth = blueprint.summary.strip(), 0
    for index, char in enumerate(summary):
        depth += (char == "(") - (char == ")")
        if depth == 0 and summary[index : index + 2] in (": ", "; ", ". "):
            summary = summary[:index]
            break
    summary = summary.rstrip(".")
    if len(summary) > limit:
        summary = summary[:limit].rsplit(" ", 1)[0].rstrip(",;:(") + " …"
    return summary


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
            f"    {_purpose(blueprint)}",
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


def construct_modules() -> list[str]:
    """The public construct modules: every module of constructs/, without private packages and handlers."""
    modules = []
    for path in sorted((REPO / "constructs").rglob("*.py")):
        parts = path.relative_to(REPO / "constructs").with_suffix("").parts
        if path.name == "__init__.py" or any(part.startswith("_") for part in parts):
            continue
        modules.append("mlblueprints.constructs." + ".".join(parts))
    return modules


def api_page(module: str) -> str:
    """A construct module's API from its docstrings (mkdocstrings reads the source; nothing is imported)."""
    return f"# `{module.removeprefix('mlblueprints.constructs.')}`\n\n::: {module}\n"


def _package_tree(tree: Path) -> Path:
    """``mlblueprints`` as mkdocstrings can read it: the repo installs it through setuptools' package-dir, with no
    ``__init__.py`` at the roots of constructs/ and blueprints/, so a tree of links stands in for the package."""
    if tree.exists():
        shutil.rmtree(tree)
    for top in ("constructs", "blueprints", "apps"):
        (tree / "mlblueprints" / top).mkdir(parents=True)
        (tree / "mlblueprints" / top / "__init__.py").write_text("")
        for entry in (REPO / top).iterdir():
            if entry.name not in ("__init__.py", "__pycache__"):
                (tree / "mlblueprints" / top / entry.name).symlink_to(entry)
    (tree / "mlblueprints" / "__init__.py").write_text("")
    return tree


def mkdocs_config(sources: Path, site: Path) -> dict:
    return {
        "site_name": "mlblueprints",
        "site_description": "AWS CDK blueprints for accelerated machine learning",
        "docs_dir": str(sources),
        "site_dir": str(site),
        "use_directory_urls": False,
        # No web fonts: the site loads nothing from outside itself (an offline build, a private bucket).
        "theme": {
            "name": "material",
            "font": False,
            "features": ["navigation.sections", "content.code.copy"],
        },
        "markdown_extensions": [
            "admonition",
            "pymdownx.details",
            "pymdownx.superfences",
            "attr_list",
            "md_in_html",
            "tables",
        ],
        "plugins": [
            "search",
            {"mkdocstrings": {"handlers": {"python": {
                "paths": [str(_package_tree(sources.parent / "api-package"))],
                "options": {"docstring_style": "sphinx", "members_order": "source", "filters": ["!^_"],
                            "show_source": False, "show_root_heading": False, "heading_level": 2,
                            "show_if_no_docstring": False},
            }}}},
        ],
        "nav": [
            {"Gallery": "index.md"},
            {"Blueprints": [{name: f"blueprints/{name}.md"} for name in BLUEPRINTS]},
            {"Constructs": [{m.removeprefix("mlblueprints.constructs."): f"api/{m}.md"} for m in construct_modules()]},
        ],
    }  # fmt: skip


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
    (sources / "api").mkdir()
    for module in construct_modules():
        page = sources / "api" / f"{module}.md"
        page.write_text(api_page(module))
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


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (make install puts it there)
# Headless, and nothing reaching out on its own: on a closed network Chromium's background connections fail.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
SCREENSHOT = REPO / "docs" / "gallery.png"


def browse(site: Path = SITE, *, screenshot: Path | None = None) -> list[str]:
    """Open every page of ``site`` in headless Chromium over HTTP on localhost; the console errors, page errors
    and failed requests found (none expected), with a screenshot of the gallery when asked."""
    import functools
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    class _Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    problems: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            where = {"page": ""}
            page.on("console", lambda m: problems.append(f"{where['page']}: console {m.type}: {m.text}")
                    if m.type == "error" else None)  # fmt: skip
            page.on("pageerror", lambda e: problems.append(f"{where['page']}: {e}"))
            # A request the next navigation cuts short (ERR_ABORTED) is not a failure; a missing file answers 404.
            page.on("requestfailed", lambda r: problems.append(f"{where['page']}: {r.url} failed ({r.failure})")
                    if "ERR_ABORTED" not in (r.failure or "") else None)  # fmt: skip
            page.on("response", lambda r: problems.append(f"{where['page']}: {r.url} answered {r.status}")
                    if r.status >= 400 else None)  # fmt: skip
            for html in sorted(site.rglob("*.html")):
                if html.name == "404.html":
                    continue
                where["page"] = str(html.relative_to(site))
                # The gallery waits for the network to settle (its screenshot, the search index); the other pages
                # for their load event, which follows every image and script they name.
                gallery = where["page"] == "index.html"
                page.goto(f"{base}/{where['page']}", wait_until="networkidle" if gallery else "load")
                if where["page"] == "index.html" and screenshot is not None:
                    page.screenshot(path=str(screenshot))
            browser.close()
    finally:
        server.shutdown()
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "build"
    if command == "sources":
        print(f"{len(write_sources())} pages under {SOURCES}")
    elif command == "build":
        print(f"site built in {build()}")
        problems = browse(SITE, screenshot=SCREENSHOT)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print(f"every page opened in Chromium without an error; the gallery's screenshot is {SCREENSHOT}")
    else:
        print("usage: python -m mlblueprints.apps.docs_site [build|sources]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

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
import re
import shutil
import sys
from pathlib import Path

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

from mlblueprints.apps.catalog_report import (  # noqa: E402
    CHECKS,
    BlueprintReport,
    blueprint_reports,
    measure,
)
from mlblueprints.apps.cli.cost import HOURS_PER_MONTH, unpriced_hourly  # noqa: E402
from mlblueprints.blueprints.docs import markdown_text, settings_table, stack_schema  # noqa: E402
from mlblueprints.blueprints.registry import BLUEPRINTS, Blueprint  # noqa: E402

__all__ = [
    "SITE",
    "SOURCES",
    "blueprint_page",
    "browse",
    "build",
    "compliance_section",
    "cost_section",
    "gallery_page",
    "instance_explorer_page",
    "write_sources",
]

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


def _dollars(amount: float) -> str:
    return f"${amount:,.2f}" if amount < 100 else f"${amount:,.0f}"


def _card_cost(report: BlueprintReport) -> str:
    """What the example costs to leave running: by the hour with instances, else by the month, and what is billed
    by the hour without a bundled price (HyperPod instances, a Kendra index), named rather than left out."""
    stacks = "its example" if len(report.stacks) == 1 else f"its {len(report.stacks)} example stacks together"
    if any(line.kind in ("hosting", "ec2") for line in report.cost):
        cost = f"**{_dollars(report.hourly_default)}/hour** for {stacks}"
    else:
        cost = f"**{_dollars(report.monthly_default)}/month** fixed for {stacks}"
    unpriced = unpriced_hourly(list(report.cost))
    if unpriced:
        items = "; ".join(f"{line.count_default:g} x {line.name} ({_cell(line.item)})" for line in unpriced)
        return f"{cost}, plus by the hour, with no price bundled: {items}"
    return cost if "/hour" in cost else f"{cost}, the rest by use"


def _card_facts(report: BlueprintReport) -> str:
    """The card's line of facts: what it costs, its instance types, the checks it passes."""
    cost = _card_cost(report)
    types = ", ".join(f"`{name}`" for name in report.instance_types) or "no instances of its own"
    checks = (
        f"passes every gate ({len(report.acknowledged)} exceptions, each with its reason)"
        if not report.failures
        else f"**{len(report.failures)} unacknowledged findings**"
    )
    return f"{cost} · {types} · {checks}"


def gallery_page(reports: dict[str, BlueprintReport]) -> str:
    """The gallery: a card per blueprint with its diagram, its purpose, its cost and instance types, its checks."""
    lines = [
        "# Blueprint gallery",
        "",
        "Every blueprint of the catalog, generated from its registry entry and measured when this site was built: "
        "its example config synthesized under the six compliance gates, scanned by cfn-lint and checkov, and "
        "priced on demand in us-east-1. Each deploys with `cdk deploy -c config=<file>`.",
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
            f"    {_cell(_purpose(blueprint))}",
            "",
            f"    {_card_facts(reports[name])}",
            "",
        ]
    lines += ["</div>", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Prose as Markdown that shows as written: ``<prefix>`` is not a tag, ``s3:Get*, s3:List*`` not emphasis."""
    for char in ("\\", "`", "*", "_"):
        text = text.replace(char, "\\" + char)
    return markdown_text(text).strip()


def _code(text: str) -> str:
    """Text as an inline code span, shown literally (a rule ID such as ``IAM5[Resource::<Bucket.Arn>/*]``)."""
    return "`" + text.replace("`", "'").replace("|", "/").replace("\n", " ").strip() + "`"


def _resource(finding) -> str:
    """A finding's resource as its construct path inside the stack (or the template's logical ID)."""
    path = finding.resource.strip("/").removeprefix(f"{finding.stack}/").removesuffix("/Resource")
    return path.removeprefix("Resources/") or finding.stack


def compliance_section(report: BlueprintReport) -> str:
    """Every check, what it found, and every acknowledgement with its reason, one collapsible table per check."""
    stacks = ", ".join(f"`{stack}`" for stack in report.stacks)
    lines = [
        "## Compliance",
        "",
        f"The example ({stacks}) synthesized under the six gates, then scanned by cfn-lint and checkov, when this "
        f"site was built: **{len(report.failures)} unacknowledged findings**, {len(report.acknowledged)} "
        "acknowledged, each next to its resource in the code with the reason below. `mlblueprints scan` "
        "reproduces this report for your own config.",
        "",
    ]
    extra = {check: check for check in report.findings if check not in CHECKS}  # never leave a finding out
    for check, title in {**CHECKS, **extra}.items():
        found = report.findings.get(check, [])
        failed = [f for f in found if not f.acknowledged]
        kind = "failure" if failed else "success"
        summary = f"{len(failed)} findings" if failed else "passes"
        lines += [f'??? {kind} "{title}: {summary}, {len(found) - len(failed)} acknowledged"', ""]
        if not found:
            lines += ["    Nothing to acknowledge.", ""]
            continue
        several = len(report.stacks) > 1  # a stack column only when there is more than one stack
        lines += ["    | rule " + ("| stack " if several else "") + "| resource | reason |",
                  "    | --- " + ("| --- " if several else "") + "| --- | --- |"]  # fmt: skip
        for f in sorted(found, key=lambda f: (f.acknowledged, f.rule, f.stack, f.resource)):
            reason = _cell(f.reason) if f.acknowledged else f"**not acknowledged:** {_cell(f.message)}"
            rule = f.rule.removeprefix(f"{check}-").removeprefix(f"{check}::")
            stack = f"| {f.stack} " if several else ""
            lines.append(f"    | {_code(rule)} {stack}| {_code(_resource(f))} | {reason} |")
        lines.append("")
    return "\n".join(lines)


def cost_section(report: BlueprintReport) -> str:
    """What the example costs by the hour and month at its defaults and at its maximum capacity, item by item."""
    from mlblueprints.apps.cli.prices import snapshot_date

    lines = [
        "## Cost",
        "",
        f"On demand in us-east-1, from the bundled price snapshot (as of {snapshot_date()}): "
        f"**{_dollars(report.hourly_default)}/hour** ({_dollars(report.monthly_default)}/month) at the example's "
        f"defaults, {_dollars(report.hourly_max * HOURS_PER_MONTH)}/month at its maximum capacity. Usage-priced items "
        "(requests, jobs, data) are listed without a price. `mlblueprints cost` prices your own config, "
        "with the Price List API when you have credentials.",
        "",
    ]
    several = len(report.stacks) > 1  # a stack column only when there is more than one stack
    lines += [
        ("| stack " if several else "") + "| item | type | count | max | $/hour | $/month |",
        ("| --- " if several else "") + "| --- | --- | --- | --- | --- | --- |",
    ]
    for line in report.cost:
        mark = "" if line.confirmed else "\\*"
        unpriced = "usage" if line.kind == "usage" else "no price bundled"
        # Small fixed items (an alarm is $0.10 a month) would round to 0.000 an hour.
        hourly = unpriced if line.hourly_default is None else f"{line.hourly_default:.4g}{mark}"
        monthly = "" if line.hourly_default is None else f"{line.hourly_default * HOURS_PER_MONTH:,.2f}{mark}"
        lines.append(
            (f"| {line.stack} " if several else "") + f"| {_cell(line.item)} | {_cell(line.name)} | "
            f"{line.count_default:g} | {line.count_max:g} | {hourly} | {monthly} |"
        )
    if not report.cost:
        lines.append(("| " if several else "") + "| nothing billed by the hour | | | | | |")
    if any(not line.confirmed for line in report.cost):
        lines += ["", "\\* a snapshot price whose source is not confirmed."]
    if unpriced_hourly(list(report.cost)):
        lines += [
            "",
            "Items marked *no price bundled* are billed for the time they exist and are not in the totals "
            "above: price them for your region before you deploy.",
        ]
    lines.append("")
    return "\n".join(lines)


def _deploy_command(stacks: list[str], config: str) -> str:
    """``cdk deploy`` of the example: its one stack, or the first of several (``--all`` would start every one)."""
    if len(stacks) == 1:
        return f"cdk deploy --all -c config={config}"
    return f"cdk deploy {stacks[0]} -c config={config}   # one of its {len(stacks)} stacks; --all deploys every one"


def blueprint_page(blueprint: Blueprint, report: BlueprintReport) -> str:
    """One blueprint: its diagram, what it deploys, how to deploy it, its settings and their JSON Schema, what it
    costs and its compliance report."""
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
            _cell(blueprint.summary),
            "",
            "## Deploy",
            "",
            "```bash",
            "make synth            # once: installs everything, synthesizes the default catalog",
            _deploy_command(list(example["stacks"]), f"blueprints/{relative_example}"),
            "```",
            "",
            f"Stack class: `{blueprint.stack_path}`. `mlblueprints init {blueprint.name} --output my-stacks.json` "
            "writes a config from the example's first stack, its `$schema` pointing at the catalog's so editors check "
            "it; change what you need and deploy it with `cdk deploy -c config=my-stacks.json`.",
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
            cost_section(report),
            compliance_section(report),
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


ACCELERATED = ("NVIDIA GPU", "AWS Inferentia", "AWS Trainium", "Intel Gaudi")
# The model sizes the explorer compares accelerators on (bf16; inference with a 4,096-token context, batch 1).
MODEL_SIZES = ("1B", "3B", "8B", "13B", "34B", "70B", "180B", "405B")


def _regions_cell(regions: list[str]) -> str:
    if not regions:
        return "none in cfn-lint's data"
    return f"<details><summary>{len(regions)}</summary>{', '.join(regions)}</details>"


def _fit_table(training: bool, book) -> list[str]:
    """The cheapest instance type of each accelerator that holds each model size, and its hourly price."""
    from mlblueprints.apps.cli import sizing

    # Inferentia serves only: SageMaker lists no inf type for training.
    kinds = ("NVIDIA GPU", "AWS Trainium") if training else ("NVIDIA GPU", "AWS Inferentia", "AWS Trainium")
    lines = [
        "| model (bf16) | memory needed | " + " | ".join(kinds) + " |",
        "| --- | --- |" + " --- |" * len(kinds),
    ]
    for size in MODEL_SIZES:
        need = sizing.memory_need(sizing.parse_parameters(size), training=training)
        cells = []
        for kind in kinds:
            fits = [
                fit for fit in sizing.fitting_instances(need, training=training) if fit.accelerator == kind
            ]
            priced, unpriced = [], []
            for fit in fits:
                price = book.instance("training" if training else "hosting", fit.name)
                if price is None:  # the smallest first: least memory, fewest accelerators, smallest size
                    unpriced.append((fit.total_gib, fit.count, _size_order(fit.name), fit.name))
                else:
                    priced.append((price.hourly, fit.name, price.confirmed, fit.total_gib))
            parts = []
            if priced:
                hourly, name, confirmed, memory = min(priced)
                parts.append(f"`{name}` ${hourly:,.2f}{'' if confirmed else chr(92) + '*'}")
            # A type without a bundled price may cost less: the smallest that holds the model, when it is smaller.
            if unpriced and (not priced or min(unpriced)[0] < memory):
                parts.append(f"no price bundled: `{min(unpriced)[-1]}`")
            cells.append("; ".join(parts) or "more than one instance")
        lines.append(f"| {size} | {need.total_gib:,.0f} GiB | " + " | ".join(cells) + " |")
    return lines


def instance_explorer_page() -> str:
    """Every accelerated SageMaker instance type: accelerators, memory, storage, regions and price; then the
    cheapest GPU, Inferentia and Trainium type for each model size."""
    from mlblueprints.apps.cli.instance import describe_instance
    from mlblueprints.apps.cli.prices import PriceBook, snapshot_date
    from mlblueprints.constructs.compute import instance_types as types

    book = PriceBook("us-east-1")
    names = sorted(
        {*types.instance_types_for(types.SageMakerUse.REALTIME_INFERENCE),
         *types.instance_types_for(types.SageMakerUse.TRAINING)},
        key=lambda n: (n.split(".")[1], _size_order(n)),
    )  # fmt: skip
    lines = [
        "# Instance types",
        "",
        "Every accelerated instance type SageMaker accepts for endpoints or training, as the installed botocore "
        "lists them; accelerators and memory from the catalog's accelerator facts; storage from its storage facts "
        "(local NVMe takes no KMS key; an EBS volume takes the stack's key); the regions that host it from "
        f"cfn-lint's per-region data; on-demand prices in us-east-1 from the bundled snapshot (as of {snapshot_date()}; "
        "\\* marks a price whose source is not confirmed). `mlblueprints instance TYPE` and `mlblueprints fit` "
        "answer the same questions on the command line.",
        "",
        "## Which accelerator, per model size",
        "",
        "The cheapest type of each accelerator whose accelerators together hold the model (`mlblueprints fit`'s "
        "estimate: weights, KV cache or optimizer states, and 20% on top).",
        "",
        "### Serving (a 4,096-token context, batch 1)",
        "",
        *_fit_table(False, book),
        "",
        "### Training (mixed-precision Adam, 16 bytes per parameter)",
        "",
        *_fit_table(True, book),
        "",
        "## Every accelerated type",
        "",
        "| instance type | accelerators | accelerator memory | storage | uses | hosting $/h | training $/h | "
        "hosted in regions |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in names:
        facts = types._describe(name, listed=True)
        if facts.accelerator.value not in ACCELERATED:
            continue
        described = describe_instance(name)
        count = f"{facts.accelerator_count} x " if facts.accelerator_count else ""
        each = f", {facts.accelerator_memory_gib} GiB each" if facts.accelerator_memory_gib else ""
        accelerator = f"{count}{facts.accelerator_name}{each}" if facts.accelerator_name else (
            f"{facts.accelerator.value}, not documented for this size")  # fmt: skip
        total = (
            f"{facts.total_accelerator_memory_gib} GiB"
            if facts.total_accelerator_memory_gib
            else "not documented"
        )
        storage = {True: "local NVMe", False: "EBS volume", None: "not known"}[facts.has_instance_storage]
        uses = ", ".join(u for u in described["sagemaker_uses"] if u in ("realtime-inference", "training"))
        prices = []
        for kind in ("hosting", "training"):
            price = book.instance(kind, name)
            prices.append(
                "-" if price is None else f"{price.hourly:,.2f}{'' if price.confirmed else chr(92) + '*'}"
            )
        lines.append(
            f"| `{name}` | {accelerator} | {total} | {storage} | {uses} | "
            f"{prices[0]} | {prices[1]} | {_regions_cell(described['regions']['sagemaker_hosting'])} |"
        )
    lines.append("")
    return "\n".join(lines)


def _size_order(name: str) -> tuple[int, str]:
    size = name.split(".")[2]
    number = size.removesuffix("xlarge")
    multiple = 1 if number == "" else int(number) if number.isdigit() else 0
    return (multiple if size.endswith("xlarge") else 0, size)


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


_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|data|mod|exc|obj):`~?([^`]+)`")


def _griffe_extension_base() -> type:
    try:
        import griffe
    except ImportError:  # the docs extras are not installed: the site cannot be built anyway
        return object
    return griffe.Extension


class SphinxRoles(_griffe_extension_base()):
    """The docstrings' Sphinx roles (:class:`SecureBucket`, :meth:`bind`) as code spans: mkdocstrings renders
    docstrings as Markdown, where a role would show as written."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(r"`\1`", obj.docstring.value)


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
        "extra_css": ["stylesheets/extra.css"],
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
                            "extensions": ["mlblueprints.apps.docs_site:SphinxRoles"],
                            "show_source": False, "show_root_heading": False, "heading_level": 2,
                            "show_if_no_docstring": False},
            }}}},
        ],
        "nav": [
            {"Gallery": "index.md"},
            {"Instance types": "instance-types.md"},
            {"Blueprints": [{name: f"blueprints/{name}.md"} for name in BLUEPRINTS]},
            {"Constructs": [{m.removeprefix("mlblueprints.constructs."): f"api/{m}.md"} for m in construct_modules()]},
        ],
    }  # fmt: skip


# Wide tables (costs, compliance reports, the instance types) get the room of a wide screen, and names in code
# (instance types, rule IDs, construct paths) are not broken mid-word.
EXTRA_CSS = """\
.md-grid { max-width: 90rem; }
.md-typeset td code { white-space: nowrap; }
"""


def write_sources(sources: Path = SOURCES, reports: dict[str, BlueprintReport] | None = None) -> list[Path]:
    """The site's Markdown and pictures under ``sources`` (emptied first); returns the pages written.

    ``reports``: each blueprint's measured report; by default measured now (the examples synthesized under the
    gates and scanned under ``sources``' parent)."""
    if reports is None:
        reports = blueprint_reports(*measure(sources.parent / "assembly"))
    if sources.exists():
        shutil.rmtree(sources)
    (sources / "blueprints").mkdir(parents=True)
    pages = [sources / "index.md", sources / "instance-types.md"]
    pages[0].write_text(gallery_page(reports))
    pages[1].write_text(instance_explorer_page())
    for name, blueprint in BLUEPRINTS.items():
        page = sources / "blueprints" / f"{name}.md"
        page.write_text(blueprint_page(blueprint, reports[name]))
        shutil.copy(DIAGRAMS / f"{name}.svg", sources / "blueprints" / f"{name}.svg")
        pages.append(page)
    (sources / "stylesheets").mkdir()
    (sources / "stylesheets" / "extra.css").write_text(EXTRA_CSS)
    (sources / "api").mkdir()
    for module in construct_modules():
        page = sources / "api" / f"{module}.md"
        page.write_text(api_page(module))
        pages.append(page)
    return pages


def build(
    sources: Path = SOURCES, site: Path = SITE, *, reports: dict[str, BlueprintReport] | None = None
) -> Path:
    """Write the sources and build the static site into ``site`` (strict: a broken link fails the build)."""
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    write_sources(sources, reports)
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

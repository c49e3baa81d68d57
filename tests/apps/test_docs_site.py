"""The documentation site: a page and a card per blueprint (cost, instance types, compliance report), an API
page per construct module and the instance-type explorer, generated from the catalog; a strict build with no
broken link or image, opened in Chromium.

The reports the pages show are built from the session's contract assembly (every example synthesized under the
six gates) and the cfn-lint and checkov findings the compliance tests share, so the suite synthesizes and scans
once; ``measure``, which ``make docs`` runs instead, is tested on one blueprint's example."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mlblueprints.apps.catalog_report import (
    CHECKS,
    BlueprintReport,
    blueprint_reports,
    check_of,
    gate_findings_of,
    measure,
)
from mlblueprints.apps.cli import sizing
from mlblueprints.apps.cli.fit import fit_rows
from mlblueprints.apps.cli.prices import PriceBook
from mlblueprints.apps.docs_site import (
    _size_order,
    blueprint_page,
    browse,
    build,
    compliance_section,
    construct_modules,
    cost_section,
    gallery_page,
    instance_explorer_page,
    write_sources,
)
from mlblueprints.blueprints.docs import settings_table
from mlblueprints.blueprints.registry import BLUEPRINTS
from mlblueprints.constructs.compliance.scanners import Finding
from mlblueprints.constructs.compute import instance_types as types


@pytest.fixture(scope="module")
def reports(contract_assembly, contract_templates, scanner_findings) -> dict[str, BlueprintReport]:
    """Each blueprint's report from its example as the contract synthesized it environment-agnostic."""
    templates = {
        n.removesuffix("-agnostic"): t for n, t in contract_templates.items() if n.endswith("-agnostic")
    }
    findings = [
        replace(f, stack=f.stack.removesuffix("-agnostic"))
        for f in gate_findings_of(contract_assembly) + scanner_findings
        if f.stack.endswith("-agnostic")
    ]
    return blueprint_reports(templates, findings)


def test_every_blueprint_has_a_page_and_a_card(tmp_path, reports):
    pages = write_sources(tmp_path / "docs", reports)
    names = {p.stem for p in pages if p.parent.name == "blueprints"}
    assert names == set(BLUEPRINTS)
    gallery = gallery_page(reports)
    for name in BLUEPRINTS:
        assert f"](blueprints/{name}.md)" in gallery and f"(blueprints/{name}.svg)" in gallery
        assert (
            (tmp_path / "docs" / "blueprints" / f"{name}.svg")
            .read_text()
            .lstrip()
            .startswith(("<?xml", "<svg"))
        )


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_a_page_is_generated_from_the_blueprints_settings_and_example(name, reports):
    blueprint = BLUEPRINTS[name]
    page = blueprint_page(blueprint, reports[name])
    assert settings_table(blueprint) in page
    example = json.loads(blueprint.example.read_text())
    for stack in example["stacks"]:
        assert f'"{stack}"' in page
    assert '"$schema"' not in page.split("## JSON Schema")[0]
    assert f"`mlblueprints init {name} --output my-stacks.json`" in page
    assert '"additionalProperties": false' in page.split("## JSON Schema")[1]


def test_every_construct_module_has_an_api_page_from_its_docstrings(site):
    modules = construct_modules()
    assert "mlblueprints.constructs.polly.speech" in modules and not any("_private" in m for m in modules)
    for module in modules:
        assert (site / "api" / f"{module}.html").exists(), module
    page = (site / "api" / "mlblueprints.constructs.polly.speech.html").read_text()
    assert 'id="mlblueprints.constructs.polly.speech.Speech"' in page
    assert "Synthesize speech for each text or SSML file" in page
    # Sphinx roles in the docstrings (:class:`SecureBucket`) read as code, not as markup.
    for api in (site / "api").glob("*.html"):
        assert not re.search(r":(func|class|meth|attr|data):`", api.read_text()), api.name
    assert (
        "<code>SecureBucket</code>"
        in (site / "api" / "mlblueprints.constructs.hosting.private_site.html").read_text()
    )


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.targets.append(value)


@pytest.fixture(scope="module")
def site(tmp_path_factory, reports) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    return build(folder / "docs", folder / "site", reports=reports)


def test_the_site_builds_strictly_with_no_broken_link_or_image(site):
    pages = sorted(site.rglob("*.html"))
    assert (site / "index.html").exists()
    for name in BLUEPRINTS:
        assert (site / "blueprints" / f"{name}.html").exists(), name
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text())
        for target in parser.targets:
            url = urlparse(target)
            if url.scheme or url.netloc or target.startswith(("#", "mailto:", "data:")):
                continue
            if url.path.startswith(
                "/"
            ):  # 404.html is served from any depth, so it links from the site's root
                path = site / url.path.lstrip("/")
            else:
                path = (page.parent / url.path).resolve() if url.path else page
            assert path.exists() or (path / "index.html").exists(), f"{page.relative_to(site)}: {target}"
    gallery = (site / "index.html").read_text()
    assert len(re.findall(r"<img[^>]+blueprints/[a-z0-9-]+\.svg", gallery)) == len(BLUEPRINTS)


def test_every_page_opens_in_chromium_without_an_error(site, tmp_path):
    screenshot = tmp_path / "gallery.png"
    assert browse(site, screenshot=screenshot) == []
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def test_the_browser_check_reports_what_a_page_cannot_load(site, tmp_path):
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    (broken / "blueprints" / "speech.svg").unlink()
    for page in (broken / "blueprints").glob("*.html"):
        if page.name != "speech.html":  # one page is enough to show it
            page.unlink()
    problems = browse(broken)
    assert any("speech.svg answered 404" in p for p in problems), problems


# --- compliance report -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_the_compliance_report_shows_every_check_and_every_acknowledgement_with_its_reason(name, reports):
    report = reports[name]
    section = compliance_section(report)
    for title in CHECKS.values():
        assert f'"{title}: passes, ' in section, title
    # Every check that acknowledges something on this example says so: the gates, cfn-lint and checkov alike.
    assert {check for check, found in report.findings.items() if found} >= {"AwsSolutions", "checkov"}
    assert all(finding.reason for finding in report.acknowledged)
    assert (
        f"**{len(report.failures)} unacknowledged findings**, {len(report.acknowledged)} acknowledged"
        in section
    )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def _visible_text(page: Path) -> str:
    parser = _Text()
    parser.feed(page.read_text())
    return " ".join("".join(parser.parts).split())


def test_every_acknowledgement_shows_on_the_built_page_as_written(site, reports):
    """Reasons and rule IDs hold placeholders (<prefix>, <Bucket.Arn>) and wildcards (s3:Get*): the reader sees
    them as written, not swallowed as HTML tags or emphasis."""
    for name, report in reports.items():
        text = _visible_text(site / "blueprints" / f"{name}.html")
        for finding in report.acknowledged:
            assert " ".join(finding.reason.replace("|", "/").split()) in text, (name, finding.reason)
            check = check_of(finding)
            assert finding.rule.removeprefix(f"{check}-").removeprefix(f"{check}::") in text, (
                name,
                finding.rule,
            )
    assert "faces/<person>/" in _visible_text(site / "blueprints" / "image-video-analysis.html")
    assert "s3://<bucket>/<key>.tar.gz" in _visible_text(site / "blueprints" / "realtime-endpoint.html")


def test_every_acknowledgement_of_an_example_stack_reaches_its_blueprints_report(reports, contract_assembly):
    per_stack = {}
    for finding in gate_findings_of(contract_assembly):
        if finding.stack.endswith("-agnostic"):
            per_stack.setdefault(finding.stack.removesuffix("-agnostic"), set()).add(
                (finding.rule, finding.reason)
            )
    shown = {
        (f.rule, f.reason) for report in reports.values() for f in report.acknowledged if f.stack in per_stack
    }
    assert set().union(*per_stack.values()) <= shown


def test_an_unacknowledged_finding_is_reported_as_a_failure_on_the_page_and_the_card(reports):
    report = reports["speech"]
    failing = Finding("gate", "AwsSolutions-S1", "ProductNarration", "/ProductNarration/Bucket/Resource",
                      "The S3 Bucket has server access logs disabled.")  # fmt: skip
    broken = replace(
        report, findings={**report.findings, "AwsSolutions": [failing, *report.findings["AwsSolutions"]]}
    )
    assert check_of(failing) == "AwsSolutions"
    section = compliance_section(broken)
    assert '??? failure "cdk-nag AwsSolutions: 1 findings' in section
    assert "| `S1` | `Bucket` | **not acknowledged:** The S3 Bucket has server access logs" in section
    assert "**1 unacknowledged findings**" in gallery_page({**reports, "speech": broken})


# --- cost and instance types -------------------------------------------------------------------------------------


def _example_instance_types(name: str) -> set[str]:
    """The instance types a blueprint's example config names (any key ending in instance_type), as the oracle."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("instance_type") and isinstance(item, str):
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(BLUEPRINTS[name].example.read_text()))
    return found


@pytest.mark.parametrize("name", ["realtime-endpoint", "training-pipeline", "ec2-fleet", "hyperpod-cluster"])
def test_the_card_names_the_instance_types_the_example_deploys(name, reports):
    wanted = _example_instance_types(name)
    assert wanted, name
    assert wanted <= set(reports[name].instance_types) | {
        t.removeprefix("ml.") for t in reports[name].instance_types
    }
    card = gallery_page(reports).split(f"**[{name}](blueprints/{name}.md)**")[1].split("-   [![")[0]
    for instance_type in reports[name].instance_types:
        assert f"`{instance_type}`" in card


def test_the_cost_adds_up_the_examples_instances_at_snapshot_prices(reports):
    report = reports["async-endpoint"]
    book = PriceBook("us-east-1")
    hosting = [line for line in report.cost if line.kind == "hosting"]
    assert [line.name for line in hosting] == ["ml.g5.2xlarge"]
    price = book.instance("hosting", "ml.g5.2xlarge").hourly
    assert hosting[0].hourly_default == pytest.approx(price * hosting[0].count_default)
    assert report.hourly_default == pytest.approx(sum(line.hourly_default or 0 for line in report.cost))
    assert report.hourly_default > price  # keys, alarms and interface endpoints cost too
    section = cost_section(report)
    assert f"**${report.hourly_default:,.2f}/hour**" in section
    assert (
        f"| ml.g5.2xlarge | {hosting[0].count_default:g} | {hosting[0].count_max:g} | {price * hosting[0].count_default:.4g}"
        in section
    )
    assert f"**${report.hourly_default:,.2f}/hour** for its example" in gallery_page(reports)
    # A stack column only when the example has several stacks.
    assert "| stack |" not in section and "| stack |" in cost_section(reports["realtime-endpoint"])


def _card(reports, name: str) -> str:
    return gallery_page(reports).split(f"**[{name}](blueprints/{name}.md)**")[1].split("-   [![")[0]


def test_a_card_adds_up_several_example_stacks_and_says_so(reports):
    report = reports["realtime-endpoint"]
    assert len(report.stacks) > 1
    assert (
        f"**${report.hourly_default:,.2f}/hour** for its {len(report.stacks)} example stacks together"
        in _card(reports, "realtime-endpoint")
    )
    page = blueprint_page(BLUEPRINTS["realtime-endpoint"], report)
    assert f"cdk deploy {report.stacks[0]} -c config=" in page and "--all deploys every one" in page


@pytest.mark.parametrize(("name", "kind"), [("hyperpod-cluster", "hyperpod"), ("enterprise-search", "kendra"),
                                            ("text-insights", "comprehend")])  # fmt: skip
def test_what_bills_by_the_hour_without_a_bundled_price_is_named_not_left_out(reports, name, kind):
    report = reports[name]
    unpriced = [line for line in report.cost if line.kind == kind]
    assert unpriced and all(line.hourly_default is None for line in unpriced)
    card = _card(reports, name)
    assert "plus by the hour, with no price bundled:" in card
    for line in unpriced:
        assert f"{line.count_default:g} x {line.name}" in card
    assert "no price bundled" in cost_section(report) and "not in the totals" in cost_section(report)


def test_a_usage_priced_blueprint_says_so_instead_of_a_price(reports):
    report = reports["translation"]
    assert not [line for line in report.cost if line.kind in ("hosting", "ec2")]
    card = _card(reports, "translation")
    assert "no instances of its own" in card
    assert f"**${report.monthly_default:,.2f}/month** fixed for its example, the rest by use" in card


# --- instance-type explorer --------------------------------------------------------------------------------------


def test_the_explorer_lists_every_accelerated_type_botocore_knows():
    page = instance_explorer_page()
    listed = {*types.instance_types_for(types.SageMakerUse.REALTIME_INFERENCE),
              *types.instance_types_for(types.SageMakerUse.TRAINING)}  # fmt: skip
    for name in listed:
        facts = types._describe(name, listed=True)
        row = f"| `{name}` |"
        if facts.accelerator in (types.AcceleratorKind.NONE, types.AcceleratorKind.UNKNOWN):
            assert row not in page, name
        else:
            assert row in page, name
    inf2 = next(line for line in page.splitlines() if line.startswith("| `ml.inf2.xlarge` |"))
    assert "1 x AWS Inferentia2, 32 GiB each | 32 GiB | EBS volume |" in inf2 and "us-east-1" in inf2
    assert "None" not in page and "? x" not in page


@pytest.mark.parametrize(
    ("size", "training"), [("1B", False), ("70B", False), ("405B", False), ("8B", True), ("34B", True)]
)
def test_the_per_model_size_table_picks_what_fit_picks(size, training):
    """Each cell is the cheapest priced type of that accelerator ``mlblueprints fit`` lists for the size."""
    page = instance_explorer_page()
    table = (
        page.split("### Training")[1] if training else page.split("### Serving")[1].split("### Training")[0]
    )
    row = next(line for line in table.splitlines() if line.startswith(f"| {size} |"))
    need = sizing.memory_need(sizing.parse_parameters(size), training=training)
    rows = fit_rows(need, training=training, region="us-east-1", book=PriceBook("us-east-1"))
    kinds = ["NVIDIA GPU", "AWS Trainium"] if training else ["NVIDIA GPU", "AWS Inferentia", "AWS Trainium"]
    cells = [cell.strip() for cell in row.strip("|").split("|")][2:]
    assert len(cells) == len(kinds)
    for kind, cell in zip(kinds, cells, strict=True):
        fits = [r for r in rows if r["accelerator"] == kind]
        priced = [r for r in fits if r["hourly_usd"] is not None]
        unpriced = sorted(
            (r["total_gib"], r["count"], _size_order(r["name"]), r["name"])
            for r in fits
            if r["hourly_usd"] is None
        )
        if priced:
            assert cell.startswith(f"`{priced[0]['name']}` ${priced[0]['hourly_usd']:,.2f}"), (kind, cell)
        if unpriced and (not priced or unpriced[0][0] < priced[0]["total_gib"]):
            assert f"no price bundled: `{unpriced[0][-1]}`" in cell, (kind, cell)
        else:
            assert "no price bundled" not in cell, (kind, cell)
        if not fits:
            assert cell == "more than one instance"
    assert ("AWS Inferentia" in table.splitlines()[2]) is not training


# --- what make docs runs -----------------------------------------------------------------------------------------


def test_measure_synthesizes_under_the_gates_and_scans(tmp_path):
    stacks = json.loads(BLUEPRINTS["translation"].example.read_text())["stacks"]
    templates, findings = measure(tmp_path / "assembly", stacks)
    assert set(templates) == set(stacks)
    tools = {check_of(f) for f in findings if f.acknowledged}
    assert {"AwsSolutions", "HIPAA.Security", "cdk-validator-cfnguard", "checkov", "cfn-lint"} <= tools
    assert not [f for f in findings if not f.acknowledged]

"""The documentation site: a page and a card per blueprint, generated from the catalog; a strict build with no
broken link or image."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mlblueprints.apps.docs_site import (
    blueprint_page,
    browse,
    build,
    construct_modules,
    gallery_page,
    write_sources,
)
from mlblueprints.blueprints.docs import settings_table
from mlblueprints.blueprints.registry import BLUEPRINTS


def test_every_blueprint_has_a_page_and_a_card(tmp_path):
    pages = write_sources(tmp_path / "docs")
    names = {p.stem for p in pages if p.parent.name == "blueprints"}
    assert names == set(BLUEPRINTS)
    gallery = gallery_page()
    for name in BLUEPRINTS:
        assert f"](blueprints/{name}.md)" in gallery and f"(blueprints/{name}.svg)" in gallery
        assert (
            (tmp_path / "docs" / "blueprints" / f"{name}.svg")
            .read_text()
            .lstrip()
            .startswith(("<?xml", "<svg"))
        )


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_a_page_is_generated_from_the_blueprints_settings_and_example(name):
    blueprint = BLUEPRINTS[name]
    page = blueprint_page(blueprint)
    assert settings_table(blueprint) in page
    example = json.loads(blueprint.example.read_text())
    for stack in example["stacks"]:
        assert f'"{stack}"' in page
    assert '"$schema"' not in page.split("## JSON Schema")[0]
    assert '"additionalProperties": false' in page.split("## JSON Schema")[1]


def test_every_construct_module_has_an_api_page_from_its_docstrings(site):
    modules = construct_modules()
    assert "mlblueprints.constructs.polly.speech" in modules and not any("_private" in m for m in modules)
    for module in modules:
        assert (site / "api" / f"{module}.html").exists(), module
    page = (site / "api" / "mlblueprints.constructs.polly.speech.html").read_text()
    assert 'id="mlblueprints.constructs.polly.speech.Speech"' in page
    assert "Synthesize speech for each text or SSML file" in page


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.targets.append(value)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    return build(folder / "docs", folder / "site")


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

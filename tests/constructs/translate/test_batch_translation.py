"""Translation: the language, content type and terminology checks (limits from botocore and the Translate guide)."""

from __future__ import annotations

import pytest

from mlblueprints.constructs.translate.batch_translation import (
    TERMINOLOGIES,
    TranslationOptions,
    language_problems,
    terminology_problems,
)


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


def test_the_catalogs_terminology_is_valid():
    assert terminology_problems(TERMINOLOGIES / "product-names.csv") == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (TranslationOptions(["es", "fr"]), None),
        (
            TranslationOptions(["es"], source_language="en", formality="FORMAL", content_type="text/html"),
            None,
        ),
        (TranslationOptions([]), "1 to 10 per batch job"),
        (TranslationOptions([f"l{i}" for i in range(11)]), "1 to 10 per batch job"),
        (TranslationOptions(["auto"]), "'auto' detects a source language; it is not a target"),
        (TranslationOptions(["en"], source_language="en"), "en is the source language"),
        (TranslationOptions(["es", "es"]), "each language once"),
        (TranslationOptions(["spanish"]), "target_languages 'spanish': a language code"),
        (TranslationOptions(["es"], content_type="application/pdf"), "content_type 'application/pdf'"),
        (TranslationOptions(["es"], formality="POLITE"), "formality 'POLITE': FORMAL or INFORMAL"),
    ],
)
def test_language_rejections(options, expected):
    messages = _messages(language_problems(options))
    assert (expected in messages) if expected else messages == "", messages


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("terms.csv", "en,es\nendpoint,punto de enlace\n", None),
        ("terms.tsv", "en\tes\nendpoint\tpunto de enlace\n", None),
        ("terms.tmx", '<tmx version="1.4"><header/><body><tu><tuv xml:lang="en"><seg>a</seg></tuv></tu></body></tmx>', None),
        ("terms.txt", "en,es\na,b\n", "use a .csv, .tsv or .tmx file"),
        ("terms.csv", "en,es\n", "at least one row of terms"),
        ("terms.csv", "english,es\na,b\n", "header 'english' is not a language code"),
        ("terms.csv", "en,es\na,b,c\n", "3 columns; the header has 2"),
        ("terms.csv", "en,es\n,b\n", "the source term is empty"),
        ("terms.tmx", "<tmx><body/></tmx>", "<tu> translation units"),
        ("terms.tmx", "<tmx", "not XML"),
        ("terms.csv", "en,es\n" + "a,b\n" * 70_000, "the template embeds it"),
    ],
)  # fmt: skip
def test_terminology_rejections(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    messages = _messages(terminology_problems(path))
    assert (expected in messages) if expected else messages == "", messages

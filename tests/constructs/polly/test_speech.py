"""Speech: the voice, format, lexicon and SSML checks (botocore's Polly model and the Polly guide)."""

from __future__ import annotations

import pytest

from mlblueprints.constructs.polly.speech import (
    LEXICONS,
    SSML_TEMPLATES,
    SpeechOptions,
    lexicon_problems,
    speech_problems,
    ssml_problems,
)

PLS = '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" alphabet="{alphabet}" {lang}>{body}</lexicon>'
LEXEME = "<lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>"


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


def test_the_catalogs_lexicon_and_templates_are_valid():
    assert lexicon_problems(LEXICONS / "productnames.pls") == []
    for template in SSML_TEMPLATES.glob("*.ssml"):
        for engine in ("standard", "neural", "long-form", "generative"):
            assert ssml_problems(template, engine=engine) == [], (template, engine)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (SpeechOptions(), None),
        (SpeechOptions(voice_id="Robot"), "not an Amazon Polly voice"),
        (SpeechOptions(engine="turbo"), "engine 'turbo'"),
        (SpeechOptions(output_format="json"), "output_format 'json'"),
        (SpeechOptions(speech_marks=("word", "letter")), "speech mark 'letter'"),
    ],
)
def test_option_rejections(options, expected):
    messages = _messages(speech_problems(options))
    assert (expected in messages) if expected else messages == "", messages


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("acronyms.pls", PLS.format(alphabet="ipa", lang='xml:lang="en-US"', body=LEXEME), None),
        ("my-lexicon.pls", PLS.format(alphabet="ipa", lang='xml:lang="en-US"', body=LEXEME), None),
        ("acronyms.pls", PLS.format(alphabet="arpabet", lang='xml:lang="en-US"', body=LEXEME), "ipa or x-sampa"),
        ("acronyms.pls", PLS.format(alphabet="ipa", lang="", body=LEXEME), "xml:lang names"),
        ("acronyms.pls", PLS.format(alphabet="ipa", lang='xml:lang="en-US"', body=""), "no <lexeme>"),
        ("acronyms.pls", PLS.format(alphabet="ipa", lang='xml:lang="en-US"', body="<lexeme><grapheme>A</grapheme></lexeme>"),
         "a <grapheme> and a <phoneme> or <alias>"),
        ("acronyms.pls", "<lexicon>", "not XML"),
        ("acronyms.pls", "<lexicon/>", "PLS document"),
    ],
)  # fmt: skip
def test_lexicon_rejections(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    messages = _messages(lexicon_problems(path))
    assert (expected in messages) if expected else messages == "", messages


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '<speak>Hello <break time="1s"/> <amazon:effect name="whispered">there</amazon:effect>.</speak>',
            None,
        ),
        ("<speak>Hello <blink>there</blink></speak>", "Polly does not know the tags ['blink']"),
        ("<voice>Hello</voice>", "the root element is <speak>"),
        ("<speak>Hello", "not well-formed"),
        ("<speak>" + "a" * 200_001 + "</speak>", "a synthesis task takes 200000"),
    ],
)
def test_ssml_rejections(tmp_path, content, expected):
    path = tmp_path / "t.ssml"
    path.write_text(content, encoding="utf-8")
    messages = _messages(ssml_problems(path))
    assert (expected in messages) if expected else messages == "", messages


@pytest.mark.parametrize(
    ("engine", "content", "expected"),
    [
        ("standard", '<speak><emphasis>Hi</emphasis> <amazon:effect name="whispered">there</amazon:effect></speak>', None),
        ("neural", "<speak><emphasis>Hi</emphasis></speak>", "the neural engine refuses ['emphasis']"),
        ("generative", "<speak><amazon:auto-breaths>Hi</amazon:auto-breaths></speak>", "refuses ['amazon:auto-breaths']"),
        ("neural", '<speak><amazon:effect name="drc">Hi</amazon:effect></speak>', None),
        ("generative", '<speak><amazon:effect name="drc">Hi</amazon:effect></speak>', 'refuses [\'amazon:effect name="drc"\']'),
        ("neural", '<speak><amazon:effect phonation="soft">Hi</amazon:effect></speak>', "amazon:effect phonation"),
        ("neural", '<speak><amazon:domain name="news">Hi</amazon:domain></speak>', None),
        ("standard", '<speak><amazon:domain name="news">Hi</amazon:domain></speak>', "the standard engine refuses ['amazon:domain']"),
        ("neural", '<speak><prosody amazon:max-duration="2s">Hi</prosody></speak>', "prosody amazon:max-duration"),
        ("standard", '<speak><prosody amazon:max-duration="2s">Hi</prosody></speak>', None),
    ],
)  # fmt: skip
def test_tags_the_engine_refuses(tmp_path, engine, content, expected):
    path = tmp_path / "t.ssml"
    path.write_text(content, encoding="utf-8")
    messages = _messages(ssml_problems(path, engine=engine))
    assert (expected in messages) if expected else messages == "", messages

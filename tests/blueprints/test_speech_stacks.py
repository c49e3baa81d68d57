"""The speech example as the contract synthesized it: snapshot, targeted assertions and refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from conftest import mask_template

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.constructs.polly.speech import LEXICONS

AGNOSTIC = "ProductNarration-agnostic"
TOKEN = "<token>"


def _one(template: dict, type_: str) -> tuple[str, dict]:
    (found,) = [(k, r) for k, r in template["Resources"].items() if r["Type"] == type_]
    return found


def _states(template: dict) -> dict:
    _, machine = _one(template, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else TOKEN for p in parts))["States"]


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_audio_and_speech_marks_are_synthesized_with_the_lexicon(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, lexicon = _one(template, "AWS::Polly::Lexicon")
    assert lexicon["Properties"]["Name"] == "productnames"
    assert lexicon["Properties"]["Content"] == (LEXICONS / "productnames.pls").read_text(encoding="utf-8")
    states = _states(template)
    audio = states["SynthesizeAudio"]["Parameters"]
    assert audio["VoiceId"] == "Joanna" and audio["Engine"] == "neural" and audio["OutputFormat"] == "mp3"
    assert audio["LexiconNames"] == ["productnames"] and audio["OutputS3KeyPrefix"] == "audio/"
    assert audio["Text.$"] == "$.text.Body" and audio["TextType.$"] == "$.textType"
    marks = states["SynthesizeSpeechMarks"]["Parameters"]
    assert marks["OutputFormat"] == "json" and marks["SpeechMarkTypes"] == ["word", "sentence"]
    assert states["StoreManifest"]["Parameters"]["Key.$"] == "States.Format('manifest/{}.json', $.key)"
    assert states["Spoken?"]["Default"] == "WaitForTheAudio"


def test_the_shipped_templates_are_copied_under_ssml(contract_templates):
    template = contract_templates[AGNOSTIC]
    (deployment,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"]
    assert deployment["Properties"]["DestinationBucketKeyPrefix"] == "ssml/"
    assert deployment["Properties"]["SystemMetadata"]["sse"] == "aws:kms"
    rules = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "Object Created" in json.dumps(r)
    ]
    prefixes = sorted(r["Properties"]["EventPattern"]["detail"]["object"]["key"][0]["prefix"] for r in rules)
    assert prefixes == ["ssml/", "text/"]


def test_refusals_are_reported_at_once(tmp_path):
    templates = tmp_path / "ssml"
    templates.mkdir()
    (templates / "bad.ssml").write_text("<speak><blink/></speak>")
    stacks = {"Bad": {"blueprint": "speech", "voice": "Robot", "output_format": "wav", "ssml_templates": str(templates),
                      "lexicon_files": [str(tmp_path / "missing.pls")]}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("not an Amazon Polly voice", "output_format 'wav'", "Polly does not know the tags ['blink']",
                     "missing.pls: no such file"):  # fmt: skip
        assert expected in message, expected

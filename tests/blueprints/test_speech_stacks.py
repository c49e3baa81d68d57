"""The speech example as the contract synthesized it: snapshot, targeted assertions and refusals."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App
from conftest import mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.constructs.polly.speech import LEXICONS, MAX_FILE_BYTES

AGNOSTIC = "ProductNarration-agnostic"
TOKEN = "<token>"


def _states(template: dict) -> dict:
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else TOKEN for p in parts))["States"]


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_audio_and_speech_marks_are_synthesized_with_the_lexicon(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, lexicon = one_resource(template, "AWS::Polly::Lexicon")
    name = lexicon["Properties"]["Name"]
    # Unique per stack (two speech stacks in one region would collide on a fixed name), within Polly's pattern.
    assert re.fullmatch(r"[0-9A-Za-z]{1,20}", name) and name != "productnames", name
    assert lexicon["Properties"]["Content"] == (LEXICONS / "productnames.pls").read_text(encoding="utf-8")
    states = _states(template)
    audio = states["SynthesizeAudio"]["Parameters"]
    assert audio["VoiceId"] == "Joanna" and audio["Engine"] == "neural" and audio["OutputFormat"] == "mp3"
    assert audio["LexiconNames"] == [name] and audio["OutputS3KeyPrefix"] == "audio/"
    assert audio["Text.$"] == "$.text.Body" and audio["TextType.$"] == "$.textType"
    marks = states["SynthesizeSpeechMarks"]["Parameters"]
    assert marks["OutputFormat"] == "json" and marks["SpeechMarkTypes"] == ["word", "sentence"]
    assert states["StoreManifest"]["Parameters"]["Key.$"] == "States.Format('manifest/{}.json', $.key)"
    # Both tasks are waited for before the manifest names their output, and a failed one fails the execution.
    assert states["ForgetTheText"]["Next"] == "WaitForAudio"
    assert states["AudioDone?"]["Default"] == "WaitForAudio"
    assert _when(states["AudioDone?"], "completed")["Next"] == "WaitForSpeechMarks"
    assert _when(states["SpeechMarksDone?"], "completed")["Next"] == "Manifest"
    for label in ("Audio", "SpeechMarks"):
        assert states[_when(states[f"{label}Done?"], "failed")["Next"]]["Type"] == "Fail"
    assert "Text" not in json.dumps(states["ForgetTheText"]["Parameters"])
    # A file too large for a state's 256 KiB fails before it is read.
    assert states["MeasureTheFile"]["Next"] == "SmallEnough?"
    (too_large,) = states["SmallEnough?"]["Choices"]
    assert too_large["NumericGreaterThan"] == MAX_FILE_BYTES and too_large["Next"] == "FileTooLarge"
    for start in ("SynthesizeAudio", "SynthesizeSpeechMarks"):
        assert states[start]["Retry"][0]["MaxAttempts"] == 5


def _when(choice: dict, status: str) -> dict:
    (found,) = [c for c in choice["Choices"] if c.get("StringEquals") == status]
    return found


def test_the_flow_has_only_pollys_documented_actions(contract_templates):
    template = contract_templates[AGNOSTIC]
    actions = {
        a
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for st in r["Properties"]["PolicyDocument"]["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
        if a.startswith("polly:")
    }
    assert actions == {"polly:StartSpeechSynthesisTask", "polly:GetSpeechSynthesisTask"}


def test_the_shipped_templates_are_copied_under_ssml(contract_templates):
    template = contract_templates[AGNOSTIC]
    (deployment,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"]
    assert deployment["Properties"]["DestinationBucketKeyPrefix"] == "ssml/templates/"
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
    (templates / "neural.ssml").write_text("<speak><emphasis>Hi</emphasis></speak>")
    stacks = {"Bad": {"blueprint": "speech", "voice": "Robot", "output_format": "wav", "ssml_templates": str(templates),
                      "lexicon_files": [str(tmp_path / "missing.pls")]}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("not an Amazon Polly voice", "output_format 'wav'", "Polly does not know the tags ['blink']",
                     "the neural engine refuses ['emphasis']",
                     "missing.pls: no such file"):  # fmt: skip
        assert expected in message, expected

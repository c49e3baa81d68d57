"""Medical transcription: the vocabulary and option checks, and the transcript analysis against botocore's
Stubber (each Comprehend Medical and S3 call checked against the real API models)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from mlblueprints.constructs._private.service_models import enum_values
from mlblueprints.constructs.medical._handlers import analyse_transcript
from mlblueprints.constructs.medical.transcription import (
    AUDIO_SUFFIXES,
    VOCABULARIES,
    TranscriptionOptions,
    transcription_problems,
    vocabulary_problems,
)

HEADER = "Phrase\tIPA\tSoundsLike\tDisplayAs\n"


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


def test_the_catalogs_vocabulary_and_default_options_are_valid():
    assert vocabulary_problems(VOCABULARIES / "primary-care.txt") == []
    assert transcription_problems(TranscriptionOptions()) == []


def test_the_audio_formats_are_transcribes():
    assert {suffix.lstrip(".") for suffix in AUDIO_SUFFIXES} <= set(
        enum_values("MediaFormat", service="transcribe")
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (TranscriptionOptions(language_code="de-DE"), "transcribes US English (en-US) only"),
        (TranscriptionOptions(specialty="CARDIOLOGY"), "specialty 'CARDIOLOGY': Transcribe Medical batch jobs take PRIMARYCARE"),
        (TranscriptionOptions(transcription_type="DIALOGUE"), "CONVERSATION, DICTATION"),
        (TranscriptionOptions(max_speakers=31), "max_speakers 31: use 2 to 30"),
        (TranscriptionOptions(max_speakers=1), "max_speakers 1: use 2 to 30"),
        (TranscriptionOptions(channel_identification=True), "takes one of the two"),
        (TranscriptionOptions(speaker_labels=False, channel_identification=True, max_speakers=99), None),
    ],
)  # fmt: skip
def test_option_rejections(options, expected):
    messages = _messages(transcription_problems(options))
    assert (expected in messages) if expected else messages == "", messages


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (HEADER + "metformin\t\tmet-for-min\tmetformin\n", None),
        (HEADER + "C.O.P.D.\t\t\tCOPD\n", None),
        (HEADER + "acute-respiratory\tə k j u t\t\t\n", None),
        ("Phrase\tSoundsLike\tDisplayAs\nmetformin\t\t\n", "a table with the four columns"),
        ("Phrase IPA SoundsLike DisplayAs\n", "a table with the four columns"),
        (HEADER, "no phrase under the header row"),
        ("", "empty"),
        (HEADER + "type two diabetes\t\t\t\n", "letters, apostrophes, hyphens and periods only"),
        (HEADER + "A1C\t\t\tA1C\n", "numbers spelled out"),
        (HEADER + "metformin\t\tmet for min\t\n", "SoundsLike 'met for min'"),
        (HEADER + "metformin\tm ɛ t\tmet-for-min\t\n", "IPA or SoundsLike, not both"),
        (HEADER + "metformin\tm ɛ t x\t\t\n", "IPA phonemes ['x']"),
        (HEADER + "metformin\t\t\n", "3 fields; give 4"),
        (HEADER + "metformin \t\t\t\n", "leading or trailing spaces"),
        (HEADER + "\t\t\tsomething\n", "every row needs a Phrase"),
        (HEADER + "a" * 256 + "\t\t\t\n", "256 characters"),
        (HEADER + ("metformin\t\t\tmetformin\n" * 3000), "a custom vocabulary can't exceed 50 KB"),
    ],
)  # fmt: skip
def test_vocabulary_rejections(tmp_path, content, expected):
    path = tmp_path / "vocabulary.txt"
    path.write_text(content, encoding="utf-8")
    messages = _messages(vocabulary_problems(path))
    assert (expected in messages) if expected else messages == "", messages


def test_a_missing_or_binary_vocabulary_is_refused(tmp_path):
    assert "no such file" in _messages(vocabulary_problems(tmp_path / "nope.txt"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in _messages(vocabulary_problems(binary))


def test_chunks_stay_under_the_byte_limit_and_cut_at_sentence_ends():
    sentence = "The patient reports chest pain radiating to the left arm. "
    text = sentence * 1000  # ~58,000 characters
    pieces = analyse_transcript.chunks(text)
    assert len(pieces) == 3
    assert "".join(chunk for _, chunk in pieces) == text
    for offset, chunk in pieces:
        assert len(chunk.encode("utf-8")) < 20_000
        assert text[offset : offset + len(chunk)] == chunk
        assert chunk.endswith(". ")


def test_multibyte_text_is_cut_by_bytes_not_characters():
    text = "é" * 15_000  # 30,000 bytes, no space or sentence end
    pieces = analyse_transcript.chunks(text)
    assert [len(chunk.encode("utf-8")) for _, chunk in pieces] == [19_998, 10_002]
    assert "".join(chunk for _, chunk in pieces) == text


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://s3.us-east-1.amazonaws.com/results-bucket/transcripts/job-1.json", ("results-bucket", "transcripts/job-1.json")),
        ("s3://results-bucket/transcripts/a%20b.json", ("results-bucket", "transcripts/a b.json")),
    ],
)  # fmt: skip
def test_transcript_location(uri, expected):
    assert analyse_transcript.transcript_location(uri) == expected


@pytest.fixture
def clients():
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    comprehend = boto3.client(
        "comprehendmedical", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(s3) as s3_stub, Stubber(comprehend) as comprehend_stub:
        yield s3, s3_stub, comprehend, comprehend_stub
        s3_stub.assert_no_pending_responses()
        comprehend_stub.assert_no_pending_responses()


def _body(document: dict) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_the_analysis_covers_every_chunk_with_offsets_into_the_whole_transcript(clients, monkeypatch):
    s3, s3_stub, comprehend, comprehend_stub = clients
    monkeypatch.setenv("KMS_KEY_ARN", "arn:aws:kms:us-east-1:123456789012:key/abc")
    first = "Patient takes metformin daily. " * 700  # 21,700 characters: two chunks
    transcript = {"results": {"transcripts": [{"transcript": first}]}}
    s3_stub.add_response(
        "get_object",
        {"Body": _body(transcript)},
        {"Bucket": "results-bucket", "Key": "transcripts/job-1.json"},
    )
    pieces = analyse_transcript.chunks(first)
    assert len(pieces) == 2
    second_offset = pieces[1][0]
    entity = {"Id": 0, "BeginOffset": 14, "EndOffset": 23, "Score": 0.99, "Text": "metformin",
              "Category": "MEDICATION", "Type": "GENERIC_NAME",
              "Attributes": [{"Type": "FREQUENCY", "Score": 0.9, "BeginOffset": 24, "EndOffset": 29, "Text": "daily"}]}  # fmt: skip
    for _ in pieces:
        comprehend_stub.add_response(
            "detect_entities_v2",
            {"Entities": [json.loads(json.dumps(entity))], "ModelVersion": "2.0"},
            {"Text": ANY},
        )
        comprehend_stub.add_response(
            "detect_phi",
            {"Entities": [{"Id": 1, "BeginOffset": 0, "EndOffset": 7, "Score": 0.5, "Text": "Patient",
                           "Category": "PROTECTED_HEALTH_INFORMATION", "Type": "NAME"}], "ModelVersion": "1.0"},
            {"Text": ANY},
        )  # fmt: skip
    s3_stub.add_response(
        "put_object",
        {},
        {"Bucket": "results-bucket", "Key": "analysis/job-1.json", "Body": ANY, "ContentType": "application/json",
         "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:us-east-1:123456789012:key/abc"},
    )  # fmt: skip
    written = {}
    real_put = s3.put_object

    def put_object(**kwargs):
        written.update(json.loads(kwargs["Body"]))
        return real_put(**kwargs)

    s3.put_object = put_object
    result = analyse_transcript.handle(
        {"bucket": "results-bucket",
         "transcript_uri": "https://s3.us-east-1.amazonaws.com/results-bucket/transcripts/job-1.json",
         "analysis_key": "analysis/job-1.json", "source": "s3://audio/visit.wav", "job_name": "job-1"},
        s3=s3, comprehend=comprehend,
    )  # fmt: skip
    assert result == {"AnalysisKey": "analysis/job-1.json", "Entities": 2, "PHI": 2, "Characters": len(first)}
    assert [e["BeginOffset"] for e in written["Entities"]] == [14, second_offset + 14]
    assert written["Entities"][1]["Attributes"][0]["BeginOffset"] == second_offset + 24
    assert first[written["Entities"][1]["BeginOffset"] : written["Entities"][1]["EndOffset"]] == "metformin"
    assert written["Source"] == "s3://audio/visit.wav"
    assert written["ModelVersions"] == {"DetectEntitiesV2": "2.0", "DetectPHI": "1.0"}


def test_a_silent_recording_is_analysed_without_calls(clients, monkeypatch):
    s3, s3_stub, comprehend, _ = clients
    monkeypatch.setenv("KMS_KEY_ARN", "arn:aws:kms:us-east-1:123456789012:key/abc")
    s3_stub.add_response("get_object", {"Body": _body({"results": {"transcripts": [{"transcript": ""}]}})},
                         {"Bucket": "r", "Key": "transcripts/j.json"})  # fmt: skip
    s3_stub.add_response("put_object", {}, {"Bucket": "r", "Key": "analysis/j.json", "Body": ANY,
                                            "ContentType": "application/json", "ServerSideEncryption": "aws:kms",
                                            "SSEKMSKeyId": ANY})  # fmt: skip
    result = analyse_transcript.handle(
        {"bucket": "r", "transcript_uri": "s3://r/transcripts/j.json", "analysis_key": "analysis/j.json",
         "source": "s3://a/x.mp3", "job_name": "j"}, s3=s3, comprehend=comprehend,
    )  # fmt: skip
    assert result["Entities"] == 0 and result["PHI"] == 0


def test_a_transcript_outside_the_results_bucket_is_refused(clients):
    s3, _, comprehend, _ = clients
    with pytest.raises(ValueError, match="is not in the results bucket"):
        analyse_transcript.handle(
            {"bucket": "r", "transcript_uri": "s3://elsewhere/t.json", "analysis_key": "analysis/j.json",
             "source": "s3://a/x.mp3", "job_name": "j"}, s3=s3, comprehend=comprehend,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("stack", "expected"),
    [("Medical", "Medical-data-events"), ("a--b", "a-b-data-events"), ("x" * 130, "x" * 128)],
)
def test_trail_names_are_valid(stack, expected):
    from mlblueprints.constructs.security.audit_trail import trail_name_for

    name = trail_name_for(stack)
    assert name == expected
    assert 3 <= len(name) <= 128 and name[0].isalnum() and name[-1].isalnum() and "--" not in name

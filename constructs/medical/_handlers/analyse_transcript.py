"""Comprehend Medical on a Transcribe Medical transcript: medical entities (DetectEntitiesV2) and PHI (DetectPHI).

Invoked by the transcription state machine once a job completes, with::

    {"bucket": "<results bucket>", "transcript_uri": "<the job's TranscriptFileUri>",
     "analysis_key": "analysis/<job>.json", "source": "s3://<input bucket>/<audio key>", "job_name": "<job>"}

Each API takes fewer than 20,000 UTF-8 bytes of text ("Each string must contain fewer than 20,000 bytes of
characters", DetectEntitiesV2 and DetectPHI, Comprehend Medical API Reference), so a long transcript is
analysed in chunks cut at sentence ends (else at a space), and every offset is shifted back into the whole
transcript. The analysis is written beside the transcript, encrypted with the stack's key.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote, urlparse

import boto3
from botocore.config import Config

# Fewer than 20,000 bytes per request.
MAX_CHUNK_BYTES = 19_999
_SENTENCE_ENDS = (". ", "? ", "! ", ".\n", "?\n", "!\n")
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


def chunks(text: str, max_bytes: int = MAX_CHUNK_BYTES) -> list[tuple[int, str]]:
    """``(character offset, chunk)`` pairs covering ``text``, each under ``max_bytes`` in UTF-8."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = _longest_prefix_end(text, start, max_bytes)
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind(mark) for mark in _SENTENCE_ENDS)
            if cut > len(window) // 2:
                end = start + cut + 2
            else:
                space = window.rfind(" ")
                if space > 0:
                    end = start + space + 1
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def _longest_prefix_end(text: str, start: int, max_bytes: int) -> int:
    """The largest ``end`` with ``text[start:end]`` at most ``max_bytes`` in UTF-8 (at least one character)."""
    low, high = start + 1, min(len(text), start + max_bytes)
    while low < high:
        middle = (low + high + 1) // 2
        if len(text[start:middle].encode("utf-8")) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return low


def _shift(items: list[dict[str, Any]], offset: int) -> list[dict[str, Any]]:
    for item in items:
        for key in ("BeginOffset", "EndOffset"):
            if key in item:
                item[key] += offset
        for nested in ("Attributes", "Traits"):
            if isinstance(item.get(nested), list):
                _shift(item[nested], offset)
    return items


def analyse(text: str, client) -> dict[str, Any]:
    """Entities, unmapped attributes and PHI of the whole ``text``, offsets into ``text``."""
    result: dict[str, Any] = {"Entities": [], "UnmappedAttributes": [], "PHI": [], "ModelVersions": {}}
    for offset, chunk in chunks(text):
        if not chunk.strip():
            continue
        entities = client.detect_entities_v2(Text=chunk)
        result["Entities"] += _shift(entities.get("Entities", []), offset)
        result["UnmappedAttributes"] += _shift(entities.get("UnmappedAttributes", []), offset)
        result["ModelVersions"]["DetectEntitiesV2"] = entities.get("ModelVersion")
        phi = client.detect_phi(Text=chunk)
        result["PHI"] += _shift(phi.get("Entities", []), offset)
        result["ModelVersions"]["DetectPHI"] = phi.get("ModelVersion")
    return result


def transcript_location(uri: str) -> tuple[str, str]:
    """Bucket and key of a job's ``TranscriptFileUri``: ``s3://b/k`` or a path-style HTTPS URL
    (``https://s3.<region>.amazonaws.com/<bucket>/<key>``, the form Transcribe returns)."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return parsed.netloc, unquote(parsed.path.lstrip("/"))
    bucket, _, key = parsed.path.lstrip("/").partition("/")
    return bucket, unquote(key)


def handle(event: dict[str, Any], context: Any = None, *, s3=None, comprehend=None) -> dict[str, Any]:
    s3 = s3 or boto3.client("s3", config=_CONFIG)
    comprehend = comprehend or boto3.client("comprehendmedical", config=_CONFIG)
    bucket, key = transcript_location(event["transcript_uri"])
    if bucket != event["bucket"]:
        raise ValueError(
            f"transcript {event['transcript_uri']} is not in the results bucket {event['bucket']}"
        )
    transcript = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    text = " ".join(t.get("transcript", "") for t in transcript.get("results", {}).get("transcripts", []))
    analysis = analyse(text, comprehend)
    document = {
        "Source": event["source"],
        "JobName": event["job_name"],
        "Transcript": f"s3://{bucket}/{key}",
        "Text": text,
        **analysis,
    }
    s3.put_object(
        Bucket=event["bucket"],
        Key=event["analysis_key"],
        Body=json.dumps(document).encode("utf-8"),
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=os.environ["KMS_KEY_ARN"],
    )
    return {
        "AnalysisKey": event["analysis_key"],
        "Entities": len(analysis["Entities"]),
        "PHI": len(analysis["PHI"]),
        "Characters": len(text),
    }

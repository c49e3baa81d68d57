"""Rekognition constructs: the option ranges from botocore's model, and the constructs in a user's own stack."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from mlblueprints.constructs.rekognition.face_collection import FaceCollection
from mlblueprints.constructs.rekognition.image_analysis import (
    ImageAnalysis,
    ImageAnalysisError,
    ImageAnalysisOptions,
    image_analysis_problems,
)
from mlblueprints.constructs.rekognition.stream_processor import (
    FaceSearchStreamProcessor,
    StreamProcessorError,
    stream_problems,
)


def _messages(problems) -> str:
    return " | ".join(p.message for p in problems)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (ImageAnalysisOptions(), None),
        (ImageAnalysisOptions(min_confidence=100.5), "min_confidence 100.5: Rekognition takes 0 to 100"),
        (ImageAnalysisOptions(face_match_threshold=-1), "face_match_threshold -1"),
        (ImageAnalysisOptions(max_faces=101), "max_faces 101: 1 to 100"),
        (ImageAnalysisOptions(max_labels=0), "max_labels 0: 1 to 100"),
    ],
)
def test_option_ranges(options, expected):
    messages = _messages(image_analysis_problems(options))
    assert (expected in messages) if expected else messages == "", messages


@pytest.mark.parametrize(
    ("video", "results", "expected"),
    [
        (1, 24, None),
        (87_600, 8_760, None),
        (0, 24, "video_retention_hours 0"),
        (87_601, 24, "video_retention_hours 87601"),
        (24, 23, "results_retention_hours 23"),
        (24, 8_761, "results_retention_hours 8761"),
    ],
)
def test_stream_retention_ranges(video, results, expected):
    messages = _messages(stream_problems(video_retention_hours=video, results_retention_hours=results))
    assert (expected in messages) if expected else messages == "", messages


def _stack():
    stack = Stack(App(), "Own")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    return stack, key, s3.Bucket(stack, "In"), s3.Bucket(stack, "Out"), sns.Topic(stack, "Topic")


def test_constructs_refuse_bad_settings_in_a_users_stack():
    stack, key, bucket_in, bucket_out, topic = _stack()
    with pytest.raises(ImageAnalysisError, match="min_confidence 101"):
        ImageAnalysis(stack, "Analysis", input_bucket=bucket_in, output_bucket=bucket_out, encryption_key=key,
                      topic=topic, options=ImageAnalysisOptions(min_confidence=101))  # fmt: skip
    with pytest.raises(StreamProcessorError, match="video_retention_hours 0"):
        FaceSearchStreamProcessor(stack, "Video", collection=FaceCollection(stack, "Faces"), encryption_key=key,
                                  video_retention_hours=0)  # fmt: skip


def test_a_collection_grants_by_its_arn():
    stack = Stack(App(), "Own")
    collection = FaceCollection(stack, "Faces")
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    collection.grant_search(role)
    collection.grant_index(role)
    statements = stack.resolve(role.node.find_child("DefaultPolicy").document.to_json())["Statement"]
    assert {a for s in statements for a in s["Action"]} == {
        "rekognition:SearchFacesByImage", "rekognition:SearchFaces", "rekognition:IndexFaces",
        "rekognition:ListFaces", "rekognition:DeleteFaces",
    }  # fmt: skip
    for statement in statements:
        assert ":collection/Own-Faces-" in json.dumps(statement["Resource"]), statement


def test_the_flows_result_limit_is_within_the_api():
    from mlblueprints.constructs._private.service_models import number_rule
    from mlblueprints.constructs.rekognition.image_analysis import MAX_RESULTS

    assert number_rule("SearchFacesByImageRequest", "MaxFaces", service="rekognition").contains(MAX_RESULTS)

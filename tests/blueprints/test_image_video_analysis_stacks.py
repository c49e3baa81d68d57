"""The image-video-analysis example as the contract synthesized it: snapshot, targeted assertions and refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.constructs.rekognition.image_analysis import IMAGE_SUFFIXES

AGNOSTIC = "StoreCameras-agnostic"
TOKEN = "<token>"


def _states(template: dict) -> dict:
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else TOKEN for p in parts))["States"]


def _statements(template: dict, role_id: str) -> list[dict]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


@pytest.fixture(scope="module")
def video_template() -> dict:
    """The example with live video, under every gate (the example leaves video out: AWS closed it to new customers)."""
    stacks = {
        "Video": {"blueprint": "image-video-analysis", "video_stream": True, "video_retention_hours": 48}
    }
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}))
    return app.synth().get_stack_by_name("Video").template


def test_each_image_is_analysed_and_each_face_indexed(contract_templates):
    template = contract_templates[AGNOSTIC]
    collection_id = one_resource(template, "AWS::Rekognition::Collection")[1]["Properties"]["CollectionId"]
    # The stack ID's first block ends the ID, so a retained collection does not block the next deploy.
    assert "AWS::StackId" in json.dumps(collection_id)
    assert not any(r["Type"] == "AWS::Rekognition::StreamProcessor" for r in template["Resources"].values())
    states = _states(template)
    # A key S3 had to URL-encode fails at once: Step Functions cannot decode it.
    plain = states["PlainKey?"]
    assert plain["Choices"][0]["Next"] == "UnsupportedKey" and plain["Default"] == "IndexOrAnalyse?"
    assert {c["StringMatches"] for c in plain["Choices"][0]["Or"]} == {"*%*", "*+*"}
    branches = [branch["StartAt"] for branch in states["Analyse"]["Branches"]]
    assert branches == ["DetectLabels", "DetectModerationLabels", "SearchFaces"]
    by_name = {b["StartAt"]: b["States"] for b in states["Analyse"]["Branches"]}
    labels = by_name["DetectLabels"]["DetectLabels"]["Parameters"]
    assert labels["MinConfidence"] == 75 and labels["MaxLabels"] == 20
    assert labels["Image"] == {"S3Object": {"Bucket.$": "$.bucket", "Name.$": "$.key"}}
    search = by_name["SearchFaces"]["SearchFaces"]
    collection_in_flow = collection_id["Fn::Join"][1][0] + TOKEN
    assert search["Parameters"]["CollectionId"] == collection_in_flow
    assert search["Parameters"]["FaceMatchThreshold"] == 95
    # An image without a face has no matches, and the reason is kept; it is not a failure.
    assert search["Catch"][0]["ErrorEquals"] == ["Rekognition.InvalidParameterException"]
    assert by_name["SearchFaces"]["NoFace"]["Parameters"] == {
        "FaceMatches": [],
        "SearchError.$": "$.error.Cause",
    }
    # The summary replaces the state: one copy of the results travels on.
    result = states["Result"]["Parameters"]
    assert (
        set(result) == {"key.$", "result"}
        and result["result"]["FaceMatches.$"] == "$.analysis[2].FaceMatches"
    )
    index = states["IndexTheFace"]
    assert index["Parameters"]["CollectionId"] == collection_in_flow and index["Parameters"]["MaxFaces"] == 1
    # Adding a face is not retried after an internal error (it may have been added).
    assert index["Retry"][0]["ErrorEquals"] == ["Rekognition.ThrottlingException",
                                                "Rekognition.ProvisionedThroughputExceededException"]  # fmt: skip
    index = index["Parameters"]
    assert index["ExternalImageId.$"] == "States.ArrayGetItem(States.StringSplit($.key, '/'), 1)"
    assert states["Indexed?"]["Default"] == "NoFaceIndexed"
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"
             and "Object Created" in json.dumps(r)]  # fmt: skip
    keys = sorted(json.dumps(r["Properties"]["EventPattern"]["detail"]["object"]["key"]) for r in rules)
    assert keys == sorted(
        json.dumps([{"wildcard": f"{p}*{s}"} for s in IMAGE_SUFFIXES]) for p in ("faces/", "images/")
    )


def test_the_stream_processor_reads_one_video_stream_and_writes_one_data_stream(video_template):
    template = video_template
    collection_key, collection = one_resource(template, "AWS::Rekognition::Collection")
    video_id, video = one_resource(template, "AWS::KinesisVideo::Stream")
    results_id, results = one_resource(template, "AWS::Kinesis::Stream")
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    _, processor = one_resource(template, "AWS::Rekognition::StreamProcessor")
    properties = processor["Properties"]
    assert properties["KinesisVideoStream"] == {"Arn": {"Fn::GetAtt": [video_id, "Arn"]}}
    assert properties["KinesisDataStream"] == {"Arn": {"Fn::GetAtt": [results_id, "Arn"]}}
    assert properties["FaceSearchSettings"]["CollectionId"] == collection["Properties"]["CollectionId"]
    # AWS: KmsKeyId is for label detection processors, not face search; no data shared with AWS.
    assert "KmsKeyId" not in properties and properties["DataSharingPreference"] == {"OptIn": False}
    # CloudFormation names it: its properties are create-only, and a fixed name would forbid the replacement.
    assert "Name" not in properties
    assert video["Properties"]["DataRetentionInHours"] == 48
    assert collection_key in processor["DependsOn"]
    # Both streams and the collection are encrypted with the stack's key (the collection by Rekognition) and kept.
    assert video["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert results["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"
    for resource in (video, results, collection):
        assert resource["DeletionPolicy"] == "Retain"
    role_id = properties["RoleArn"]["Fn::GetAtt"][0]
    granted = {a: s["Resource"] for s in _statements(template, role_id) for a in _actions(s)}
    assert granted == {
        "kinesisvideo:GetDataEndpoint": {"Fn::GetAtt": [video_id, "Arn"]},
        "kinesisvideo:GetMedia": {"Fn::GetAtt": [video_id, "Arn"]},
        "kinesis:PutRecord": {"Fn::GetAtt": [results_id, "Arn"]},
        "kinesis:PutRecords": {"Fn::GetAtt": [results_id, "Arn"]},
        "kms:Decrypt": {"Fn::GetAtt": [key_id, "Arn"]},
        "kms:GenerateDataKey": {"Fn::GetAtt": [key_id, "Arn"]},
    }


def test_the_flow_reaches_the_collection_by_its_arn(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    statements = _statements(template, machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    collection_id = one_resource(template, "AWS::Rekognition::Collection")[1]["Properties"]["CollectionId"]
    for action in ("rekognition:SearchFacesByImage", "rekognition:IndexFaces"):
        (statement,) = [s for s in statements if action in _actions(s)]
        prefix = collection_id["Fn::Join"][1][0]
        assert f":collection/{prefix}" in json.dumps(statement["Resource"]), statement


def test_without_face_search_there_is_no_collection_nor_video():
    stacks = {"Labels": {"blueprint": "image-video-analysis", "face_search": False, "moderation": False,
                         "env": {"account": "123456789012", "region": "ap-southeast-2"}}}  # fmt: skip
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}), gates=False)
    template = app.synth().get_stack_by_name("Labels").template
    types = {r["Type"] for r in template["Resources"].values()}
    assert not types & {
        "AWS::Rekognition::Collection",
        "AWS::Rekognition::StreamProcessor",
        "AWS::KinesisVideo::Stream",
    }
    states = _states(template)
    assert [b["StartAt"] for b in states["Analyse"]["Branches"]] == ["DetectLabels"]
    assert "IndexTheFace" not in states


def test_refusals_are_reported_at_once():
    stacks = {"Bad": {"blueprint": "image-video-analysis", "min_confidence": 150, "max_faces": 0, "max_labels": 101,
                      "video_stream": True, "video_retention_hours": 0, "results_retention_hours": 10,
                      "env": {"account": "123456789012", "region": "ap-southeast-2"}},
              "Odd": {"blueprint": "image-video-analysis", "face_search": False, "video_stream": True}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("AWS::Rekognition::StreamProcessor", "ap-southeast-2", "min_confidence 150", "max_faces 0",
                     "max_labels 101: 1 to 100",
                     "video_retention_hours 0", "results_retention_hours 10", "video_stream needs face_search"):  # fmt: skip
        assert expected in message, expected

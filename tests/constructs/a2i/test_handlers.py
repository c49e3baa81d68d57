"""The A2I handlers against botocore's Stubber: every call checked against the real SageMaker, SageMaker
Runtime and A2I Runtime API models (a request the model refuses fails the test)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from mlblueprints.constructs.a2i._handlers import confidence_gate, flow_definition

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/review"
WORKTEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers"
UI = "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/review-ui"
PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
    "NamePrefix": "docs-review",
    "RoleArn": ROLE,
    # CloudFormation passes numbers as strings.
    "HumanLoopConfig": {
        "WorkteamArn": WORKTEAM,
        "HumanTaskUiArn": UI,
        "TaskTitle": "Check the form",
        "TaskDescription": "Correct the fields the model is unsure of",
        "TaskCount": "1",
        "TaskAvailabilityLifetimeInSeconds": "86400",
        "TaskTimeLimitInSeconds": "3600",
    },
    "OutputConfig": {
        "S3OutputPath": "s3://bucket/human-review/",
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
    },
    "HumanLoopRequestSource": {"AwsManagedHumanLoopRequestSource": "AWS/Textract/AnalyzeDocument/Forms/V1"},
    "HumanLoopActivationConfig": {
        "HumanLoopActivationConditionsConfig": {"HumanLoopActivationConditions": '{"Conditions":[]}'}
    },
}
REQUEST = flow_definition._request(PROPERTIES)
NAME = flow_definition.flow_definition_name("docs-review", REQUEST)
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:flow-definition/{NAME}"


class _Context:
    def __init__(self, millis: int = 600_000) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def _described(status: str, **extra) -> dict:
    return {
        "FlowDefinitionArn": ARN,
        "FlowDefinitionName": NAME,
        "FlowDefinitionStatus": status,
        "CreationTime": "2026-11-25T06:00:00Z",
        "OutputConfig": {"S3OutputPath": "s3://bucket/human-review/"},
        "RoleArn": ROLE,
        **extra,
    }


@pytest.fixture
def sagemaker():
    client = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _event(request_type: str, **extra) -> dict:
    return {"RequestType": request_type, "ResourceProperties": PROPERTIES, **extra}


def _not_found(stubber, operation: str, **params) -> None:
    stubber.add_client_error(operation, "ResourceNotFound", "not found", 400, expected_params=params)


def test_name_follows_sagemakers_rule_and_changes_with_any_property():
    rule = flow_definition._ARN
    assert rule.match(f"arn:aws:sagemaker:us-east-1:123456789012:flow-definition/{NAME}")
    assert len(NAME) <= 63 and NAME.startswith("docs-review-")
    changed = flow_definition._request(PROPERTIES | {"RoleArn": ROLE + "2"})
    assert flow_definition.flow_definition_name("docs-review", changed) != NAME
    assert REQUEST["HumanLoopConfig"]["TaskCount"] == 1  # strings from CloudFormation become numbers


def test_create_waits_until_active(sagemaker):
    client, stubber = sagemaker
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=NAME)
    stubber.add_response(
        "create_flow_definition", {"FlowDefinitionArn": ARN}, {"FlowDefinitionName": NAME, **REQUEST}
    )
    stubber.add_response("describe_flow_definition", _described("Initializing"), {"FlowDefinitionName": NAME})
    stubber.add_response("describe_flow_definition", _described("Active"), {"FlowDefinitionName": NAME})
    sleeps = []
    result = flow_definition.on_event(_event("Create"), _Context(), client=client, sleep=sleeps.append)
    assert result == {
        "PhysicalResourceId": ARN,
        "Data": {"FlowDefinitionArn": ARN, "FlowDefinitionName": NAME},
    }
    assert sleeps == [flow_definition.POLL_SECONDS]


def test_create_adopts_the_same_definition(sagemaker):
    """A retried create (same properties, same name) adopts what the first attempt made."""
    client, stubber = sagemaker
    stubber.add_response("describe_flow_definition", _described("Active"), {"FlowDefinitionName": NAME})
    stubber.add_response("describe_flow_definition", _described("Active"), {"FlowDefinitionName": NAME})
    result = flow_definition.on_event(_event("Create"), _Context(), client=client, sleep=lambda _: None)
    assert result["PhysicalResourceId"] == ARN


def test_create_replaces_a_definition_an_earlier_attempt_left_failed(sagemaker):
    client, stubber = sagemaker
    stubber.add_response("describe_flow_definition", _described("Failed"), {"FlowDefinitionName": NAME})
    stubber.add_response("delete_flow_definition", {}, {"FlowDefinitionName": NAME})
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=NAME)
    stubber.add_response(
        "create_flow_definition", {"FlowDefinitionArn": ARN}, {"FlowDefinitionName": NAME, **REQUEST}
    )
    stubber.add_response("describe_flow_definition", _described("Active"), {"FlowDefinitionName": NAME})
    assert (
        flow_definition.on_event(_event("Create"), _Context(), client=client, sleep=lambda _: None)[
            "PhysicalResourceId"
        ]
        == ARN
    )


def test_failed_definition_reports_its_reason_and_leaves_nothing(sagemaker):
    client, stubber = sagemaker
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=NAME)
    stubber.add_response(
        "create_flow_definition", {"FlowDefinitionArn": ARN}, {"FlowDefinitionName": NAME, **REQUEST}
    )
    stubber.add_response(
        "describe_flow_definition",
        _described("Failed", FailureReason="The role cannot be assumed by SageMaker"),
        {"FlowDefinitionName": NAME},
    )
    stubber.add_response("delete_flow_definition", {}, {"FlowDefinitionName": NAME})
    with pytest.raises(
        flow_definition.FlowDefinitionError, match="failed: The role cannot be assumed by SageMaker"
    ):
        flow_definition.on_event(_event("Create"), _Context(), client=client, sleep=lambda _: None)


def test_an_api_error_surfaces_as_a_failure_with_its_reason(sagemaker):
    client, stubber = sagemaker
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=NAME)
    stubber.add_client_error(
        "create_flow_definition",
        "ResourceLimitExceeded",
        "You have reached the limit of 100 flow definitions",
        400,
        expected_params={"FlowDefinitionName": NAME, **REQUEST},
    )
    with pytest.raises(
        flow_definition.FlowDefinitionError, match="ResourceLimitExceeded: You have reached the limit"
    ):
        flow_definition.on_event(_event("Create"), _Context(), client=client, sleep=lambda _: None)


def test_create_never_outlives_the_handler(sagemaker):
    client, stubber = sagemaker
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=NAME)
    stubber.add_response(
        "create_flow_definition", {"FlowDefinitionArn": ARN}, {"FlowDefinitionName": NAME, **REQUEST}
    )
    context = _Context(flow_definition.MARGIN_MILLIS + 1)
    stubber.add_response("describe_flow_definition", _described("Initializing"), {"FlowDefinitionName": NAME})

    def sleep(_):
        context.millis = 0

    with pytest.raises(
        flow_definition.FlowDefinitionError, match="was not Active before the handler's time ran out"
    ):
        flow_definition.on_event(_event("Create"), context, client=client, sleep=sleep)


def test_update_with_new_properties_creates_a_new_definition(sagemaker):
    client, stubber = sagemaker
    properties = PROPERTIES | {"HumanLoopConfig": PROPERTIES["HumanLoopConfig"] | {"TaskCount": "2"}}
    name = flow_definition.flow_definition_name("docs-review", flow_definition._request(properties))
    arn = ARN.replace(NAME, name)
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=name)
    stubber.add_response(
        "create_flow_definition",
        {"FlowDefinitionArn": arn},
        {"FlowDefinitionName": name, **flow_definition._request(properties)},
    )
    stubber.add_response(
        "describe_flow_definition",
        _described("Active") | {"FlowDefinitionArn": arn, "FlowDefinitionName": name},
        {"FlowDefinitionName": name},
    )
    event = {"RequestType": "Update", "ResourceProperties": properties, "PhysicalResourceId": ARN}
    result = flow_definition.on_event(event, _Context(), client=client, sleep=lambda _: None)
    # A new physical ID: CloudFormation deletes the old definition once the update succeeds.
    assert result["PhysicalResourceId"] == arn != ARN


def test_delete_waits_until_gone(sagemaker):
    client, stubber = sagemaker
    stubber.add_response("delete_flow_definition", {}, {"FlowDefinitionName": NAME})
    stubber.add_response("describe_flow_definition", _described("Deleting"), {"FlowDefinitionName": NAME})
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=NAME)
    result = flow_definition.on_event(
        _event("Delete", PhysicalResourceId=ARN), _Context(), client=client, sleep=lambda _: None
    )
    assert result == {"PhysicalResourceId": ARN}


def test_delete_of_an_already_deleted_definition_succeeds(sagemaker):
    client, stubber = sagemaker
    _not_found(stubber, "delete_flow_definition", FlowDefinitionName=NAME)
    _not_found(stubber, "describe_flow_definition", FlowDefinitionName=NAME)
    assert (
        flow_definition.on_event(_event("Delete", PhysicalResourceId=ARN), _Context(), client=client)[
            "PhysicalResourceId"
        ]
        == ARN
    )


def test_delete_after_a_create_that_made_nothing_calls_nothing(sagemaker):
    client, _ = sagemaker  # no stubbed response: any call fails the test
    event = _event("Delete", PhysicalResourceId="2f1c7a3e-request-id")
    assert (
        flow_definition.on_event(event, _Context(), client=client)["PhysicalResourceId"]
        == "2f1c7a3e-request-id"
    )


def test_delete_error_other_than_not_found_fails(sagemaker):
    client, stubber = sagemaker
    stubber.add_client_error("delete_flow_definition", "ResourceInUse", "human loops are running", 400)
    with pytest.raises(Exception, match="ResourceInUse"):
        flow_definition.on_event(_event("Delete", PhysicalResourceId=ARN), _Context(), client=client)


# --- confidence gate --------------------------------------------------------------------------------

FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/claims-review-1a2b3c4d"


@pytest.fixture
def gate(monkeypatch):
    monkeypatch.setenv("ENDPOINT_NAME", "claims-model")
    monkeypatch.setenv("FLOW_DEFINITION_ARN", FLOW)
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.8")
    monkeypatch.setenv("CONFIDENCE_KEY", "predictions.0.score")
    runtime = boto3.client(
        "sagemaker-runtime", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    a2i = boto3.client(
        "sagemaker-a2i-runtime", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(runtime) as runtime_stub, Stubber(a2i) as a2i_stub:
        yield runtime, runtime_stub, a2i, a2i_stub
        runtime_stub.assert_no_pending_responses()
        a2i_stub.assert_no_pending_responses()


def _prediction(stub, score) -> dict:
    body = json.dumps({"predictions": [{"label": "fraud", "score": score}]}).encode()
    stub.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
        {
            "EndpointName": "claims-model",
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": ANY,
        },
    )
    return {"predictions": [{"label": "fraud", "score": score}]}


def test_unsure_prediction_starts_a_human_loop(gate):
    runtime, runtime_stub, a2i, a2i_stub = gate
    prediction = _prediction(runtime_stub, 0.42)
    content = json.dumps({"input": {"claim": 7}, "prediction": prediction, "confidence": 0.42})
    a2i_stub.add_response(
        "start_human_loop",
        {"HumanLoopArn": "arn:aws:sagemaker:us-east-1:123456789012:human-loop/review-1"},
        {"HumanLoopName": "review-1", "FlowDefinitionArn": FLOW, "HumanLoopInput": {"InputContent": content}},
    )
    result = confidence_gate.handle(
        {"input": {"claim": 7}}, None, runtime=runtime, a2i=a2i, new_name=lambda: "review-1"
    )
    assert result == {
        "prediction": prediction,
        "confidence": 0.42,
        "humanReview": True,
        "humanLoopName": "review-1",
    }


def test_sure_prediction_starts_nothing(gate):
    runtime, runtime_stub, a2i, _ = gate
    prediction = _prediction(runtime_stub, 0.97)
    result = confidence_gate.handle({"input": {"claim": 7}}, None, runtime=runtime, a2i=a2i)
    assert result == {"prediction": prediction, "confidence": 0.97, "humanReview": False}


def test_human_loop_names_follow_a2is_rule():
    import re

    name = confidence_gate._new_name()
    assert re.fullmatch(r"^[a-z0-9](-*[a-z0-9])*$", name) and len(name) <= 63


def test_prediction_without_the_confidence_path_fails_clearly(gate):
    runtime, runtime_stub, a2i, _ = gate
    body = json.dumps({"label": "fraud"}).encode()
    runtime_stub.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body))})
    with pytest.raises(confidence_gate.ConfidenceError, match=r"has no 'predictions\.0\.score'"):
        confidence_gate.handle({"input": {}}, None, runtime=runtime, a2i=a2i)


def test_a2i_error_reaches_the_caller(gate):
    runtime, runtime_stub, a2i, a2i_stub = gate
    _prediction(runtime_stub, 0.1)
    a2i_stub.add_client_error("start_human_loop", "ServiceQuotaExceededException", "too many loops", 402)
    with pytest.raises(Exception, match="ServiceQuotaExceededException"):
        confidence_gate.handle({"input": {}}, None, runtime=runtime, a2i=a2i)

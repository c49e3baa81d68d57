"""Document analysis: the feature and query checks, and the job-completion function against botocore's Stubber
(each DynamoDB and Step Functions call checked against the real API models)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from mlblueprints.constructs.textract._handlers import job_completion
from mlblueprints.constructs.textract.document_analysis import TextractQuery, analysis_problems

TOTAL = TextractQuery("What is the invoice total?", "TOTAL")


def _messages(*args, **kwargs) -> str:
    return " | ".join(p.message for p in analysis_problems(*args, **kwargs))


@pytest.mark.parametrize(
    ("features", "queries", "review", "expected"),
    [
        (["FORMS", "TABLES"], [], False, None),
        (["FORMS", "QUERIES"], [TOTAL], True, None),
        ([], [], False, "give at least one of TABLES, FORMS, QUERIES, SIGNATURES, LAYOUT"),
        (["FORM"], [], False, "'FORM' is not a Textract feature type"),
        (["FORMS", "FORMS"], [], False, "each feature type once"),
        (["QUERIES"], [], False, "no queries are given"),
        (["FORMS"], [TOTAL], False, "lacks QUERIES"),
        (["QUERIES"], [TextractQuery(f"Question {i}?") for i in range(16)], False, "16 queries"),
        (["QUERIES"], [TextractQuery("x" * 201)], False, "1 to 200 characters"),
        (["QUERIES"], [TextractQuery("Total?", pages=("*", "1"))], False, "'*' (every page) alone"),
        (["QUERIES"], [TextractQuery("Total?", pages=("0",))], False, "page '0'"),
        (["QUERIES"], [TextractQuery("Total?", pages=("2-4", "5-*"))], False, None),
        (["TABLES"], [], True, "add FORMS to features"),
    ],
)
def test_analysis_rejections(features, queries, review, expected):
    messages = _messages(features, queries, human_review=review)
    assert (expected in messages) if expected else messages == "", messages


def test_a_query_request_is_textracts_shape():
    assert TOTAL.request() == {"Text": "What is the invoice total?", "Alias": "TOTAL", "Pages": ["*"]}


@pytest.fixture
def clients(monkeypatch):
    monkeypatch.setenv("TOKEN_TABLE", "tokens")
    kwargs = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    dynamodb, states = boto3.client("dynamodb", **kwargs), boto3.client("stepfunctions", **kwargs)
    with Stubber(dynamodb) as db_stub, Stubber(states) as states_stub:
        yield dynamodb, db_stub, states, states_stub
        db_stub.assert_no_pending_responses()
        states_stub.assert_no_pending_responses()


def _notice(status: str, job_id: str = "job-1") -> dict:
    message = {"JobId": job_id, "Status": status, "API": "StartDocumentAnalysis", "Timestamp": 1,
               "DocumentLocation": {"S3ObjectName": "a.pdf", "S3Bucket": "docs"}}  # fmt: skip
    return {"Records": [{"Sns": {"Message": json.dumps(message)}}]}


def _token_found(db_stub, job_id: str = "job-1") -> None:
    db_stub.add_response(
        "get_item",
        {"Item": {"JobId": {"S": job_id}, "TaskToken": {"S": "token-1"}}},
        {"TableName": "tokens", "Key": {"JobId": {"S": job_id}}, "ConsistentRead": True},
    )


def _deleted(db_stub, job_id: str = "job-1") -> None:
    db_stub.add_response("delete_item", {}, {"TableName": "tokens", "Key": {"JobId": {"S": job_id}}})


def test_a_finished_job_resumes_its_execution(clients):
    dynamodb, db_stub, states, states_stub = clients
    _token_found(db_stub)
    states_stub.add_response(
        "send_task_success",
        {},
        {"taskToken": "token-1", "output": json.dumps({"JobId": "job-1", "Status": "SUCCEEDED"})},
    )
    _deleted(db_stub)
    result = job_completion.handle(_notice("SUCCEEDED"), dynamodb=dynamodb, states=states)
    assert result == {"Resumed": [{"JobId": "job-1", "Status": "SUCCEEDED"}]}


@pytest.mark.parametrize("status", ["FAILED", "ERROR"])
def test_a_failed_job_fails_its_execution_with_textracts_status(clients, status):
    dynamodb, db_stub, states, states_stub = clients
    _token_found(db_stub)
    states_stub.add_response(
        "send_task_failure",
        {},
        {"taskToken": "token-1", "error": "TextractJobFailed",
         "cause": f"Textract job job-1 ended {status} (StartDocumentAnalysis)"},
    )  # fmt: skip
    _deleted(db_stub)
    job_completion.handle(_notice(status), dynamodb=dynamodb, states=states)


def test_a_notice_before_its_token_is_retried(clients):
    dynamodb, db_stub, states, _ = clients
    db_stub.add_response(
        "get_item", {}, {"TableName": "tokens", "Key": {"JobId": {"S": "job-1"}}, "ConsistentRead": True}
    )
    with pytest.raises(job_completion.TokenNotStoredYet, match="job-1"):
        job_completion.handle(_notice("SUCCEEDED"), dynamodb=dynamodb, states=states)


@pytest.mark.parametrize("error", ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken"])
def test_an_execution_that_already_ended_is_left_alone(clients, error):
    dynamodb, db_stub, states, states_stub = clients
    _token_found(db_stub)
    states_stub.add_client_error("send_task_success", error, "gone", 400)
    _deleted(db_stub)
    job_completion.handle(_notice("SUCCEEDED"), dynamodb=dynamodb, states=states)

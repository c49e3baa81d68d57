"""The document-analysis example as the contract synthesized it: snapshot, targeted assertions and refusals;
one extra synth with human review (and retain_data false)."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError

AGNOSTIC = "InvoiceAnalysis-agnostic"
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


def _machine_role(template: dict) -> str:
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    return machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]


@pytest.fixture(scope="module")
def reviewed() -> dict:
    stacks = {"Reviewed": {"blueprint": "document-analysis", "human_review": {"confidence_threshold": 70,
                                                                            "sampling_percentage": 5},
                           "retain_data": False}}  # fmt: skip
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}), gates=False)
    return app.synth().get_stack_by_name("Reviewed").template


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_documents_go_async_and_images_sync(contract_templates):
    template = contract_templates[AGNOSTIC]
    rules = [r for r in template["Resources"].values()
             if r["Type"] == "AWS::Events::Rule" and "Object Created" in json.dumps(r)]  # fmt: skip
    by_mode = {}
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        mode = json.loads(target["InputTransformer"]["InputTemplate"].replace("<", '"<').replace(">", '>"'))[
            "mode"
        ]
        by_mode[mode] = [
            s["suffix"]["equals-ignore-case"]
            for s in rule["Properties"]["EventPattern"]["detail"]["object"]["key"]
        ]
        assert "DeadLetterConfig" in target
    assert by_mode == {"async": [".pdf", ".tif", ".tiff"], "sync": [".jpg", ".jpeg", ".png"]}
    states = _states(template)
    route = states["Route"]
    assert route["Choices"] == [{"Variable": "$.mode", "StringEquals": "async", "Next": "StartAnalysis"}]
    assert route["Default"] == "AnalyseImage"


def test_the_asynchronous_job_reports_to_the_topic_and_resumes_the_execution(contract_templates):
    template = contract_templates[AGNOSTIC]
    states = _states(template)
    start = states["StartAnalysis"]["Parameters"]
    assert start["FeatureTypes"] == ["FORMS", "TABLES", "QUERIES"]
    assert start["QueriesConfig"]["Queries"][0] == {
        "Text": "What is the invoice total?",
        "Alias": "TOTAL",
        "Pages": ["*"],
    }
    assert start["OutputConfig"]["S3Prefix"] == "textract"
    assert set(start["NotificationChannel"]) == {"SnsTopicArn", "RoleArn"} and "KmsKeyId" in start
    wait = states["WaitForTheJob"]
    assert wait["Resource"].endswith(":states:::aws-sdk:dynamodb:putItem.waitForTaskToken")
    assert wait["Parameters"]["Item"]["TaskToken"] == {"S.$": "$$.Task.Token"}
    assert wait["TimeoutSeconds"] == 12 * 3600
    (catch,) = wait["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "ForgetTheToken"
    assert states["ForgetTheToken"]["Next"] == "JobFailed"
    assert states["StoreJobSummary"]["Parameters"]["Body.$"] == "States.JsonToString($.summary)"
    # The topic is encrypted, and its one subscriber is the completion function, with a dead-letter queue.
    (topic,) = [r for r in template["Resources"].values()
                if r["Type"] == "AWS::SNS::Topic" and r["Properties"].get("DisplayName") == "Textract jobs"]  # fmt: skip
    assert "KmsMasterKeyId" in topic["Properties"]
    (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
                   and r["Properties"].get("Description", "").startswith("Ends the wait")]  # fmt: skip
    assert "DeadLetterConfig" in function["Properties"]
    # Answering the task needs the state machine's key, for this state machine only.
    (key_grant,) = [s for s in _statements(template, function["Properties"]["Role"]["Fn::GetAtt"][0])
                    if "kms:EncryptionContext:aws:states:stateMachineArn" in json.dumps(s.get("Condition", {}))]  # fmt: skip
    assert set(_actions(key_grant)) == {"kms:Decrypt", "kms:GenerateDataKey"}
    # Lambda writes a failed notice to the encrypted dead-letter queue as the function: a data key through SQS.
    (dlq_key,) = [s for s in _statements(template, function["Properties"]["Role"]["Fn::GetAtt"][0])
                  if "kms:ViaService" in json.dumps(s.get("Condition", {}))]  # fmt: skip
    assert _actions(dlq_key) == ["kms:GenerateDataKey"] and "sqs." in json.dumps(dlq_key["Condition"])
    statements = _statements(template, function["Properties"]["Role"]["Fn::GetAtt"][0])
    by_action = {a: s for s in statements for a in _actions(s)}
    assert by_action["states:SendTaskSuccess"]["Resource"] == {
        "Ref": one_resource(template, "AWS::StepFunctions::StateMachine")[0]
    }
    assert set(_actions(by_action["dynamodb:GetItem"])) == {"dynamodb:GetItem", "dynamodb:DeleteItem"}


def test_only_textract_of_this_account_publishes_and_only_textract_gets_the_role(contract_templates):
    template = contract_templates[AGNOSTIC]
    ((role_id, role),) = [(k, r) for k, r in template["Resources"].items()
                          if r["Type"] == "AWS::IAM::Role" and "Textract posts" in r["Properties"].get("Description", "")]  # fmt: skip
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "textract.amazonaws.com"}
    assert (
        "aws:SourceAccount" in trust["Condition"]["StringEquals"]
        and "aws:SourceArn" in trust["Condition"]["ArnLike"]
    )
    publish = [s for s in _statements(template, role_id) if "sns:Publish" in _actions(s)]
    assert len(publish) == 1 and publish[0]["Resource"] != "*"
    statements = _statements(template, _machine_role(template))
    (pass_role,) = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert pass_role["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "textract.amazonaws.com"}}
    wildcard = {a for s in statements if s["Resource"] == "*" for a in _actions(s)}
    assert {"textract:StartDocumentAnalysis", "textract:AnalyzeDocument"} <= wildcard
    assert not {a for a in wildcard if a.startswith(("s3:", "dynamodb:", "kms:", "iam:", "sagemaker:"))}


def test_the_token_table_is_encrypted_with_the_stacks_key(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, table = one_resource(template, "AWS::DynamoDB::Table")
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    sse = table["Properties"]["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["KMSMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_data_is_retained_but_tokens_are_not(contract_templates):
    template = contract_templates[AGNOSTIC]
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
            assert resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"), resource["Type"]
    _, table = one_resource(template, "AWS::DynamoDB::Table")
    assert table["DeletionPolicy"] == "Delete"


def test_no_review_without_the_setting(contract_templates):
    template = contract_templates[AGNOSTIC]
    assert "HumanLoopConfig" not in _states(template)["AnalyseImage"]["Parameters"]
    assert not any(r["Type"] == "Custom::A2iFlowDefinition" for r in template["Resources"].values())


def test_human_review_sends_low_confidence_forms_to_people(reviewed):
    states = _states(reviewed)
    loop = states["AnalyseImage"]["Parameters"]["HumanLoopConfig"]
    assert loop["HumanLoopName.$"] == "States.Format('document-{}', States.UUID())"
    (flow_id, flow) = one_resource(reviewed, "Custom::A2iFlowDefinition")
    config = flow["Properties"]["HumanLoopActivationConfig"]["HumanLoopActivationConditionsConfig"]
    text = json.dumps(json.loads(config["HumanLoopActivationConditions"]))
    assert '"KeyValueBlockConfidenceLessThan": 70' in text and '"RandomSamplingPercentage": 5' in text
    start = [
        s for s in _statements(reviewed, _machine_role(reviewed)) if "sagemaker:StartHumanLoop" in _actions(s)
    ]
    assert len(start) == 1 and start[0]["Resource"] == {"Fn::GetAtt": [flow_id, "FlowDefinitionArn"]}
    documents = [
        r
        for r in reviewed["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket" and "CorsConfiguration" in r["Properties"]
    ]
    assert len(documents) == 1
    assert all(
        r.get("DeletionPolicy") == "Delete"
        for r in reviewed["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket"
    )


def test_refusals_are_reported_at_once():
    stacks = {
        "Bad": {"blueprint": "document-analysis", "features": ["TABLES", "QUERIES"],
                "human_review": {"confidence_threshold": 120},
                "notification_email": "nobody", "env": {"account": "123456789012", "region": "sa-east-1"}},
    }  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("Amazon Textract is not offered in sa-east-1", "Amazon A2I is not offered in sa-east-1",
                     "no queries are given", "add FORMS to features", "confidence_threshold 120",
                     "notification_email"):  # fmt: skip
        assert expected in message, expected


def test_eventbridge_can_start_the_encrypted_state_machine(contract_templates):
    # Step Functions encrypts the execution's input with the key: StartExecution needs it (and CDK's grant has none).
    template = contract_templates[AGNOSTIC]
    machine_id, _ = one_resource(template, "AWS::StepFunctions::StateMachine")
    (events_role,) = [k for k, r in template["Resources"].items()
                      if r["Type"] == "AWS::IAM::Role" and "events.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
                      and any("states:StartExecution" in _actions(s) for s in _statements(template, k))]  # fmt: skip
    (key_grant,) = [s for s in _statements(template, events_role) if "kms:Decrypt" in _actions(s)]
    assert key_grant["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": {"Ref": machine_id}}
    }

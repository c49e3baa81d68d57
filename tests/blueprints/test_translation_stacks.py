"""The translation example as the contract synthesized it: snapshot, targeted assertions and refusals."""

from __future__ import annotations

import base64
import json

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.constructs.translate.batch_translation import TERMINOLOGIES

AGNOSTIC = "ProductDocs-agnostic"
TOKEN = "<token>"


def _statements(template: dict, role_id: str) -> list[dict]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def _states(template: dict) -> dict:
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else TOKEN for p in parts))["States"]


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_the_terminology_is_the_repo_file_encrypted_with_the_stacks_key(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, terminology = one_resource(template, "AWS::Translate::Terminology")
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    properties = terminology["Properties"]
    data = properties["TerminologyData"]
    assert data["Format"] == "CSV"
    assert base64.b64decode(data["File"]) == (TERMINOLOGIES / "product-names.csv").read_bytes()
    assert properties["EncryptionKey"] == {"Type": "KMS", "Id": {"Fn::GetAtt": [key_id, "Arn"]}}


def test_a_batch_job_runs_with_the_settings_and_is_followed(contract_templates):
    template = contract_templates[AGNOSTIC]
    states = _states(template)
    start = states["StartTranslation"]["Parameters"]
    assert start["SourceLanguageCode"] == "auto" and start["TargetLanguageCodes"] == ["es", "fr", "de"]
    assert start["InputDataConfig"]["ContentType"] == "text/html"
    assert start["Settings"] == {"Formality": "FORMAL"}
    assert start["OutputDataConfig"]["EncryptionKey"]["Type"] == "KMS"
    assert "TerminologyNames" in start
    # One ID per execution: a retried start cannot start a second job.
    assert states["NameTheBatch"]["Parameters"]["Id.$"] == "States.UUID()"
    assert start["ClientToken.$"] == "$.batch.Id" and "$.batch.Id" in start["JobName.$"]
    assert states["GetTheJob"]["Retry"][0]["MaxAttempts"] == 6
    assert states["TranslationFailed"]["CausePath"] == "States.JsonToString($.status.Job)"
    assert (
        states["NameTheBatch"]["Parameters"]["Name.$"]
        == "States.ArrayGetItem(States.StringSplit($.key, '/'), 1)"
    )
    choice = states["Done?"]
    assert choice["Choices"][0] == {
        "Variable": "$.status.Job.JobStatus",
        "StringEquals": "COMPLETED",
        "Next": "Translated",
    }
    assert choice["Choices"][1]["Next"] == "TranslationFailed" and choice["Default"] == "WaitForTheJob"
    failing = {c["StringEquals"] for c in choice["Choices"][1]["Or"]}
    assert failing == {"COMPLETED_WITH_ERROR", "FAILED", "STOPPED"}


def test_translate_reads_input_and_writes_output_only(contract_templates):
    template = contract_templates[AGNOSTIC]
    (role_id, role) = next((k, r) for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"
                           and "translate.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"]))  # fmt: skip
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    statements = _statements(template, role_id)

    def granted(action: str) -> list[str]:
        return sorted(
            json.dumps([s["Resource"], s.get("Condition")]) for s in statements if action in _actions(s)
        )

    # Input is read-only; output is read and written (Translate's prerequisite permissions), each under its prefix.
    assert [r.split('"]]}')[0].rsplit('"', 1)[1] for r in granted("s3:GetObject")] == [
        "/input/*",
        "/output/*",
    ]
    assert [r.split('"]]}')[0].rsplit('"', 1)[1] for r in granted("s3:PutObject")] == ["/output/*"]
    listing = [s["Condition"] for s in statements if "s3:ListBucket" in _actions(s)]
    assert sorted(c["StringLike"]["s3:prefix"][0] for c in listing) == ["input/*", "output/*"]
    # The five KMS actions a customer managed key needs, the grant only for Translate's own resources.
    kms_actions = {a for s in statements for a in _actions(s) if a.startswith("kms:")}
    assert kms_actions == {
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "kms:CreateGrant",
        "kms:RetireGrant",
    }
    (grant,) = [s for s in statements if "kms:CreateGrant" in _actions(s)]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    _, machine = one_resource(template, "AWS::StepFunctions::StateMachine")
    machine_statements = _statements(template, machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    (pass_role,) = [s for s in machine_statements if "iam:PassRole" in _actions(s)]
    assert pass_role["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "translate.amazonaws.com"}}


def test_a_start_object_starts_the_batch(contract_templates):
    template = contract_templates[AGNOSTIC]
    (rule,) = [r for r in template["Resources"].values()
               if r["Type"] == "AWS::Events::Rule" and "Object Created" in json.dumps(r)]  # fmt: skip
    assert rule["Properties"]["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "start/"}]


def test_without_terminology_any_translate_region_will_do():
    stacks = {"Plain": {"blueprint": "translation", "target_languages": ["es"], "terminology": False,
                        "env": {"account": "123456789012", "region": "eu-west-1"}}}  # fmt: skip
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}), gates=False)
    template = app.synth().get_stack_by_name("Plain").template
    assert not any(r["Type"].startswith("AWS::Translate::") for r in template["Resources"].values())
    assert "TerminologyNames" not in _states(template)["StartTranslation"]["Parameters"]


def test_refusals_are_reported_at_once():
    stacks = {"Bad": {"blueprint": "translation", "target_languages": ["auto", "es", "es"], "content_type": "application/pdf",
                      "env": {"account": "123456789012", "region": "eu-west-1"}}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("AWS::Translate::Terminology, which CloudFormation does not offer in eu-west-1",
                     "'auto' detects a source language", "each language once", "content_type 'application/pdf'"):  # fmt: skip
        assert expected in message, expected

"""The enterprise-search example as the contract synthesized it: snapshot, targeted assertions and refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError

AGNOSTIC = "HelpDeskSearch-agnostic"


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


def test_the_index_is_encrypted_with_the_stacks_key_and_has_no_capacity_on_developer(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, index = one_resource(template, "AWS::Kendra::Index")
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    properties = index["Properties"]
    assert properties["Edition"] == "DEVELOPER_EDITION" and "CapacityUnits" not in properties
    assert properties["ServerSideEncryptionConfiguration"] == {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    statements = _statements(template, properties["RoleArn"]["Fn::GetAtt"][0])
    (metrics,) = [s for s in statements if "cloudwatch:PutMetricData" in _actions(s)]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "AWS/Kendra"}}
    assert all(
        "/aws/kendra/" in json.dumps(s["Resource"])
        for s in statements
        if "logs:CreateLogStream" in _actions(s)
    )


def test_the_bucket_is_crawled_on_the_schedule_with_the_template_connector(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, source = one_resource(template, "AWS::Kendra::DataSource")
    properties = source["Properties"]
    assert properties["Type"] == "TEMPLATE" and properties["Schedule"] == "cron(0 3 * * ? *)"
    body = properties["DataSourceConfiguration"]["TemplateConfiguration"]["Template"]
    documents_id = template["Outputs"]["DocumentBucket"]["Value"]["Ref"]
    assert body["connectionConfiguration"]["repositoryEndpointMetadata"]["BucketName"] == {
        "Ref": documents_id
    }
    assert body["type"] == "S3" and body["syncMode"] == "FULL_CRAWL"
    assert body["additionalProperties"]["inclusionPrefixes"] == ["handbooks/", "policies/"]
    statements = _statements(template, properties["RoleArn"]["Fn::GetAtt"][0])
    by_action = {a: s for s in statements for a in _actions(s)}
    index_id, _ = one_resource(template, "AWS::Kendra::Index")
    assert by_action["kendra:BatchPutDocument"]["Resource"] == {"Fn::GetAtt": [index_id, "Arn"]}
    assert by_action["s3:ListBucket"]["Resource"] == {"Fn::GetAtt": [documents_id, "Arn"]}
    assert "s3." in json.dumps(by_action["kms:Decrypt"]["Condition"])  # decrypt through S3 only


def test_the_faq_reads_its_one_staged_file(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, faq = one_resource(template, "AWS::Kendra::Faq")
    properties = faq["Properties"]
    assert properties["FileFormat"] == "CSV_WITH_HEADER" and properties["S3Path"]["Key"].endswith(".csv")
    (read,) = _statements(template, properties["RoleArn"]["Fn::GetAtt"][0])
    assert _actions(read) == ["s3:GetObject"] and properties["S3Path"]["Key"] in json.dumps(read["Resource"])


def test_enterprise_capacity_and_switches():
    stacks = {"Big": {"blueprint": "enterprise-search", "edition": "ENTERPRISE_EDITION", "query_capacity_units": 3,
                      "storage_capacity_units": 1, "faq": False, "sync_schedule": "", "retain_data": False}}  # fmt: skip
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}), gates=False)
    template = app.synth().get_stack_by_name("Big").template
    _, index = one_resource(template, "AWS::Kendra::Index")
    assert index["Properties"]["CapacityUnits"] == {"QueryCapacityUnits": 3, "StorageCapacityUnits": 1}
    assert not any(r["Type"] == "AWS::Kendra::Faq" for r in template["Resources"].values())
    _, source = one_resource(template, "AWS::Kendra::DataSource")
    assert "Schedule" not in source["Properties"]
    assert (
        "additionalProperties"
        not in source["Properties"]["DataSourceConfiguration"]["TemplateConfiguration"]["Template"]
    )


def test_refusals_are_reported_at_once(tmp_path):
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nHow?,So.\n")
    stacks = {"Bad": {"blueprint": "enterprise-search", "query_capacity_units": 2, "sync_schedule": "rate(1 day)",
                      "faq_file": str(faq), "env": {"account": "123456789012", "region": "sa-east-1"}}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("Amazon Kendra is not offered in sa-east-1", "a Developer Edition index takes no extra capacity",
                     "Kendra takes no rate() expressions", "needs _question and _answer"):  # fmt: skip
        assert expected in message, expected


def test_kendra_may_use_the_key_and_assume_the_roles_for_this_account_only(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, key = one_resource(template, "AWS::KMS::Key")
    (allow,) = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "AllowKendraIndexes"
    ]
    assert allow["Principal"] == {"Service": "kendra.amazonaws.com"} and "kms:CreateGrant" in allow["Action"]
    assert "aws:SourceAccount" in allow["Condition"]["StringEquals"] and ":index/*" in json.dumps(
        allow["Condition"]
    )
    roles = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"
             and "kendra.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])]  # fmt: skip
    assert len(roles) == 3
    for role in roles:
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert (
            "aws:SourceAccount" in trust["Condition"]["StringEquals"]
            and "aws:SourceArn" in trust["Condition"]["ArnLike"]
        )

"""The recommendations example as the contract synthesized it: snapshot, targeted assertions and refusals."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.constructs._private.service_models import member_rule
from mlblueprints.constructs.personalize.recommender import INTERACTIONS_SCHEMA

AGNOSTIC = "ShopRecommendations-agnostic"


def _all(template: dict, type_: str) -> list[dict]:
    return [r for r in template["Resources"].values() if r["Type"] == type_]


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_the_dataset_group_imports_the_data_under_the_stacks_key(contract_templates):
    template = contract_templates[AGNOSTIC]
    key_id, key = one_resource(template, "AWS::KMS::Key")
    group_id, group = one_resource(template, "AWS::Personalize::DatasetGroup")
    role_id = group["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    assert group["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
    datasets = {d["Properties"]["DatasetType"]: d for d in _all(template, "AWS::Personalize::Dataset")}
    assert set(datasets) == {"Interactions", "Items"}
    for kind, dataset in datasets.items():
        job = dataset["Properties"]["DatasetImportJob"]
        assert job["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert json.dumps(job["DataSource"]["DataLocation"]).endswith(f'"/{kind.lower()}/"]]}}')
        # Imported only once the data is copied.
        assert any(d.startswith(f"Recommender{kind}Data") for d in dataset["DependsOn"]), dataset["DependsOn"]
        # Kept on deletion and update, rolled back if the first create fails.
        assert (
            dataset["DeletionPolicy"] == "RetainExceptOnCreate" and dataset["UpdateReplacePolicy"] == "Retain"
        )
        assert any(d.startswith("DataPolicy") for d in dataset["DependsOn"]), (
            "imported once Personalize may read"
        )
    schemas = [json.loads(s["Properties"]["Schema"]) for s in _all(template, "AWS::Personalize::Schema")]
    assert INTERACTIONS_SCHEMA in schemas
    # Personalize reads the bucket and uses the key as its service principal, as AWS requires.
    (statement,) = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "PersonalizeUsesTheKey"
    ]
    assert {"kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"} <= set(statement["Action"])
    statements = {s.get("Sid"): s for p in _all(template, "AWS::S3::BucketPolicy")
                  for s in p["Properties"]["PolicyDocument"]["Statement"]}  # fmt: skip
    read, listing = statements["PersonalizeReadsTheData"], statements["PersonalizeListsTheData"]
    assert read["Principal"] == {"Service": "personalize.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == ["interactions/*", "items/*"]
    # The key policy names the service only: a role created in the same deploy may not be visible to KMS yet.
    assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
    (trust,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert "aws:SourceAccount" in json.dumps(trust) and "aws:SourceArn" in json.dumps(trust)
    assert group_id


def _resolved(name) -> str:
    """A name with the stack ID's block as it will be once deployed (8 hex digits)."""
    base, block, *rest = name["Fn::Join"][1]
    assert block["Fn::Select"][0] == 0 and "AWS::StackId" in json.dumps(block), name
    return base + "0123abcd" + "".join(rest)


def test_names_fit_personalize(contract_templates):
    template = contract_templates[AGNOSTIC]
    rule = member_rule("CreateDatasetGroupRequest", "name", service="personalize")
    # Each name ends with the stack ID's first block: retained resources never block the next deploy.
    by_type = [(r["Type"], _resolved(r["Properties"]["Name"])) for r in template["Resources"].values()
               if r["Type"].startswith("AWS::Personalize::")]  # fmt: skip
    jobs = [
        _resolved(d["Properties"]["DatasetImportJob"]["JobName"])
        for d in _all(template, "AWS::Personalize::Dataset")
    ]
    names = [name for _, name in by_type] + jobs
    assert len(names) == 9  # group, 2 schemas, 2 datasets, 2 import jobs, solution, tracker
    for name in names:
        assert rule.violation(name) is None, name
    # Unique within each type (a schema and its dataset may share a name: they are different resources).
    assert len(set(by_type)) == len(by_type) and len(set(jobs)) == 2


def test_the_solution_trains_on_the_recipe_after_the_imports(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, solution = one_resource(template, "AWS::Personalize::Solution")
    assert solution["Properties"]["RecipeArn"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":personalize:::recipe/aws-user-personalization-v2"],
        ]
    }
    dataset_ids = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::Personalize::Dataset"]
    assert set(dataset_ids) <= set(solution["DependsOn"])
    assert not _all(template, "AWS::Personalize::Campaign")
    assert "TrackingId" in template["Outputs"]


def test_a_campaign_serves_the_latest_version():
    stacks = {
        "Live": {"blueprint": "recommendations", "campaign": True, "min_provisioned_tps": 2, "items": False}
    }
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}))
    template = app.synth().get_stack_by_name("Live").template
    solution_id, _ = one_resource(template, "AWS::Personalize::Solution")
    _, campaign = one_resource(template, "AWS::Personalize::Campaign")
    properties = campaign["Properties"]
    assert properties["SolutionVersionArn"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [solution_id, "SolutionArn"]}, "/$LATEST"]]
    }
    assert properties["CampaignConfig"] == {"SyncWithLatestSolutionVersion": True}
    assert properties["MinProvisionedTPS"] == 2
    assert [d["Properties"]["DatasetType"] for d in _all(template, "AWS::Personalize::Dataset")] == [
        "Interactions"
    ]


def test_refusals_are_reported_at_once(tmp_path):
    (tmp_path / "interactions.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP\nu,i,1\n")
    stacks = {"Bad": {"blueprint": "recommendations", "interactions_data": str(tmp_path), "recipe": "aws-magic",
                      "min_provisioned_tps": 0, "campaign": True, "env": {"account": "123456789012", "region": "cn-north-1"}},
              "Similar": {"blueprint": "recommendations", "recipe": "aws-similar-items", "items": False}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("cn-north-1", "1 interactions, 0 users with two or more", "recipe 'aws-magic'",
                     "min_provisioned_tps 0", "aws-similar-items reads the items dataset"):  # fmt: skip
        assert expected in message, expected
    assert re.search(r"AWS::Personalize::(Campaign|EventTracker)", message), message

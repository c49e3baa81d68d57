"""The delivery pipeline app: stages, approvals, roles and encryption as synthesized, under every gate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import App
from conftest import cdk_json_context, one_resource

from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.apps.pipeline import build_pipeline_app
from mlblueprints.constructs.compliance.scanners import checkov_path, run_cfn_lint, run_checkov
from mlblueprints.constructs.delivery.pipeline import CDK_CLI_VERSION
from mlblueprints.constructs.delivery.stack_sets import baseline_template

PIPELINE_ACCOUNT, DEV, PROD = "111111111111", "222222222222", "333333333333"
OU = "ou-ab12-cd34ef56"


def _write_configs(folder: Path, **overrides) -> Path:
    stacks = folder / "speech.json"
    stacks.write_text(json.dumps({"stacks": {"Speech": {"blueprint": "speech"}}}))
    config = {
        "account": PIPELINE_ACCOUNT,
        "region": "us-east-1",
        "source": {"repository": "acme/ml-platform", "branch": "main",
                   "connection_arn": f"arn:aws:codeconnections:us-east-1:{PIPELINE_ACCOUNT}:connection/0a1b-2c3d"},
        "stages": [
            {"name": "Dev", "account": DEV, "regions": ["us-east-1"], "config": str(stacks)},
            {"name": "Prod", "account": PROD, "regions": ["us-east-1", "us-west-2"], "config": str(stacks),
             "approval": True},
        ],
        "baseline": {"organizational_units": [OU], "regions": ["us-east-1", "us-west-2"]},
        **overrides,
    }  # fmt: skip
    path = folder / "pipeline.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    path = _write_configs(folder)
    app = App(outdir=str(folder / "cdk.out"), context={**cdk_json_context(), "pipeline": str(path)})
    return build_pipeline_app(app).synth()


@pytest.fixture(scope="module")
def template(assembly) -> dict:
    return assembly.get_stack_by_name("CatalogPipeline").template


def _stages(template: dict) -> dict[str, list[dict]]:
    _, pipeline = one_resource(template, "AWS::CodePipeline::Pipeline")
    return {stage["Name"]: stage["Actions"] for stage in pipeline["Properties"]["Stages"]}


def test_the_pipeline_updates_itself_then_rolls_out_stage_by_stage(template):
    stages = _stages(template)
    assert list(stages)[:3] == ["Source", "Build", "UpdatePipeline"]
    # A one-region wave is named after its stage (Dev-us-east-1); Dev comes before Prod.
    names = list(stages)
    assert names.index("Baseline") < names.index("Dev-us-east-1") < names.index("Prod")
    (source,) = stages["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["FullRepositoryId"] == "acme/ml-platform"
    # The synth step installs the repo and synthesizes this app under every gate, so the pipeline mutates itself.
    _, synth = next((k, r) for k, r in template["Resources"].items() if r["Type"] == "AWS::CodeBuild::Project"
                    and "make pipeline-synth PIPELINE=pipeline.json" in json.dumps(r))  # fmt: skip
    assert "make .venv/.installed" in json.dumps(synth["Properties"]["Source"])
    # Self-mutation and asset publishing install the CLI the repo pins (the registry's newest cannot read
    # this aws-cdk-lib's cloud assembly).
    installs = {m for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"
                for m in re.findall(r"npm install -g ((?:aws-cdk|cdk-assets)@[^ \\\"]+)", json.dumps(r))}  # fmt: skip
    assert f"aws-cdk@{CDK_CLI_VERSION}" in installs and not {i for i in installs if i.startswith("aws-cdk@")} - {
        f"aws-cdk@{CDK_CLI_VERSION}"}  # fmt: skip
    # Every step but synth (which brings its own) runs on a Node.js the CLI supports, not the image's default 18.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CodeBuild::Project":
            assert '\\"nodejs\\": \\"22\\"' in json.dumps(resource["Properties"]["Source"]), resource


def test_production_shows_the_diff_and_waits_for_an_approval_before_deploying_its_regions_in_parallel(
    template,
):
    actions = _stages(template)["Prod"]
    by_name = {a["Name"]: a for a in actions}
    diff, approve = by_name["ProdDiff"], by_name["ApproveProd"]
    assert approve["ActionTypeId"]["Category"] == "Approval"
    assert diff["RunOrder"] < approve["RunOrder"]
    deploys = [a for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert {a.get("Region", "us-east-1") for a in deploys} == {"us-east-1", "us-west-2"}
    first = min(a["RunOrder"] for a in deploys)
    assert first > approve["RunOrder"]
    # The two regions' first actions run together: a wave deploys its regions in parallel.
    assert sorted({a["Name"].split(".")[0] for a in deploys if a["RunOrder"] == first}) == [
        "Prod-us-east-1", "Prod-us-west-2"]  # fmt: skip
    # Deployed through the target account's CDK bootstrap roles (cdk bootstrap --trust <pipeline account>).
    for action in deploys:
        assert f"{PROD}:role/cdk-hnb659fds-deploy-role-{PROD}-" in json.dumps(action["RoleArn"])
    assert not any(a["ActionTypeId"]["Category"] == "Approval" for a in _stages(template)["Dev-us-east-1"])


def test_the_diff_may_assume_the_lookup_roles_of_production_only(template):
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                and "sts:AssumeRole" in json.dumps(r) and "lookup-role" in json.dumps(r)]  # fmt: skip
    (policy,) = policies
    (statement,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"
    ]
    resources = json.dumps(statement["Resource"])
    assert resources.count("lookup-role") == 2 and DEV not in resources and PROD in resources
    (project,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"
                  and f"aws-cdk@{CDK_CLI_VERSION} diff" in json.dumps(r)]  # fmt: skip
    assert "diff --method=template --app . 'Prod-us-east-1/*' 'Prod-us-west-2/*'" in json.dumps(project)


def test_artifacts_and_logs_are_encrypted_with_the_pipelines_keys(assembly, template):
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    _, pipeline = one_resource(template, "AWS::CodePipeline::Pipeline")
    stores = {s["Region"]: s["ArtifactStore"] for s in pipeline["Properties"]["ArtifactStores"]}
    assert set(stores) == {"us-east-1", "us-west-2"}
    assert stores["us-east-1"]["EncryptionKey"]["Id"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "alias/CatalogPipeline-artifacts-us-west-2" in json.dumps(stores["us-west-2"]["EncryptionKey"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::CodeBuild::Project":
            properties = resource["Properties"]
            assert properties["EncryptionKey"] == {"Fn::GetAtt": [key_id, "Arn"]}
            assert properties["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED"
        if resource["Type"] == "AWS::S3::Bucket" and "BucketEncryption" in resource["Properties"]:
            rule = resource["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256")
    support = assembly.get_stack_by_name("CatalogPipeline-us-west-2").template
    buckets = [r for r in support["Resources"].values() if r["Type"] == "AWS::S3::Bucket"
               and r["Properties"].get("VersioningConfiguration")]  # fmt: skip
    assert buckets and all(
        "LoggingConfiguration" in b["Properties"] for b in buckets if "BucketName" in b["Properties"]
    )


def test_the_pipeline_templates_pass_cfn_lint_and_checkov(assembly, tmp_path):
    stacks = {}
    for name in ("CatalogPipeline", "CatalogPipeline-us-west-2"):
        template = assembly.get_stack_by_name(name).template
        assert [
            f for f in run_cfn_lint(name, template, regions=("us-east-1", "us-west-2")) if not f.acknowledged
        ] == []
        (tmp_path / f"{name}.template.json").write_text(json.dumps(template))
        stacks[f"{name}.template.json"] = name
    if checkov_path() is None:
        pytest.skip("checkov is not installed (make install)")
    assert [f for f in run_checkov(tmp_path, stacks) if not f.acknowledged] == []


def test_the_stages_are_the_catalogs_stacks_in_each_account_and_region(assembly):
    stage = assembly.get_nested_assembly("assembly-Prod-us-west-2")
    (stack,) = stage.stacks
    assert stack.environment.account == PROD and stack.environment.region == "us-west-2"
    assert any(r["Type"] == "AWS::Polly::Lexicon" for r in stack.template["Resources"].values())


def test_a_codecommit_source(tmp_path):
    path = _write_configs(tmp_path, source={"repository": "ml-platform", "codecommit": True})
    app = build_pipeline_app(App(context={**cdk_json_context(), "pipeline": str(path)}), gates=False)
    (source,) = _stages(app.synth().get_stack_by_name("CatalogPipeline").template)["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeCommit"


def test_bad_pipeline_configs_are_refused_with_every_problem(tmp_path):
    stacks = tmp_path / "pinned.json"
    stacks.write_text(
        json.dumps({"stacks": {"Speech": {"blueprint": "speech", "env": {"region": "us-east-1"}}}})
    )
    path = _write_configs(
        tmp_path,
        source={"repository": "ml-platform", "connection_arn": "arn:aws:codeconnections:us-east-1:1:bad"},
        stages=[{"name": "Dev", "account": DEV, "regions": ["us-moon-1"], "config": str(tmp_path / "none.json")},
                {"name": "Dev", "account": PROD, "regions": ["us-east-1"], "config": str(stacks)}],
    )  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_pipeline_app(App(context={**cdk_json_context(), "pipeline": str(path)}), gates=False)
    message = str(caught.value)
    for expected in ("is not a connection ARN", "owner/name for a connection", "stage 'Dev' appears twice",
                     "'us-moon-1' is not an AWS region", "none.json is not a file"):  # fmt: skip
        assert expected in message, expected
    path = _write_configs(
        tmp_path, stages=[{"name": "Dev", "account": "42", "regions": [], "config": str(stacks)}]
    )
    with pytest.raises(CatalogConfigError) as caught:
        build_pipeline_app(App(context={**cdk_json_context(), "pipeline": str(path)}), gates=False)
    assert "stages.0.account" in str(caught.value) and "stages.0.regions" in str(caught.value)
    path = _write_configs(
        tmp_path, stages=[{"name": "Dev", "account": DEV, "regions": ["us-east-1"], "config": str(stacks)}]
    )
    with pytest.raises(
        CatalogConfigError, match="a pipeline stage sets the account and region; leave env out"
    ):
        build_pipeline_app(App(context={**cdk_json_context(), "pipeline": str(path)}), gates=False)


def test_the_organisation_baseline_is_a_service_managed_stack_set(assembly):
    (stack,) = assembly.get_nested_assembly("assembly-Baseline").stacks
    assert stack.environment.account == PIPELINE_ACCOUNT
    (stack_set,) = [
        r for r in stack.template["Resources"].values() if r["Type"] == "AWS::CloudFormation::StackSet"
    ]
    properties = stack_set["Properties"]
    assert properties["PermissionModel"] == "SERVICE_MANAGED" and properties["CallAs"] == "DELEGATED_ADMIN"
    assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    (group,) = properties["StackInstancesGroup"]
    assert group == {
        "DeploymentTargets": {"OrganizationalUnitIds": [OU]},
        "Regions": ["us-east-1", "us-west-2"],
    }
    body = json.loads(properties["TemplateBody"])
    assert body == baseline_template()
    types = {r["Type"] for r in body["Resources"].values()}
    assert {"AWS::ECR::PullThroughCacheRule", "AWS::SNS::Topic", "AWS::KMS::Key"} <= types
    # Deployed without a bootstrap in the target accounts: no BootstrapVersion parameter, no assets.
    assert "Parameters" not in body
    (topic,) = [r for r in body["Resources"].values() if r["Type"] == "AWS::SNS::Topic"]
    assert "KmsMasterKeyId" in topic["Properties"]


def test_the_baseline_template_passes_cfn_lint_and_checkov(tmp_path):
    template = baseline_template()
    assert [f for f in run_cfn_lint("Baseline", template) if not f.acknowledged] == []
    if checkov_path() is None:
        pytest.skip("checkov is not installed (make install)")
    (tmp_path / "Baseline.template.json").write_text(json.dumps(template))
    assert [
        f for f in run_checkov(tmp_path, {"Baseline.template.json": "Baseline"}) if not f.acknowledged
    ] == []


def test_a_stage_that_would_create_the_baselines_cache_again_is_refused(tmp_path):
    stacks = tmp_path / "images.json"
    stacks.write_text(json.dumps({"stacks": {"Images": {"blueprint": "container-image", "registry": {}}}}))
    path = _write_configs(tmp_path, stages=[{"name": "Dev", "account": DEV, "regions": ["us-east-1"],
                                             "config": str(stacks)}])  # fmt: skip
    with pytest.raises(
        CatalogConfigError, match="sets the registry's pull-through cache, which the baseline"
    ):
        build_pipeline_app(App(context={**cdk_json_context(), "pipeline": str(path)}), gates=False)


def test_a_bad_baseline_is_refused(tmp_path):
    path = _write_configs(tmp_path, baseline={"organizational_units": ["r-root"], "regions": ["us-east-1"],
                                              "call_as": "ADMIN"})  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_pipeline_app(App(context={**cdk_json_context(), "pipeline": str(path)}), gates=False)
    message = str(caught.value)
    assert "'r-root' is not an OU ID" in message and "call_as 'ADMIN'" in message

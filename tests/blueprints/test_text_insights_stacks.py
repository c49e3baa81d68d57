"""The text-insights example as the contract synthesized it: snapshot, targeted assertions and refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from conftest import cdk_json_context, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError
from mlblueprints.constructs.comprehend.custom_classifier import TRAINING, training_version
from mlblueprints.constructs.comprehend.entity_recognizer import ENTITIES, entity_version

AGNOSTIC = "SupportTickets-agnostic"


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


def test_the_classifier_trains_in_the_private_network_with_the_stacks_key(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, classifier = one_resource(template, "AWS::Comprehend::DocumentClassifier")
    key_id, _ = one_resource(template, "AWS::KMS::Key")
    properties = classifier["Properties"]
    key = {"Fn::GetAtt": [key_id, "Arn"]}
    # With an endpoint the model stays under Comprehend's key: CloudFormation's endpoint has no data access role
    # to read a model under a customer managed key. The training volume and output are under the stack's key.
    assert "ModelKmsKeyId" not in properties and properties["VolumeKmsKeyId"] == key
    # A version per data and language, so a change trains a new version instead of colliding on the name.
    assert properties["VersionName"] == training_version(TRAINING, "en")
    assert properties["OutputDataConfig"]["KmsKeyId"] == key and properties["Mode"] == "MULTI_CLASS"
    assert properties["InputDataConfig"]["DataFormat"] == "COMPREHEND_CSV"
    assert json.dumps(properties["InputDataConfig"]["S3Uri"]).endswith('"/training/"]]}')
    subnets = properties["VpcConfig"]["Subnets"]
    isolated = {k for k, r in template["Resources"].items()
                if r["Type"] == "AWS::EC2::Subnet" and "Isolated" in json.dumps(r.get("Properties", {}).get("Tags", []))}  # fmt: skip
    assert subnets and {s["Ref"] for s in subnets} <= isolated
    # Trained only once the data is copied and the role may read it.
    depends = set(classifier.get("DependsOn", []))
    assert any(d.startswith("ClassifierTrainingData") for d in depends)
    assert any(d.startswith("ClassifierDataAccessRole") for d in depends)


def test_the_endpoint_serves_the_trained_model(contract_templates):
    template = contract_templates[AGNOSTIC]
    classifier_id, _ = one_resource(template, "AWS::Comprehend::DocumentClassifier")
    _, endpoint = one_resource(template, "AWS::Comprehend::DocumentClassifierEndpoint")
    assert endpoint["Properties"]["ModelArn"] == {"Fn::GetAtt": [classifier_id, "Arn"]}
    assert endpoint["Properties"]["DesiredInferenceUnits"] == 1


def test_the_entity_recognizer_trains_once_its_data_is_copied(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, classifier = one_resource(template, "AWS::Comprehend::DocumentClassifier")
    machines = {
        k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::StepFunctions::StateMachine"
    }
    (machine_id,) = [k for k in machines if k.startswith("EntityRecognizer")]
    parts = machines[machine_id]["Properties"]["DefinitionString"]["Fn::Join"][1]
    states = json.loads("".join(p if isinstance(p, str) else "<token>" for p in parts))["States"]
    train = states["Train"]["Parameters"]
    digest = entity_version(ENTITIES, "en")
    # A version per data digest and stack: a version left by a deleted stack is never reused.
    assert train["VersionName"] == f"{digest}-<token>"
    assert [t["Type"] for t in train["InputDataConfig"]["EntityTypes"]] == ["ERROR_CODE", "PRODUCT"]
    # Each version's data under its own prefix: a later deploy cannot change what a training reads.
    assert train["InputDataConfig"]["EntityList"]["S3Uri"].endswith(f"/entities/{digest}/entity_list.csv")
    # The classifier's network, keys and role: trained in the private VPC like it.
    assert train["VpcConfig"]["SecurityGroupIds"] == ["<token>"] and "ModelKmsKeyId" in train
    # A version that exists already is followed, not created again.
    assert states["Train"]["Catch"][0] == {"ErrorEquals": ["Comprehend.ResourceInUseException"],
                                           "Next": "FollowTheVersion"}  # fmt: skip
    assert (
        states["FollowTheVersion"]["Next"] == "WaitForTraining"
        and states["Trained?"]["Default"] == "WaitForTraining"
    )
    # CloudFormation starts it once the data is copied, one execution named after the version.
    (start,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::AWS"]
    assert any(d.startswith("EntityRecognizerEntitiesData") for d in start["DependsOn"])
    assert "StartExecution" in json.dumps(start["Properties"]["Create"]) and digest in json.dumps(
        start["Properties"]
    )
    (deployment,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"
                     and f"entities/{digest}/" == r["Properties"].get("DestinationBucketKeyPrefix")]  # fmt: skip
    assert deployment
    # A training that fails or times out alarms.
    (alarm,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
                and "failed or timed out" in r["Properties"].get("AlarmDescription", "")]  # fmt: skip
    assert {m.get("Expression") for m in alarm["Properties"]["Metrics"]} >= {"failed + timedout"}
    role_id = classifier["Properties"]["DataAccessRoleArn"]["Fn::GetAtt"][0]
    role_statements = _statements(template, machines[machine_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    (pass_role,) = [s for s in role_statements if "iam:PassRole" in _actions(s)]
    assert pass_role["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "comprehend.amazonaws.com"}}


def test_comprehend_reaches_its_prefixes_only(contract_templates):
    template = contract_templates[AGNOSTIC]
    _, classifier = one_resource(template, "AWS::Comprehend::DocumentClassifier")
    role_id = classifier["Properties"]["DataAccessRoleArn"]["Fn::GetAtt"][0]
    (trust,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {
        "Service": "comprehend.amazonaws.com"
    } and "aws:SourceAccount" in json.dumps(trust)
    by_action = {a: s for s in _statements(template, role_id) for a in _actions(s)}
    reads = json.dumps(by_action["s3:GetObject"]["Resource"])
    assert "/training/*" in reads and "/datalake/*" in reads and "/output/*" not in reads
    assert "/output/*" in json.dumps(by_action["s3:PutObject"]["Resource"])
    assert "ec2:CreateNetworkInterface" in by_action
    assert set(by_action["s3:ListBucket"]["Condition"]["StringLike"]["s3:prefix"]) == {
        "training/*", "input/*", "datasets/*", "datalake/*", "output/*", "entities/*"
    }  # fmt: skip
    # Training nodes talk to each other (distributed training), and nothing else comes in.
    group_id = classifier["Properties"]["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    (ingress,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
                  and r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}]  # fmt: skip
    assert (
        ingress["SourceSecurityGroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
        and ingress["IpProtocol"] == "-1"
    )
    # The S3 gateway endpoint's policy names the same prefixes.
    (endpoint,) = [r for r in template["Resources"].values()
                   if r["Type"] == "AWS::EC2::VPCEndpoint" and "PolicyDocument" in r["Properties"]]  # fmt: skip
    policy = json.dumps(endpoint["Properties"]["PolicyDocument"])
    assert "/training/*" in policy and "/output/*" in policy and "s3:AbortMultipartUpload" in policy


def test_a_flywheel_instead_of_an_endpoint():
    stacks = {"Fly": {"blueprint": "text-insights", "serving": "flywheel", "retain_data": False}}
    app = build_app(App(context={**cdk_json_context(), "stacks": json.dumps(stacks)}), gates=False)
    template = app.synth().get_stack_by_name("Fly").template
    assert not any(
        r["Type"] == "AWS::Comprehend::DocumentClassifierEndpoint" for r in template["Resources"].values()
    )
    classifier_id, classifier = one_resource(template, "AWS::Comprehend::DocumentClassifier")
    # Without an endpoint, the model is under the stack's key too.
    assert "ModelKmsKeyId" in classifier["Properties"]
    _, flywheel = one_resource(template, "AWS::Comprehend::Flywheel")
    properties = flywheel["Properties"]
    assert properties["ActiveModelArn"] == {"Fn::GetAtt": [classifier_id, "Arn"]}
    assert json.dumps(properties["DataLakeS3Uri"]).endswith('"/datalake/"]]}')
    assert set(properties["DataSecurityConfig"]) == {
        "ModelKmsKeyId",
        "VolumeKmsKeyId",
        "DataLakeKmsKeyId",
        "VpcConfig",
    }


def test_refusals_are_reported_at_once(tmp_path):
    (tmp_path / "train.csv").write_text("A,only one document\n")
    stacks = {"Bad": {"blueprint": "text-insights", "language_code": "ja", "serving": "batch",
                      "training_data": str(tmp_path), "env": {"account": "123456789012", "region": "sa-east-1"}}}  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("not offered in sa-east-1", "language_code 'ja'", "serving 'batch'",
                     "a classifier needs two or more"):  # fmt: skip
        assert expected in message, expected


def test_an_endpoint_takes_at_most_ten_inference_units():
    stacks = {"Big": {"blueprint": "text-insights", "serving": "endpoint", "inference_units": 11}}
    with pytest.raises(CatalogConfigError, match="inference_units 11: an endpoint takes 1 to 10"):
        build_app(App(context={"stacks": json.dumps(stacks)}))

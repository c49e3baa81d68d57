"""SecureBucket, EncryptionKey and PrivateNetwork: compliant under all six gates on their own."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, RemovalPolicy, Stack, Validations
from aws_cdk.assertions import Match, Template

from mlblueprints.constructs.compliance.gates import COMPLIANCE_PACKS, add_compliance_gates
from mlblueprints.constructs.errors import NetworkConfigError
from mlblueprints.constructs.security.encryption_key import EncryptionKey
from mlblueprints.constructs.security.private_network import PrivateNetwork, network_problems
from mlblueprints.constructs.security.secure_bucket import SecureBucket

STACK_ID_BLOCK = {
    "Fn::Select": [
        0,
        {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]},
    ]
}
CREATE_GRANT_DENY = {
    "Sid": "DenyGrantsNotForAwsResources",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "kms:CreateGrant",
    "Resource": "*",
    "Condition": {
        "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
    },
}


def _baseline_app(outdir) -> App:
    app = App(outdir=str(outdir))
    stack = Stack(app, "Baseline")
    key = EncryptionKey(stack, "Key", description="baseline test key")
    SecureBucket(stack, "Data", encryption_key=key.key)
    PrivateNetwork(stack, "Network", encryption_key=key.key)
    return app


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A stack with only the baseline constructs, synthesized once under the five cdk-nag packs."""
    outdir = tmp_path_factory.mktemp("baseline")
    app = _baseline_app(outdir)
    Validations.of(app).add_plugins(*(pack(app) for pack in COMPLIANCE_PACKS))
    app.synth()  # raises on any unacknowledged finding
    return Template.from_json(json.loads((outdir / "Baseline.template.json").read_text()))


def _key_statements(template: Template) -> list[dict]:
    (key,) = template.find_resources("AWS::KMS::Key").values()
    return key["Properties"]["KeyPolicy"]["Statement"]


def test_baseline_passes_all_packs(baseline):
    baseline.resource_count_is("AWS::S3::Bucket", 2)  # data + its access-log bucket


def test_baseline_passes_the_control_tower_gate(tmp_path):
    app = _baseline_app(tmp_path)
    add_compliance_gates(app)
    app.synth()


def test_data_bucket_is_kms_encrypted_versioned_logged_private_and_retained(baseline):
    baseline.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like(
                {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            Match.object_like(
                                {
                                    "BucketKeyEnabled": True,
                                    "ServerSideEncryptionByDefault": Match.object_like(
                                        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()}
                                    ),
                                }
                            )
                        ]
                    },
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_buckets_deny_requests_without_tls(baseline):
    policies = baseline.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        )


def test_key_rotates_and_is_retained(baseline):
    baseline.has_resource(
        "AWS::KMS::Key",
        {"Properties": Match.object_like({"EnableKeyRotation": True}), "DeletionPolicy": "Retain"},
    )


def test_key_denies_grants_not_for_aws_resources(baseline):
    # AWS Control Tower CT.KMS.PR.3: the key cannot be handed on through grants.
    assert CREATE_GRANT_DENY in _key_statements(baseline)


def test_network_closes_default_security_group_and_logs_flows(baseline):
    baseline.resource_count_is("Custom::VpcRestrictDefaultSG", 1)
    baseline.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})


def test_flow_log_group_is_named_after_the_network_and_the_stack_id(baseline):
    (log_group,) = baseline.find_resources("AWS::Logs::LogGroup").values()
    name = log_group["Properties"]["LogGroupName"]
    separator, (prefix, block) = name["Fn::Join"]
    assert separator == ""
    assert prefix.startswith("/mlblueprints/vpc-flow-logs/Baseline-Network-") and prefix.endswith("-")
    assert block == STACK_ID_BLOCK


def test_key_lets_logs_encrypt_exactly_the_flow_log_group(baseline):
    (log_group,) = baseline.find_resources("AWS::Logs::LogGroup").values()
    prefix, block = log_group["Properties"]["LogGroupName"]["Fn::Join"][1]
    (statement,) = [s for s in _key_statements(baseline) if "logs." in json.dumps(s["Principal"])]
    arn = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Join"][1]
    assert arn[-2:] == [f":log-group:{prefix}", block]


def test_s3_gateway_lets_through_the_ecr_layer_bucket_only(baseline):
    (endpoint,) = baseline.find_resources(
        "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}}
    ).values()
    (statement,) = endpoint["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:GetObject"
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":s3:::prod-",
                {"Ref": "AWS::Region"},
                "-starport-layer-bucket/*",
            ],
        ]
    }


def test_allow_s3_objects_adds_exactly_those_objects():
    stack = Stack(App(), "Test")
    key = EncryptionKey(stack, "Key", description="k")
    network = PrivateNetwork(stack, "Network", encryption_key=key.key)
    network.allow_s3_objects("arn:aws:s3:::my-models/llm/model.tar.gz")
    (endpoint,) = (
        Template.from_stack(stack)
        .find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}})
        .values()
    )
    resources = [s["Resource"] for s in endpoint["Properties"]["PolicyDocument"]["Statement"]]
    assert "arn:aws:s3:::my-models/llm/model.tar.gz" in resources
    assert "*" not in resources and len(resources) == 2


def test_data_deletion_is_opt_in():
    stack = Stack(App(), "Disposable")
    key = EncryptionKey(stack, "Key", description="k", removal_policy=RemovalPolicy.DESTROY)
    SecureBucket(stack, "Data", encryption_key=key.key, removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    buckets = template.find_resources("AWS::S3::Bucket").values()
    assert len(buckets) == 2, "the data bucket and its access-log bucket"
    for bucket in buckets:
        assert bucket["DeletionPolicy"] == "Delete"
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})


def test_single_az_network_rejected():
    stack = Stack(App(), "Test")
    key = EncryptionKey(stack, "Key", description="k")
    with pytest.raises(NetworkConfigError, match=r"^max_azs=1: .*single point of failure.*Use 2 or 3"):
        PrivateNetwork(stack, "Network", encryption_key=key.key, max_azs=1)


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("10.80.0.0/33", r"vpc_cidr '10.80.0.0/33' is not an IPv4 network"),
        ("8.8.0.0/16", r"vpc_cidr '8.8.0.0/16' is not a private \(RFC 1918\) range"),
        ("10.0.0.0/8", r"vpc_cidr '10.0.0.0/8' is larger than the /16 EC2 accepts"),
        ("10.80.0.0/24", r"vpc_cidr '10.80.0.0/24' is too small.*needs a /19 or larger"),
    ],
    ids=["malformed", "public", "too-large", "too-small"],
)
def test_unusable_vpc_cidr_rejected(cidr, message):
    stack = Stack(App(), "Test")
    key = EncryptionKey(stack, "Key", description="k")
    with pytest.raises(NetworkConfigError, match=message):
        PrivateNetwork(stack, "Network", encryption_key=key.key, cidr=cidr)


def test_network_problems_are_reported_together():
    problems = network_problems("8.8.0.0/24", max_azs=1)
    assert [p.setting for p in problems] == ["max_azs", "vpc_cidr", "vpc_cidr"]


@pytest.mark.parametrize(("cidr", "max_azs"), [("10.80.0.0/19", 2), ("10.80.0.0/18", 3)])
def test_smallest_vpc_cidr_that_holds_one_subnet_per_zone_is_accepted(cidr, max_azs):
    assert network_problems(cidr, max_azs) == []
    assert "needs a /18 or larger" in network_problems("10.80.0.0/19", 3)[0].message

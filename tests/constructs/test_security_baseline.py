"""SecureBucket, EncryptionKey and PrivateNetwork: compliant under all five packs on their own."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk.assertions import Match, Template

from mlblueprints.constructs.compliance.gates import add_compliance_packs
from mlblueprints.constructs.security.encryption_key import EncryptionKey
from mlblueprints.constructs.security.private_network import PrivateNetwork
from mlblueprints.constructs.security.secure_bucket import SecureBucket


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A stack with only the baseline constructs, synthesized once under all five packs."""
    outdir = tmp_path_factory.mktemp("baseline")
    app = App(outdir=str(outdir))
    stack = Stack(app, "Baseline")
    key = EncryptionKey(stack, "Key", description="baseline test key")
    key.allow_cloudwatch_logs()
    SecureBucket(stack, "Data", encryption_key=key.key)
    PrivateNetwork(stack, "Network", encryption_key=key.key)
    add_compliance_packs(app)
    app.synth()  # raises on any unacknowledged finding
    return Template.from_json(json.loads((outdir / "Baseline.template.json").read_text()))


def test_baseline_passes_all_packs(baseline):
    baseline.resource_count_is("AWS::S3::Bucket", 2)  # data + its access-log bucket


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


def test_network_closes_default_security_group_and_logs_flows(baseline):
    baseline.resource_count_is("Custom::VpcRestrictDefaultSG", 1)
    baseline.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})


def test_data_deletion_is_opt_in():
    stack = Stack(App(), "Disposable")
    key = EncryptionKey(stack, "Key", description="k", removal_policy=RemovalPolicy.DESTROY)
    SecureBucket(stack, "Data", encryption_key=key.key, removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})


def test_single_az_network_rejected():
    stack = Stack(App(), "Test")
    key = EncryptionKey(stack, "Key", description="k")
    with pytest.raises(ValueError, match=r"max_azs=1: .*single point of failure.*max_azs=2"):
        PrivateNetwork(stack, "Network", encryption_key=key.key, max_azs=1)

"""Acknowledgements: each names one rule with a real reason, and holds in every partition and environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_sns as sns

from mlblueprints.constructs.compliance.acknowledge import (
    REGULATORY_PACKS,
    Pack,
    acknowledge,
    nag_evidence,
    rule_id,
)
from mlblueprints.constructs.compliance.gates import add_compliance_gates
from mlblueprints.constructs.errors import AcknowledgementError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.endpoint import RealtimeEndpoint
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.encryption_key import EncryptionKey
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime
from mlblueprints.constructs.security.secure_bucket import SecureBucket

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
ACCOUNT = "123456789012"


def _acknowledgements(scope) -> dict[str, str]:
    """Rule ID -> recorded reason, for every acknowledgement in ``scope``'s tree."""
    found = {}
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACKNOWLEDGED:
                for rule, reason in entry.data.items():
                    found[f"{construct.node.path}:{rule.removeprefix('Annotation::')}"] = reason
    return found


def _topic() -> sns.Topic:
    return sns.Topic(Stack(App(), "Test"), "Topic")


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_acknowledge_refuses_an_empty_reason(reason):
    with pytest.raises(
        AcknowledgementError, match=r"^acknowledge\('SNSEncryptedKMS'\) needs a topic and a reason"
    ):
        acknowledge(_topic(), "SNSEncryptedKMS", topic="unencrypted topic", reason=reason)


def test_acknowledge_refuses_an_empty_topic():
    with pytest.raises(
        AcknowledgementError, match=r"^acknowledge\('SNSEncryptedKMS'\) needs a topic and a reason"
    ):
        acknowledge(_topic(), "SNSEncryptedKMS", topic=" ", reason="It holds no data.")


def test_acknowledge_refuses_no_packs():
    with pytest.raises(AcknowledgementError, match=r"^acknowledge\(\) needs at least one pack"):
        acknowledge(_topic(), "SNSEncryptedKMS", topic="t", reason="r", packs=())


def test_acknowledge_records_topic_and_reason_for_each_regulatory_pack():
    topic = _topic()
    acknowledge(topic, "SNSEncryptedKMS", topic="unencrypted topic", reason="It holds no data.")
    assert _acknowledgements(topic) == {
        f"Test/Topic:{pack.value}-SNSEncryptedKMS": "unencrypted topic: It holds no data."
        for pack in REGULATORY_PACKS
    }


def test_rule_ids_of_cdk_nag_and_control_tower():
    assert rule_id(Pack.HIPAA_SECURITY, "IAMNoInlinePolicy") == "HIPAA.Security-IAMNoInlinePolicy"
    assert (
        rule_id(Pack.CONTROL_TOWER, "lambda_inside_vpc_check")
        == "cdk-validator-cfnguard::lambda_inside_vpc_check"
    )


def test_nag_evidence_renders_pseudo_parameters_like_cdk_nag():
    stack = Stack(App(), "Test")
    arn = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
    assert (
        nag_evidence(stack, arn)
        == "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*"
    )


def test_secure_bucket_acknowledgements_carry_their_reasons():
    stack = Stack(App(), "Test")
    key = EncryptionKey(stack, "Key", description="k")
    bucket = SecureBucket(stack, "Data", encryption_key=key.key)
    acknowledgements = _acknowledgements(bucket)
    assert {rule.split(":", 1)[1] for rule in acknowledgements} >= {
        "AwsSolutions-S1",
        "HIPAA.Security-S3BucketLoggingEnabled",
        "PCI.DSS.321-S3DefaultEncryptionKMS",
        "NIST.800.53.R5-S3BucketReplicationEnabled",
    }
    for rule, recorded in acknowledgements.items():
        topic, _, reason = recorded.partition(": ")
        assert topic.strip(), rule
        assert len(reason.strip()) >= 40, f"{rule}: {recorded!r}"


# --- the ENI wildcard acknowledgement in pinned stacks, commercial and China ------------------------


@pytest.fixture(scope="module")
def pinned_assembly(tmp_path_factory):
    """Two pinned stacks with a GPU endpoint in a VPC, synthesized once under all six gates.

    ``app.synth()`` raises on any finding that is not acknowledged; the acknowledgement of the ENI
    statement names the resource as cdk-nag renders it, which differs between an agnostic stack and
    one pinned to an account and region (and partition: aws-cn).
    """
    app = App(outdir=str(tmp_path_factory.mktemp("pinned")))
    image = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
    for stack_id, region in (("Commercial", "us-east-1"), ("China", "cn-north-1")):
        stack = AvailabilityZonesAtDeployTime(app, stack_id, env=Environment(account=ACCOUNT, region=region))
        baseline = SecurityBaseline.create(stack)
        RealtimeEndpoint(
            stack,
            "Endpoint",
            instance_type="ml.g5.xlarge",
            image=image,
            model_data=ModelData.from_s3_url("s3://my-models/llm/model.tar.gz"),
            vpc=baseline.network.vpc,
            subnets=baseline.network.subnets,
            encryption_key=baseline.key.key,
        )
    add_compliance_gates(app)
    return app.synth()


@pytest.mark.parametrize(("stack_id", "region"), [("Commercial", "us-east-1"), ("China", "cn-north-1")])
def test_pinned_stack_passes_the_gates_with_its_eni_acknowledgement(pinned_assembly, stack_id, region):
    stack = pinned_assembly.get_stack_by_name(stack_id)
    assert stack.environment.region == region
    template = json.dumps(stack.template)
    assert "network-interface/*" in template
    metadata = json.loads((Path(pinned_assembly.directory) / f"{stack_id}.metadata.json").read_text())
    acknowledged = {
        rule
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == ACKNOWLEDGED
        for rule in entry["data"]
    }
    eni = f"arn:<AWS::Partition>:ec2:{region}:{ACCOUNT}:network-interface/*"
    assert f"Annotation::AwsSolutions-IAM5[Resource::{eni}]" in acknowledged

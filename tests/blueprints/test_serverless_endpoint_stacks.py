"""The serverless-endpoint example stack as the contract synthesized it: snapshot plus assertions."""

from __future__ import annotations

import json

from aws_cdk.assertions import Template
from conftest import mask_template

EXAMPLE = "PytorchOnServerless"


def test_template_snapshot(contract_templates, snapshot_json):
    template = mask_template(contract_templates[f"{EXAMPLE}-agnostic"])
    assert "<asset-hash>" in str(template["Resources"]), "the smoke-test model asset should be masked"
    assert template == snapshot_json


def test_example_settings_reach_the_endpoint(contract_templates):
    template = Template.from_json(contract_templates[f"{EXAMPLE}-agnostic"])
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": 4096,
        "MaxConcurrency": 20,
        "ProvisionedConcurrency": 2,
    }
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ModelSetupTime", "Threshold": 20_000_000}
    )
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-oncall@example.com"}
    )


def test_no_vpc_and_data_retained(contract_templates):
    template = Template.from_json(contract_templates[f"{EXAMPLE}-agnostic"])
    template.resource_count_is("AWS::EC2::VPC", 0)
    for resource in template.find_resources("AWS::KMS::Key").values():
        assert resource["DeletionPolicy"] == "Retain"
    for resource in template.find_resources("AWS::Logs::LogGroup").values():
        # Kept on deletion; removed only when the stack's first creation rolls back.
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate"


def test_image_region_is_checked_at_synth_when_pinned_and_at_deploy_when_agnostic(contract_templates):
    agnostic = contract_templates[f"{EXAMPLE}-agnostic"]
    pinned = contract_templates[f"{EXAMPLE}-eu-west-1"]
    assert any(name.startswith("DlcRegion") for name in agnostic["Rules"])
    assert not any(name.startswith("DlcRegion") for name in pinned.get("Rules", {}))
    assert "763104351884.dkr.ecr." in json.dumps(pinned)

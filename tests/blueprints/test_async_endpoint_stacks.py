"""The async-endpoint example stack as the contract synthesized it: snapshot plus assertions."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from conftest import mask_template

from mlblueprints.blueprints.async_endpoint.settings import AsyncEndpointSettings
from mlblueprints.constructs.errors import BlueprintConfigError

EXAMPLE = "BatchScoringOnGpu"
MODEL = {
    "instance_type": "ml.g5.2xlarge",
    "dlc_repository": "pytorch-inference",
    "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
}


@pytest.fixture(scope="module")
def template(contract_templates) -> Template:
    return Template.from_json(contract_templates[f"{EXAMPLE}-agnostic"])


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[f"{EXAMPLE}-agnostic"]) == snapshot_json


def test_example_settings_reach_the_endpoint(template):
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    client = config["Properties"]["AsyncInferenceConfig"]["ClientConfig"]
    assert client == {"MaxConcurrentInvocationsPerInstance": 4}
    (target,) = template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (0, 4)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateAgeOfOldestRequest", "Threshold": 1800}
    )


def test_vpc_s3_gateway_lets_the_instances_read_inputs_and_write_results(template):
    (gateway,) = [
        e
        for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    ]
    statements = gateway["Properties"]["PolicyDocument"]["Statement"]
    writes = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert len(writes) == 1
    resources = json.dumps(writes[0]["Resource"])
    assert "/async-output/*" in resources and "/async-failures/*" in resources
    assert any(
        "/async-input/*" in json.dumps(s["Resource"]) and s["Action"] == "s3:GetObject" for s in statements
    )


def test_outputs_tell_clients_where_to_put_and_find(template):
    outputs = template.to_json()["Outputs"]
    assert {"InputLocation", "OutputLocation", "SuccessTopicArn", "ErrorTopicArn"} <= set(outputs)


def test_invocations_target_is_refused_with_the_reason():
    with pytest.raises(
        BlueprintConfigError, match=r"does not publish InvocationsPerInstance for asynchronous"
    ):
        AsyncEndpointSettings.parse("S", {**MODEL, "target_invocations_per_instance": 70})


def test_bad_async_values_all_at_once():
    with pytest.raises(BlueprintConfigError) as caught:
        AsyncEndpointSettings.parse(
            "S",
            {
                **MODEL,
                "max_concurrent_invocations_per_instance": 0,
                "min_capacity": 3,
                "max_capacity": 2,
                "update_strategy": "rolling",
            },
        )
    messages = " ".join(problem.message for problem in caught.value.problems)
    assert "max_concurrent_invocations_per_instance=0" in messages
    assert "max_capacity=2 is below min_capacity=3" in messages


def test_rolling_is_refused_when_the_fleet_can_scale_to_zero():
    with pytest.raises(BlueprintConfigError, match=r"rolling update needs 2 or more instances"):
        AsyncEndpointSettings.parse("S", {**MODEL, "update_strategy": "rolling"})


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("variants", "serves one variant"),
        ("data_capture_percent", "results are already in S3"),
        ("shadow", "shadow variants"),
    ],
)
def test_realtime_only_settings_are_refused_with_the_reason(setting, reason):
    with pytest.raises(BlueprintConfigError, match=reason):
        AsyncEndpointSettings.parse("S", {**MODEL, setting: 1})

"""The ec2-fleet examples as the contract synthesized them: snapshot, targeted assertions, refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from conftest import ACCOUNT, mask_template

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError


def _problems(stacks: dict) -> str:
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    return str(caught.value)


def _data(template: dict) -> dict:
    (launch_template,) = Template.from_json(template).find_resources("AWS::EC2::LaunchTemplate").values()
    return launch_template["Properties"]["LaunchTemplateData"]


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates["TrainingCluster-agnostic"]) == snapshot_json


def test_gpu_example_mixes_spot_and_scales_on_schedule(contract_templates):
    template = Template.from_json(contract_templates["GpuFleet-agnostic"])
    (group,) = template.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    policy = group["Properties"]["MixedInstancesPolicy"]
    assert [o["InstanceType"] for o in policy["LaunchTemplate"]["Overrides"]] == [
        "g5.12xlarge",
        "g5.24xlarge",
    ]
    assert policy["InstancesDistribution"]["OnDemandBaseCapacity"] == 1
    assert group["Properties"]["MaxSize"] == "4"
    template.has_resource_properties(
        "AWS::AutoScaling::ScheduledAction",
        {"Recurrence": "0 20 * * *", "MaxSize": 0, "TimeZone": "Europe/Paris"},
    )
    template.has_resource_properties("AWS::SNS::Subscription", {"Endpoint": "ml-oncall@example.com"})
    # Session Manager's endpoints are in the VPC; the outputs say how to reach the instances.
    endpoints = json.dumps(template.find_resources("AWS::EC2::VPCEndpoint"))
    for service in ("ssm", "ssmmessages", "ec2messages", "monitoring", "ec2"):
        # ec2: the CloudWatch agent publishes nothing until it has read the instance's tags.
        assert f'".{service}"' in endpoints, service
    outputs = template.to_json()["Outputs"]
    assert {"GroupName", "RoleArn", "SecurityGroupId", "AmiParameter", "SessionCommand"} <= set(outputs)
    assert "aws ssm start-session" in json.dumps(outputs["SessionCommand"])


def test_training_example_uses_efa_on_every_network_card(contract_templates):
    template = contract_templates["TrainingCluster-us-east-1"]
    data = _data(template)
    assert len([i for i in data["NetworkInterfaces"] if i["InterfaceType"] == "efa-only"]) == 4
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert template["Outputs"]["AmiParameter"]["Value"] == (
        "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
    )


def test_region_offerings_are_checked_at_synth_when_pinned_and_at_deploy_when_agnostic(contract_templates):
    # p4d.24xlarge is not offered everywhere: an agnostic stack carries a Rules assertion, a pinned one not.
    agnostic = contract_templates["TrainingCluster-agnostic"]
    assert any(name.startswith("Ec2Region") for name in agnostic.get("Rules", {}))
    assert not any(
        name.startswith("Ec2Region")
        for name in contract_templates["TrainingCluster-eu-west-1"].get("Rules", {})
    )
    message = _problems(
        {
            "Trn": {
                "blueprint": "ec2-fleet",
                "instance_type": "trn1.32xlarge",
                "env": {"account": ACCOUNT, "region": "eu-west-1"},
            }
        }
    )
    assert "trn1.32xlarge is not offered in eu-west-1" in message and "us-east-1" in message


def test_inferentia_example_on_amazon_linux(contract_templates):
    data = _data(contract_templates["InferentiaFleet-agnostic"])
    assert data["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    parameters = contract_templates["InferentiaFleet-agnostic"]["Parameters"]
    assert any(
        p.get("Default") == "/aws/service/neuron/dlami/base/amazon-linux-2023/latest/image_id"
        for p in parameters.values()
    )


def test_every_problem_of_the_settings_at_once():
    message = _problems(
        {
            "Bad": {
                "blueprint": "ec2-fleet",
                "instance_type": "g5.xlarge",
                "efa": True,
                "dlami_flavor": "multi-framework",
                "imds_hop_limit": 3,
                "capacity_block": True,
                "schedules": [{"name": "Night", "cron": "rate(1 day)", "min_capacity": 0, "max_capacity": 0}],
                "env": {"account": ACCOUNT, "region": "us-east-1"},
            },
            "Typo": {"blueprint": "ec2-fleet", "instance_type": "p5.48xlarg"},
            "Sagemaker": {"blueprint": "ec2-fleet", "instance_type": "ml.p5.48xlarge"},
        }
    )
    for expected in (
        "Stack 'Bad': g5.xlarge does not support EFA",
        "is a Neuron DLAMI and would not run",
        "imds_hop_limit=3",
        "capacity_block needs capacity_reservation_id",
        "not a Unix cron expression",
        "Stack 'Typo': 'p5.48xlarg' is not an EC2 instance type",
        "Stack 'Sagemaker': 'ml.p5.48xlarge'",
    ):
        assert expected in message, expected

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


def _synth(config: dict, region: str | None = "us-east-1") -> dict:
    stacks = {"Block": {"blueprint": "ec2-fleet", **config}}
    if region:
        stacks["Block"]["env"] = {"account": ACCOUNT, "region": region}
    app = build_app(App(context={"stacks": json.dumps(stacks)}))
    return app.synth().get_stack_by_name("Block").template


_BLOCK = {
    "instance_type": "p5.48xlarge",
    "efa": True,
    "max_capacity": 2,
    "capacity_reservation_id": "cr-0123456789abcdef0",
    "capacity_block": True,
    "capacity_block_start": "2030-03-02T11:30:00Z",
    "capacity_block_end": "2030-03-04T11:30:00+00:00",
    "availability_zone": "us-east-1d",
}


@pytest.mark.parametrize("region", ["us-east-1", None])
def test_capacity_block_fleet_runs_in_the_blocks_zone(region):
    template = Template.from_json(_synth(_BLOCK, region))
    # The network is in the block's zone only, and the fleet with it.
    zones = {
        s["Properties"]["AvailabilityZone"] for s in template.find_resources("AWS::EC2::Subnet").values()
    }
    assert zones == {"us-east-1d"}
    starts = {
        a["Properties"]["StartTime"]
        for a in template.find_resources("AWS::AutoScaling::ScheduledAction").values()
    }
    assert starts == {"2030-03-02T11:30:00Z", "2030-03-04T10:55:00Z"}
    endpoints = template.find_resources(
        "AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}}
    )
    assert endpoints and all(len(e["Properties"]["SubnetIds"]) == 1 for e in endpoints.values())
    # A Capacity Block is placed already: no placement group of the fleet's own (EC2 would refuse the pair).
    template.resource_count_is("AWS::EC2::PlacementGroup", 0)
    # The fleet calls no SageMaker API: no SageMaker endpoints billed by the hour, or missing in the zone.
    services = json.dumps([e["Properties"]["ServiceName"] for e in endpoints.values()])
    assert "sagemaker" not in services and ".ssmmessages" in services


def test_capacity_block_settings_problems():
    message = _problems(
        {
            "NoZone": {k: v for k, v in _BLOCK.items() if k != "availability_zone"}
            | {"blueprint": "ec2-fleet"},
            "NoTimes": {k: v for k, v in _BLOCK.items() if not k.startswith("capacity_block_")}
            | {"blueprint": "ec2-fleet"},
            "BadTime": _BLOCK | {"blueprint": "ec2-fleet", "capacity_block_end": "next tuesday"},
            "Stray": {
                "blueprint": "ec2-fleet",
                "instance_type": "g5.xlarge",
                "capacity_block_start": "2030-03-02T11:30:00Z",
            },
            "OtherRegion": _BLOCK
            | {"blueprint": "ec2-fleet", "env": {"account": ACCOUNT, "region": "us-west-2"}},
        }
    )
    for expected in (
        "Stack 'NoZone': a capacity reservation or Capacity Block is in one availability zone",
        "Stack 'NoTimes': a Capacity Block has no capacity before it starts",
        "Stack 'BadTime'",
        "capacity_block_end",
        "Stack 'Stray': capacity_block_start and capacity_block_end are for a Capacity Block",
        "Stack 'OtherRegion': availability_zone us-east-1d is in us-east-1, not in the stack's region us-west-2",
    ):
        assert expected in message, expected


def test_training_example_scales_to_zero_when_idle_and_alarms_on_accelerator_health(contract_templates):
    template = Template.from_json(contract_templates["TrainingCluster-agnostic"])
    template.has_resource_properties(
        "AWS::AutoScaling::ScalingPolicy", {"AdjustmentType": "ExactCapacity", "PolicyType": "StepScaling"}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "AcceleratorUtilization", "EvaluationPeriods": 12, "Namespace": "mlblueprints/gpu"},
    )
    for metric in ("AcceleratorErrors", "AcceleratorsMissing", "StatusCheckFailed"):
        template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": metric})
    message = _problems(
        {"Busy": {"blueprint": "ec2-fleet", "instance_type": "g5.xlarge", "min_capacity": 1,
                  "scale_to_zero_after_idle_minutes": 7, "notification_email": "nobody"}}
    )  # fmt: skip
    for expected in ("multiple of 5", "never goes below the minimum", "notification_email='nobody'"):
        assert expected in message, expected


def test_schedule_time_zone_and_desired_are_checked_with_everything_else():
    message = _problems(
        {
            "Zones": {
                "blueprint": "ec2-fleet",
                "instance_type": "g5.xlarge",
                "imds_hop_limit": 3,
                "schedules": [
                    {"name": "Up", "cron": "0 8 * * *", "min_capacity": 0, "max_capacity": 1,
                     "desired_capacity": 2, "time_zone": "Mars/Olympus"}
                ],
            }
        }
    )  # fmt: skip
    for expected in ("imds_hop_limit=3", "time zone 'Mars/Olympus'", "desired 2 is outside"):
        assert expected in message, expected

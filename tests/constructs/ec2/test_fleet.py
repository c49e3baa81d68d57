"""AcceleratedFleet: secure launch template, EFA layout, capacity options, gates, and every refusal."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from aws_cdk import App, Environment
from aws_cdk.assertions import Template
from conftest import cdk_json_context

from mlblueprints.constructs.compliance.gates import add_compliance_gates
from mlblueprints.constructs.ec2.dlami import DlamiOs
from mlblueprints.constructs.ec2.fleet import (
    AcceleratedFleet,
    CapacityReservation,
    FleetError,
    ScheduledCapacity,
    session_manager_endpoints,
)
from mlblueprints.constructs.ec2.monitoring_agent import reporter_payload
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime


def _fleet(app: App | None = None, name: str = "Fleet", env: Environment | None = None, **props):
    stack = AvailabilityZonesAtDeployTime(app or App(), name, env=env)
    base = SecurityBaseline.create(stack)
    base.network.add_interface_endpoints(session_manager_endpoints())
    fleet = AcceleratedFleet(stack, "Fleet", vpc=base.network.vpc, encryption_key=base.key.key, **props)
    return stack, fleet


def _data(template: Template) -> dict:
    (launch_template,) = template.find_resources("AWS::EC2::LaunchTemplate").values()
    return launch_template["Properties"]["LaunchTemplateData"]


def _group(template: Template) -> dict:
    (group,) = template.find_resources("AWS::AutoScaling::AutoScalingGroup").values()
    return group


def test_secure_defaults():
    stack, fleet = _fleet(instance_type="g6e.xlarge")
    template = Template.from_stack(stack)
    data = _data(template)
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    (root,) = data["BlockDeviceMappings"]
    assert root["DeviceName"] == "/dev/sda1"  # Ubuntu DLAMI root: sized and encrypted, not an extra volume
    assert root["Ebs"]["Encrypted"] is True and root["Ebs"]["KmsKeyId"]["Fn::GetAtt"][1] == "Arn"
    assert "KeyName" not in data and "SecurityGroupIds" not in data
    (interface,) = data["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is False and interface["DeviceIndex"] == 0
    (group_sg,) = template.find_resources(
        "AWS::EC2::SecurityGroup",
        {"Properties": {"GroupDescription": fleet.security_group.node.default_child.group_description}},
    ).values()
    assert "SecurityGroupIngress" not in group_sg["Properties"]  # no port 22, no inbound at all
    parameters = template.to_json()["Parameters"]
    assert any(
        p.get("Default")
        == "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
        and p["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
        for p in parameters.values()
    )
    group = _group(template)
    assert len(group["Properties"]["VPCZoneIdentifier"]) == 2
    assert group["UpdatePolicy"]["AutoScalingRollingUpdate"]["MaxBatchSize"] == 1
    actions = {
        action
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert "ssm:UpdateInstanceInformation" in actions and not any(
        a.startswith(("s3:", "iam:")) for a in actions
    )
    user_data = json.dumps(data["UserData"])
    assert "nvidia_gpu" in user_data and "amazon-cloudwatch-agent-ctl" in user_data
    key_policy = json.dumps(template.find_resources("AWS::KMS::Key"))
    assert "AllowEbsThroughEc2InThisAccount" in key_policy and "kms:ViaService" in key_policy


def test_hop_limit_two_and_amazon_linux_root_device():
    stack, _ = _fleet(instance_type="inf2.xlarge", imds_hop_limit=2, dlami_os=DlamiOs.AMAZON_LINUX_2023)
    data = _data(Template.from_stack(stack))
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert data["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    user_data = json.dumps(data["UserData"])
    assert "--kind neuron" in user_data and "amazon-cloudwatch-agent-ctl" not in user_data


@pytest.mark.parametrize(("instance_type", "efa_count"), [("p5.48xlarge", 32), ("trn1.32xlarge", 8)])
def test_efa_layout_placement_and_self_only_security_group(instance_type, efa_count):
    stack, fleet = _fleet(instance_type=instance_type, efa=True)
    template = Template.from_stack(stack)
    interfaces = _data(template)["NetworkInterfaces"]
    assert interfaces[0] | {"Groups": None} == {
        "NetworkCardIndex": 0, "DeviceIndex": 0, "InterfaceType": "interface", "Groups": None,
        "DeleteOnTermination": True,
    }  # fmt: skip
    # EC2 refuses AssociatePublicIpAddress (even false) with several interfaces.
    assert not any("AssociatePublicIpAddress" in i for i in interfaces)
    efa = interfaces[1:]
    assert len(efa) == efa_count
    assert [(i["NetworkCardIndex"], i["DeviceIndex"]) for i in efa] == [(0, 1)] + [
        (c, 0) for c in range(1, efa_count)
    ]
    assert {i["InterfaceType"] for i in efa} == {"efa-only"}
    sg_ref = {"Fn::GetAtt": [stack.get_logical_id(fleet.security_group.node.default_child), "GroupId"]}
    assert all(i["Groups"] == [sg_ref] for i in interfaces)
    template.has_resource_properties("AWS::EC2::PlacementGroup", {"Strategy": "cluster"})
    assert "GroupName" in _data(template)["Placement"]
    (ingress,) = [
        rule
        for rule in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"].get("SourceSecurityGroupId") == sg_ref
    ]
    assert ingress["Properties"]["IpProtocol"] == "-1"
    assert len(_group(template)["Properties"]["VPCZoneIdentifier"]) == 1  # one zone, as the placement group


def test_mixed_instances_capacity_rebalance_schedules_and_notifications():
    stack, _ = _fleet(
        instance_type="g6e.12xlarge",
        spot_instance_types=["g6e.24xlarge", "g6.12xlarge"],
        on_demand_base_capacity=1,
        on_demand_percentage_above_base=0,
        schedules=[ScheduledCapacity("Night", "0 20 * * *", 0, 0, time_zone="Europe/Paris")],
        notification_email="ops@example.com",
    )
    template = Template.from_stack(stack)
    properties = _group(template)["Properties"]
    policy = properties["MixedInstancesPolicy"]
    assert [o["InstanceType"] for o in policy["LaunchTemplate"]["Overrides"]] == [
        "g6e.12xlarge",
        "g6e.24xlarge",
        "g6.12xlarge",
    ]
    assert policy["InstancesDistribution"] == {
        "OnDemandBaseCapacity": 1,
        "OnDemandPercentageAboveBaseCapacity": 0,
        "SpotAllocationStrategy": "price-capacity-optimized",
    }
    assert properties["CapacityRebalance"] is True
    template.has_resource_properties(
        "AWS::AutoScaling::ScheduledAction",
        {"Recurrence": "0 20 * * *", "MinSize": 0, "MaxSize": 0, "TimeZone": "Europe/Paris"},
    )
    topics = template.find_resources("AWS::SNS::Topic")
    (scaling_topic,) = [t for t in topics.values() if "Fn::Join" in t["Properties"]["KmsMasterKeyId"]]
    assert scaling_topic["Properties"]["KmsMasterKeyId"]["Fn::Join"][1][-1].endswith(":alias/aws/sns")
    subscriptions = template.find_resources("AWS::SNS::Subscription")
    # Scaling events and health alarms both reach the address.
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions.values()) == ["ops@example.com"] * 2
    assert len({json.dumps(s["Properties"]["TopicArn"]) for s in subscriptions.values()}) == 2
    assert properties["NotificationConfigurations"]


class _ZonedStack(AvailabilityZonesAtDeployTime):
    """A stack whose zones are named (as a user's own stack, or the ec2-fleet blueprint's with a zone)."""

    @property
    def availability_zones(self) -> list[str]:
        return ["us-east-1a", "us-east-1b"]


def _zoned_fleet(env: Environment | None = None, **props):
    stack = _ZonedStack(App(), "Zoned", env=env)
    base = SecurityBaseline.create(stack)
    fleet = AcceleratedFleet(stack, "Fleet", vpc=base.network.vpc, encryption_key=base.key.key, **props)
    return stack, fleet


_HOUR = datetime.timedelta(hours=1)
_BLOCK_START = datetime.datetime(2030, 3, 2, 11, 30, tzinfo=datetime.UTC)


def _block(starts_at=_BLOCK_START, ends_at=_BLOCK_START + 24 * _HOUR, **kwargs):
    return CapacityReservation(
        "cr-0123456789abcdef0", capacity_block=True, starts_at=starts_at, ends_at=ends_at, **kwargs
    )


def test_capacity_block_scales_with_the_block_in_its_zone():
    stack, _ = _zoned_fleet(
        instance_type="p5.48xlarge",
        max_capacity=4,
        capacity_reservation=_block(),
        availability_zone="us-east-1b",
    )
    template = Template.from_stack(stack)
    data = _data(template)
    assert data["InstanceMarketOptions"] == {"MarketType": "capacity-block"}
    assert data["CapacityReservationSpecification"]["CapacityReservationTarget"] == {
        "CapacityReservationId": "cr-0123456789abcdef0"
    }
    actions = {
        a["Properties"]["StartTime"]: a["Properties"]
        for a in template.find_resources("AWS::AutoScaling::ScheduledAction").values()
    }
    start, end = actions["2030-03-02T11:30:00Z"], actions["2030-03-03T10:55:00Z"]  # 35 minutes before the end
    assert (start["MinSize"], start["MaxSize"], start["DesiredCapacity"]) == (4, 4, 4)
    assert (end["MinSize"], end["DesiredCapacity"]) == (0, 0)
    assert "Recurrence" not in start and "Recurrence" not in end  # once
    group = _group(template)["Properties"]
    assert group["MinSize"] == "0" and "DesiredCapacity" not in group
    (subnet,) = group["VPCZoneIdentifier"]
    (zone,) = [
        r["Properties"]["AvailabilityZone"]
        for logical_id, r in template.find_resources("AWS::EC2::Subnet").items()
        if {"Ref": logical_id} == subnet
    ]
    assert zone == "us-east-1b"
    # Agnostic: deploying to another region fails at once, with a reason.
    (rule,) = [r for name, r in template.to_json()["Rules"].items() if name.startswith("Zone")]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def test_a_capacity_block_that_has_started_launches_at_once():
    now = datetime.datetime.now(datetime.UTC)
    stack, _ = _zoned_fleet(
        instance_type="p5.48xlarge", max_capacity=2, availability_zone="us-east-1a",
        capacity_reservation=_block(starts_at=now - _HOUR, ends_at=now + 24 * _HOUR),
    )  # fmt: skip
    template = Template.from_stack(stack)
    assert _group(template)["Properties"]["DesiredCapacity"] == "2"
    (end,) = template.find_resources("AWS::AutoScaling::ScheduledAction").values()
    assert end["Properties"]["DesiredCapacity"] == 0


def test_a_zone_the_vpc_has_no_subnet_in():
    with pytest.raises(FleetError, match="no subnet of the fleet's VPC selection is in us-east-1c"):
        _zoned_fleet(instance_type="g5.xlarge", availability_zone="us-east-1c")


_NOW = datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"capacity_reservation": _block(starts_at=None, ends_at=None)}, "give its start and end times"),
        ({"capacity_reservation": _block(starts_at=datetime.datetime(2030, 1, 1))}, "has no time zone"),
        ({"capacity_reservation": _block(ends_at=_BLOCK_START - _HOUR)}, "is not after capacity_block_start"),
        (
            {
                "capacity_reservation": _block(
                    starts_at=_NOW - 24 * _HOUR, ends_at=_NOW + datetime.timedelta(minutes=20)
                )
            },
            "are, or are about to be, terminated",
        ),
        ({"capacity_reservation": _block(), "min_capacity": 1}, "leave both at 0"),
        (
            {"capacity_reservation": CapacityReservation("cr-0123456789abcdef0", starts_at=_BLOCK_START)},
            "set capacity_block, or drop the times",
        ),
    ],
)
def test_capacity_block_refusals(props, expected):
    with pytest.raises(FleetError, match=expected):
        _zoned_fleet(instance_type="p5.48xlarge", availability_zone="us-east-1a", **props)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"capacity_reservation": CapacityReservation("cr-0123456789abcdef0")},
            "set availability_zone to its zone",
        ),
        ({"availability_zone": "use1-az4"}, "not a zone ID"),
        ({"availability_zone": "eu-west-1a"}, "is in eu-west-1, not in the stack's region us-east-1"),
    ],
)
def test_zone_refusals(props, expected):
    with pytest.raises(FleetError, match=expected):
        _zoned_fleet(
            instance_type="p5.48xlarge", env=Environment(account="123456789012", region="us-east-1"), **props
        )


def test_every_gate_agnostic_pinned_and_mixed(tmp_path):
    app = App(context=cdk_json_context(), outdir=str(tmp_path))
    add_compliance_gates(app)
    _fleet(app, "EfaP5", instance_type="p5.48xlarge", efa=True)
    _fleet(app, "SpotG6e", instance_type="g6e.12xlarge", spot_instance_types=["g6e.24xlarge"],
           env=Environment(account="123456789012", region="us-east-1"))  # fmt: skip
    _fleet(
        app,
        "ChinaG5",
        instance_type="g5.xlarge",
        env=Environment(account="123456789012", region="cn-north-1"),
    )
    app.synth()  # a failing gate raises


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"instance_type": "g5.xlarge", "efa": True},
            "g5.xlarge does not support EFA; in the g5 family only",
        ),
        ({"instance_type": "p5en.48xlarge", "efa": True}, "will not guess"),
        ({"instance_type": "p5.48xlarge", "efa": True, "efa_interfaces": 16}, "p5.48xlarge has 32"),
        ({"instance_type": "p5.48xlarge", "efa_interfaces": 32}, "efa_interfaces is set but efa is false"),
        ({"instance_type": "g5.xlarge", "spot_instance_types": ["g5g.xlarge"]}, "does not match g5.xlarge"),
        ({"instance_type": "g5.xlarge", "spot_instance_types": ["g5.xlarge"]}, "repeats a type"),
        (
            {"instance_type": "p5.48xlarge", "capacity_reservation": CapacityReservation("cr-1")},
            "cr- and 17 hex",
        ),
        (
            {
                "instance_type": "p5.48xlarge",
                "spot_instance_types": ["p5e.48xlarge"],
                "capacity_reservation": CapacityReservation("cr-0123456789abcdef0"),
            },
            "drop spot_instance_types",
        ),
        ({"instance_type": "g5.xlarge", "imds_hop_limit": 3}, "imds_hop_limit=3"),
        ({"instance_type": "g5.xlarge", "min_capacity": 3, "max_capacity": 2}, "capacity min 3, max 2"),
        (
            {"instance_type": "g5.xlarge", "schedules": [ScheduledCapacity("Bad", "rate(1 day)", 0, 1)]},
            "5 fields",
        ),
        ({"instance_type": "ml.g5.xlarge"}, "no 'ml.' prefix"),
        (
            {
                "instance_type": "g5.xlarge",
                "schedules": [ScheduledCapacity("Z", "0 8 * * *", 0, 1, time_zone="Not/AZone")],
            },
            "not an IANA time zone",
        ),
        (
            {
                "instance_type": "g5.xlarge",
                "schedules": [ScheduledCapacity("D", "0 8 * * *", 0, 1, desired_capacity=5)],
            },
            "desired 5 is outside",
        ),
        (
            {
                "instance_type": "g5.xlarge",
                "schedules": [
                    ScheduledCapacity("Same", "0 8 * * *", 0, 1),
                    ScheduledCapacity("Same", "0 9 * * *", 0, 1),
                ],
            },
            "same name",
        ),
        ({"instance_type": "inf1.xlarge"}, "no longer support Inf1"),
        ({"instance_type": "m7i.large"}, "has no NVIDIA GPU"),
    ],
)
def test_refusals(props, expected):
    with pytest.raises(FleetError, match=expected):
        _fleet(**props)


def test_stated_efa_count_for_a_type_the_catalog_does_not_know():
    stack, fleet = _fleet(instance_type="p5en.48xlarge", efa=True, efa_interfaces=16)
    assert fleet.efa_interfaces == 16
    assert len(_data(Template.from_stack(stack))["NetworkInterfaces"]) == 17


def test_every_problem_at_once():
    with pytest.raises(FleetError) as error:
        _fleet(instance_type="g5.xlarge", efa=True, imds_hop_limit=0, root_volume_gb=10, max_capacity=0)
    message = str(error.value)
    for expected in ("does not support EFA", "imds_hop_limit=0", "root_volume_gb=10", "max >= 1"):
        assert expected in message


def test_metrics_are_limited_to_the_fleets_namespace_and_the_key_allows_ebs_once():
    stack, _ = _fleet(instance_type="g5.xlarge")
    AcceleratedFleet(
        stack, "Second", instance_type="inf2.xlarge", vpc=stack.node.find_child("Network").vpc,
        encryption_key=stack.node.find_child("Key").key,
    )  # fmt: skip
    template = Template.from_stack(stack)
    put_metric = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "cloudwatch:PutMetricData"
    ]
    assert sorted(s["Condition"]["StringEquals"]["cloudwatch:namespace"] for s in put_metric) == [
        "mlblueprints/gpu",
        "mlblueprints/neuron",
    ]
    (key,) = template.find_resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (ebs,) = [s for s in statements if s.get("Sid") == "AllowEbsThroughEc2InThisAccount"]
    assert ebs["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Join"][1][0] == "ec2."
    assert [skip["id"] for skip in key["Metadata"]["checkov"]["skip"]] == ["CKV_AWS_33"]


def _alarms(template: Template) -> dict[str, dict]:
    return {
        alarm["Properties"].get(
            "MetricName", "ReporterSilent" if "Metrics" in alarm["Properties"] else "?"
        ): alarm["Properties"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
    }


def test_health_alarms_reach_an_encrypted_topic_cloudwatch_may_use():
    stack, fleet = _fleet(instance_type="p4d.24xlarge")
    template = Template.from_stack(stack)
    alarms = _alarms(template)
    assert set(alarms) == {"StatusCheckFailed", "AcceleratorErrors", "AcceleratorsMissing", "ReporterSilent"}
    group_ref = {"Ref": stack.get_logical_id(fleet.group.node.default_child)}
    status = alarms["StatusCheckFailed"]
    assert (status["Namespace"], status["Statistic"], status["Period"]) == ("AWS/EC2", "Maximum", 60)
    assert status["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": group_ref}]
    errors = alarms["AcceleratorErrors"]
    assert (errors["Namespace"], errors["Statistic"], errors["Threshold"]) == ("mlblueprints/gpu", "Sum", 1)
    assert errors["Dimensions"] == [{"Name": "Fleet", "Value": fleet.fleet_name}]
    assert alarms["AcceleratorsMissing"]["Statistic"] == "Maximum"
    silent = {m["Id"]: m for m in alarms["ReporterSilent"]["Metrics"]}
    assert (
        "FILL(reports, 0) < inService * 0 + 1"
        in silent[next(i for i in silent if "Expression" in silent[i])]["Expression"]
    )
    assert silent["inService"]["MetricStat"]["Metric"]["MetricName"] == "GroupInServiceInstances"
    # Every alarm notifies on ALARM and OK, to the topic encrypted with the stack's key.
    topic_ref = {"Ref": stack.get_logical_id(fleet.alarm_topic.node.default_child)}
    assert all(a["AlarmActions"] == [topic_ref] == a["OKActions"] for a in alarms.values())
    topic = template.to_json()["Resources"][topic_ref["Ref"]]
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][1] == "Arn"
    # The reporter publishes under the same Fleet dimension, to the region's CloudWatch endpoint.
    user_data = json.dumps(_data(template)["UserData"])
    assert f"--fleet {fleet.fleet_name} " in user_data and "--expected-devices p4d.24xlarge=8 " in user_data
    assert (
        '" --endpoint https://monitoring.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}'
        in user_data
    )
    assert reporter_payload() in user_data  # the reporter, compressed


def test_scale_to_zero_when_idle():
    stack, fleet = _fleet(instance_type="trn1.32xlarge", scale_to_zero_after_idle_minutes=30)
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::AutoScaling::ScalingPolicy").values()
    properties = policy["Properties"]
    assert (properties["PolicyType"], properties["AdjustmentType"]) == ("StepScaling", "ExactCapacity")
    assert properties["StepAdjustments"] == [{"MetricIntervalUpperBound": 0, "ScalingAdjustment": 0}]
    idle = _alarms(template)["AcceleratorUtilization"]
    assert (idle["Namespace"], idle["Statistic"], idle["Period"], idle["EvaluationPeriods"]) == (
        "mlblueprints/neuron", "Maximum", 300, 6,
    )  # fmt: skip
    assert (idle["ComparisonOperator"], idle["Threshold"], idle["TreatMissingData"]) == (
        "LessThanThreshold", 1, "notBreaching",
    )  # fmt: skip
    action = fleet.node.find_child("ScaleToZeroWhenIdle").node.default_child
    assert idle["AlarmActions"] == [{"Ref": stack.get_logical_id(action)}]
    # Off unless asked for.
    default, _ = _fleet(instance_type="trn1.32xlarge")
    Template.from_stack(default).resource_count_is("AWS::AutoScaling::ScalingPolicy", 0)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"scale_to_zero_after_idle_minutes": 7}, "multiple of 5 from 5 to 1440"),
        ({"scale_to_zero_after_idle_minutes": 1445}, "multiple of 5 from 5 to 1440"),
        ({"scale_to_zero_after_idle_minutes": 30, "min_capacity": 1}, "never goes below the minimum"),
        ({"notification_email": "not-an-address"}, "notification_email='not-an-address'"),
    ],
)
def test_health_refusals(props, expected):
    with pytest.raises(FleetError, match=expected):
        _fleet(instance_type="g5.xlarge", **props)


def test_reserved_capacity_gets_no_placement_group_of_its_own():
    stack, fleet = _zoned_fleet(
        instance_type="p5.48xlarge", efa=True, availability_zone="us-east-1a", capacity_reservation=_block()
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::PlacementGroup", 0)
    assert "Placement" not in _data(template) and fleet.placement_group is None
    # An ODCR made in a cluster placement group: the fleet launches into that group.
    stack, _ = _zoned_fleet(
        instance_type="p5.48xlarge", efa=True, availability_zone="us-east-1a", placement_group_name="training-pg",
        capacity_reservation=CapacityReservation("cr-0123456789abcdef0"),
    )  # fmt: skip
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::PlacementGroup", 0)
    assert _data(template)["Placement"] == {"GroupName": "training-pg"}


def test_a_block_starting_within_the_margin_launches_at_once():
    now = datetime.datetime.now(datetime.UTC)
    stack, _ = _zoned_fleet(
        instance_type="p5.48xlarge", max_capacity=2, availability_zone="us-east-1a",
        capacity_reservation=_block(starts_at=now + datetime.timedelta(minutes=10), ends_at=now + 24 * _HOUR),
    )  # fmt: skip
    template = Template.from_stack(stack)
    assert _group(template)["Properties"]["DesiredCapacity"] == "2"
    template.resource_count_is("AWS::AutoScaling::ScheduledAction", 1)  # the end only


def test_encrypted_data_volume_mounted_at_data():
    stack, _ = _fleet(instance_type="g6e.xlarge", data_volume_gb=500)
    data = _data(Template.from_stack(stack))
    root, volume = data["BlockDeviceMappings"]
    assert volume["DeviceName"] == "/dev/sdf"
    assert volume["Ebs"]["VolumeSize"] == 500 and volume["Ebs"]["Encrypted"] is True
    assert volume["Ebs"]["KmsKeyId"] == root["Ebs"]["KmsKeyId"] and volume["Ebs"]["VolumeType"] == "gp3"
    user_data = json.dumps(data["UserData"])
    assert "mkfs.ext4" in user_data and "/data ext4 defaults,nofail" in user_data


def test_each_spot_type_reports_against_its_own_device_count():
    stack, _ = _fleet(instance_type="g5.48xlarge", spot_instance_types=["g5.12xlarge"])
    user_data = json.dumps(_data(Template.from_stack(stack))["UserData"])
    assert "--expected-devices g5.48xlarge=8,g5.12xlarge=4 " in user_data


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"instance_type": "p4d.24xlarge", "efa": True, "spot_instance_types": ["p5.48xlarge"]},
            "another EFA interface count",
        ),
        (
            {"instance_type": "g5.xlarge", "min_capacity": 1, "max_capacity": 2, "desired_capacity": 3},
            "desired_capacity 3 is outside",
        ),
        ({"instance_type": "g5.xlarge", "on_demand_percentage_above_base": 101}, "use 0 to 100"),
        (
            {"instance_type": "g5.xlarge", "on_demand_base_capacity": -1},
            "on_demand_base_capacity must be 0 or more",
        ),
        (
            {"instance_type": "g5.xlarge", "schedules": [ScheduledCapacity("Up", "0 8 * * *", 3, 1)]},
            "min 3 must be 0 to max 1",
        ),
        (
            {"instance_type": "p5en.48xlarge", "efa": True, "efa_interfaces": 65},
            "efa_interfaces=65: use the type's count, 1 to 64",
        ),
        ({"instance_type": "inf2.xlarge", "efa": True}, "inf2.xlarge does not support EFA."),
        ({"instance_type": "g5.xlarge", "data_volume_gb": 0}, "data_volume_gb=0"),
        (
            {"instance_type": "p5.48xlarge", "efa": True, "placement_group_name": "pg"},
            "placement_group_name is for",
        ),
    ],
)
def test_more_refusals(props, expected):
    with pytest.raises(FleetError, match=re.escape(expected)):
        _fleet(**props)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {
                "capacity_reservation": CapacityReservation("cr-0123456789abcdef0"),
                "on_demand_percentage_above_base": 50,
            },
            "drop spot_instance_types",
        ),
        ({"capacity_reservation": _block(), "desired_capacity": 1, "max_capacity": 2}, "leave both at 0"),
        (
            {"capacity_reservation": _block(), "efa": True, "placement_group_name": "pg"},
            "a Capacity Block needs none",
        ),
    ],
)
def test_more_reservation_refusals(props, expected):
    with pytest.raises(FleetError, match=expected):
        _zoned_fleet(instance_type="p5.48xlarge", availability_zone="us-east-1a", **props)


def test_the_checks_take_every_default_from_the_construct():
    import inspect

    from mlblueprints.constructs.ec2.fleet import fleet_defaults, fleet_problems

    checked = set(inspect.signature(fleet_problems).parameters) - {"instance_type", "region", "now"}
    assert set(fleet_defaults()) == checked  # one owner per default: AcceleratedFleet's signature
    assert fleet_problems(instance_type="g5.xlarge", **fleet_defaults()) == []

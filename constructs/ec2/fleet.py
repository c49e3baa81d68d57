"""An auto-scaling fleet of accelerated EC2 instances on the AWS Deep Learning AMIs.

For teams that train or serve on plain EC2 instead of SageMaker. Secure by default: IMDSv2 only
(hop limit 1, or 2 for containers that call the instance metadata service), root volumes encrypted
with the stack's KMS key, no public IPs, no SSH key and no inbound rule (access is through SSM
Session Manager, over the VPC's endpoints), an instance role with only what Session Manager and the
metrics need. For scale-out training, EFA interfaces in the layout AWS documents, a cluster placement
group and a security group open only to itself. For capacity and cost, a mixed-instances policy
(on-demand base plus spot across types and zones, capacity rebalancing), an On-Demand Capacity
Reservation or a Capacity Block for ML, scheduled scaling, and scaling to zero when idle. For health,
alarms on accelerator errors, missing devices and failed status checks (``fleet_health``).
"""

from __future__ import annotations

import datetime
import functools
import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, Aws, Duration, Fn, Names, Stack, Token
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs.compliance._private.control_tower_rule_source import instance_type_patterns
from mlblueprints.constructs.compliance.acknowledge import (
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
    skip_checkov,
)
from mlblueprints.constructs.compute.ec2_instance_types import (
    Ec2InstanceType,
    describe_ec2_instance_type,
    ec2_instance_type_problems,
    efa_sizes,
)
from mlblueprints.constructs.compute.regional_offerings import (
    assert_ec2_offered_at_deploy,
    regional_ec2_problems,
)
from mlblueprints.constructs.ec2.dlami import DeepLearningAmi, DlamiFlavor, DlamiOs, dlami_problems
from mlblueprints.constructs.ec2.fleet_health import FleetAlarms, FleetMetrics, scale_to_zero_when_idle
from mlblueprints.constructs.ec2.monitoring_agent import agent_user_data
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems
from mlblueprints.constructs.security.encryption_key import allow_ebs_in_account
from mlblueprints.constructs.security.private_network import (
    open_within_itself,
    require_zone_region_at_deploy,
    zone_problems,
)

__all__ = [
    "AcceleratedFleet",
    "CapacityReservation",
    "FleetError",
    "ScheduledCapacity",
    "fleet_defaults",
    "fleet_problems",
    "session_manager_endpoints",
]

_RESERVATION_ID = re.compile(r"^cr-[0-9a-f]{17}$")
# Families whose EFA-capable sizes AWS lists: another size of these has no EFA (EC2 User Guide,
# "Elastic Fabric Adapter", supported instance types; Neuron: "not available on the smaller sizes").
_EFA_DOCUMENTED_FAMILIES = frozenset({"g5", "p4d", "p4de", "p5", "trn1", "trn1n"})
# Root device names of the DLAMIs' base systems: Ubuntu AMIs boot from /dev/sda1, Amazon Linux from
# /dev/xvda. A block device mapping under another name adds a volume instead of sizing and encrypting
# the root one.
_ROOT_DEVICE = {
    DlamiOs.UBUNTU_22_04: "/dev/sda1",
    DlamiOs.UBUNTU_24_04: "/dev/sda1",
    DlamiOs.AMAZON_LINUX_2023: "/dev/xvda",
}


# AWS's Session Manager endpoints, and CloudWatch's for the metrics ("Use VPC endpoints for Systems
# Manager", AWS Systems Manager User Guide: ssm, ssmmessages, ec2messages).
def session_manager_endpoints() -> dict[str, ec2.InterfaceVpcEndpointAwsService]:
    """The endpoints an isolated fleet needs; built when asked (each jsii static read costs a round trip)."""
    return {
        "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
        "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
        "Ec2Messages": ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
        "CloudWatchMonitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
        # The CloudWatch agent reads the instance's tags (ec2:DescribeTags) for the AutoScalingGroupName
        # dimension, and publishes nothing until it has them (its ec2tagger processor).
        "Ec2": ec2.InterfaceVpcEndpointAwsService.EC2,
    }


class FleetError(MlBlueprintsError):
    """Fleet settings EC2 or Auto Scaling would refuse, or that would run badly."""


@dataclass(frozen=True)
class CapacityReservation:
    """Run the fleet in an On-Demand Capacity Reservation, or a Capacity Block for ML (``capacity_block``).

    Both are in one availability zone: give the fleet's ``availability_zone``. A Capacity Block needs
    ``InstanceMarketOptions.MarketType: capacity-block`` with its reservation ID, has no capacity before
    it starts, and EC2 terminates its instances 30 minutes before it ends ("Use Capacity Blocks for
    machine learning workloads", EC2 Auto Scaling User Guide, which recommends scheduled scaling at
    those times): with ``starts_at`` and ``ends_at`` the group scales to ``max_capacity`` when the
    block starts and to zero 35 minutes before it ends.
    """

    reservation_id: str
    capacity_block: bool = False
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None


# EC2 terminates a Capacity Block's instances 30 minutes before its end: scale in 5 minutes before that.
CAPACITY_BLOCK_SCALE_IN_BEFORE_END = datetime.timedelta(minutes=35)
CAPACITY_BLOCK_START_MARGIN = datetime.timedelta(minutes=30)
# The data volume's device name in the block device mapping; on Nitro instances it appears as an NVMe
# device, which the user data finds by its EBS identity and mounts at /data.
DATA_DEVICE = "/dev/sdf"
# The data volume at /data, an ext4 file system made at its first boot: found among the instance's EBS
# NVMe devices (their /dev/disk/by-id names) as the one that is not the root device.
_MOUNT_DATA_VOLUME = (
    'root=$(lsblk -no PKNAME "$(findmnt -no SOURCE /)")',
    "for link in /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol*; do",
    '  case "$link" in *-part*) continue;; esac',
    '  dev=$(readlink -f "$link")',
    '  [ "$(basename "$dev")" = "$root" ] && continue',
    '  blkid "$dev" >/dev/null || mkfs.ext4 -q "$dev"',
    '  uuid=$(blkid -s UUID -o value "$dev")',
    "  mkdir -p /data",
    '  grep -q "$uuid" /etc/fstab || echo "UUID=$uuid /data ext4 defaults,nofail 0 2" >> /etc/fstab',
    "  mountpoint -q /data || mount /data",
    "done",
)


@dataclass(frozen=True)
class ScheduledCapacity:
    """A scheduled change of the group's capacity, e.g. up on weekday mornings and to zero at night.

    :param schedule: a Unix cron expression ("0 8 * * 1-5"), in ``time_zone``.
    """

    name: str
    schedule: str
    min_capacity: int
    max_capacity: int
    desired_capacity: int | None = None
    time_zone: str = "UTC"


class AcceleratedFleet(Construct):
    """An Auto Scaling group of GPU, Trainium or Inferentia instances on a Deep Learning AMI.

    :param instance_type: an EC2 type, e.g. ``g6e.12xlarge``, ``p5.48xlarge``, ``trn1.32xlarge``.
    :param spot_instance_types: more types for spot capacity (same accelerator and architecture).
    :param on_demand_base_capacity: instances that are always on-demand; the rest is split by
        ``on_demand_percentage_above_base`` (100: no spot).
    :param efa: EFA interfaces (one per network card), a cluster placement group and a security group
        open only to itself, for distributed training.
    :param efa_interfaces: the type's EFA count, for a type whose count the catalog does not know
        (``aws ec2 describe-instance-types``, ``NetworkInfo.EfaInfo.MaximumEfaInterfaces``).
    :param imds_hop_limit: 1 (default): only the host reads instance metadata; 2 for containers.
    :param root_volume_gb: the encrypted root volume (the DLAMIs' environments take tens of GB).
    :param data_volume_gb: an encrypted gp3 data volume, mounted at ``/data`` (made ext4 at first boot),
        deleted with the instance: datasets and checkpoints belong in S3 or FSx.
    :param placement_group_name: for EFA in an On-Demand Capacity Reservation made in a cluster placement
        group: that group (the fleet makes no group of its own in reserved capacity).
    :param availability_zone: run in this zone (a zone name, e.g. ``us-east-1a``): a capacity reservation's
        or Capacity Block's, or one that offers the type; the VPC selection needs a subnet there.
    :param scale_to_zero_after_idle_minutes: set the group's capacity to 0 once no instance has used its
        accelerators for this long (a multiple of 5 minutes; needs ``min_capacity`` 0).
    :param notification_topic: Auto Scaling's launch and termination events (default: a topic of the fleet's).
    :param alarm_topic: the health alarms' topic, encrypted with a customer-managed key CloudWatch may use
        (default: a topic of the fleet's, encrypted with ``encryption_key``).
    :param notification_email: subscribe this address to the fleet's own topics.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instance_type: str,
        vpc: ec2.IVpc,
        encryption_key: kms.IKey,
        vpc_subnets: ec2.SubnetSelection | None = None,
        dlami_os: DlamiOs = DlamiOs.UBUNTU_24_04,
        dlami_flavor: DlamiFlavor = DlamiFlavor.BASE,
        pytorch_version: str | None = None,
        min_capacity: int = 0,
        max_capacity: int = 2,
        desired_capacity: int | None = None,
        spot_instance_types: Sequence[str] = (),
        on_demand_base_capacity: int = 0,
        on_demand_percentage_above_base: int = 100,
        efa: bool = False,
        efa_interfaces: int | None = None,
        capacity_reservation: CapacityReservation | None = None,
        availability_zone: str | None = None,
        schedules: Sequence[ScheduledCapacity] = (),
        root_volume_gb: int = 200,
        data_volume_gb: int | None = None,
        imds_hop_limit: int = 1,
        scale_to_zero_after_idle_minutes: int | None = None,
        placement_group_name: str | None = None,
        notification_topic: sns.ITopic | None = None,
        alarm_topic: sns.ITopic | None = None,
        notification_email: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        problems = fleet_problems(
            region=stack.region,
            instance_type=instance_type,
            dlami_os=dlami_os,
            dlami_flavor=dlami_flavor,
            pytorch_version=pytorch_version,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            desired_capacity=desired_capacity,
            spot_instance_types=spot_instance_types,
            on_demand_base_capacity=on_demand_base_capacity,
            on_demand_percentage_above_base=on_demand_percentage_above_base,
            efa=efa,
            efa_interfaces=efa_interfaces,
            capacity_reservation=capacity_reservation,
            availability_zone=availability_zone,
            schedules=schedules,
            root_volume_gb=root_volume_gb,
            data_volume_gb=data_volume_gb,
            imds_hop_limit=imds_hop_limit,
            scale_to_zero_after_idle_minutes=scale_to_zero_after_idle_minutes,
            placement_group_name=placement_group_name,
        )
        problems += alarm_email_problems(notification_email, setting="notification_email")
        if problems:
            raise FleetError(problems)
        self.instance = describe_ec2_instance_type(instance_type)
        if capacity_reservation is None or not capacity_reservation.capacity_block:
            for name in (instance_type, *spot_instance_types):
                assert_ec2_offered_at_deploy(self, name)
        self.ami = DeepLearningAmi.for_instance(
            self.instance, os=dlami_os, flavor=dlami_flavor, pytorch_version=pytorch_version
        )
        self.efa_interfaces = (self.instance.efa_interfaces or efa_interfaces) if efa else 0
        self.metrics_namespace = f"mlblueprints/{'neuron' if self.instance.is_neuron else 'gpu'}"
        # The reporter's Fleet dimension: unique in the app, readable in the CloudWatch console.
        self.fleet_name = Names.unique_resource_name(self, max_length=128, separator="-")

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Accelerated fleet: no inbound rule (Session Manager); all traffic within the group for EFA",
            allow_all_outbound=False,
        )
        # HTTPS to the interface endpoints and to S3 through the gateway endpoint (S3's public addresses,
        # reached through the gateway route only: the subnets have no route to the internet).
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS services through VPC endpoints"
        )
        if efa:
            open_within_itself(
                self.security_group,
                description="EFA between members",
                reason="EFA needs all traffic between the instances of one job",
            )

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="Accelerated fleet instances: Session Manager and accelerator metrics only",
        )
        self._grant_instance_basics()

        user_data = ec2.UserData.for_linux()
        if data_volume_gb:
            user_data.add_commands(*_MOUNT_DATA_VOLUME)
        user_data.add_commands(
            *agent_user_data(
                neuron=self.instance.is_neuron,
                namespace=self.metrics_namespace,
                fleet=self.fleet_name,
                region=Aws.REGION,
                endpoint=Fn.join("", ["https://monitoring.", Aws.REGION, ".", Aws.URL_SUFFIX, "/"]),
                expected_devices={
                    name: describe_ec2_instance_type(name).accelerator_count
                    for name in (instance_type, *spot_instance_types)
                },
            )
        )
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=self.ami.machine_image(),
            instance_type=ec2.InstanceType(instance_type),
            role=self.role,
            user_data=user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=imds_hop_limit,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            instance_metadata_tags=False,
            block_devices=[
                ec2.BlockDevice(
                    device_name=_ROOT_DEVICE[dlami_os],
                    volume=ec2.BlockDeviceVolume.ebs(
                        root_volume_gb,
                        encrypted=True,
                        kms_key=encryption_key,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                ),
                *(
                    [
                        ec2.BlockDevice(
                            device_name=DATA_DEVICE,
                            volume=ec2.BlockDeviceVolume.ebs(
                                data_volume_gb,
                                encrypted=True,
                                kms_key=encryption_key,
                                volume_type=ec2.EbsDeviceVolumeType.GP3,
                                delete_on_termination=True,
                            ),
                        )
                    ]
                    if data_volume_gb
                    else []
                ),
            ],
            detailed_monitoring=True,
        )
        allow_ebs_in_account(encryption_key)
        if imds_hop_limit == 2:
            acknowledge(
                self.launch_template.node.default_child,
                "ec2_launch_template_token_hop_limit_check",
                topic="CT.EC2.PR.2: IMDSv2 hop limit 2, asked for",
                reason="Containers on the instance (a bridge network adds a hop) need the instance role's "
                "credentials through IMDSv2; tokens are still required, and the fleet's default is 1.",
                packs=(Pack.CONTROL_TOWER,),
            )
        self._network_interfaces()
        # A cluster placement group for EFA, except in reserved capacity: a Capacity Block is already
        # placed for low latency ("there is no need to use a cluster placement group with a Capacity
        # Block", EC2 User Guide), and a reservation covers a placement group only if it was made in it
        # (then give that group's name).
        self.placement_group = None
        group_name = placement_group_name
        if efa and capacity_reservation is None:
            self.placement_group = ec2.PlacementGroup(
                self, "PlacementGroup", strategy=ec2.PlacementGroupStrategy.CLUSTER
            )
            group_name = self.placement_group.placement_group_name
        if group_name is not None:
            self.launch_template.node.default_child.add_property_override(
                "LaunchTemplateData.Placement.GroupName", group_name
            )
        if capacity_reservation is not None:
            self._target_reservation(capacity_reservation)

        subnets = self._subnets(
            vpc,
            vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            availability_zone=availability_zone,
            single_zone=efa or capacity_reservation is not None,
        )
        mixed = bool(spot_instance_types) or on_demand_percentage_above_base < 100
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=subnets,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            desired_capacity=desired_capacity,
            launch_template=None if mixed else self.launch_template,
            mixed_instances_policy=autoscaling.MixedInstancesPolicy(
                launch_template=self.launch_template,
                launch_template_overrides=[
                    autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(name))
                    for name in (instance_type, *spot_instance_types)
                ],
                instances_distribution=autoscaling.InstancesDistribution(
                    on_demand_base_capacity=on_demand_base_capacity,
                    on_demand_percentage_above_base_capacity=on_demand_percentage_above_base,
                    spot_allocation_strategy=autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
                ),
            )
            if mixed
            else None,
            capacity_rebalance=mixed or None,
            # A new DLAMI (the SSM parameter moved) makes a new launch template version: replace the
            # instances a batch at a time.
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1, min_instances_in_service=0, pause_time=Duration.minutes(10)
            ),
            group_metrics=[autoscaling.GroupMetrics.all()],
            notifications=[
                autoscaling.NotificationConfiguration(topic=topic)
                for topic in [self._notification_topic(notification_topic, notification_email)]
            ],
        )
        self._accept_group_shape(
            single_zone=efa or capacity_reservation is not None or availability_zone is not None,
            mixed=mixed,
            instance_types=(instance_type, *spot_instance_types),
        )
        if capacity_reservation is not None and capacity_reservation.capacity_block:
            self._follow_capacity_block(capacity_reservation, max_capacity)
        for schedule in schedules:
            self.group.scale_on_schedule(
                schedule.name,
                schedule=autoscaling.Schedule.expression(schedule.schedule),
                min_capacity=schedule.min_capacity,
                max_capacity=schedule.max_capacity,
                desired_capacity=schedule.desired_capacity,
                time_zone=schedule.time_zone,
            )
        self.metrics = FleetMetrics(
            group_name=self.group.auto_scaling_group_name,
            namespace=self.metrics_namespace,
            fleet=self.fleet_name,
        )
        self.alarm_topic = (
            alarm_topic
            or AlarmTopic(
                self, "AlarmTopic", encryption_key=encryption_key, display_name="Accelerated fleet alarms"
            ).topic
        )
        if notification_email and alarm_topic is None:
            subscribe_email(
                self.alarm_topic, notification_email, record="CloudWatch keeps each alarm's state history"
            )
        self.alarms = FleetAlarms(
            self,
            "Alarms",
            metrics=self.metrics,
            topic=self.alarm_topic,
            missing_devices=self.instance.accelerator_count is not None,
        )
        self.idle_alarm = None
        if scale_to_zero_after_idle_minutes:
            self.idle_alarm = scale_to_zero_when_idle(
                self, group=self.group, metrics=self.metrics, idle_minutes=scale_to_zero_after_idle_minutes
            )
        if vpc.node.try_find_child("Ssm") is None:
            Annotations.of(self).add_info(
                "Session Manager needs the ssm, ssmmessages and ec2messages endpoints in an isolated VPC: "
                "PrivateNetwork.add_interface_endpoints(session_manager_endpoints()) adds them."
            )

    @property
    def session_command(self) -> str:
        """How to open a shell on an instance of the group (``aws ssm start-session``)."""
        return (
            'aws ssm start-session --target "$(aws ec2 describe-instances --filters '
            f"Name=tag:aws:autoscaling:groupName,Values={self.group.auto_scaling_group_name} "
            "Name=instance-state-name,Values=running --query 'Reservations[0].Instances[0].InstanceId' --output text)\""
        )

    def _notification_topic(self, topic: sns.ITopic | None, email: str | None) -> sns.ITopic:
        if topic is not None:
            return topic
        # Auto Scaling publishes as its service-linked role, which a customer-managed key's policy can
        # only name once the role exists (not before the account's first group): SNS's AWS managed key
        # lets any principal of the account that may publish encrypt with it.
        created = sns.Topic(
            self,
            "Notifications",
            display_name="Accelerated fleet scaling events",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        if email:
            subscribe_email(
                created, email, record="Auto Scaling records every activity in the group's history"
            )
        return created

    def _grant_instance_basics(self) -> None:
        """Session Manager and the metrics: the actions of AmazonSSMManagedInstanceCore that the agent uses,
        and PutMetricData to the fleet's own namespace."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                resources=["*"],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": self.metrics_namespace}},
            )
        )
        # The agent reads the instance's tags for the AutoScalingGroupName dimension.
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["ec2:DescribeTags"], resources=["*"]))
        policy = self.role.node.find_child("DefaultPolicy")
        skip_checkov(
            policy.node.default_child,
            CKV_AWS_111="Session Manager's agent actions (ssm:UpdateInstanceInformation, ssmmessages, ec2messages) "
            "support no resource-level permissions (Service Authorization Reference); they are what "
            "AmazonSSMManagedInstanceCore grants for Session Manager, and nothing else is written.",
        )
        acknowledge_inline_policy(self.role)
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="Session Manager and metrics",
            reason="ssm:UpdateInstanceInformation, the ssmmessages and ec2messages actions, ec2:DescribeTags and "
            "cloudwatch:PutMetricData support no resource-level permissions (Service Authorization Reference); "
            "PutMetricData is limited to the fleet's namespace by condition.",
        )

    def _accept_group_shape(self, *, single_zone: bool, mixed: bool, instance_types: Sequence[str]) -> None:
        group = self.group.node.default_child
        acknowledge(
            group,
            "autoscaling_multiple_az_check",
            topic="CT.AUTOSCALING.PR.1: availability zones",
            reason="A cluster placement group (EFA training) and a capacity reservation or Capacity Block are "
            "each in one availability zone; instances of one distributed job must share it."
            if single_zone
            else "The group spans the VPC's subnets in two availability zones through VPCZoneIdentifier; the "
            "control reads only the AvailabilityZones property, which CloudFormation derives from the subnets.",
            packs=(Pack.CONTROL_TOWER,),
        )
        # The controls list Nitro types by name, and their lists predate some accelerated families
        # (G6, G6e), which AWS builds on Nitro ("Instances built on the AWS Nitro System", EC2 User Guide).
        for rule, scope, guard in (
            (
                "ec2_launch_template_nitro_instance_type_check",
                self.launch_template.node.default_child,
                "ct-ec2-pr-15",
            ),
            ("autoscaling_group_nitro_instance_override_check", group, "ct-autoscaling-pr-10"),
            ("autoscaling_group_nitro_encryption_in_transit_override_check", group, "ct-autoscaling-pr-11"),
        ):
            if guard != "ct-ec2-pr-15" and not mixed:
                continue
            unlisted = [
                t for t in instance_types if not any(p.match(t) for p in instance_type_patterns(guard))
            ]
            if unlisted:
                acknowledge(
                    scope,
                    rule,
                    topic=f"{guard.upper().replace('-', '.', 1).replace('-', '.')}: Nitro types the control does not list",
                    reason=f'{", ".join(unlisted)} run on the AWS Nitro System (EC2 User Guide, "Instances built on '
                    "the AWS Nitro System\"), with encryption in transit between Nitro instances; the control's "
                    "list of types predates them.",
                    packs=(Pack.CONTROL_TOWER,),
                )
        if mixed:
            # cdk-nag reads IMDSv2 from a group's own launch template and cannot follow a mixed-instances
            # policy's; the template it names requires IMDSv2 (HttpTokens required).
            for rule, packs in (
                ("EC26", (Pack.AWS_SOLUTIONS,)),
                ("EC2IMDSv2Enabled", (Pack.HIPAA_SECURITY, Pack.NIST_800_53_R5)),
            ):
                acknowledge(
                    group,
                    rule,
                    topic="IMDSv2 and encrypted volumes through a mixed-instances policy",
                    reason="The group launches from the fleet's launch template, which requires IMDSv2 tokens and "
                    "encrypts the root volume with the stack's KMS key; the rule does not read a mixed-instances "
                    "policy's template.",
                    packs=packs,
                )
        if len(instance_types) < 2:
            acknowledge(
                group,
                "autoscaling_mixed_instances_policy_multiple_instance_types_check",
                topic="CT.AUTOSCALING.PR.6: one instance type",
                reason="Accelerated fleets run one accelerator layout (GPU or Neuron count, memory, EFA interfaces) "
                "for one AMI; spot_instance_types adds compatible types where the workload allows it.",
                packs=(Pack.CONTROL_TOWER,),
            )

    def _network_interfaces(self) -> None:
        """ENA primary (card 0, device 0), then one EFA per network card: ``efa-only`` at card 0 device 1
        and at device 0 of every further card ("Maximize network bandwidth on Amazon EC2 instances with
        multiple network cards", EC2 User Guide). Security groups are set on each interface."""
        groups = [self.security_group.security_group_id]
        interfaces = [{"NetworkCardIndex": 0, "DeviceIndex": 0, "InterfaceType": "interface"}]
        for card in range(self.efa_interfaces):
            interfaces.append(
                {"NetworkCardIndex": card, "DeviceIndex": 1 if card == 0 else 0, "InterfaceType": "efa-only"}
            )
        for interface in interfaces:
            interface.update({"Groups": groups, "DeleteOnTermination": True})
        if len(interfaces) == 1:
            interfaces[0]["AssociatePublicIpAddress"] = False
        else:
            acknowledge(
                self.launch_template.node.default_child,
                "ec2_launch_template_public_ip_disabled_check",
                topic="CT.EC2.PR.9: no AssociatePublicIpAddress with several network interfaces",
                reason="EC2 refuses AssociatePublicIpAddress, even false, when an instance launches with several "
                "network interfaces (InvalidParameterCombination); the fleet's subnets are isolated and do not map "
                "public addresses, so no interface gets one.",
                packs=(Pack.CONTROL_TOWER,),
            )
        template = self.launch_template.node.default_child
        template.add_property_override("LaunchTemplateData.NetworkInterfaces", interfaces)
        # The groups are on the interfaces; EC2 refuses them on the template as well.
        template.add_property_deletion_override("LaunchTemplateData.SecurityGroupIds")

    def _subnets(
        self,
        vpc: ec2.IVpc,
        selection: ec2.SubnetSelection,
        *,
        availability_zone: str | None,
        single_zone: bool,
    ) -> ec2.SubnetSelection:
        """The group's subnets: those in ``availability_zone``, or the first when the fleet is single-zone
        (a cluster placement group, and a reservation, are in one availability zone)."""
        chosen = vpc.select_subnets(**_selection_kwargs(selection)).subnets
        if availability_zone is not None:
            require_zone_region_at_deploy(self, availability_zone, what="The fleet runs")
            chosen = [s for s in chosen if s.availability_zone == availability_zone]
            if not chosen:
                raise FleetError(
                    [
                        Problem(
                            f"no subnet of the fleet's VPC selection is in {availability_zone} (the subnets' zones: "
                            f"{', '.join(s.availability_zone for s in vpc.select_subnets(**_selection_kwargs(selection)).subnets)}"
                            "). Give the VPC a subnet there; a stack whose zones resolve at deploy time can name "
                            "its zones (its availability_zones property).",
                            setting="availability_zone",
                            value=availability_zone,
                        )
                    ]
                )
        if single_zone:
            chosen = chosen[:1]
        return ec2.SubnetSelection(subnets=chosen)

    def _follow_capacity_block(self, block: CapacityReservation, instances: int) -> None:
        """Scale to ``instances`` when the block starts, and to zero before EC2 terminates its instances."""
        now = datetime.datetime.now(datetime.UTC)
        group_name = self.group.auto_scaling_group_name
        # A block starting before the deploy could create the action would fail it (Auto Scaling refuses a
        # scheduled action in the past): one starting within the margin launches at once, and waits.
        if block.starts_at is not None and block.starts_at > now + CAPACITY_BLOCK_START_MARGIN:
            autoscaling.CfnScheduledAction(
                self,
                "CapacityBlockStart",
                auto_scaling_group_name=group_name,
                start_time=_utc(block.starts_at),
                min_size=instances,
                max_size=instances,
                desired_capacity=instances,
            )
        elif block.starts_at is not None:
            # Started already: Auto Scaling refuses a scheduled action in the past; launch now.
            self.group.node.default_child.desired_capacity = str(instances)
        if block.ends_at is not None:
            autoscaling.CfnScheduledAction(
                self,
                "CapacityBlockEnd",
                auto_scaling_group_name=group_name,
                start_time=_utc(block.ends_at - CAPACITY_BLOCK_SCALE_IN_BEFORE_END),
                min_size=0,
                max_size=instances,
                desired_capacity=0,
            )

    def _target_reservation(self, reservation: CapacityReservation) -> None:
        template = self.launch_template.node.default_child
        template.add_property_override(
            "LaunchTemplateData.CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId",
            reservation.reservation_id,
        )
        if reservation.capacity_block:
            template.add_property_override(
                "LaunchTemplateData.InstanceMarketOptions.MarketType", "capacity-block"
            )


def _utc(moment: datetime.datetime) -> str:
    """A scheduled action's StartTime: ISO 8601 in UTC (``2026-12-01T11:30:00Z``)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _selection_kwargs(selection: ec2.SubnetSelection) -> dict:
    return {
        key: value
        for key, value in {
            "subnet_type": selection.subnet_type,
            "subnet_group_name": selection.subnet_group_name,
            "subnets": selection.subnets,
            "availability_zones": selection.availability_zones,
        }.items()
        if value is not None
    }


def fleet_problems(
    *,
    instance_type: str,
    region: str | None = None,
    dlami_os: DlamiOs,
    dlami_flavor: DlamiFlavor,
    pytorch_version: str | None,
    min_capacity: int,
    max_capacity: int,
    desired_capacity: int | None,
    spot_instance_types: Sequence[str],
    on_demand_base_capacity: int,
    on_demand_percentage_above_base: int,
    efa: bool,
    efa_interfaces: int | None,
    capacity_reservation: CapacityReservation | None,
    availability_zone: str | None,
    schedules: Sequence[ScheduledCapacity],
    root_volume_gb: int,
    data_volume_gb: int | None,
    imds_hop_limit: int,
    scale_to_zero_after_idle_minutes: int | None,
    placement_group_name: str | None,
    now: datetime.datetime | None = None,
) -> list[Problem]:
    """Every problem of a fleet's settings at once.

    Every setting is given: the defaults are :class:`AcceleratedFleet`'s alone (:func:`fleet_defaults`)."""
    problems = ec2_instance_type_problems(instance_type)
    instance = None if problems else describe_ec2_instance_type(instance_type)
    # Types sold only as Capacity Blocks are missing from the price list the regional data comes from.
    if region and not (capacity_reservation is not None and capacity_reservation.capacity_block):
        for name, setting in (
            (instance_type, "instance_type"),
            *((t, "spot_instance_types") for t in spot_instance_types),
        ):
            problems += regional_ec2_problems(name, region, setting=setting)
    if instance is not None:
        problems += dlami_problems(
            instance, os=dlami_os, flavor=dlami_flavor, pytorch_version=pytorch_version
        )
    if len({instance_type, *spot_instance_types}) != 1 + len(spot_instance_types):
        problems.append(
            Problem(
                "spot_instance_types repeats a type (or instance_type itself): name each other type once.",
                setting="spot_instance_types",
            )
        )
    for name in spot_instance_types:
        found = ec2_instance_type_problems(name, setting="spot_instance_types")
        problems += found
        if found or instance is None:
            continue
        other = describe_ec2_instance_type(name)
        if (other.accelerator, other.cpu_architecture) != (instance.accelerator, instance.cpu_architecture):
            problems.append(
                Problem(
                    f"spot instance type {name} ({other.accelerator.value}, {other.cpu_architecture}) does not match "
                    f"{instance_type} ({instance.accelerator.value}, {instance.cpu_architecture}): the fleet runs one "
                    "AMI; give types with the same accelerator and architecture.",
                    setting="spot_instance_types",
                    value=name,
                )
            )
        if efa and instance is not None and _efa_count(other, None) != _efa_count(instance, efa_interfaces):
            problems.append(
                Problem(
                    f"spot instance type {name} has another EFA interface count than {instance_type} (or one the "
                    "catalog does not know): one launch template lays out the interfaces for every type.",
                    setting="spot_instance_types",
                    value=name,
                )
            )
    if instance is not None and efa:
        problems += _efa_problems(instance, efa_interfaces)
    elif efa_interfaces is not None and not efa:
        problems.append(Problem("efa_interfaces is set but efa is false.", setting="efa_interfaces"))
    if not 0 <= min_capacity <= max_capacity or max_capacity < 1:
        problems.append(
            Problem(
                f"capacity min {min_capacity}, max {max_capacity}: use 0 <= min <= max and max >= 1.",
                setting="max_capacity",
            )
        )
    if desired_capacity is not None and not min_capacity <= desired_capacity <= max_capacity:
        problems.append(
            Problem(
                f"desired_capacity {desired_capacity} is outside min {min_capacity} .. max {max_capacity}.",
                setting="desired_capacity",
                value=desired_capacity,
            )
        )
    if not 0 <= on_demand_percentage_above_base <= 100:
        problems.append(
            Problem(
                f"on_demand_percentage_above_base={on_demand_percentage_above_base}: use 0 to 100.",
                setting="on_demand_percentage_above_base",
            )
        )
    if on_demand_base_capacity < 0:
        problems.append(
            Problem("on_demand_base_capacity must be 0 or more.", setting="on_demand_base_capacity")
        )
    if capacity_reservation is not None:
        if not Token.is_unresolved(capacity_reservation.reservation_id) and not _RESERVATION_ID.fullmatch(
            capacity_reservation.reservation_id
        ):
            problems.append(
                Problem(
                    f"capacity reservation {capacity_reservation.reservation_id!r}: use its ID, cr- and 17 hex "
                    "digits (EC2 console, Capacity Reservations).",
                    setting="capacity_reservation_id",
                    value=capacity_reservation.reservation_id,
                )
            )
        if spot_instance_types or on_demand_percentage_above_base < 100:
            problems.append(
                Problem(
                    "a capacity reservation or Capacity Block runs reserved on-demand instances of one type: drop "
                    "spot_instance_types and keep on_demand_percentage_above_base at 100.",
                    setting="spot_instance_types",
                )
            )
        if availability_zone is None:
            problems.append(
                Problem(
                    "a capacity reservation or Capacity Block is in one availability zone, and instances launch "
                    "into it only there: set availability_zone to its zone (EC2 console, Capacity Reservations).",
                    setting="availability_zone",
                )
            )
        problems += _capacity_block_problems(
            capacity_reservation, min_capacity, desired_capacity, now or datetime.datetime.now(datetime.UTC)
        )
    problems += zone_problems(availability_zone, region=region)
    if imds_hop_limit not in (1, 2):
        problems.append(
            Problem(
                f"imds_hop_limit={imds_hop_limit}: use 1 (only the host reads instance metadata) or 2 (containers "
                "on the host too).",
                setting="imds_hop_limit",
                value=imds_hop_limit,
            )
        )
    if not 30 <= root_volume_gb <= 16384:
        problems.append(
            Problem(
                f"root_volume_gb={root_volume_gb}: use 30 to 16384 GiB (a gp3 volume's limit); the DLAMIs' "
                "environments need tens of GB.",
                setting="root_volume_gb",
                value=root_volume_gb,
            )
        )
    for schedule in schedules:
        if len(schedule.schedule.split()) != 5:
            problems.append(
                Problem(
                    f"schedule {schedule.name!r}: {schedule.schedule!r} is not a Unix cron expression of 5 fields, "
                    "e.g. '0 8 * * 1-5'.",
                    setting="schedules",
                    value=schedule.schedule,
                )
            )
        if not 0 <= schedule.min_capacity <= schedule.max_capacity:
            problems.append(
                Problem(
                    f"schedule {schedule.name!r}: min {schedule.min_capacity} must be 0 to max {schedule.max_capacity}.",
                    setting="schedules",
                )
            )
        desired = schedule.desired_capacity
        if desired is not None and not schedule.min_capacity <= desired <= schedule.max_capacity:
            problems.append(
                Problem(
                    f"schedule {schedule.name!r}: desired {desired} is outside min {schedule.min_capacity} .. max "
                    f"{schedule.max_capacity}.",
                    setting="schedules",
                )
            )
        if schedule.time_zone not in _time_zones():
            problems.append(
                Problem(
                    f"schedule {schedule.name!r}: time zone {schedule.time_zone!r} is not an IANA time zone, e.g. "
                    "'UTC' or 'Europe/Paris'.",
                    setting="schedules",
                    value=schedule.time_zone,
                )
            )
    if data_volume_gb is not None and not 1 <= data_volume_gb <= 16384:
        problems.append(
            Problem(
                f"data_volume_gb={data_volume_gb}: use 1 to 16384 GiB (a gp3 volume's limit).",
                setting="data_volume_gb",
                value=data_volume_gb,
            )
        )
    if placement_group_name is not None and (
        capacity_reservation is None or capacity_reservation.capacity_block or not efa
    ):
        problems.append(
            Problem(
                "placement_group_name is for an EFA fleet in an On-Demand Capacity Reservation made in that cluster "
                "placement group; an EFA fleet without one gets a placement group of its own, and a Capacity Block "
                "needs none.",
                setting="placement_group_name",
                value=placement_group_name,
            )
        )
    idle = scale_to_zero_after_idle_minutes
    if idle is not None:
        # Judged on 5-minute periods, over at most a day (CloudWatch evaluates an alarm over one day at most).
        if not (5 <= idle <= 1440 and idle % 5 == 0):
            problems.append(
                Problem(
                    f"scale_to_zero_after_idle_minutes={idle}: use a multiple of 5 from 5 to 1440 (one day).",
                    setting="scale_to_zero_after_idle_minutes",
                    value=idle,
                )
            )
        if min_capacity > 0:
            problems.append(
                Problem(
                    f"scale_to_zero_after_idle_minutes with min_capacity={min_capacity}: Auto Scaling never goes "
                    "below the minimum; set min_capacity to 0 (schedules can still raise it in working hours).",
                    setting="scale_to_zero_after_idle_minutes",
                    value=idle,
                )
            )
    names = [schedule.name for schedule in schedules]
    if len(set(names)) != len(names):
        problems.append(Problem("two schedules have the same name: name each once.", setting="schedules"))
    return problems


def _capacity_block_problems(
    block: CapacityReservation, min_capacity: int, desired_capacity: int | None, now: datetime.datetime
) -> list[Problem]:
    if not block.capacity_block:
        if block.starts_at is not None or block.ends_at is not None:
            return [
                Problem(
                    "capacity block start and end times are set for an On-Demand Capacity Reservation: set "
                    "capacity_block, or drop the times.",
                    setting="capacity_block",
                )
            ]
        return []
    problems = []
    if block.starts_at is None or block.ends_at is None:
        problems.append(
            Problem(
                "a Capacity Block has no capacity before it starts, and EC2 terminates its instances 30 minutes "
                "before it ends: give its start and end times (capacity_block_start, capacity_block_end, as the "
                "EC2 console shows them), so the group scales out and in with it.",
                setting="capacity_block_start",
            )
        )
        return problems
    for name, moment in (("capacity_block_start", block.starts_at), ("capacity_block_end", block.ends_at)):
        if moment.tzinfo is None:
            problems.append(
                Problem(
                    f"{name} {moment.isoformat()} has no time zone: add one, e.g. 2026-12-01T11:30:00Z.",
                    setting=name,
                )
            )
    if problems:
        return problems
    if block.ends_at <= block.starts_at:
        problems.append(
            Problem("capacity_block_end is not after capacity_block_start.", setting="capacity_block_end")
        )
    elif block.ends_at - CAPACITY_BLOCK_SCALE_IN_BEFORE_END <= now:
        problems.append(
            Problem(
                f"the Capacity Block ends at {_utc(block.ends_at)}: its instances are, or are about to be, "
                "terminated. Buy another block and give its ID and times.",
                setting="capacity_block_end",
            )
        )
    if min_capacity > 0 or desired_capacity:
        problems.append(
            Problem(
                f"min_capacity {min_capacity} / desired_capacity {desired_capacity} with a Capacity Block: the "
                "block has no capacity outside its times, and the group scales to max_capacity when it starts; "
                "leave both at 0.",
                setting="min_capacity",
            )
        )
    return problems


def fleet_defaults() -> dict[str, Any]:
    """AcceleratedFleet's defaults for the settings :func:`fleet_problems` checks (one owner per default)."""
    checked = inspect.signature(fleet_problems).parameters
    return {
        name: parameter.default
        for name, parameter in inspect.signature(AcceleratedFleet.__init__).parameters.items()
        if name in checked and parameter.default is not inspect.Parameter.empty
    }


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA zones the system knows (read from disk once: available_timezones() scans it each call)."""
    import zoneinfo

    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _efa_count(instance: Ec2InstanceType, stated: int | None) -> int | None:
    return instance.efa_interfaces if instance.efa_interfaces is not None else stated


def _efa_problems(instance: Ec2InstanceType, stated: int | None) -> list[Problem]:
    name = instance.name
    if instance.efa_interfaces is not None:
        if stated is not None and stated != instance.efa_interfaces:
            return [
                Problem(
                    f"efa_interfaces={stated}: {name} has {instance.efa_interfaces} (EC2 User Guide); leave it unset.",
                    setting="efa_interfaces",
                    value=stated,
                )
            ]
        return []
    if instance.family in _EFA_DOCUMENTED_FAMILIES or instance.family == "inf2":
        sizes = sorted(efa_sizes(instance.family))
        return [
            Problem(
                f"{name} does not support EFA"
                + (f"; in the {instance.family} family only {', '.join(sizes)} do." if sizes else ".")
                + " Set efa to false, or pick an EFA size.",
                setting="efa",
                value=True,
            )
        ]
    if stated is None:
        return [
            Problem(
                f"efa: the catalog does not know how many EFA interfaces {name} takes, and will not guess. Read it with "
                f"'aws ec2 describe-instance-types --instance-types {name} --query "
                "InstanceTypes[].NetworkInfo.EfaInfo.MaximumEfaInterfaces' and set efa_interfaces.",
                setting="efa_interfaces",
            )
        ]
    if not 1 <= stated <= 64:
        return [Problem(f"efa_interfaces={stated}: use the type's count, 1 to 64.", setting="efa_interfaces")]
    return []

"""A SageMaker HyperPod cluster (``AWS::SageMaker::Cluster``) orchestrated by Slurm, for large-scale training.

No CDK construct library offers one. What the construct builds, and why:

- **Slurm, configured by HyperPod** (``Orchestrator.Slurm``, strategy ``Managed``): each instance group is a
  Slurm node type (exactly one ``Controller``, at most one ``Login``, ``Compute`` groups with a partition);
  HyperPod writes ``slurm.conf`` ("SageMaker HyperPod Slurm configuration", SageMaker Developer Guide).
- **Node recovery** ``Automatic`` and deep health checks on start for accelerated groups.
- **FSx for Lustre** (KMS-encrypted, persistent, in the cluster's subnet) mounted at ``/fsx`` on every node
  through the groups' ``InstanceStorageConfigs`` (which needs the cluster in your VPC, as here).
- **Lifecycle scripts** from a folder, uploaded to an encrypted bucket whose name starts with ``sagemaker-``:
  the managed ``AmazonSageMakerClusterInstanceRolePolicy`` reads lifecycle scripts only from such buckets
  ("Make sure that the S3 bucket path starts with s3://sagemaker-", ClusterLifeCycleConfig, SageMaker API).
  The entry point runs when a node is created (``OnCreate``, as in AWS's Slurm examples; HyperPod still
  configures Slurm and mounts FSx); ``OnInitComplete`` runs it after the AMI-based initialization. A
  ``provisioning_parameters.json`` (the legacy way to describe Slurm) is refused: the groups' SlurmConfig
  says it, and HyperPod fails a cluster that has both.
- **Network**: the cluster's subnet, and a group's own subnet in its zone where its capacity is
  (``OverrideVpcConfig``, HyperPod's multi-AZ layout); a security group open only to
  itself (EFA and Lustre between nodes; AWS advises against an all-traffic rule to 0.0.0.0/0, which can
  fail EFA health checks), HTTPS out for the VPC's S3 gateway and interface endpoints.
- **Node health**: HyperPod's "SageMaker HyperPod Cluster Node Health Event" through EventBridge to an
  encrypted topic.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from aws_cdk import Aws, Fn, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_events as events
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs._private.names import stack_id_suffix
from mlblueprints.constructs._private.service_models import enum_values, number_rule, service_model
from mlblueprints.constructs.compliance.acknowledge import (
    Pack,
    acknowledge,
    acknowledge_inline_policy,
)
from mlblueprints.constructs.compute._private.accelerator_facts import AcceleratorKind
from mlblueprints.constructs.compute.instance_types import _describe
from mlblueprints.constructs.compute.regional_offerings import hyperpod_known_regions, hyperpod_regions
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.monitoring.dead_letters import EventDeadLetters, rule_to_topic
from mlblueprints.constructs.security.folder_deployment import deploy_folder
from mlblueprints.constructs.security.private_network import (
    grant_vpc_network_interfaces,
    open_within_itself,
    require_zone_region_at_deploy,
    zone_problems,
)
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = [
    "HyperPodCluster",
    "HyperPodError",
    "InstanceGroup",
    "LifecycleScripts",
    "LifecycleStage",
    "SlurmNodeType",
    "hyperpod_problems",
]

LIFECYCLE_DIR = Path(__file__).parent / "lifecycle"
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# CloudFormation's OnStartDeepHealthChecks enum (botocore lists one more, which cfn-lint refuses).
DEEP_HEALTH_CHECKS = ("InstanceStress", "InstanceConnectivity")


class HyperPodError(MlBlueprintsError):
    """HyperPod settings SageMaker would refuse, or that would fail the cluster."""


class SlurmNodeType(Enum):
    CONTROLLER = "Controller"
    LOGIN = "Login"
    COMPUTE = "Compute"


class LifecycleStage(Enum):
    """When the entry point runs: after HyperPod's initialization, or instead of it (the scripts set up Slurm)."""

    ON_INIT_COMPLETE = "OnInitComplete"
    ON_CREATE = "OnCreate"


@dataclass(frozen=True)
class InstanceGroup:
    """One instance group: a Slurm node type, its instances and their storage.

    :param partition: the Slurm partition of a ``Compute`` group (none for Controller and Login).
    :param threads_per_core: 1 turns simultaneous multithreading off (the usual choice for training).
    :param ebs_volume_gb: an encrypted EBS volume per instance, mounted at /opt/sagemaker.
    :param availability_zone: the group's zone, where its capacity is (e.g. a reservation's): the group gets
        the VPC's private subnet there (``OverrideVpcConfig``, HyperPod's multi-AZ layout). None: the
        cluster's subnet.
    """

    name: str
    instance_type: str
    count: int
    node_type: SlurmNodeType = SlurmNodeType.COMPUTE
    partition: str | None = None
    threads_per_core: int = 1
    ebs_volume_gb: int = 500
    availability_zone: str | None = None


@dataclass(frozen=True)
class LifecycleScripts:
    """A folder of lifecycle scripts and the entry point HyperPod runs on each node.

    :param source_s3_uri: scripts already in S3 instead of a folder (``s3://sagemaker-.../prefix/``); the
        bucket's name must start with ``sagemaker-``, the only buckets HyperPod's managed instance policy reads.
        Their entry point cannot be checked at synth.
    """

    directory: Path = LIFECYCLE_DIR
    entry_point: str = "on_create.sh"
    stage: LifecycleStage = LifecycleStage.ON_CREATE
    source_s3_uri: str | None = None


def hyperpod_problems(
    groups: Sequence[InstanceGroup],
    *,
    region: str | None = None,
    lifecycle: LifecycleScripts | None = None,
    fsx_storage_gib: int | None = 1200,
    eks_cluster_arn: str | None = None,
) -> list[Problem]:
    """Every problem of a cluster's settings at once (limits from botocore, regions from cfn-lint).

    With ``eks_cluster_arn`` the groups are EKS worker nodes: no Slurm node types or partitions."""
    problems: list[Problem] = []
    if eks_cluster_arn is not None and not Token.is_unresolved(eks_cluster_arn):
        pattern = service_model().shape("EksClusterArn")["pattern"]
        if not re.fullmatch(pattern, eks_cluster_arn):
            problems.append(
                Problem(f"eks_cluster_arn {eks_cluster_arn!r} is not an EKS cluster ARN "
                        "(arn:aws:eks:<region>:<account>:cluster/<name>).", setting="eks_cluster_arn",
                        value=eks_cluster_arn)
            )  # fmt: skip
    known = enum_values("ClusterInstanceType")
    count_rule = number_rule("ClusterInstanceGroupSpecification", "InstanceCount")
    threads = number_rule("ClusterInstanceGroupSpecification", "ThreadsPerCore")
    volume = number_rule("ClusterEbsVolumeConfig", "VolumeSizeInGB")
    if not 1 <= len(groups) <= 100:
        problems.append(Problem(f"{len(groups)} instance groups: give 1 to 100.", setting="instance_groups"))
    names = [group.name for group in groups]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            Problem(f"instance group {name!r} is named twice: name each once.", setting="instance_groups")
        )
    for group in groups:
        where = f"instance group {group.name!r}"
        if not _NAME.match(group.name):
            problems.append(
                Problem(
                    f"{where}: a name is letters, digits and single hyphens, 63 at most.",
                    setting="instance_groups",
                )
            )
        if group.instance_type not in known:
            close = difflib.get_close_matches(group.instance_type.lower(), known, n=3, cutoff=0.6)
            problems.append(
                Problem(
                    f"{where}: {group.instance_type!r} is not a HyperPod instance type (botocore's ClusterInstanceType)"
                    + (f"; closest: {', '.join(close)}." if close else "."),
                    setting="instance_type",
                    value=group.instance_type,
                )
            )
        elif region and not Token.is_unresolved(region):
            offered = hyperpod_regions(group.instance_type)
            # A region cfn-lint does not know at all is newer than its data: nothing to say there.
            if offered and region not in offered and region in hyperpod_known_regions():
                problems.append(
                    Problem(
                        f"{where}: {group.instance_type} is not offered for HyperPod in {region} (cfn-lint's regional "
                        f"data); it is in {', '.join(sorted(offered))}.",
                        setting="instance_type",
                        value=group.instance_type,
                    )
                )
        problems += [
            Problem(f"{where}: {p.message}", setting=p.setting, value=p.value)
            for p in zone_problems(group.availability_zone, region=region)
        ]
        if not count_rule.minimum <= group.count <= count_rule.maximum:
            problems.append(
                Problem(
                    f"{where}: count {group.count}: use {count_rule.minimum} to {count_rule.maximum}.",
                    setting="count",
                )
            )
        if not threads.minimum <= group.threads_per_core <= threads.maximum:
            problems.append(
                Problem(
                    f"{where}: threads_per_core {group.threads_per_core}: use 1 (no SMT) or 2.",
                    setting="threads_per_core",
                )
            )
        if not volume.minimum <= group.ebs_volume_gb <= volume.maximum:
            problems.append(
                Problem(f"{where}: ebs_volume_gb {group.ebs_volume_gb}: use {volume.minimum} to {volume.maximum}.",
                        setting="ebs_volume_gb")
            )  # fmt: skip
        if eks_cluster_arn is None and group.node_type is SlurmNodeType.COMPUTE and not group.partition:
            problems.append(
                Problem(f"{where}: a Compute group needs its Slurm partition.", setting="partition")
            )
        if group.node_type is not SlurmNodeType.COMPUTE and group.partition:
            problems.append(
                Problem(f"{where}: a {group.node_type.value} group has no partition (HyperPod refuses one).",
                        setting="partition")
            )  # fmt: skip
        if group.partition and not _NAME.match(group.partition):
            problems.append(
                Problem(
                    f"{where}: partition {group.partition!r}: letters, digits and hyphens.",
                    setting="partition",
                )
            )
    if eks_cluster_arn is not None:
        for group in groups:
            if group.node_type is not SlurmNodeType.COMPUTE or group.partition:
                problems.append(
                    Problem(f"instance group {group.name!r}: an EKS cluster's groups are worker nodes; Slurm node types "
                            "and partitions are for Slurm clusters.", setting="instance_groups")
                )  # fmt: skip
        return (
            problems
            + (lifecycle_problems(lifecycle) if lifecycle is not None else [])
            + _fsx_problems(fsx_storage_gib)
        )
    controllers = [g for g in groups if g.node_type is SlurmNodeType.CONTROLLER]
    if len(controllers) != 1:
        problems.append(
            Problem(
                f"{len(controllers)} Controller groups: HyperPod's Slurm needs exactly one.",
                setting="instance_groups",
            )
        )
    elif controllers[0].count != 1:
        problems.append(
            Problem("the Controller group runs one instance: set its count to 1.", setting="count")
        )
    if len([g for g in groups if g.node_type is SlurmNodeType.LOGIN]) > 1:
        problems.append(Problem("more than one Login group: HyperPod allows one.", setting="instance_groups"))
    if lifecycle is not None:
        problems += lifecycle_problems(lifecycle)
    problems += _fsx_problems(fsx_storage_gib)
    return problems


def _fsx_problems(fsx_storage_gib: int | None) -> list[Problem]:
    problems: list[Problem] = []
    if fsx_storage_gib is not None and not (
        fsx_storage_gib == 1200 or (fsx_storage_gib > 0 and fsx_storage_gib % 2400 == 0)
    ):
        problems.append(
            Problem(
                f"fsx_storage_gib={fsx_storage_gib}: FSx for Lustre (persistent SSD) takes 1200 GiB or a multiple of 2400.",
                setting="fsx_storage_gib",
                value=fsx_storage_gib,
            )
        )
    return problems


def lifecycle_problems(lifecycle: LifecycleScripts) -> list[Problem]:
    """The entry point must be in the folder, executable, and start with an interpreter line; scripts in S3
    must be in a ``sagemaker-`` bucket."""
    limit = number_rule("ClusterLifeCycleConfig", lifecycle.stage.value).maximum
    if lifecycle.source_s3_uri is not None:
        return _s3_lifecycle_problems(lifecycle, limit)
    directory = Path(lifecycle.directory)
    entry = directory / lifecycle.entry_point
    if not directory.is_dir():
        return [Problem(f"lifecycle scripts: {directory} is not a folder.", setting="lifecycle_scripts")]
    if not entry.is_file():
        present = ", ".join(sorted(p.name for p in directory.iterdir() if p.is_file())) or "nothing"
        return [
            Problem(f"lifecycle scripts: {lifecycle.entry_point} is not in {directory} (it has {present}).",
                    setting="lifecycle_entry_point", value=lifecycle.entry_point)
        ]  # fmt: skip
    problems = []
    if (directory / "provisioning_parameters.json").exists():
        problems.append(
            Problem(f"lifecycle scripts: {directory} has a provisioning_parameters.json; the cluster's Slurm is set by "
                    "its groups (SlurmConfig), and HyperPod fails a cluster with both. Remove the file.",
                    setting="lifecycle_scripts")
        )  # fmt: skip
    if len(lifecycle.entry_point) > limit:
        problems.append(
            Problem(f"lifecycle entry point: at most {limit} characters.", setting="lifecycle_entry_point")
        )
    if not entry.read_bytes().startswith(b"#!"):
        problems.append(
            Problem(f"lifecycle scripts: {entry} has no interpreter line (#!/bin/bash): HyperPod runs it directly.",
                    setting="lifecycle_entry_point", value=lifecycle.entry_point)
        )  # fmt: skip
    if not os.access(entry, os.X_OK):
        problems.append(
            Problem(f"lifecycle scripts: {entry} is not executable: chmod +x it (and `git update-index --chmod=+x`).",
                    setting="lifecycle_entry_point", value=lifecycle.entry_point)
        )  # fmt: skip
    return problems


def _s3_lifecycle_problems(lifecycle: LifecycleScripts, limit: int) -> list[Problem]:
    uri = lifecycle.source_s3_uri
    problems = []
    if len(lifecycle.entry_point) > limit:
        problems.append(
            Problem(f"lifecycle entry point: at most {limit} characters.", setting="lifecycle_entry_point")
        )
    if Token.is_unresolved(uri):
        return problems
    match = re.fullmatch(r"s3://(?P<bucket>[^/]+)(/.*)?", uri)
    if match is None:
        problems.append(
            Problem(f"lifecycle scripts {uri!r} is not an S3 URI (s3://bucket/prefix/).",
                    setting="lifecycle_scripts_s3_uri", value=uri)
        )  # fmt: skip
    elif not match["bucket"].startswith("sagemaker-"):
        problems.append(
            Problem(f"lifecycle scripts in s3://{match['bucket']}: HyperPod's managed instance policy "
                    "(AmazonSageMakerClusterInstanceRolePolicy) reads lifecycle scripts only from buckets whose "
                    "name starts with sagemaker-, so the nodes could not fetch them and the cluster would fail. "
                    "Copy them to a sagemaker-... bucket, or give the folder and let the blueprint upload it.",
                    setting="lifecycle_scripts_s3_uri", value=uri)
        )  # fmt: skip
    elif len(uri) > service_model().shape("S3Uri")["max"]:
        problems.append(
            Problem(f"lifecycle scripts {uri!r}: at most {service_model().shape('S3Uri')['max']} characters.",
                    setting="lifecycle_scripts_s3_uri", value=uri)
        )  # fmt: skip
    return problems


class HyperPodCluster(Construct):
    """A Slurm HyperPod cluster in one subnet of ``vpc``, with FSx for Lustre and lifecycle scripts.

    :param subnet: the one subnet (and so availability zone) the cluster, and its file system, run in.
    :param fsx_storage_gib: FSx for Lustre capacity (1200 or a multiple of 2400); None: no file system.
    :param alarm_topic: where node health events go (encrypted with ``encryption_key``).
    :param eks_cluster_arn: orchestrate with this EKS cluster instead of Slurm. It must exist, use the API
        or API_AND_CONFIG_MAP authentication mode and VPC CNI 1.18.3 or later, and have HyperPod's Helm chart
        (aws/sagemaker-hyperpod-cli, helm_chart/HyperPodHelmChart) with its health monitoring agent, which
        node recovery needs ("Prerequisites for using Amazon EKS with HyperPod", SageMaker Developer Guide).
    :param eks_cluster: or an EKS cluster from aws-cdk-lib (``aws_eks_v2.Cluster``, in this VPC): its
        authentication mode is checked, and the nodes and its control plane are let reach each other (HTTPS
        to the API server; the control plane to the kubelets and webhooks on 443 and 1025-65535, as EKS's
        node security group guidance has it). Install HyperPod's Helm chart on it before the cluster is
        created, as for ``eks_cluster_arn``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instance_groups: Sequence[InstanceGroup],
        vpc: ec2.IVpc,
        subnet: ec2.ISubnet,
        encryption_key: kms.IKey,
        alarm_topic: sns.ITopic,
        lifecycle_scripts: LifecycleScripts | None = LifecycleScripts(),
        fsx_storage_gib: int | None = 1200,
        eks_cluster_arn: str | None = None,
        eks_cluster: eks.ICluster | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        if eks_cluster is not None:
            if eks_cluster_arn is not None:
                raise HyperPodError(
                    [Problem("give eks_cluster or eks_cluster_arn, not both.", setting="eks_cluster_arn")]
                )
            _check_authentication_mode(eks_cluster)
            eks_cluster_arn = eks_cluster.cluster_arn
        self.eks_cluster_arn = eks_cluster_arn
        problems = hyperpod_problems(
            instance_groups,
            region=stack.region,
            lifecycle=lifecycle_scripts,
            fsx_storage_gib=fsx_storage_gib,
            eks_cluster_arn=eks_cluster_arn,
        )
        if problems:
            raise HyperPodError(problems)
        _assert_offered_at_deploy(self, [g.instance_type for g in instance_groups])

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="HyperPod nodes: all traffic within the group (EFA, Lustre, Slurm); HTTPS to AWS endpoints",
            allow_all_outbound=False,
        )
        open_within_itself(
            self.security_group,
            description="Between cluster nodes",
            reason="EFA, Lustre and Slurm need all traffic between the nodes of one cluster",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS services through VPC endpoints"
        )
        if eks_cluster is not None:
            # The nodes call the API server; the control plane calls the kubelets (10250) and admission webhooks.
            self.security_group.connections.allow_to(
                eks_cluster, ec2.Port.tcp(443), "Nodes to the EKS API server"
            )
            eks_cluster.connections.allow_to(
                self.security_group, ec2.Port.tcp(443), "EKS control plane to pods"
            )
            eks_cluster.connections.allow_to(
                self.security_group,
                ec2.Port.tcp_range(1025, 65535),
                "EKS control plane to kubelets and webhooks",
            )
        self._subnet = subnet
        self._vpc = vpc

        self.role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="HyperPod cluster nodes",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSageMakerClusterInstanceRolePolicy")
            ],
        )
        # A cluster in your VPC: SageMaker attaches the nodes' network interfaces with this role.
        grant_vpc_network_interfaces(self.role, service="SageMaker", what="a HyperPod cluster's nodes")
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[encryption_key.key_arn])
        )
        acknowledge_inline_policy(self.role)
        acknowledge(
            self.role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy]",
            topic="HyperPod's managed instance policy",
            reason="AWS's policy for HyperPod nodes: their own CloudWatch logs and metrics, SSM sessions, and reading "
            "lifecycle scripts from this account's sagemaker-* buckets; HyperPod documents it as the nodes' policy.",
            packs=(Pack.AWS_SOLUTIONS,),
        )

        self.file_system = None
        storage = []
        if fsx_storage_gib is not None:
            self.file_system = fsx.LustreFileSystem(
                self,
                "FileSystem",
                vpc=vpc,
                vpc_subnet=subnet,
                security_group=self.security_group,
                storage_capacity_gib=fsx_storage_gib,
                kms_key=encryption_key,
                file_system_type_version=fsx.FileSystemTypeVersion.V_2_15,
                lustre_configuration=fsx.LustreConfiguration(
                    deployment_type=fsx.LustreDeploymentType.PERSISTENT_2,
                    per_unit_storage_throughput=250,
                    data_compression_type=fsx.LustreDataCompressionType.LZ4,
                ),
                removal_policy=removal_policy,
            )
            storage.append(
                sagemaker.CfnCluster.ClusterInstanceStorageConfigProperty(
                    fsx_lustre_config=sagemaker.CfnCluster.ClusterFsxLustreConfigProperty(
                        dns_name=self.file_system.dns_name,
                        mount_name=self.file_system.mount_name,
                        mount_path="/fsx",
                    )
                )
            )

        life_cycle = None
        deployment = None
        self.scripts_bucket = None
        if lifecycle_scripts is not None and lifecycle_scripts.source_s3_uri is not None:
            stage = {lifecycle_scripts.stage.name.lower(): lifecycle_scripts.entry_point}
            life_cycle = sagemaker.CfnCluster.ClusterLifeCycleConfigProperty(
                source_s3_uri=lifecycle_scripts.source_s3_uri, **stage
            )
        elif lifecycle_scripts is not None:
            life_cycle, deployment = self._upload(lifecycle_scripts, encryption_key, removal_policy)

        self.cluster_name = _cluster_name(self)
        self.resource = sagemaker.CfnCluster(
            self,
            "Resource",
            cluster_name=self.cluster_name,
            node_recovery="Automatic",
            orchestrator=sagemaker.CfnCluster.OrchestratorProperty(
                eks=sagemaker.CfnCluster.ClusterOrchestratorEksConfigProperty(cluster_arn=eks_cluster_arn)
            )
            if eks_cluster_arn
            else sagemaker.CfnCluster.OrchestratorProperty(
                slurm=sagemaker.CfnCluster.ClusterOrchestratorSlurmConfigProperty(
                    slurm_config_strategy="Managed"
                )
            ),
            vpc_config=sagemaker.CfnCluster.VpcConfigProperty(
                security_group_ids=[self.security_group.security_group_id], subnets=[subnet.subnet_id]
            ),
            instance_groups=[
                self._group(group, encryption_key, storage, life_cycle) for group in instance_groups
            ],
        )
        self.resource.node.add_dependency(self.role)
        if deployment is not None:
            self.resource.node.add_dependency(deployment)
        self.cluster_arn = self.resource.attr_cluster_arn
        self._watch_node_health(alarm_topic, encryption_key, removal_policy)

    def _group(self, group, key, storage, life_cycle):
        facts = _describe(group.instance_type, listed=True)
        # HyperPod's deep health checks under Slurm cover NVIDIA GPU instances ("g5, p4, and p5"); controller
        # and login nodes are not checked.
        gpu = facts.accelerator is AcceleratorKind.NVIDIA_GPU and group.node_type is SlurmNodeType.COMPUTE
        checks = list(DEEP_HEALTH_CHECKS) if gpu else None
        return sagemaker.CfnCluster.ClusterInstanceGroupProperty(
            instance_group_name=group.name,
            instance_type=group.instance_type,
            instance_count=group.count,
            execution_role=self.role.role_arn,
            threads_per_core=group.threads_per_core,
            slurm_config=None
            if self.eks_cluster_arn
            else sagemaker.CfnCluster.ClusterSlurmConfigProperty(
                node_type=group.node_type.value,
                partition_names=[group.partition] if group.partition else None,
            ),
            instance_storage_configs=[
                sagemaker.CfnCluster.ClusterInstanceStorageConfigProperty(
                    ebs_volume_config=sagemaker.CfnCluster.ClusterEbsVolumeConfigProperty(
                        # A customer-managed key on HyperPod volumes needs NodeProvisioningMode Continuous, which a
                        # Slurm configuration strategy does not allow: the volumes use HyperPod's AWS owned key.
                        volume_size_in_gb=group.ebs_volume_gb
                    )
                ),
                *storage,
            ],
            on_start_deep_health_checks=checks,
            life_cycle_config=life_cycle,
            override_vpc_config=self._override_vpc_config(group),
        )

    def _override_vpc_config(self, group: InstanceGroup):
        """The group's own subnet, in its zone, when that is not the cluster's."""
        zone = group.availability_zone
        if zone is None or zone == self._subnet.availability_zone:
            return None
        require_zone_region_at_deploy(self, zone, what=f"HyperPod instance group {group.name} runs")
        candidates = [*self._vpc.private_subnets, *self._vpc.isolated_subnets]
        chosen = [s for s in candidates if s.availability_zone == zone]
        if not chosen:
            zones = ", ".join(
                sorted(
                    {s.availability_zone for s in candidates if not Token.is_unresolved(s.availability_zone)}
                )
            )
            raise HyperPodError(
                [
                    Problem(f"instance group {group.name!r}: the VPC has no private subnet in {zone} (its private "
                            f"subnets are in {zones or 'zones resolved at deploy time'}). Give it one there.",
                            setting="availability_zone", value=zone)
                ]
            )  # fmt: skip
        return sagemaker.CfnCluster.VpcConfigProperty(
            security_group_ids=[self.security_group.security_group_id], subnets=[chosen[0].subnet_id]
        )

    def _upload(self, scripts: LifecycleScripts, key: kms.IKey, removal_policy: RemovalPolicy):
        """The scripts, in a KMS-encrypted bucket named sagemaker-... (the managed policy reads only those)."""
        self.scripts_bucket = SecureBucket(
            self,
            "LifecycleBucket",
            encryption_key=key,
            removal_policy=removal_policy,
            bucket_name=Fn.join("-", ["sagemaker-hyperpod", Aws.ACCOUNT_ID, Aws.REGION, stack_id_suffix()]),
        )
        deployment = deploy_folder(
            self,
            "LifecycleScripts",
            folder=scripts.directory,
            bucket=self.scripts_bucket.bucket,
            prefix="lifecycle/",
            encryption_key=key,
            removal_policy=removal_policy,
            purpose="hyperpod",
            what="the lifecycle scripts",
        )
        source = f"s3://{self.scripts_bucket.bucket_name}/lifecycle/"
        stage = {scripts.stage.name.lower(): scripts.entry_point}
        return sagemaker.CfnCluster.ClusterLifeCycleConfigProperty(source_s3_uri=source, **stage), deployment

    def _watch_node_health(self, topic: sns.ITopic, key: kms.IKey, removal_policy: RemovalPolicy) -> None:
        dead_letters = EventDeadLetters(
            self, "DeadLetters", encryption_key=key, topic=topic, removal_policy=removal_policy
        )
        self.node_health_rule = rule_to_topic(
            self,
            "NodeHealth",
            description="HyperPod node health events of this cluster (unhealthy nodes, and their recovery)",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker HyperPod Cluster Node Health Event"],
                detail={"ClusterArn": [self.cluster_arn]},
            ),
            topic=topic,
            topic_key=key,
            dead_letter_queue=dead_letters.queue,
        )


def _check_authentication_mode(cluster: eks.ICluster) -> None:
    """HyperPod works with EKS clusters in the API or API_AND_CONFIG_MAP authentication mode only (it grants its
    nodes access with access entries); EKS's default when none is set is CONFIG_MAP."""
    resource = cluster.node.default_child
    if not isinstance(resource, eks.CfnCluster) or Token.is_unresolved(resource.access_config):
        return  # an imported cluster: its mode is the user's to check (the README lists the prerequisites)
    mode = getattr(resource.access_config, "authentication_mode", None) or "CONFIG_MAP"
    if mode not in ("API", "API_AND_CONFIG_MAP"):
        raise HyperPodError(
            [
                Problem(f"EKS cluster {cluster.node.path}: authentication mode {mode}; HyperPod needs API or "
                        "API_AND_CONFIG_MAP (it grants its nodes access with access entries).",
                        setting="eks_cluster", value=mode)
            ]
        )  # fmt: skip


def _cluster_name(scope: Construct) -> str:
    name = Names.unique_resource_name(scope, max_length=63, separator="-")
    cleaned = re.sub(r"[^a-zA-Z0-9-]", "-", name)
    return re.sub(r"-{2,}", "-", cleaned).strip("-")[:63]


def _assert_offered_at_deploy(scope: Construct, instance_types: list[str]) -> None:
    from aws_cdk import CfnRule

    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region):
        return
    for name in sorted(set(instance_types)):
        regions = hyperpod_regions(name)
        rule_id = f"HyperPodRegion{re.sub(r'[^A-Za-z0-9]', '', name)}"
        if regions and stack.node.try_find_child(rule_id) is None:
            CfnRule(stack, rule_id).add_assertion(
                Fn.condition_contains(sorted(regions), Aws.REGION),
                f"{name} is not offered for HyperPod in this region; it is offered in {', '.join(sorted(regions))}.",
            )

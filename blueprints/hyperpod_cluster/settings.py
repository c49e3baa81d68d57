"""Settings of the ``hyperpod-cluster`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.hyperpod.cluster import (
    InstanceGroup,
    LifecycleScripts,
    SlurmNodeType,
    hyperpod_problems,
)
from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems
from mlblueprints.constructs.security.private_network import network_problems, zone_problems

__all__ = ["HyperPodClusterSettings"]


class HyperPodClusterSettings(BlueprintSettings):
    """A SageMaker HyperPod Slurm cluster for large-scale training on Trainium or GPU."""

    blueprint_name: ClassVar[str] = "hyperpod-cluster"

    instance_type: str = Field(description="The compute nodes' type, e.g. ml.trn1.32xlarge, ml.p5.48xlarge.")
    instance_count: int = Field(2, description="Compute nodes.")
    partition: str = Field("train", description="The compute nodes' Slurm partition.")
    controller_instance_type: str = Field(
        "ml.m5.xlarge", description="The Slurm controller's type (one node)."
    )
    login_instance_type: str | None = Field(None, description="A login node's type. Default: no login node.")
    threads_per_core: int = Field(
        1, description="1: no simultaneous multithreading (usual for training); 2: on."
    )
    ebs_volume_gb: int = Field(
        500, description="An encrypted EBS volume per node, at /opt/sagemaker, in GiB."
    )
    fsx_storage_gib: int | None = Field(
        1200, description="FSx for Lustre at /fsx, in GiB (1200 or a multiple of 2400); null: none."
    )
    lifecycle_scripts: str | None = Field(
        None,
        description="A folder of lifecycle scripts (path). Default: the catalog's (shared /fsx directories).",
    )
    lifecycle_scripts_s3_uri: str | None = Field(
        None,
        description="Or lifecycle scripts already in S3, s3://sagemaker-.../prefix/ (HyperPod's managed policy "
        "reads only sagemaker-* buckets).",
    )
    lifecycle_entry_point: str = Field("on_create.sh", description="The script HyperPod runs on each node.")
    lifecycle_stage: str = Field(
        "OnCreate",
        pattern="^(OnCreate|OnInitComplete)$",
        description="OnCreate: when the node is created (as AWS's Slurm examples); OnInitComplete: after the "
        "AMI-based initialization.",
    )
    eks_cluster_arn: str | None = Field(
        None,
        description="Orchestrate with this existing EKS cluster instead of Slurm (API or API_AND_CONFIG_MAP "
        "authentication, VPC CNI 1.18.3+, HyperPod's Helm chart and health agent installed; see the README).",
    )
    availability_zone: str | None = Field(
        None,
        description="The cluster's zone (where your capacity is), e.g. us-east-1d. Default: the region's first.",
    )
    compute_availability_zone: str | None = Field(
        None,
        description="The compute nodes' zone when your accelerated capacity is in another zone than "
        "availability_zone (which keeps the controller, login node and file system). Default: availability_zone.",
    )
    notification_email: str | None = Field(None, description="Subscribe this address to node health events.")
    vpc_cidr: str | None = Field(None, description="The cluster's VPC, a /16 to /19 block.")
    retain_data: bool = Field(
        True,
        description="Keep the file system, buckets, key and logs when the stack is deleted; false deletes them.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def instance_groups(self) -> list[InstanceGroup]:
        common = {"threads_per_core": self.threads_per_core, "ebs_volume_gb": self.ebs_volume_gb}
        if self.eks_cluster_arn:
            # EKS schedules the work: the groups are worker nodes, no controller, login or partition.
            return [
                InstanceGroup(
                    "workers",
                    self.instance_type,
                    self.instance_count,
                    availability_zone=self.compute_availability_zone,
                    **common,
                )
            ]
        groups = [
            InstanceGroup("controller", self.controller_instance_type, 1, SlurmNodeType.CONTROLLER, **common)
        ]
        if self.login_instance_type:
            groups.append(InstanceGroup("login", self.login_instance_type, 1, SlurmNodeType.LOGIN, **common))
        groups.append(
            InstanceGroup(
                "compute",
                self.instance_type,
                self.instance_count,
                SlurmNodeType.COMPUTE,
                self.partition,
                availability_zone=self.compute_availability_zone,
                **common,
            )
        )
        return groups

    def lifecycle(self) -> LifecycleScripts:
        from mlblueprints.constructs.hyperpod.cluster import LIFECYCLE_DIR, LifecycleStage

        directory = Path(self.lifecycle_scripts) if self.lifecycle_scripts else LIFECYCLE_DIR
        return LifecycleScripts(
            directory,
            self.lifecycle_entry_point,
            LifecycleStage(self.lifecycle_stage),
            source_s3_uri=self.lifecycle_scripts_s3_uri,
        )

    def zones(self) -> list[str]:
        """The network's zones: the cluster's, then the compute nodes' when they differ."""
        return list(dict.fromkeys(z for z in (self.availability_zone, self.compute_availability_zone) if z))

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems: list[Problem] = []
        if isinstance(config.get("vpc_cidr"), str):
            problems += network_problems(config["vpc_cidr"], max_azs=2, single_zone=True)
        if isinstance(config.get("notification_email"), str):
            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        for setting in ("availability_zone", "compute_availability_zone"):
            problems += zone_problems(getattr(settings, setting), region=region, setting=setting)
        if settings.compute_availability_zone and not settings.availability_zone:
            problems.append(
                Problem(
                    "compute_availability_zone needs availability_zone too: the zone of the controller, login node "
                    "and file system (often the same; then leave compute_availability_zone out).",
                    setting="compute_availability_zone",
                )
            )
        if settings.lifecycle_scripts and settings.lifecycle_scripts_s3_uri:
            problems.append(
                Problem(
                    "lifecycle_scripts (a folder) and lifecycle_scripts_s3_uri (scripts in S3): give one.",
                    setting="lifecycle_scripts_s3_uri",
                )
            )
        if settings.eks_cluster_arn and settings.login_instance_type:
            problems.append(
                Problem(
                    "login_instance_type is a Slurm login node; an EKS cluster has none.",
                    setting="login_instance_type",
                )
            )
        return problems + hyperpod_problems(
            settings.instance_groups(),
            region=region,
            lifecycle=settings.lifecycle(),
            fsx_storage_gib=settings.fsx_storage_gib,
            eks_cluster_arn=settings.eks_cluster_arn,
        )

"""Blueprint: a SageMaker HyperPod Slurm cluster on Trainium or GPU, with FSx for Lustre, in one zone."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy
from aws_cdk import aws_ec2 as ec2

from constructs import Construct
from mlblueprints.blueprints.hyperpod_cluster.settings import HyperPodClusterSettings
from mlblueprints.constructs.hyperpod.cluster import HyperPodCluster
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime

__all__ = ["HyperPodClusterStack"]


class HyperPodClusterStack(AvailabilityZonesAtDeployTime):
    """The cluster, its one-zone network with the endpoints the nodes use, its key and its topic."""

    def __init__(
        self, scope: Construct, id: str, *, settings: HyperPodClusterSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            availability_zone=settings.zones(),
            description=settings.description
            or f"mlblueprints HyperPod {'EKS' if settings.eks_cluster_arn else 'Slurm'} cluster of {settings.instance_type}",
        )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        baseline = SecurityBaseline.create(
            self,
            removal_policy=removal_policy,
            # HyperPod places a cluster in one zone, with its file system; compute nodes may be in a second.
            single_zone=len(settings.zones()) <= 1,
            max_azs=max(len(settings.zones()), 1),
            sagemaker_endpoints=False,
            **({"vpc_cidr": settings.vpc_cidr} if settings.vpc_cidr else {}),
        )
        self.key, self.network = baseline.key, baseline.network
        # The managed instance policy's CloudWatch metrics and SSM sessions, from the isolated subnet.
        self.network.add_interface_endpoints(
            {
                "SsmMessages": ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
                "CloudWatchMonitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
            }
        )
        self.topic = AlarmTopic(
            self, "Notifications", encryption_key=self.key.key, display_name="HyperPod node health"
        ).topic
        if settings.notification_email:
            subscribe_email(
                self.topic,
                settings.notification_email,
                record="HyperPod keeps each node's health in its events",
            )
        subnet = self.network.vpc.isolated_subnets[0]  # availability_zone's: the network's first zone
        self.cluster = HyperPodCluster(
            self,
            "Cluster",
            instance_groups=settings.instance_groups(),
            vpc=self.network.vpc,
            subnet=subnet,
            encryption_key=self.key.key,
            alarm_topic=self.topic,
            lifecycle_scripts=settings.lifecycle(),
            fsx_storage_gib=settings.fsx_storage_gib,
            eks_cluster_arn=settings.eks_cluster_arn,
            removal_policy=removal_policy,
        )
        # The nodes fetch their lifecycle scripts through the S3 endpoint as soon as they start.
        self.cluster.resource.node.add_dependency(self.network.s3_endpoint)
        if self.cluster.scripts_bucket is not None:
            bucket = self.cluster.scripts_bucket.bucket
            # The nodes read the lifecycle scripts through the S3 gateway endpoint (its policy names every object).
            self.network.allow_s3_objects(bucket.arn_for_objects("lifecycle/*"))
            self.network.allow_s3_objects(bucket.bucket_arn, actions=("s3:ListBucket",))
        if settings.lifecycle_scripts_s3_uri:
            bucket, _, prefix = settings.lifecycle_scripts_s3_uri.removeprefix("s3://").partition("/")
            self.network.allow_s3_objects(f"arn:{self.partition}:s3:::{bucket}/{prefix}*")
            self.network.allow_s3_objects(f"arn:{self.partition}:s3:::{bucket}", actions=("s3:ListBucket",))
        CfnOutput(
            self, "ClusterName", value=self.cluster.cluster_name, description="aws sagemaker describe-cluster"
        )
        CfnOutput(self, "ClusterArn", value=self.cluster.cluster_arn)
        if self.cluster.file_system is not None:
            CfnOutput(
                self,
                "FileSystemId",
                value=self.cluster.file_system.file_system_id,
                description="Mounted at /fsx",
            )

"""Blueprint: an auto-scaling fleet of accelerated EC2 instances on the AWS Deep Learning AMIs.

For teams that train or serve on plain EC2: the fleet in an isolated VPC reached through SSM
Session Manager (its endpoints added to the VPC), a rotating KMS key for its volumes, and outputs
to find and reach the instances.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy

from constructs import Construct
from mlblueprints.blueprints.ec2_fleet.settings import Ec2FleetSettings
from mlblueprints.constructs.ec2.fleet import AcceleratedFleet, session_manager_endpoints
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime

__all__ = ["Ec2FleetStack"]


class Ec2FleetStack(AvailabilityZonesAtDeployTime):
    """The fleet and everything it needs, deployable as one stack."""

    def __init__(
        self, scope: Construct, id: str, *, settings: Ec2FleetSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            availability_zone=settings.availability_zone,
            description=settings.description
            or f"mlblueprints Deep Learning AMI fleet of {settings.instance_type}",
        )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        baseline = SecurityBaseline.create(
            self,
            removal_policy=removal_policy,
            # A fleet pinned to a zone gets a network in that zone only (its endpoints included).
            single_zone=settings.availability_zone is not None,
            # The fleet calls no SageMaker API: Session Manager's and CloudWatch's endpoints are added below.
            sagemaker_endpoints=False,
            **({"vpc_cidr": settings.vpc_cidr} if settings.vpc_cidr else {}),
        )
        self.key, self.network = baseline.key, baseline.network
        self.network.add_interface_endpoints(session_manager_endpoints())
        self.fleet = AcceleratedFleet(
            self,
            "Fleet",
            instance_type=settings.instance_type,
            vpc=self.network.vpc,
            vpc_subnets=self.network.subnets,
            encryption_key=self.key.key,
            **settings.fleet_options(),
        )
        self.fleet.node.add_dependency(self.network)
        CfnOutput(
            self,
            "GroupName",
            value=self.fleet.group.auto_scaling_group_name,
            description="Auto Scaling group",
        )
        CfnOutput(self, "RoleArn", value=self.fleet.role.role_arn, description="The instances' IAM role")
        CfnOutput(
            self,
            "SecurityGroupId",
            value=self.fleet.security_group.security_group_id,
            description="The instances' security group",
        )
        CfnOutput(
            self,
            "AmiParameter",
            value=self.fleet.ami.ssm_parameter,
            description="The DLAMI's public SSM parameter",
        )
        CfnOutput(
            self,
            "SessionCommand",
            value=self.fleet.session_command,
            description="Open a shell on a running instance of the group",
        )

"""The IAM role SageMaker assumes to run a model or a training job, with only what that job needs."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)

__all__ = ["ExecutionRole"]


class ExecutionRole(Construct):
    """A role for ``sagemaker.amazonaws.com``, or an existing ``role`` that the grants are added to.

    The grants are methods, so each part (image, model data, VPC, metrics) adds exactly what it uses;
    each statement IAM accepts only on ``"Resource": "*"`` is acknowledged with its own reason.
    """

    def __init__(self, scope: Construct, id: str, *, description: str, role: iam.IRole | None = None) -> None:
        super().__init__(scope, id)
        # "Default" keeps the role's logical ID what it was before this construct wrapped it.
        self.role: iam.IRole = role or iam.Role(
            self,
            "Default",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=description,
        )
        self.owned = isinstance(self.role, iam.Role)
        if self.owned:
            acknowledge_inline_policy(self.role)

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self.role.grant_principal

    @property
    def policy_dependable(self) -> Construct:
        """What a resource that SageMaker validates against this role must depend on."""
        if self.owned:
            return self.role.node.find_child("DefaultPolicy")
        return self.role

    def acknowledge_wildcard(self, reason: str) -> None:
        """Record why a statement on ``"Resource": "*"`` cannot be narrower (AwsSolutions-IAM5)."""
        if self.owned:
            acknowledge_wildcard_resource(self.role, "*", topic="statement on all resources", reason=reason)

    def grant_put_metric_data(self, namespace: str) -> None:
        """CloudWatch PutMetricData, limited by condition to ``namespace`` (it has no resource ARNs)."""
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["cloudwatch:PutMetricData"],
            resource_arns=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
        )
        self.acknowledge_wildcard(
            "cloudwatch:PutMetricData supports no resource-level permissions; a condition limits it to "
            f"the {namespace} namespace of instance metrics."
        )

    def grant_vpc_access(
        self, vpc: ec2.IVpc, subnet_ids: list[str], security_group: ec2.ISecurityGroup
    ) -> None:
        """The ENI permissions SageMaker uses, as this role, to attach its containers to ``vpc``.

        The role can create interfaces only in this VPC's subnets with this security group, and manage
        or delete only interfaces in this VPC (an ``ec2:Vpc`` condition, as in the SageMaker Developer
        Guide's VPC policy example).
        """
        stack = Stack.of(self)
        eni_arn = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        in_this_vpc = {"ArnEquals": {"ec2:Vpc": _vpc_arn(stack, vpc)}}
        # CreateNetworkInterface is authorized on the new interface and on the subnet and security
        # group it joins; ec2:Vpc exists only on the subnet and security group for this action (Service
        # Authorization Reference for Amazon EC2), so naming them confines the interface to this VPC.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    eni_arn,
                    *(
                        stack.format_arn(service="ec2", resource="subnet", resource_name=s)
                        for s in subnet_ids
                    ),
                    stack.format_arn(
                        service="ec2",
                        resource="security-group",
                        resource_name=security_group.security_group_id,
                    ),
                ],
            )
        )
        # The actions on existing interfaces carry ec2:Vpc on the network-interface resource.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[eni_arn],
                conditions=in_this_vpc,
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ],
                resources=["*"],
            )
        )
        self.acknowledge_wildcard(
            "the EC2 Describe* calls SageMaker makes to attach the model to the VPC support no "
            "resource-level permissions."
        )
        if self.owned:
            acknowledge_wildcard_resource(
                self.role,
                eni_arn,
                topic="EC2 network-interface permissions for the VPC attachment",
                reason="SageMaker creates the containers' ENIs with this role; their IDs do not exist before "
                "deployment, so the ENI actions name network interfaces of this account and region: "
                "creation only in this VPC's subnets and security group, the rest under an ec2:Vpc condition.",
            )


def _vpc_arn(stack: Stack, vpc: ec2.IVpc) -> str:
    return stack.format_arn(service="ec2", resource="vpc", resource_name=vpc.vpc_id)

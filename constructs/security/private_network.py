"""A VPC with no route to the internet, and the VPC endpoints SageMaker hosting and training need."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence

from aws_cdk import Annotations, Aws, CfnResource, CfnRule, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs import Construct
from mlblueprints.constructs._private.names import unique_name_with_stack_suffix
from mlblueprints.constructs._private.retention import named_log_group_removal_policy
from mlblueprints.constructs.compliance.acknowledge import (
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
    skip_checkov,
)
from mlblueprints.constructs.errors import NetworkConfigError, Problem
from mlblueprints.constructs.security.encryption_key import allow_cloudwatch_logs

__all__ = [
    "AvailabilityZonesAtDeployTime",
    "PrivateNetwork",
    "grant_vpc_network_interfaces",
    "network_problems",
    "require_zone_region_at_deploy",
    "zone_problems",
]

# A zone name is its region's name and a letter (us-east-1a); zone IDs (use1-az4) are another thing.
ZONE = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")

# Each subnet is a /20 (4,096 addresses: room for many endpoint instances and their ENIs).
SUBNET_PREFIX = 20
# EC2 accepts VPC CIDR blocks from /16 to /28 (Amazon VPC User Guide, "VPC CIDR blocks").
VPC_PREFIX_RANGE = (16, 28)


class AvailabilityZonesAtDeployTime(Stack):
    """A stack whose availability zones are ``Fn::GetAZs``, resolved by CloudFormation at deploy time.

    A stack pinned to an account and region otherwise asks the CDK CLI to look its zones up with
    AWS credentials at synth (``Need to perform AWS calls for account ...`` without them), and
    records the answer in ``cdk.context.json``. The catalog synthesizes offline, so its stacks take
    the first zones of the region when CloudFormation deploys them.

    ``availability_zone`` names the one zone of a stack whose workload is in one (a capacity
    reservation, a HyperPod cluster), or the zones of one whose parts are where their capacity is (a
    HyperPod cluster's instance groups): its network is then built there, in that order.
    """

    _zones: tuple[str, ...] = ()

    def __init__(
        self, scope: Construct, id: str, *, availability_zone: str | Sequence[str] | None = None, **kwargs
    ) -> None:
        super().__init__(scope, id, **kwargs)
        zones = [availability_zone] if isinstance(availability_zone, str) else list(availability_zone or [])
        self._zones = tuple(dict.fromkeys(zones))

    @property
    def availability_zones(self) -> list[str]:
        if self._zones:
            return list(self._zones)
        return [Fn.select(i, Fn.get_azs()) for i in range(3)]


def zone_problems(
    zone: str | None, *, region: str | None, setting: str = "availability_zone"
) -> list[Problem]:
    """A zone name that is not one, or that is in another region than the stack's."""
    if zone is None or Token.is_unresolved(zone):
        return []
    match = ZONE.fullmatch(zone)
    if match is None:
        return [
            Problem(f"{setting}={zone!r} is not an availability zone name: use one such as 'us-east-1a' (a zone "
                    "name, not a zone ID such as use1-az4).", setting=setting, value=zone)
        ]  # fmt: skip
    if region and not Token.is_unresolved(region) and match["region"] != region:
        return [
            Problem(f"{setting} {zone} is in {match['region']}, not in the stack's region {region}: name a zone "
                    f"of {region}.", setting=setting, value=zone)
        ]  # fmt: skip
    return []


def require_zone_region_at_deploy(scope: Construct, zone: str, *, what: str) -> None:
    """In a stack without a region, a ``Rules`` assertion that it deploys to the region ``zone`` is in: deployed
    elsewhere it fails at once, with a reason, instead of when the resource cannot find its zone."""
    stack = Stack.of(scope)
    if not Token.is_unresolved(stack.region) or Token.is_unresolved(zone):
        return
    region = ZONE.fullmatch(zone)["region"]
    rule_id = f"Zone{hashlib.sha256(zone.encode()).hexdigest()[:8].upper()}"
    if stack.node.try_find_child(rule_id) is None:
        CfnRule(stack, rule_id).add_assertion(
            Fn.condition_equals(Aws.REGION, region),
            f"{what} in {zone}, a zone of {region}: deploy to {region}.",
        )


def open_within_itself(security_group: ec2.SecurityGroup, *, description: str, reason: str) -> None:
    """All traffic in and out between the group's own members (EFA needs it: "Prepare an EFA-enabled
    security group", EC2 User Guide; so do Lustre and Slurm between a cluster's nodes), and nothing else
    inbound; ``reason`` says why the group needs it, for the compliance gates."""
    security_group.add_ingress_rule(security_group, ec2.Port.all_traffic(), description)
    security_group.add_egress_rule(security_group, ec2.Port.all_traffic(), description)
    for child in security_group.node.children:
        if isinstance(child, ec2.CfnSecurityGroupIngress):
            acknowledge(
                child,
                "EC2RestrictedCommonPorts",
                topic="all traffic within the group's own members",
                reason=f"The only inbound rule's source is this security group itself ({reason}); nothing "
                "outside the group may connect.",
            )


def network_problems(cidr: str, max_azs: int, *, single_zone: bool = False) -> list[Problem]:
    """What EC2 or the subnet layout would refuse about ``cidr`` and ``max_azs``.

    ``single_zone``: the network serves a workload that runs in one availability zone anyway (a
    cluster placement group, a capacity reservation), so ``max_azs`` 1 is right.
    """
    problems = []
    if single_zone:
        max_azs = 1
    elif not isinstance(max_azs, int) or isinstance(max_azs, bool) or not 2 <= max_azs <= 3:
        problems.append(
            Problem(
                f"max_azs={max_azs!r}: a SageMaker endpoint spreads its instances over the subnets it "
                "is given, and one availability zone is a single point of failure; every region has at "
                "least 3. Use 2 or 3.",
                setting="max_azs",
                value=max_azs,
            )
        )
        max_azs = 2
    try:
        network = ipaddress.IPv4Network(cidr)
    except (ValueError, TypeError) as error:
        problems.append(
            Problem(
                f"vpc_cidr {cidr!r} is not an IPv4 network ({error}); use a private block such as "
                "'10.80.0.0/16'.",
                setting="vpc_cidr",
                value=cidr,
            )
        )
        return problems
    needed_prefix = SUBNET_PREFIX - (max_azs - 1).bit_length()
    low, _ = VPC_PREFIX_RANGE
    if not network.is_private:
        problems.append(
            Problem(
                f"vpc_cidr {cidr!r} is not a private (RFC 1918) range; use one such as '10.80.0.0/16'.",
                setting="vpc_cidr",
                value=cidr,
            )
        )
    if network.prefixlen < low:
        problems.append(
            Problem(
                f"vpc_cidr {cidr!r} is larger than the /{low} EC2 accepts for a VPC; use a /{low} to "
                f"/{needed_prefix} block such as '10.80.0.0/16'.",
                setting="vpc_cidr",
                value=cidr,
            )
        )
    elif network.prefixlen > needed_prefix:
        problems.append(
            Problem(
                f"vpc_cidr {cidr!r} is too small: the network has one /{SUBNET_PREFIX} subnet per "
                f"availability zone ({max_azs}), which needs a /{needed_prefix} or larger; use "
                f"'{network.network_address}/16' or another /{low} to /{needed_prefix} block.",
                setting="vpc_cidr",
                value=cidr,
            )
        )
    return problems


# Interface endpoints for a SageMaker model or training container in isolated subnets: the SageMaker
# API and runtime, image pulls (ECR API and Docker registry), logs, and STS for role credentials.
# S3 (model artifacts, ECR image layers) goes through a gateway endpoint, which has no hourly cost.
_SAGEMAKER_ENDPOINTS = ("SageMakerApi", "SageMakerRuntime")
_INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "CloudWatchLogs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
}


class PrivateNetwork(Construct):
    """Isolated subnets across ``max_azs`` availability zones, VPC flow logs and service endpoints.

    Nothing in the VPC can reach the internet: no internet gateway, no NAT. The default security
    group is stripped of its rules (CDK's custom resource), so a resource that falls back to it gets
    no access.

    :param encryption_key: encrypts the flow-log group. A key created in CDK gets the key-policy
        statement CloudWatch Logs needs for that one group; an imported key must already allow it.
    :param cidr: a private IPv4 block, /16 to /19 for two zones (each zone gets a /20).
    :param sagemaker_endpoints: the SageMaker API and Runtime endpoints (False for a network whose
        workloads do not call SageMaker, such as an EC2 fleet: each endpoint is billed by the hour).
    :param single_zone: one zone only (the stack's first), for a workload pinned to one zone anyway:
        an EFA cluster in a placement group, instances in a capacity reservation.

    In a stack pinned to a region, the VPC takes the stack's availability zones: make the stack an
    :class:`AvailabilityZonesAtDeployTime` to keep synth offline, as every blueprint does.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        cidr: str = "10.80.0.0/16",
        max_azs: int = 2,
        single_zone: bool = False,
        sagemaker_endpoints: bool = True,
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        if not Token.is_unresolved(cidr):
            problems = network_problems(cidr, max_azs, single_zone=single_zone)
            if problems:
                raise NetworkConfigError(problems)
        stack = Stack.of(self)
        if not Token.is_unresolved(stack.region) and not isinstance(stack, AvailabilityZonesAtDeployTime):
            Annotations.of(self).add_warning_v2(
                "mlblueprints:azLookup",
                f"Stack {stack.stack_name} is pinned to {stack.region}: its availability zones are looked up "
                "with AWS credentials at synth. Derive the stack from AvailabilityZonesAtDeployTime to "
                "resolve them at deploy time instead.",
            )
        self.vpc = ec2.Vpc(
            self,
            "Resource",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=1 if single_zone else max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=SUBNET_PREFIX
                )
            ],
            restrict_default_security_group=True,
        )
        # A fixed name, so the key policy can name the one group it encrypts; the stack-ID block keeps
        # a re-created stack clear of the group a deleted one retained.
        flow_log_group_name = f"/mlblueprints/vpc-flow-logs/{unique_name_with_stack_suffix(self)}"
        allow_cloudwatch_logs(encryption_key, flow_log_group_name)
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=flow_log_group_name,
            encryption_key=encryption_key,
            retention=flow_log_retention,
            removal_policy=named_log_group_removal_policy(removal_policy),
        )
        flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        acknowledge_inline_policy(flow_log.node.find_child("IAMRole"))
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets]
        )
        # ECR keeps image layers in a regional S3 bucket that every image pull reads from
        # ("Amazon ECR interface VPC endpoints", Amazon ECR User Guide: minimum S3 gateway policy).
        self.allow_s3_objects(
            f"arn:{Stack.of(self).partition}:s3:::prod-{Stack.of(self).region}-starport-layer-bucket/*"
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from inside the VPC to the AWS service endpoints",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        _justify_default_sg_provider(Stack.of(self))
        self.add_interface_endpoints(
            {
                name: service
                for name, service in _INTERFACE_ENDPOINTS.items()
                if sagemaker_endpoints or name not in _SAGEMAKER_ENDPOINTS
            }
        )

    def add_interface_endpoints(self, services: dict[str, ec2.InterfaceVpcEndpointAwsService]) -> None:
        """More AWS service endpoints in the isolated subnets (e.g. SSM Session Manager's for an EC2 fleet),
        behind the same security group as the others; an endpoint already there is not added twice."""
        for endpoint_id, service in services.items():
            if self.vpc.node.try_find_child(endpoint_id) is None:
                self.vpc.add_interface_endpoint(
                    endpoint_id,
                    service=service,
                    subnets=self.subnets,
                    private_dns_enabled=True,
                    security_groups=[self.endpoint_security_group],
                    open=False,
                )

    def allow_s3_objects(self, *object_arns: str, actions: tuple[str, ...] = ("s3:GetObject",)) -> None:
        """Let the VPC read (or, with ``actions``, write) these S3 objects through its gateway endpoint.

        The endpoint's policy starts empty, which denies everything: each construct that uses S3
        inside the VPC (a model's artifact, ECR's image layers, an async endpoint's results) names
        exactly which objects, and what it does with them.
        """
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=list(actions),
                resources=list(object_arns),
            )
        )


def _justify_default_sg_provider(stack: Stack) -> None:
    """Record, on aws-cdk-lib's own provider function, why checkov's Lambda checks do not apply.

    restrict_default_security_group makes CDK add a stack-level singleton Lambda that strips the
    default security group's rules during deployment. cdk-nag does not inspect it (it is a raw
    CfnResource); checkov does, and reads skips with their reasons from the resource's metadata.
    """
    provider = stack.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    handler = provider.node.try_find_child("Handler") if provider else None
    if not isinstance(handler, CfnResource):
        return
    acknowledge(
        handler,
        "lambda_inside_vpc_check",
        topic="CT.LAMBDA.PR.3: aws-cdk-lib's default-security-group provider outside the VPC",
        reason="CloudFormation invokes this provider once, while it deploys the VPC, to strip the rules of "
        "the VPC's default security group; it calls the EC2 API, which the isolated VPC it configures "
        "cannot reach, and it holds no data. Nothing of the workload runs outside the VPC.",
        packs=(Pack.CONTROL_TOWER,),
    )
    why = (
        "aws-cdk-lib's VpcRestrictDefaultSG provider runs only while CloudFormation deploys the VPC, "
        "invoked synchronously by CloudFormation; "
    )
    skip_checkov(
        handler,
        CKV_AWS_115=why + "a concurrency reservation would only limit deploys.",
        CKV_AWS_116=why + "failures surface as a failed stack operation, not a queue.",
        CKV_AWS_117=why + "it calls the EC2 API, which the isolated VPC it configures cannot reach.",
    )


def grant_vpc_network_interfaces(role: iam.Role, *, service: str, what: str) -> None:
    """Let ``service`` attach ``what``'s network interfaces in your VPC as ``role``: the EC2 actions AWS documents
    for a job or cluster given a VpcConfig (SageMaker, HyperPod, Comprehend), with the gates' reasons."""
    stack = Stack.of(role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DetachNetworkInterface",
            ],
            resources=["*"],
        )
    )
    interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
    role.add_to_policy(iam.PolicyStatement(actions=["ec2:CreateTags"], resources=[interfaces]))
    policy = role.node.find_child("DefaultPolicy")
    skip_checkov(
        policy.node.default_child,
        CKV_AWS_111=f"The network-interface actions AWS documents for {what} in your VPC act on interfaces {service} "
        "creates, whose IDs do not exist before; nothing else is written.",
        CKV_AWS_109=f"ec2:CreateNetworkInterfacePermission lets {service} attach the interfaces of {what}, as AWS "
        "documents for a VpcConfig; it grants nothing on any other resource.",
    )
    acknowledge_wildcard_resource(
        policy,
        "*",
        topic=f"network interfaces of {what} in your VPC",
        reason=f"The network-interface actions AWS documents for a VpcConfig act on interfaces that do not exist before "
        f"{service} creates them; the Describe actions support no resource-level permissions.",
    )
    acknowledge_wildcard_resource(
        policy,
        interfaces,
        topic=f"tags on the network interfaces of {what}",
        reason=f"{service} tags the network interfaces it creates; their IDs are not known before.",
    )

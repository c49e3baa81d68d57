"""The catalog's default app written by hand with aws-cdk-lib's L1 classes, for the synthesis benchmark.

Each stack holds the resources of one ``realtime-endpoint`` blueprint stack (a KMS key, an isolated VPC
with flow logs and service endpoints, a SageMaker model, endpoint configuration and endpoint, auto
scaling, an alarm topic and two alarms), written directly as ``Cfn*`` constructs with the same
properties, the same acknowledgements and the same six gates. aws-cdk-lib's default-security-group
custom resource and its provider function and role are raw ``CfnResource``s, as aws-cdk-lib writes
them. The constructs sit at the catalog's construct paths (``Network/Resource/Resource`` for the VPC,
...), so the logical IDs and the paths the acknowledgements name are the catalog's; cdk-nag's
VPCDefaultSecurityGroupClosed rule also looks for the custom resource next to the VPC.

    python benchmarks/l1_hand_written.py <outdir>
"""

from __future__ import annotations

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from aws_cdk import (  # noqa: E402
    Acknowledgment,
    App,
    AssetStaging,
    Aws,
    CfnDeletionPolicy,
    CfnMapping,
    CfnOutput,
    CfnResource,
    CfnRule,
    CfnTag,
    FileAssetPackaging,
    Fn,
    Names,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_applicationautoscaling as appscaling  # noqa: E402
from aws_cdk import aws_cloudwatch as cloudwatch  # noqa: E402
from aws_cdk import aws_ec2 as ec2  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_sagemaker as sagemaker  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402

import mlblueprints.blueprints.realtime_endpoint as realtime_endpoint  # noqa: E402
from constructs import Construct  # noqa: E402
from mlblueprints.constructs.compliance.acknowledge import (  # noqa: E402
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.compliance.gates import add_compliance_gates  # noqa: E402
from mlblueprints.constructs.compute.regional_offerings import hosting_regions  # noqa: E402
from mlblueprints.constructs.sagemaker._private.dlc_catalog import find_repository  # noqa: E402
from mlblueprints.constructs.sagemaker.model_data import ModelData  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# The directory stack.SMOKE_TEST_MODEL names, without importing the blueprint's stack module.
SMOKE_TEST_MODEL = Path(realtime_endpoint.__file__).parent / "smoke_test_model"
POLICY_VERSION = "2012-10-17"
VPC_CIDR = "10.80.0.0/16"


def _published_regions(repository: str, tag: str) -> tuple[str, ...]:
    """Where the image is published: the catalog's image tables (the SageMaker SDK's, and AWS's Neuron list)."""
    entry = find_repository(repository)
    return tuple(sorted(entry.regions_for_tag(tag) or entry.registries))


@dataclass(frozen=True)
class EndpointSpec:
    instance_type: str
    repository: str
    tag: str
    regions: tuple[str, ...]
    # Instance types with local NVMe storage refuse a KMS key for the ML storage volume.
    volume_kms_key: bool


CONFIGS = (
    EndpointSpec(
        "ml.g5.xlarge",
        "pytorch-inference",
        "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
        _published_regions("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"),
        volume_kms_key=False,
    ),
    EndpointSpec(
        "ml.inf2.xlarge",
        "pytorch-inference-neuronx",
        "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
        _published_regions("pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"),
        volume_kms_key=True,
    ),
    EndpointSpec(
        "ml.trn1.2xlarge",
        "pytorch-inference-neuronx",
        "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
        _published_regions("pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"),
        volume_kms_key=False,
    ),
)
DEFAULT_STACKS = ("GpuEndpoint", "Inferentia2Endpoint", "TrainiumEndpoint")

INTERFACE_ENDPOINTS = {
    "SageMakerApi": "sagemaker.api",
    "SageMakerRuntime": "sagemaker.runtime",
    "EcrApi": "ecr.api",
    "EcrDocker": "ecr.dkr",
    "CloudWatchLogs": "logs",
    "Sts": "sts",
}
FLOW_LOG_SPEC_REASON = (
    "AWS::EC2::FlowLog DestinationOptions accepts properties in camelCase, even they are listed as "
    "PascalCase in the spec"
)


# --- small helpers -----------------------------------------------------------------------------------


def scopes(scope: Construct, *ids: str) -> Construct:
    """Nested plain constructs ``scope/ids[0]/ids[1]/...`` (the catalog's construct paths)."""
    for id in ids:
        scope = scope.node.try_find_child(id) or Construct(scope, id)
    return scope


def stack_id_suffix() -> str:
    """First block of the stack's UUID: keeps names of retained resources new for a re-created stack."""
    return Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))


def base_name(scope: Construct, max_length: int = 54) -> str:
    name = Names.unique_resource_name(scope, max_length=max_length, separator="-")
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-zA-Z0-9-]", "-", name).strip("-"))


def arn(service: str, resource: str, *, region: str = Aws.REGION, account: str = Aws.ACCOUNT_ID) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{region}:{account}:{resource}"


def policy(*statements: dict) -> dict:
    return {"Statement": list(statements), "Version": POLICY_VERSION}


def assume_role_policy(service: str) -> dict:
    return policy({"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}})


def retain_log_group(log_group: logs.CfnLogGroup) -> None:
    log_group.cfn_options.deletion_policy = CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE
    log_group.cfn_options.update_replace_policy = CfnDeletionPolicy.RETAIN


def role_with_default_policy(
    scope: Construct, *, service: str, statements: list[dict], **role_props
) -> tuple[iam.CfnRole, iam.CfnPolicy]:
    """``scope/Resource`` (a role) and ``scope/DefaultPolicy/Resource`` (its inline policy)."""
    role = iam.CfnRole(
        scope, "Resource", assume_role_policy_document=assume_role_policy(service), **role_props
    )
    policy_scope = scopes(scope, "DefaultPolicy")
    default_policy = iam.CfnPolicy(
        policy_scope, "Resource", policy_document=policy(*statements), policy_name="", roles=[role.ref]
    )
    default_policy.policy_name = Stack.of(scope).get_logical_id(default_policy)  # as aws-cdk-lib names it
    return role, default_policy


# --- KMS key -------------------------------------------------------------------------------------------


def logs_key_statement(log_group_name: str) -> dict:
    return {
        "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        "Condition": {
            "ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn("logs", f"log-group:{log_group_name}")}
        },
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{Aws.REGION}.{Aws.URL_SUFFIX}"},
        "Resource": "*",
    }


def encryption_key(stack: Stack, log_group_names: list[str]) -> kms.CfnKey:
    statements = [
        {
            "Action": "kms:*",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:root"},
            "Resource": "*",
        },
        {  # AWS Control Tower CT.KMS.PR.3
            "Action": "kms:CreateGrant",
            "Condition": {
                "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
            },
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": "*",
            "Sid": "DenyGrantsNotForAwsResources",
        },
        *(logs_key_statement(name) for name in log_group_names),
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Condition": {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Resource": "*",
        },
    ]
    key = kms.CfnKey(
        scopes(stack, "Key", "Resource"),
        "Resource",
        description=f"Encrypts the data of stack {stack.stack_name}: volumes, logs, alarm topic",
        enable_key_rotation=True,
        key_policy=policy(*statements),
        pending_window_in_days=30,
    )
    key.apply_removal_policy(RemovalPolicy.RETAIN)
    return key


# --- aws-cdk-lib's default-security-group provider (raw CfnResources) ---------------------------------

_HANDLER = "custom-resource-handlers/dist/aws-ec2/restrict-default-security-group-handler/index.js"
_ENTRYPOINT = "custom-resource-handlers/dist/core/nodejs-entrypoint-handler/index.js"
_provider_code_dir: Path | None = None


def provider_code() -> Path:
    """aws-cdk-lib's handler plus its ``__entrypoint__.js`` wrapper, as CustomResourceProvider stages them.

    Read from jsii's unpacked aws-cdk-lib (its package cache), else from the package tarball.
    """
    global _provider_code_dir
    if _provider_code_dir is None:
        version = importlib.metadata.version("aws-cdk-lib")
        cache = Path(
            os.environ.get("JSII_RUNTIME_PACKAGE_CACHE_ROOT", Path.home() / ".cache/aws/jsii/package-cache")
        )
        roots = [p for p in (cache / "aws-cdk-lib" / version).glob("*") if (p / _HANDLER).is_file()]
        sources: dict[str, bytes] = {}
        if roots:
            sources = {"index.js": (roots[0] / _HANDLER).read_bytes()}
            sources["__entrypoint__.js"] = (roots[0] / _ENTRYPOINT).read_bytes()
        else:
            import aws_cdk._jsii

            tgz = Path(aws_cdk._jsii.__file__).parent / f"aws-cdk-lib@{version}.jsii.tgz"
            with tarfile.open(tgz) as archive:
                for name, member in (("index.js", _HANDLER), ("__entrypoint__.js", _ENTRYPOINT)):
                    sources[name] = archive.extractfile(f"package/{member}").read()
        _provider_code_dir = Path(tempfile.mkdtemp(prefix="cdk-custom-resource"))
        for name, content in sources.items():
            (_provider_code_dir / name).write_bytes(content)
    return _provider_code_dir


def default_sg_provider(stack: Stack, vpc: ec2.CfnVPC) -> CfnResource:
    """The Lambda function (and its role) behind ``Custom::VpcRestrictDefaultSG``."""
    provider = Construct(stack, "Custom::VpcRestrictDefaultSGCustomResourceProvider")
    staging = AssetStaging(provider, "Staging", source_path=str(provider_code()))
    asset = stack.synthesizer.add_file_asset(
        file_name=staging.relative_staged_path(stack),
        source_hash=staging.asset_hash,
        packaging=FileAssetPackaging.ZIP_DIRECTORY,
        display_name=f"{provider.node.path} Code",
    )
    security_group_actions = [
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
    ]
    role = CfnResource(
        provider,
        "Role",
        type="AWS::IAM::Role",
        properties={
            "AssumeRolePolicyDocument": {
                "Version": POLICY_VERSION,
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            },
            "ManagedPolicyArns": [
                {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
            ],
            "Policies": [
                {
                    "PolicyName": "Inline",
                    "PolicyDocument": {
                        "Version": POLICY_VERSION,
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": security_group_actions,
                                "Resource": [arn("ec2", f"security-group/{vpc.attr_default_security_group}")],
                            }
                        ],
                    },
                }
            ],
        },
    )
    handler = CfnResource(
        provider,
        "Handler",
        type="AWS::Lambda::Function",
        properties={
            "Code": {"S3Bucket": asset.bucket_name, "S3Key": asset.object_key},
            "Timeout": 900,
            "MemorySize": 128,
            "Handler": "__entrypoint__.handler",
            "Role": role.get_att("Arn"),
            "Runtime": "nodejs24.x",
            "Description": "Lambda function for removing all inbound/outbound rules from the VPC default "
            "security group",
        },
    )
    handler.add_resource_dependency(role)
    if provider.node.try_get_context("aws:cdk:enable-asset-metadata"):
        handler.add_metadata("aws:asset:path", staging.relative_staged_path(stack))
        handler.add_metadata("aws:asset:property", "Code")
    why = (
        "aws-cdk-lib's VpcRestrictDefaultSG provider runs only while CloudFormation deploys the VPC, "
        "invoked synchronously by CloudFormation; "
    )
    handler.add_metadata(
        "checkov",
        {
            "skip": [
                {"id": "CKV_AWS_115", "comment": why + "a concurrency reservation would only limit deploys."},
                {
                    "id": "CKV_AWS_116",
                    "comment": why + "failures surface as a failed stack operation, not a queue.",
                },
                {
                    "id": "CKV_AWS_117",
                    "comment": why
                    + "it calls the EC2 API, which the isolated VPC it configures cannot reach.",
                },
            ]
        },
    )
    acknowledge(
        handler,
        "lambda_inside_vpc_check",
        topic="CT.LAMBDA.PR.3: aws-cdk-lib's default-security-group provider outside the VPC",
        reason="CloudFormation invokes this provider once, while it deploys the VPC, to strip the rules of "
        "the VPC's default security group; it calls the EC2 API, which the isolated VPC it configures "
        "cannot reach, and it holds no data. Nothing of the workload runs outside the VPC.",
        packs=(Pack.CONTROL_TOWER,),
    )
    return handler


# --- network ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Network:
    scope: Construct
    vpc: ec2.CfnVPC
    subnets: list[ec2.CfnSubnet]


def network(
    stack: Stack, scope: Construct, key: kms.CfnKey, flow_log_group_name: str, s3_objects: list[str]
) -> Network:
    """An isolated two-zone VPC: flow logs, an S3 gateway and interface endpoints, no internet route."""
    vpc_scope = scopes(scope, "Resource")
    vpc_name = [CfnTag(key="Name", value=vpc_scope.node.path)]
    vpc = ec2.CfnVPC(
        vpc_scope,
        "Resource",
        cidr_block=VPC_CIDR,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        instance_tenancy="default",
        tags=vpc_name,
    )

    subnets, route_tables = [], []
    for index, cidr in enumerate(list(ipaddress.ip_network(VPC_CIDR).subnets(new_prefix=20))[:2]):
        subnet_scope = scopes(vpc_scope, f"IsolatedSubnet{index + 1}")
        subnet_name = CfnTag(key="Name", value=subnet_scope.node.path)
        subnet = ec2.CfnSubnet(
            subnet_scope,
            "Subnet",
            availability_zone=Fn.select(index, Fn.get_azs()),
            cidr_block=str(cidr),
            map_public_ip_on_launch=False,
            tags=[
                CfnTag(key="aws-cdk:subnet-name", value="Isolated"),
                CfnTag(key="aws-cdk:subnet-type", value="Isolated"),
                subnet_name,
            ],
            vpc_id=vpc.ref,
        )
        route_table = ec2.CfnRouteTable(subnet_scope, "RouteTable", vpc_id=vpc.ref, tags=[subnet_name])
        ec2.CfnSubnetRouteTableAssociation(
            subnet_scope, "RouteTableAssociation", route_table_id=route_table.ref, subnet_id=subnet.ref
        )
        subnets.append(subnet)
        route_tables.append(route_table)

    # The default security group loses its rules; cdk-nag looks for this custom resource next to the VPC.
    restrict = CfnResource(
        scopes(vpc_scope, "RestrictDefaultSecurityGroupCustomResource"),
        "Default",
        type="Custom::VpcRestrictDefaultSG",
        properties={
            "ServiceToken": default_sg_provider(stack, vpc).get_att("Arn"),
            "DefaultSecurityGroupId": vpc.attr_default_security_group,
            "Account": Aws.ACCOUNT_ID,
        },
    )
    restrict.apply_removal_policy(RemovalPolicy.DESTROY)

    flow_logs = logs.CfnLogGroup(
        scopes(scope, "FlowLogs"),
        "Resource",
        kms_key_id=key.attr_arn,
        log_group_name=flow_log_group_name,
        retention_in_days=365,
    )
    retain_log_group(flow_logs)
    flow_log_scope = scopes(vpc_scope, "FlowLog")
    flow_log_name = [CfnTag(key="Name", value=flow_log_scope.node.path)]
    role_scope = scopes(flow_log_scope, "IAMRole")
    flow_log_role, _ = role_with_default_policy(
        role_scope,
        service="vpc-flow-logs.amazonaws.com",
        statements=[
            {
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": flow_logs.attr_arn,
            }
        ],
        tags=flow_log_name,
    )
    acknowledge_inline_policy(role_scope)
    ec2.CfnFlowLog(
        flow_log_scope,
        "FlowLog",
        deliver_logs_permission_arn=flow_log_role.attr_arn,
        log_destination_type="cloud-watch-logs",
        log_group_name=flow_logs.ref,
        resource_id=vpc.ref,
        resource_type="VPC",
        tags=flow_log_name,
        traffic_type="ALL",
    )
    Validations.of(flow_log_scope).acknowledge(
        Acknowledgment(id="CloudFormation-Validate::F3002", reason=FLOW_LOG_SPEC_REASON),
        Acknowledgment(id="CloudFormation-Validate::F3003", reason=FLOW_LOG_SPEC_REASON),
    )

    # The S3 gateway lets through exactly the given objects (the model artifact, ECR's image layers).
    ec2.CfnVPCEndpoint(
        scopes(vpc_scope, "S3"),
        "Resource",
        policy_document=policy(
            {"Action": "s3:GetObject", "Effect": "Allow", "Principal": {"AWS": "*"}, "Resource": s3_objects}
        ),
        route_table_ids=[table.ref for table in route_tables],
        service_name=f"com.amazonaws.{Aws.REGION}.s3",
        tags=vpc_name,
        vpc_endpoint_type="Gateway",
        vpc_id=vpc.ref,
    )
    endpoint_sg = ec2.CfnSecurityGroup(
        scopes(scope, "EndpointSecurityGroup"),
        "Resource",
        group_description="HTTPS from inside the VPC to the AWS service endpoints",
        security_group_egress=[  # aws-cdk-lib's rule for "no outbound traffic"
            ec2.CfnSecurityGroup.EgressProperty(
                cidr_ip="255.255.255.255/32",
                description="Disallow all traffic",
                from_port=252,
                ip_protocol="icmp",
                to_port=86,
            )
        ],
        security_group_ingress=[
            ec2.CfnSecurityGroup.IngressProperty(
                cidr_ip=VPC_CIDR,
                description="HTTPS from the VPC",
                from_port=443,
                ip_protocol="tcp",
                to_port=443,
            )
        ],
        vpc_id=vpc.ref,
    )
    for endpoint_id, service in INTERFACE_ENDPOINTS.items():
        ec2.CfnVPCEndpoint(
            scopes(vpc_scope, endpoint_id),
            "Resource",
            private_dns_enabled=True,
            security_group_ids=[endpoint_sg.attr_group_id],
            service_name=f"com.amazonaws.{Aws.REGION}.{service}",
            subnet_ids=[subnet.ref for subnet in subnets],
            tags=vpc_name,
            vpc_endpoint_type="Interface",
            vpc_id=vpc.ref,
        )
    return Network(scope=scope, vpc=vpc, subnets=subnets)


# --- container image ----------------------------------------------------------------------------------


def dlc_image(stack: Stack, spec: EndpointSpec) -> tuple[str, str]:
    """The image URI and repository ARN of a Deep Learning Container: a region mapping and a Rules check."""
    suffix = hashlib.sha256(f"{spec.repository}:{spec.tag}".encode()).hexdigest()[:8].upper()
    regions = sorted(spec.regions)
    mapping = CfnMapping(
        stack,
        f"DlcRegistry{suffix}",
        mapping={
            region: {"account": find_repository(spec.repository).registries[region]} for region in regions
        },
    )
    CfnRule(stack, f"DlcRegion{suffix}").add_assertion(
        Fn.condition_contains(regions, Aws.REGION),
        f"AWS publishes the Deep Learning Container {spec.repository}:{spec.tag} only in "
        f"{', '.join(regions)}. Deploy to one of those regions, or use your own image in this region's ECR.",
    )
    account = mapping.find_in_map(Aws.REGION, "account")
    uri = f"{account}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{spec.repository}:{spec.tag}"
    return uri, arn("ecr", f"repository/{spec.repository}", account=account)


# --- endpoint -----------------------------------------------------------------------------------------


def execution_role_statements(
    log_group: logs.CfnLogGroup,
    repository_arn: str,
    model_object_arn: str,
    security_group: ec2.CfnSecurityGroup,
    net: Network,
) -> list[dict]:
    network_interfaces = arn("ec2", "network-interface/*")
    return [
        {
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            "Effect": "Allow",
            "Resource": log_group.attr_arn,
        },
        {
            "Action": "cloudwatch:PutMetricData",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            "Effect": "Allow",
            "Resource": "*",
        },
        {
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Effect": "Allow",
            "Resource": repository_arn,
        },
        {
            "Action": [
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
                "ecr:GetAuthorizationToken",
            ],
            "Effect": "Allow",
            "Resource": "*",
        },
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": model_object_arn},
        {
            "Action": "ec2:CreateNetworkInterface",
            "Effect": "Allow",
            "Resource": [
                network_interfaces,
                arn("ec2", f"security-group/{security_group.attr_group_id}"),
                *(arn("ec2", f"subnet/{subnet.ref}") for subnet in net.subnets),
            ],
        },
        {
            "Action": [
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            "Condition": {"ArnEquals": {"ec2:Vpc": arn("ec2", f"vpc/{net.vpc.ref}")}},
            "Effect": "Allow",
            "Resource": network_interfaces,
        },
    ]


def acknowledge_execution_role(role_scope: Construct) -> None:
    acknowledge_inline_policy(role_scope)
    star = "statement on all resources"
    for resource, topic, reason in (
        (
            "*",
            star,
            "cloudwatch:PutMetricData supports no resource-level permissions; a condition limits it to the "
            "/aws/sagemaker/Endpoints namespace of instance metrics.",
        ),
        (
            "*",
            star,
            "ecr:GetAuthorizationToken returns a registry login token and supports no resource-level "
            "permissions; image pulls are limited to this model's one repository.",
        ),
        (
            "*",
            star,
            "the EC2 Describe* calls SageMaker makes to attach the model to the VPC support no resource-level "
            "permissions.",
        ),
        (
            arn("ec2", "network-interface/*"),
            "EC2 network-interface permissions for the VPC attachment",
            "SageMaker creates the containers' ENIs with this role; their IDs do not exist before deployment, "
            "so the ENI actions name network interfaces of this account and region: creation only in this "
            "VPC's subnets and security group, the rest under an ec2:Vpc condition.",
        ),
    ):
        acknowledge_wildcard_resource(role_scope, resource, topic=topic, reason=reason)


def alarm(scope: Construct, id: str, endpoint_name: str, topic: sns.CfnTopic, **props) -> cloudwatch.CfnAlarm:
    return cloudwatch.CfnAlarm(
        scopes(scope, id),
        "Resource",
        alarm_actions=[topic.ref],
        ok_actions=[topic.ref],
        dimensions=[
            cloudwatch.CfnAlarm.DimensionProperty(name="EndpointName", value=endpoint_name),
            cloudwatch.CfnAlarm.DimensionProperty(name="VariantName", value="AllTraffic"),
        ],
        namespace="AWS/SageMaker",
        treat_missing_data="notBreaching",
        **props,
    )


def endpoint(
    stack: Stack,
    scope: Construct,
    spec: EndpointSpec,
    *,
    key: kms.CfnKey,
    net: Network,
    model_data: ModelData,
    endpoint_name: str,
) -> tuple[sagemaker.CfnEndpoint, sns.CfnTopic]:
    """A SageMaker model in the VPC, its endpoint configuration and endpoint, scaling and alarms."""
    image_uri, repository_arn = dlc_image(stack, spec)
    hosting = sorted(hosting_regions(spec.instance_type))
    CfnRule(
        stack, f"HostingRegion{hashlib.sha256(spec.instance_type.encode()).hexdigest()[:8].upper()}"
    ).add_assertion(
        Fn.condition_contains(hosting, Aws.REGION),
        f"{spec.instance_type} is not offered for SageMaker hosting in this region; it is offered in "
        f"{', '.join(hosting)}.",
    )
    log_group = logs.CfnLogGroup(
        scopes(scope, "Logs"),
        "Resource",
        kms_key_id=key.attr_arn,
        log_group_name=f"/aws/sagemaker/Endpoints/{endpoint_name}",
        retention_in_days=365,
    )
    retain_log_group(log_group)
    model_scope = scopes(scope, "Model")
    security_group = ec2.CfnSecurityGroup(
        scopes(model_scope, "SecurityGroup"),
        "Resource",
        group_description=f"SageMaker model of {scope.node.path}: HTTPS out only",
        security_group_egress=[
            ec2.CfnSecurityGroup.EgressProperty(
                cidr_ip="0.0.0.0/0",
                description="HTTPS to VPC interface endpoints and the S3 gateway",
                from_port=443,
                ip_protocol="tcp",
                to_port=443,
            )
        ],
        vpc_id=net.vpc.ref,
    )
    role_scope = scopes(scope, "Role", "Default")
    role, role_policy = role_with_default_policy(
        role_scope,
        service="sagemaker.amazonaws.com",
        statements=execution_role_statements(
            log_group, repository_arn, model_data.object_arn(stack), security_group, net
        ),
        description=f"Execution role of the SageMaker model behind endpoint {scope.node.path}",
    )
    acknowledge_execution_role(role_scope)

    model = sagemaker.CfnModel(
        model_scope,
        "Default",
        enable_network_isolation=True,
        execution_role_arn=role.attr_arn,
        primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
            image=image_uri, model_data_url=model_data.s3_url
        ),
        vpc_config=sagemaker.CfnModel.VpcConfigProperty(
            security_group_ids=[security_group.attr_group_id], subnets=[subnet.ref for subnet in net.subnets]
        ),
    )
    model.add_resource_dependency(role_policy)
    config = sagemaker.CfnEndpointConfig(
        scope,
        "Config",
        kms_key_id=key.attr_arn if spec.volume_kms_key else None,
        production_variants=[
            sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                initial_instance_count=2,
                initial_variant_weight=1,
                instance_type=spec.instance_type,
                model_name=model.attr_model_name,
                variant_name="AllTraffic",
            )
        ],
    )
    if not spec.volume_kms_key:
        acknowledge(
            config,
            "SageMakerEndpointConfigurationKMSKeyConfigured",
            topic=f"KMS key on the ML storage volume of {spec.instance_type}",
            reason=f"{spec.instance_type} serves from local NVMe instance storage, which AWS encrypts in "
            "hardware (XTS-AES-256); the CreateEndpointConfig API rejects a KmsKeyId for instance types with "
            "instance storage.",
        )
    cfn_endpoint = sagemaker.CfnEndpoint(
        scope, "Resource", endpoint_config_name=config.attr_endpoint_config_name, endpoint_name=endpoint_name
    )
    # The instances pull the image and the model through the VPC endpoints as soon as they start.
    cfn_endpoint.node.add_dependency(log_group, net.scope)

    target = appscaling.CfnScalableTarget(
        scope,
        "ScalableTarget",
        max_capacity=4,
        min_capacity=2,
        resource_id=f"endpoint/{endpoint_name}/variant/AllTraffic",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        service_namespace="sagemaker",
    )
    target.add_resource_dependency(cfn_endpoint)
    appscaling.CfnScalingPolicy(
        scope,
        "InvocationsScaling",
        policy_name=f"{endpoint_name}-invocations-per-instance",
        policy_type="TargetTrackingScaling",
        scaling_target_id=target.ref,
        target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
            predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                predefined_metric_type="SageMakerVariantInvocationsPerInstance"
            ),
            scale_in_cooldown=300,
            scale_out_cooldown=60,
            target_value=70,
        ),
    )

    topic_scope = scopes(scope, "AlarmTopic", "Default")
    topic = sns.CfnTopic(
        topic_scope,
        "Resource",
        display_name=f"Alarms of SageMaker endpoint {endpoint_name}",
        kms_master_key_id=key.attr_arn,
    )
    sns.CfnTopicPolicy(
        scopes(topic_scope, "Policy"),
        "Resource",
        policy_document=policy(
            {
                "Action": "sns:Publish",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Effect": "Deny",
                "Principal": "*",
                "Resource": topic.ref,
                "Sid": "AllowPublishThroughSSLOnly",
            },
            {
                "Action": "sns:Publish",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": arn("cloudwatch", "alarm:*")},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Resource": topic.ref,
                "Sid": "1",
            },
        ),
        topics=[topic.ref],
    )
    errors_alarm = alarm(
        scope,
        "Invocation5XXErrorsAlarm",
        endpoint_name,
        topic,
        alarm_description=f"{endpoint_name}: the model container returned 5XX errors",
        comparison_operator="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        metric_name="Invocation5XXErrors",
        period=300,
        statistic="Sum",
        threshold=1,
    )
    latency_alarm = alarm(
        scope,
        "ModelLatencyAlarm",
        endpoint_name,
        topic,
        alarm_description=f"{endpoint_name}: p90 model latency above 1000.0 ms",
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=3,
        extended_statistic="p90",
        metric_name="ModelLatency",
        period=60,
        threshold=1_000_000,  # ModelLatency is in microseconds
    )
    # Rolling updates in 25% batches on the accelerated fleet, rolled back by either alarm.
    cfn_endpoint.deployment_config = sagemaker.CfnEndpoint.DeploymentConfigProperty(
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[
                sagemaker.CfnEndpoint.AlarmProperty(alarm_name=errors_alarm.ref),
                sagemaker.CfnEndpoint.AlarmProperty(alarm_name=latency_alarm.ref),
            ]
        ),
        rolling_update_policy=sagemaker.CfnEndpoint.RollingUpdatePolicyProperty(
            maximum_batch_size=sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=25),
            wait_interval_in_seconds=300,
            maximum_execution_timeout_in_seconds=4800,
        ),
    )
    return cfn_endpoint, topic


# --- the stack and the app -----------------------------------------------------------------------------


def endpoint_stack(app: App, name: str, spec: EndpointSpec) -> Stack:
    stack = Stack(app, name, description=f"mlblueprints real-time SageMaker endpoint on {spec.instance_type}")
    scopes(stack, "Key")  # the catalog's construct order: key, network, endpoint
    network_scope, endpoint_scope = scopes(stack, "Network"), scopes(stack, "Endpoint")
    suffix = stack_id_suffix()
    flow_log_group_name = f"/mlblueprints/vpc-flow-logs/{base_name(network_scope)}-{suffix}"
    endpoint_base = base_name(endpoint_scope)
    endpoint_name = f"{endpoint_base}-{suffix}"

    key = encryption_key(stack, [flow_log_group_name, f"/aws/sagemaker/Endpoints/{endpoint_name}"])
    model_data = ModelData.from_directory(stack, "SmokeTestModel", SMOKE_TEST_MODEL)
    starport = f"arn:{Aws.PARTITION}:s3:::prod-{Aws.REGION}-starport-layer-bucket/*"  # ECR's image layers
    net = network(stack, network_scope, key, flow_log_group_name, [model_data.object_arn(stack), starport])
    _, topic = endpoint(
        stack, endpoint_scope, spec, key=key, net=net, model_data=model_data, endpoint_name=endpoint_name
    )

    CfnOutput(stack, "EndpointName", value=endpoint_name, description="SageMaker endpoint name")
    CfnOutput(
        stack,
        "EndpointArn",
        value=arn("sagemaker", f"endpoint/{endpoint_base.lower()}-{suffix}"),
        description="SageMaker endpoint ARN",
    )
    CfnOutput(
        stack,
        "AlarmTopicArn",
        value=topic.ref,
        description="Subscribe to this SNS topic to receive the endpoint's alarms",
    )
    return stack


def build(app: App, stack_names: list[str] | tuple[str, ...] = DEFAULT_STACKS) -> App:
    """Stack ``i`` of ``stack_names`` is the catalog's example stack ``i % 3``; the six gates on all."""
    for index, name in enumerate(stack_names):
        endpoint_stack(app, name, CONFIGS[index % len(CONFIGS)])
    add_compliance_gates(app)
    return app


def main() -> int:
    """``l1_hand_written.py OUTDIR [COUNT]``: the default app's three stacks, or COUNT stacks ``Endpoint{i}``."""
    outdir = sys.argv[1]
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    context["aws:cdk:enable-path-metadata"] = True  # as the CDK CLI sets it, and the catalog's worker
    names = DEFAULT_STACKS if len(sys.argv) < 3 else [f"Endpoint{i}" for i in range(int(sys.argv[2]))]
    build(App(context=context, outdir=outdir), names).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

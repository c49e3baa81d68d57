"""A SageMaker model: container image, model artifact, execution role and VPC attachment."""

from __future__ import annotations

from aws_cdk import Annotations, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from mlblueprints.constructs.errors import EndpointConfigError, Problem
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.execution_role import ExecutionRole
from mlblueprints.constructs.sagemaker.model_data import ModelData

__all__ = ["Model", "attach_to_vpc", "select_private_subnets"]


class Model(Construct):
    """``AWS::SageMaker::Model`` with every grant its role needs, in the VPC when one is given.

    The role gets pull access to exactly the image's repository, read access to exactly the model
    artifact, and, with a VPC, the network-interface permissions limited to that VPC. The model gets
    a security group that allows HTTPS out only (to the VPC's interface endpoints and the S3
    gateway) and nothing in.

    :param network_isolation: no outbound network calls from the container (default). ``None``
        leaves it unset, for serverless endpoints, which do not support it.
    :param subnets: default: CDK's default selection, private subnets first; public ones are refused.
    :param model_package_arn: serve this approved model package version (from a model package group,
        such as the training blueprint's) instead of naming image and artifact in the container;
        ``image`` and ``model_data`` still say what the role may pull and read: the package's serving
        image and its artifacts (a prefix such as the training bucket's ``output/``).
    :param multi_model: host every archive under ``model_data``'s S3 prefix (``Mode: MultiModel``);
        requests pick one with ``TargetModel``. Without it, a prefix is a folder of uncompressed
        model files (``S3DataSource``, ``CompressionType: None``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image: ContainerImage,
        model_data: ModelData | None,
        role: ExecutionRole,
        environment: dict[str, str] | None = None,
        network_isolation: bool | None = True,
        vpc: ec2.IVpc | None = None,
        subnets: ec2.SubnetSelection | None = None,
        multi_model: bool = False,
        model_package_arn: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if multi_model and (model_data is None or not model_data.is_prefix):
            raise EndpointConfigError(
                Problem(
                    "A multi-model endpoint loads its models from an S3 prefix: give model data as "
                    "ModelData.from_s3_prefix('s3://<bucket>/<prefix>/'), with one model.tar.gz per model "
                    "under it.",
                    setting="model_data_url",
                    value=model_data.s3_url if model_data is not None else None,
                )
            )
        self.role = role
        self.image_uri = image.bind(self, role.role)
        role.acknowledge_wildcard(
            "ecr:GetAuthorizationToken returns a registry login token and supports no resource-level "
            "permissions; image pulls are limited to this model's one repository."
        )
        if model_data is not None:
            model_data.grant_read(self, role.role)

        vpc_config = None
        self.security_group: ec2.ISecurityGroup | None = None
        if vpc is not None:
            self.security_group, subnet_ids = attach_to_vpc(
                self, vpc, subnets, role, description=f"SageMaker model of {scope.node.path}: HTTPS out only"
            )
            vpc_config = sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=[self.security_group.security_group_id], subnets=subnet_ids
            )

        uncompressed = None
        if model_data is not None and model_data.is_prefix and not multi_model and model_package_arn is None:
            uncompressed = sagemaker.CfnModel.ModelDataSourceProperty(
                s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                    s3_uri=model_data.s3_url, s3_data_type="S3Prefix", compression_type="None"
                )
            )
        # "Default" keeps the model's logical ID what it was before this construct wrapped it.
        self.resource = sagemaker.CfnModel(
            self,
            "Default",
            execution_role_arn=role.role_arn,
            enable_network_isolation=network_isolation,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                model_package_name=model_package_arn, environment=environment or None
            )
            if model_package_arn is not None
            else sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image_uri,
                mode="MultiModel" if multi_model else None,
                model_data_url=model_data.s3_url if model_data is not None and uncompressed is None else None,
                model_data_source=uncompressed,
                environment=environment or None,
            ),
            vpc_config=vpc_config,
        )
        # SageMaker checks the role's access to image and data when it creates the model.
        self.resource.node.add_dependency(role.policy_dependable)
        if not role.owned:
            Annotations.of(self).add_warning_v2(
                "mlblueprints:importedRole",
                "role is imported: the grants for the image, model artifact, logs and VPC are attached "
                "as a new policy only if the role was imported as mutable; otherwise give the role "
                "those permissions yourself before deploying.",
            )
        if network_isolation is False:
            Annotations.of(self).add_warning_v2(
                "mlblueprints:networkIsolationOff",
                "network_isolation=False lets the model container make outbound network calls.",
            )

    @property
    def model_name(self) -> str:
        return self.resource.attr_model_name


def attach_to_vpc(
    scope: Construct,
    vpc: ec2.IVpc,
    subnets: ec2.SubnetSelection | None,
    role: ExecutionRole,
    *,
    description: str,
) -> tuple[ec2.SecurityGroup, list[str]]:
    """A security group (``SecurityGroup``) that allows HTTPS out only, the private subnet IDs, and
    the role's network-interface permissions limited to them.

    Artifact and image layers come from S3 through the gateway endpoint, which routes to S3's public
    address ranges, not the VPC CIDR; isolated subnets reach nothing else.
    """
    selection = select_private_subnets(vpc, subnets)
    security_group = ec2.SecurityGroup(
        scope, "SecurityGroup", vpc=vpc, description=description, allow_all_outbound=False
    )
    security_group.add_egress_rule(
        ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC interface endpoints and the S3 gateway"
    )
    role.grant_vpc_access(vpc, selection.subnet_ids, security_group)
    return security_group, selection.subnet_ids


def select_private_subnets(vpc: ec2.IVpc, subnets: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
    """The selected subnets, refusing public ones: a SageMaker container belongs in private subnets."""
    wanted = subnets or ec2.SubnetSelection()
    selection = vpc.select_subnets(
        subnet_type=wanted.subnet_type,
        subnet_group_name=wanted.subnet_group_name,
        subnets=wanted.subnets,
        availability_zones=wanted.availability_zones,
        one_per_az=wanted.one_per_az,
        subnet_filters=wanted.subnet_filters,
    )
    if selection.has_public:
        raise EndpointConfigError(
            Problem(
                "The subnets selected for the model include public subnets: a model with a VPC config "
                "belongs in private subnets. Pass subnets=ec2.SubnetSelection(subnet_type="
                "ec2.SubnetType.PRIVATE_ISOLATED) (or PRIVATE_WITH_EGRESS), or a VPC with private subnets.",
                setting="subnets",
            )
        )
    if not Token.is_unresolved(selection.subnet_ids) and not selection.subnet_ids:
        raise EndpointConfigError(
            Problem("The subnet selection for the model matches no subnet of the VPC.", setting="subnets")
        )
    return selection

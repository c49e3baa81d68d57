"""A SageMaker real-time endpoint on GPU, Inferentia or Trainium, secure and observable by default."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Annotations, ArnFormat, Aws, Duration, Fn, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs._private.compliance import acknowledge, acknowledge_inline_policy
from mlblueprints.constructs._private.sagemaker_model import map_member_rule, member_rule
from mlblueprints.constructs.container_image import ContainerImage, check_image_for_instance, image_advice
from mlblueprints.constructs.encryption_key import (
    EncryptionKey,
    allow_cloudwatch_alarms,
    allow_cloudwatch_logs,
)
from mlblueprints.constructs.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.model_data import ModelData

__all__ = ["EndpointAlarms", "EndpointAutoScaling", "EndpointConfigError", "RealtimeEndpoint"]

ALLOW_UNLISTED_CONTEXT_KEY = "mlblueprints:allowUnlistedInstanceTypes"


class EndpointConfigError(ValueError):
    """Endpoint settings that SageMaker or Application Auto Scaling would refuse at deploy time."""


@dataclass(frozen=True)
class EndpointAutoScaling:
    """Target tracking on ``SageMakerVariantInvocationsPerInstance``.

    :param min_capacity: default: the endpoint's ``initial_instance_count``.
    :param max_capacity: default: twice ``min_capacity``.
    :param target_invocations_per_instance: invocations per instance per minute to hold; measure
        your model's throughput with a load test and set it to about 70% of the per-instance peak.
    """

    min_capacity: int | None = None
    max_capacity: int | None = None
    target_invocations_per_instance: float = 70.0
    scale_in_cooldown: Duration = Duration.minutes(5)
    scale_out_cooldown: Duration = Duration.minutes(1)


@dataclass(frozen=True)
class EndpointAlarms:
    """CloudWatch alarms that notify an SNS topic.

    :param topic: default: a KMS-encrypted, SSL-only topic created with the endpoint; subscribe to it.
    :param model_latency_p90_ms: alarm when the p90 ``ModelLatency`` stays above this for 3 minutes.
    :param invocation_5xx_errors: alarm when a 5-minute window has at least this many 5XX errors.
    """

    topic: sns.ITopic | None = None
    model_latency_p90_ms: float = 1000.0
    invocation_5xx_errors: int = 1


class RealtimeEndpoint(Construct):
    """Model, endpoint configuration and endpoint, with auto scaling, alarms and least-privilege IAM.

    Defaults follow what a production endpoint needs: two instances (SageMaker spreads them over the
    availability zones of the subnets), network isolation, the VPC when one is given, KMS on the ML
    storage volume, logs in a KMS-encrypted group with a retention period, and alarms on 5XX errors
    and model latency. Every combination SageMaker would refuse at deploy time is refused at synth.

    :param instance_type: a ``ProductionVariantInstanceType`` such as ``ml.g5.xlarge``,
        ``ml.inf2.xlarge`` or ``ml.trn1.2xlarge``.
    :param vpc: run the model in this VPC's ``subnets`` (default: CDK's default selection, private
        subnets first; public subnets are refused). Default: no VPC.
    :param encryption_key: encrypts the ML storage volume, logs and alarm topic. Default: a new key.
    :param role: the model's execution role. Default: a role with only what this model needs.
    :param endpoint_name: default: the construct path plus the first block of the stack's ID, unique
        in the account and new for each re-creation of the stack. A fixed name collides with the log
        group ``/aws/sagemaker/Endpoints/<name>`` that a deleted stack retained (``RETAIN``): delete
        or import that log group before re-creating the stack.
    :param allow_unlisted_instance_types: accept an ``ml.*`` type newer than the installed botocore.
        Also switched on for a whole app by the context key ``mlblueprints:allowUnlistedInstanceTypes``
        (``cdk synth -c mlblueprints:allowUnlistedInstanceTypes=true``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instance_type: str,
        image: ContainerImage,
        model_data: ModelData,
        initial_instance_count: int = 2,
        environment: dict[str, str] | None = None,
        network_isolation: bool = True,
        vpc: ec2.IVpc | None = None,
        subnets: ec2.SubnetSelection | None = None,
        encryption_key: kms.IKey | None = None,
        role: iam.IRole | None = None,
        endpoint_name: str | None = None,
        variant_name: str = "AllTraffic",
        auto_scaling: EndpointAutoScaling | None = EndpointAutoScaling(),
        alarms: EndpointAlarms | None = EndpointAlarms(),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        allow_unlisted_instance_types: bool = False,
    ) -> None:
        super().__init__(scope, id)
        allow_unlisted_instance_types = allow_unlisted_instance_types or _context_flag(
            self, ALLOW_UNLISTED_CONTEXT_KEY
        )
        instance = check_instance_type(
            instance_type, use=SageMakerUse.REALTIME_INFERENCE, allow_unlisted=allow_unlisted_instance_types
        )
        if instance is not None:
            check_image_for_instance(image, instance)
            advice = image_advice(image, instance)
            if advice:
                Annotations.of(self).add_warning_v2("mlblueprints:imageOnCpu", advice)
            if not instance.listed_by_botocore:
                Annotations.of(self).add_warning_v2(
                    "mlblueprints:unlistedInstanceType",
                    f"{instance_type} is not in the installed botocore's list; it was allowed by "
                    "allow_unlisted_instance_types. Check the name before deploying, and add its "
                    "family to constructs/_private/accelerator_facts.py.",
                )
        problems = _count_problems(initial_instance_count, auto_scaling)
        if not network_isolation:
            Annotations.of(self).add_warning_v2(
                "mlblueprints:networkIsolationOff",
                "network_isolation=False lets the model container make outbound network calls.",
            )
        if initial_instance_count == 1:
            Annotations.of(self).add_warning_v2(
                "mlblueprints:singleInstance",
                "initial_instance_count=1 puts the endpoint in one availability zone; an AZ outage or "
                "instance replacement takes it down. Use 2 or more for production.",
            )
        if endpoint_name is None:
            # The stack's own ID ends the default name, so that re-creating a deleted stack does not
            # collide with the endpoint log group the deleted one retained.
            base = _default_endpoint_name(self)
            stack_suffix = Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))
            self.endpoint_name = f"{base}-{stack_suffix}"
            arn_name = f"{base.lower()}-{stack_suffix}"
            problems += _name_and_environment_problems(f"{base}-0123abcd", variant_name, environment or {})
        else:
            self.endpoint_name = endpoint_name
            arn_name = endpoint_name if Token.is_unresolved(endpoint_name) else endpoint_name.lower()
            problems += _name_and_environment_problems(endpoint_name, variant_name, environment or {})
        if problems:
            # Every problem at once, so that one synth shows the user all there is to fix.
            raise EndpointConfigError("Invalid endpoint settings:\n- " + "\n- ".join(problems))
        self.variant_name = variant_name
        self.instance_type = instance_type
        stack = Stack.of(self)

        if encryption_key is None:
            encryption_key = EncryptionKey(
                self,
                "Key",
                description=f"Encrypts SageMaker endpoint {self.node.path}",
                removal_policy=removal_policy,
            ).key
        if not allow_cloudwatch_logs(encryption_key):
            Annotations.of(self).add_warning_v2(
                "mlblueprints:importedKeyPolicy",
                "encryption_key is imported, so its key policy cannot be changed here: it must already "
                "allow logs.<region>.amazonaws.com to use it for this account's log groups, and "
                "cloudwatch.amazonaws.com to publish alarms to the topic it encrypts, or the log group "
                "and alarms fail at deploy time.",
            )
        self.encryption_key = encryption_key

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            encryption_key=encryption_key,
            retention=log_retention,
            # Kept on stack deletion, but removed when a first creation rolls back, so that a retry
            # does not collide with its own leftover log group.
            removal_policy=(
                RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
                if removal_policy is RemovalPolicy.RETAIN
                else removal_policy
            ),
        )

        self.role = role or iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Execution role of the SageMaker model behind endpoint {self.node.path}",
        )
        image_uri = image.bind(self, self.role)
        model_data.grant_read(self, self.role)
        # What the CreateModel documentation lists for an execution role: container logs to this
        # endpoint's log group, and instance metrics (CPU/GPU/memory utilization) to its namespace.
        self.log_group.grant_write(self.role)
        self.log_group.grant(self.role, "logs:CreateLogGroup", "logs:DescribeLogStreams")
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["cloudwatch:PutMetricData"],
            resource_arns=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
        )
        # Statements IAM accepts only with "Resource": "*", each with why; acknowledged once below.
        wildcard_reasons = [
            "ecr:GetAuthorizationToken returns a registry login token and supports no resource-level "
            "permissions (image pulls are limited to this model's one repository)",
            "cloudwatch:PutMetricData supports no resource-level permissions; a condition limits it to "
            "the /aws/sagemaker/Endpoints namespace of instance metrics",
        ]

        vpc_config = None
        self.security_group: ec2.ISecurityGroup | None = None
        if vpc is not None:
            selection = _select_private_subnets(vpc, subnets)
            self.security_group = ec2.SecurityGroup(
                self,
                "SecurityGroup",
                vpc=vpc,
                description=f"SageMaker model of {self.node.path}: HTTPS out only",
                allow_all_outbound=False,
            )
            # The model's artifact and image layers come from S3 through the gateway endpoint, which
            # routes to S3's public address ranges, not to the VPC CIDR. The destination is the
            # route table's business: isolated subnets reach only the VPC and the gateway endpoints.
            self.security_group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC interface endpoints and the S3 gateway"
            )
            vpc_config = sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=[self.security_group.security_group_id], subnets=selection.subnet_ids
            )
            self._grant_vpc_access(stack, selection.subnet_ids)
            wildcard_reasons.append(
                "the EC2 Describe* calls SageMaker makes to attach the model to the VPC support no "
                "resource-level permissions"
            )
        if isinstance(self.role, iam.Role):
            acknowledge_inline_policy(self.role)
            acknowledge(
                self.role,
                "statements on all resources",
                "; ".join(wildcard_reasons) + ".",
                "AwsSolutions-IAM5[Resource::*]",
            )

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.role.role_arn,
            enable_network_isolation=network_isolation,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                model_data_url=model_data.s3_url,
                environment=environment or None,
            ),
            vpc_config=vpc_config,
        )
        # The role's policy must exist before SageMaker validates the model's access to image and data.
        if isinstance(self.role, iam.Role):
            self.model.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        else:
            self.model.node.add_dependency(self.role)  # the policies CDK attaches to an imported role
            Annotations.of(self).add_warning_v2(
                "mlblueprints:importedRole",
                "role is imported: the grants for the image, model artifact, logs and VPC are attached "
                "as a new policy only if the role was imported as mutable; otherwise give the role "
                "those permissions yourself before deploying.",
            )

        # Instance types with local NVMe storage encrypt it in hardware, and CreateEndpointConfig
        # fails if a KmsKeyId is given for them: the key is set only where the volume is known EBS.
        key_on_volume = instance is not None and instance.has_instance_storage is False
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            kms_key_id=encryption_key.key_arn if key_on_volume else None,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant_name,
                    model_name=self.model.attr_model_name,
                    instance_type=instance_type,
                    initial_instance_count=initial_instance_count,
                    initial_variant_weight=1.0,
                )
            ],
        )
        if not key_on_volume:
            if instance is not None and instance.has_instance_storage:
                reason = (
                    f"{instance_type} serves from local NVMe instance storage, which the instance "
                    "encrypts with a hardware module; the CreateEndpointConfig API rejects a KmsKeyId "
                    "for such types."
                )
            else:
                reason = (
                    f"whether {instance_type} serves from NVMe or EBS is not known at synth (a type "
                    "newer than botocore, or a deploy-time value), and a KmsKeyId makes "
                    "CreateEndpointConfig fail on NVMe types; SageMaker still encrypts an EBS volume "
                    "with its AWS managed key."
                )
                Annotations.of(self).add_warning_v2(
                    "mlblueprints:volumeKeyUnknown",
                    f"The ML storage volume of {instance_type} is not encrypted with encryption_key "
                    "because its storage kind is unknown; add its family to the accelerator facts.",
                )
            acknowledge(
                self.endpoint_config,
                f"KMS key on the ML storage volume of {instance_type}",
                reason,
                "HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured",
                "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured",
                "PCI.DSS.321-SageMakerEndpointConfigurationKMSKeyConfigured",
            )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        self.endpoint.node.add_dependency(self.log_group)
        self.endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=arn_name)

        if auto_scaling is not None:
            self._add_auto_scaling(auto_scaling, initial_instance_count)
        self.alarm_topic: sns.ITopic | None = None
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms is not None:
            self._add_alarms(alarms)

    def metric(self, metric_name: str, *, statistic: str = "Average", period: Duration = Duration.minutes(1)):
        """An ``AWS/SageMaker`` metric of this endpoint's variant, e.g. ``Invocations``, ``ModelLatency``."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": self.variant_name},
            statistic=statistic,
            period=period,
        )

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call InvokeEndpoint (and its streaming and async forms) on this endpoint."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:InvokeEndpoint",
                "sagemaker:InvokeEndpointAsync",
                "sagemaker:InvokeEndpointWithResponseStream",
            ],
            resource_arns=[self.endpoint_arn],
        )

    def _grant_vpc_access(self, stack: Stack, subnet_ids: list[str]) -> None:
        """ENI permissions SageMaker uses, as this role, to attach the model to the VPC."""
        eni_arn = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        subnet_arns = [
            stack.format_arn(service="ec2", resource="subnet", resource_name=s) for s in subnet_ids
        ]
        sg_arn = stack.format_arn(
            service="ec2", resource="security-group", resource_name=self.security_group.security_group_id
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface"], resources=[eni_arn, *subnet_arns, sg_arn]
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[eni_arn],
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
        if isinstance(self.role, iam.Role):
            acknowledge(
                self.role,
                "EC2 network-interface permissions for the VPC attachment",
                "SageMaker creates the model's ENIs with this role; their IDs do not exist before "
                "deployment, so CreateNetworkInterface/DeleteNetworkInterface are scoped to network "
                "interfaces of this account and region.",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
            )

    def _add_auto_scaling(self, options: EndpointAutoScaling, initial_instance_count: int) -> None:
        min_capacity = options.min_capacity or initial_instance_count
        max_capacity = options.max_capacity or 2 * min_capacity
        # L1 on purpose: without RoleARN, Application Auto Scaling uses its SageMaker service-linked
        # role; the L2 ScalableTarget would create a role that cannot call SageMaker.
        target = appscaling.CfnScalableTarget(
            self,
            "ScalableTarget",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=f"endpoint/{self.endpoint_name}/variant/{self.variant_name}",
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        target.node.add_dependency(self.endpoint)
        self.scaling_policy = appscaling.CfnScalingPolicy(
            self,
            "InvocationsScaling",
            policy_name=f"{self.endpoint_name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=options.target_invocations_per_instance,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                scale_in_cooldown=int(options.scale_in_cooldown.to_seconds()),
                scale_out_cooldown=int(options.scale_out_cooldown.to_seconds()),
            ),
        )
        self.scalable_target = target

    def _add_alarms(self, options: EndpointAlarms) -> None:
        topic = options.topic
        if topic is None:
            topic = sns.Topic(
                self,
                "AlarmTopic",
                display_name=f"Alarms of SageMaker endpoint {self.endpoint_name}",
                master_key=self.encryption_key,
                enforce_ssl=True,
            )
            allow_cloudwatch_alarms(self.encryption_key)
            # enforce_ssl gives the topic a policy, which replaces SNS's default one: CloudWatch
            # needs its own statement to publish this account's alarms.
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={
                        "ArnLike": {
                            "aws:SourceArn": Stack.of(self).format_arn(
                                service="cloudwatch",
                                resource="alarm",
                                resource_name="*",
                                arn_format=ArnFormat.COLON_RESOURCE_NAME,
                            )
                        },
                        "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    },
                )
            )
        self.alarm_topic = topic
        errors = cloudwatch.Alarm(
            self,
            "Invocation5XXErrorsAlarm",
            alarm_description=f"{self.endpoint_name}: the model container returned 5XX errors",
            metric=self.metric("Invocation5XXErrors", statistic="Sum", period=Duration.minutes(5)),
            threshold=options.invocation_5xx_errors,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        latency = cloudwatch.Alarm(
            self,
            "ModelLatencyAlarm",
            alarm_description=(
                f"{self.endpoint_name}: p90 model latency above {options.model_latency_p90_ms} ms"
            ),
            # ModelLatency is reported in microseconds.
            metric=self.metric("ModelLatency", statistic="p90"),
            threshold=options.model_latency_p90_ms * 1000,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (errors, latency):
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
            alarm.add_ok_action(cw_actions.SnsAction(topic))
        self.alarms = [errors, latency]


def _count_problems(initial_instance_count: int, auto_scaling: EndpointAutoScaling | None) -> list[str]:
    problems = []
    if not isinstance(initial_instance_count, int) or initial_instance_count < 1:
        problems.append(
            f"initial_instance_count={initial_instance_count!r}: a real-time endpoint needs at least one "
            "instance; use 2 or more so that it spans availability zones (or a serverless endpoint to "
            "scale to zero)."
        )
    if auto_scaling is not None:
        min_capacity = auto_scaling.min_capacity
        max_capacity = auto_scaling.max_capacity
        if min_capacity is not None and min_capacity < 1:
            problems.append(
                f"auto_scaling.min_capacity={min_capacity}: SageMaker variants scale between 1 and "
                "max_capacity instances; use 1 or more."
            )
        effective_min = min_capacity or initial_instance_count
        if max_capacity is not None and isinstance(effective_min, int) and max_capacity < effective_min:
            problems.append(
                f"auto_scaling.max_capacity={max_capacity} is below min_capacity={effective_min}; "
                "use a max_capacity of at least min_capacity."
            )
        if (
            min_capacity is not None
            and isinstance(initial_instance_count, int)
            and initial_instance_count < min_capacity
        ):
            problems.append(
                f"initial_instance_count={initial_instance_count} is below auto_scaling.min_capacity="
                f"{min_capacity}; start with at least min_capacity instances."
            )
        if auto_scaling.target_invocations_per_instance <= 0:
            problems.append(
                f"auto_scaling.target_invocations_per_instance={auto_scaling.target_invocations_per_instance}"
                ": the target must be a positive number of invocations per instance per minute."
            )
    return problems


# Documented for ContainerDefinition.Environment, not in the service model: all keys and values of
# the map together may not exceed 32 KB.
_MAX_ENV_TOTAL_BYTES = 32 * 1024


def _name_and_environment_problems(
    endpoint_name: str, variant_name: str, environment: dict[str, str]
) -> list[str]:
    """The limits CreateEndpoint, CreateEndpointConfig and CreateModel enforce, read from botocore."""
    problems = []
    for label, value, rule in (
        ("endpoint_name", endpoint_name, member_rule("CreateEndpointInput", "EndpointName")),
        ("variant_name", variant_name, member_rule("ProductionVariant", "VariantName")),
    ):
        if Token.is_unresolved(value):
            continue
        violation = rule.violation(value)
        if violation:
            problems.append(
                f"{label} {value!r} is not a valid SageMaker name: it {violation}; use letters, digits "
                "and hyphens, starting and ending with a letter or digit."
            )
    env_rule = map_member_rule("ContainerDefinition", "Environment")
    if env_rule.max_entries is not None and len(environment) > env_rule.max_entries:
        problems.append(
            f"environment has {len(environment)} variables; SageMaker accepts at most "
            f"{env_rule.max_entries} per container. Move configuration into the model archive."
        )
    total = 0
    for key, value in environment.items():
        if Token.is_unresolved(key) or Token.is_unresolved(value):
            continue
        violation = env_rule.key.violation(key)
        if violation:
            problems.append(
                f"environment variable name {key!r} {violation}: use letters, digits and underscores, "
                "not starting with a digit."
            )
        if not isinstance(value, str):
            problems.append(f"environment variable {key!r} = {value!r}: values must be strings; quote it.")
            continue
        violation = env_rule.value.violation(value)
        if violation:
            problems.append(
                f"environment variable {key!r} {violation}. Move the value into the model archive."
            )
        total += len(key.encode()) + len(value.encode())
    if total > _MAX_ENV_TOTAL_BYTES:
        problems.append(
            f"environment holds {total} bytes of keys and values; SageMaker accepts at most 32 KB in all. "
            "Move configuration into the model archive."
        )
    return problems


def _default_endpoint_name(scope: Construct) -> str:
    # 54 characters leave room for "-" and the 8-character stack-ID block within SageMaker's 63.
    name = Names.unique_resource_name(scope, max_length=54, separator="-")
    name = re.sub(r"[^a-zA-Z0-9-]", "-", name).strip("-")
    return re.sub(r"-{2,}", "-", name)


def _select_private_subnets(vpc: ec2.IVpc, subnets: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
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
            "The subnets selected for the model include public subnets: a model with a VPC config "
            "belongs in private subnets. Pass subnets=ec2.SubnetSelection(subnet_type="
            "ec2.SubnetType.PRIVATE_ISOLATED) (or PRIVATE_WITH_EGRESS), or a VPC with private subnets."
        )
    return selection


def _context_flag(scope: Construct, key: str) -> bool:
    value = scope.node.try_get_context(key)
    return value is True or (isinstance(value, str) and value.lower() == "true")

"""What every kind of SageMaker endpoint shares: name, key, log group, execution role, model, alarms.

Real-time, asynchronous and serverless endpoints differ in their endpoint configuration, scaling
and alarms; the parts around them are the same, and are built here once. Construct IDs of the parts
(``Key``, ``Logs``, ``Role``, ``Model``, ``Config``, ``Resource``, ``AlarmTopic``) are the same for
every kind, so a template keeps its logical IDs when a construct moves between kinds.
"""

from __future__ import annotations

import re

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs._private.names import STACK_SUFFIX_LENGTH, stack_id_suffix, unique_base_name
from mlblueprints.constructs._private.retention import named_log_group_removal_policy
from mlblueprints.constructs._private.service_models import map_member_rule, member_rule
from mlblueprints.constructs.compliance.acknowledge import acknowledge
from mlblueprints.constructs.compute.instance_types import InstanceType
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.monitoring.alarms import sagemaker_variant_metric, threshold_alarm
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.execution_role import ExecutionRole
from mlblueprints.constructs.sagemaker.model import Model
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.security.encryption_key import EncryptionKey, allow_cloudwatch_logs

__all__ = [
    "EndpointBase",
    "alarm_email_problems",
    "context_flag",
    "name_and_environment_problems",
    "volume_key_allowed",
]

# An address SNS accepts for the "email" protocol: one mailbox, no display name.
_EMAIL = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"


class EndpointBase(Construct):
    """Base of the endpoint constructs; subclasses build the endpoint configuration and call the steps.

    After :meth:`_create_foundation` and :meth:`_create_endpoint`: ``endpoint_name``,
    ``endpoint_arn``, ``encryption_key``, ``log_group``, ``execution_role``, ``role``, ``model``,
    ``endpoint_config`` and ``endpoint`` are set.
    """

    variant_name: str
    alarm_topic: sns.ITopic | None = None

    def _resolve_name(
        self, endpoint_name: str | None, variant_name: str, environment: dict[str, str]
    ) -> list[Problem]:
        """Set ``endpoint_name`` (default: path plus stack-ID block); the name and environment problems."""
        self.variant_name = variant_name
        if endpoint_name is None:
            base = unique_base_name(self, 63 - STACK_SUFFIX_LENGTH)
            self.endpoint_name = f"{base}-{stack_id_suffix()}"
            self._arn_name = f"{base.lower()}-{stack_id_suffix()}"
            return name_and_environment_problems(f"{base}-0123abcd", variant_name, environment)
        self.endpoint_name = endpoint_name
        self._arn_name = endpoint_name if Token.is_unresolved(endpoint_name) else endpoint_name.lower()
        return name_and_environment_problems(endpoint_name, variant_name, environment)

    def _create_foundation(
        self,
        *,
        image: ContainerImage | None,
        model_data: ModelData | None,
        environment: dict[str, str] | None,
        network_isolation: bool | None,
        vpc: ec2.IVpc | None,
        subnets: ec2.SubnetSelection | None,
        encryption_key: kms.IKey | None,
        role: iam.IRole | None,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        kind: str,
        multi_model: bool = False,
        model_package_arn: str | None = None,
    ) -> None:
        """The key, the endpoint's log group, the execution role and the model (``Key``, ``Logs``, ``Role``, ``Model``).

        ``kind`` names the endpoint in descriptions: "endpoint", "serverless endpoint", ... Without
        an ``image`` no ``Model`` is created (inference components carry their own containers).
        """
        if encryption_key is None:
            encryption_key = EncryptionKey(
                self,
                "Key",
                description=f"Encrypts SageMaker endpoint {self.node.path}",
                removal_policy=removal_policy,
            ).key
        self.encryption_key = encryption_key
        log_group_name = f"/aws/sagemaker/Endpoints/{self.endpoint_name}"
        if not allow_cloudwatch_logs(encryption_key, log_group_name):
            Annotations.of(self).add_warning_v2(
                "mlblueprints:importedKeyPolicy",
                "encryption_key is imported, so its key policy cannot be changed here: it must already "
                f"allow logs.<region>.amazonaws.com to use it for the log group {log_group_name}, and "
                "cloudwatch.amazonaws.com to publish alarms to the topic it encrypts, or the log group "
                "and alarms fail at deploy time.",
            )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=named_log_group_removal_policy(removal_policy),
        )
        self.execution_role = ExecutionRole(
            self,
            "Role",
            role=role,
            description=f"Execution role of the SageMaker model behind {kind} {self.node.path}",
        )
        self.role = self.execution_role.role
        # What the CreateModel documentation lists for an execution role: container logs to this
        # endpoint's log group, and instance metrics (CPU/GPU/memory utilization) to its namespace.
        self.log_group.grant_write(self.role)
        self.log_group.grant(self.role, "logs:CreateLogGroup", "logs:DescribeLogStreams")
        self.execution_role.grant_put_metric_data("/aws/sagemaker/Endpoints")
        if image is None:  # the models come with the endpoint's inference components
            self.model = self.security_group = None
            return
        self.model = Model(
            self,
            "Model",
            image=image,
            model_data=model_data,
            role=self.execution_role,
            environment=environment,
            network_isolation=network_isolation,
            vpc=vpc,
            subnets=subnets,
            multi_model=multi_model,
            model_package_arn=model_package_arn,
        )
        self.security_group = self.model.security_group

    def _create_endpoint(
        self,
        config: sagemaker.CfnEndpointConfig,
        *,
        deployment_config: sagemaker.CfnEndpoint.DeploymentConfigProperty | None = None,
    ) -> None:
        """The endpoint (``Resource``) for ``config``, created after its log group exists."""
        self.endpoint_config = config
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=config.attr_endpoint_config_name,
            deployment_config=deployment_config,
        )
        self.endpoint.node.add_dependency(self.log_group)
        self.endpoint_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=self._arn_name
        )

    def _acknowledge_volume_key(self, instances: list[InstanceType | None], fallback_name: str) -> None:
        """Say why the endpoint configuration has no KmsKeyId (cdk-nag's KMS rule on endpoint configs).

        Names the instance type that stops it: one with local NVMe storage, which AWS encrypts in
        hardware, or one whose storage kind is unknown (then a warning asks for its facts).
        """
        unknown = next((i for i in instances if i is None or i.has_instance_storage is None), None)
        nvme = next((i for i in instances if i is not None and i.has_instance_storage), None)
        described = nvme if unknown is None else unknown
        instance_type = described.name if described is not None else fallback_name
        if described is not None and described.has_instance_storage:
            reason = (
                f"{instance_type} serves from local NVMe instance storage, which AWS encrypts in "
                "hardware (XTS-AES-256); the CreateEndpointConfig API rejects a KmsKeyId for instance "
                "types with instance storage."
            )
        else:
            reason = (
                f"The storage kind of {instance_type} is unknown to this catalog, and a KmsKeyId on an "
                "NVMe-backed type fails the deployment; SageMaker still encrypts the volume with its "
                "AWS managed key."
            )
            Annotations.of(self).add_warning_v2(
                "mlblueprints:volumeKeyUnknown",
                f"The ML storage volume of {instance_type} is not encrypted with encryption_key "
                "because its storage kind is unknown; add its family to the accelerator facts.",
            )
        acknowledge(
            self.endpoint_config,
            "SageMakerEndpointConfigurationKMSKeyConfigured",
            topic=f"KMS key on the ML storage volume of {instance_type}",
            reason=reason,
        )

    def _create_alarm_topic(self, topic: sns.ITopic | None, email: str | None) -> sns.ITopic:
        """``topic``, or a new encrypted ``AlarmTopic``; ``email`` subscribes (SNS asks it to confirm)."""
        if topic is None:
            topic = AlarmTopic(
                self,
                "AlarmTopic",
                encryption_key=self.encryption_key,
                display_name=f"Alarms of SageMaker endpoint {self.endpoint_name}",
            ).topic
        if email is not None:
            subscribe_email(
                topic, email, record="Alarm states and history stay in CloudWatch (DescribeAlarmHistory)"
            )
        self.alarm_topic = topic
        return topic

    def _alarm(
        self,
        id: str,
        *,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        evaluation_periods: int,
        comparison_operator: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cloudwatch.Alarm:
        assert self.alarm_topic is not None
        return threshold_alarm(
            self,
            id,
            description=f"{self.endpoint_name}: {description}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison_operator,
            topic=self.alarm_topic,
        )

    def metric(self, metric_name: str, *, statistic: str = "Average", period: Duration = Duration.minutes(1)):
        """An ``AWS/SageMaker`` metric of this endpoint's variant, e.g. ``Invocations``, ``ModelLatency``."""
        return sagemaker_variant_metric(
            self.endpoint_name, self.variant_name, metric_name, statistic=statistic, period=period
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


def volume_key_allowed(instances: list[InstanceType | None]) -> bool:
    """A KmsKeyId on the endpoint configuration: only if every instance type is known to use EBS.

    Types with local NVMe storage encrypt it in hardware, and CreateEndpointConfig fails if a
    KmsKeyId is given for them.
    """
    return all(i is not None and i.has_instance_storage is False for i in instances)


def alarm_email_problems(email: str | None, *, setting: str = "alarm_email") -> list[Problem]:
    """Why SNS would refuse ``email`` as an email endpoint (given as ``setting``)."""
    if email is None or Token.is_unresolved(email) or re.fullmatch(_EMAIL, email):
        return []
    return [
        Problem(
            f"{setting}={email!r} is not an email address SNS can subscribe; use one mailbox such as "
            "'ml-oncall@example.com' (SNS sends it a confirmation link).",
            setting=setting,
            value=email,
        )
    ]


# Documented for ContainerDefinition.Environment, not in the service model: all keys and values of
# the map together may not exceed 32 KB.
_MAX_ENV_TOTAL_BYTES = 32 * 1024


def name_and_environment_problems(
    endpoint_name: str, variant_name: str, environment: dict[str, str]
) -> list[Problem]:
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
                Problem(
                    f"{label} {value!r} is not a valid SageMaker name: it {violation}; use letters, "
                    "digits and hyphens, starting and ending with a letter or digit.",
                    setting=label,
                    value=value,
                )
            )
    env_rule = map_member_rule("ContainerDefinition", "Environment")
    if env_rule.max_entries is not None and len(environment) > env_rule.max_entries:
        problems.append(
            Problem(
                f"environment has {len(environment)} variables; SageMaker accepts at most "
                f"{env_rule.max_entries} per container. Move configuration into the model archive.",
                setting="environment",
            )
        )
    total = 0
    for key, value in environment.items():
        if Token.is_unresolved(key) or Token.is_unresolved(value):
            continue
        violation = env_rule.key.violation(key)
        if violation:
            problems.append(
                Problem(
                    f"environment variable name {key!r} {violation}: use letters, digits and "
                    "underscores, not starting with a digit.",
                    setting="environment",
                    value=key,
                )
            )
        if not isinstance(value, str):
            problems.append(
                Problem(
                    f"environment variable {key!r} = {value!r}: values must be strings; quote it.",
                    setting="environment",
                    value=value,
                )
            )
            continue
        violation = env_rule.value.violation(value)
        if violation:
            problems.append(
                Problem(
                    f"environment variable {key!r} {violation}. Move the value into the model archive.",
                    setting="environment",
                )
            )
        total += len(key.encode()) + len(value.encode())
    if total > _MAX_ENV_TOTAL_BYTES:
        problems.append(
            Problem(
                f"environment holds {total} bytes of keys and values; SageMaker accepts at most 32 KB in "
                "all. Move configuration into the model archive.",
                setting="environment",
            )
        )
    return problems


def context_flag(scope: Construct, key: str) -> bool:
    value = scope.node.try_get_context(key)
    return value is True or (isinstance(value, str) and value.lower() == "true")

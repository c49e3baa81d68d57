"""A SageMaker real-time endpoint on GPU, Inferentia or Trainium, secure and observable by default."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

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
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.errors import (
    EndpointConfigError,
    MlBlueprintsError,
    Problem,
    raise_if_any,
)
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic
from mlblueprints.constructs.monitoring.alarms import sagemaker_variant_metric, threshold_alarm
from mlblueprints.constructs.sagemaker.container_image import (
    ALLOW_UNLISTED_TAGS_CONTEXT_KEY,
    ContainerImage,
    image_advice,
    image_problems,
)
from mlblueprints.constructs.sagemaker.execution_role import ExecutionRole
from mlblueprints.constructs.sagemaker.model import Model
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.scaling import MAX_INSTANCES_PER_VARIANT, EndpointAutoScaling
from mlblueprints.constructs.security.encryption_key import EncryptionKey, allow_cloudwatch_logs

__all__ = ["EndpointAlarms", "EndpointAutoScaling", "EndpointConfigError", "RealtimeEndpoint"]

ALLOW_UNLISTED_CONTEXT_KEY = "mlblueprints:allowUnlistedInstanceTypes"
# Realtime invocations time out after 60 s (streaming after 8 minutes); a latency threshold beyond
# an hour could never fire.
MAX_LATENCY_THRESHOLD_MS = 3_600_000
MAX_5XX_THRESHOLD = 1_000_000


@dataclass(frozen=True)
class EndpointAlarms:
    """CloudWatch alarms that notify an SNS topic.

    :param topic: default: a KMS-encrypted, SSL-only topic created with the endpoint; subscribe to it.
    :param model_latency_p90_ms: alarm when the p90 ``ModelLatency`` stays above this for 3 minutes.
    :param invocation_5xx_errors: alarm when a 5-minute window has at least this many 5XX errors
        (1 or more: a threshold of 0 would alarm on every quiet window).
    """

    topic: sns.ITopic | None = None
    model_latency_p90_ms: float = 1000.0
    invocation_5xx_errors: int = 1

    def problems(self) -> list[Problem]:
        problems = []
        if not 0 < self.model_latency_p90_ms <= MAX_LATENCY_THRESHOLD_MS:
            problems.append(
                Problem(
                    f"model_latency_p90_ms={self.model_latency_p90_ms}: use a latency above 0 and at most "
                    f"{MAX_LATENCY_THRESHOLD_MS} ms (1 hour); realtime invocations time out after 60 s.",
                    setting="model_latency_p90_ms",
                    value=self.model_latency_p90_ms,
                )
            )
        if not 1 <= self.invocation_5xx_errors <= MAX_5XX_THRESHOLD:
            problems.append(
                Problem(
                    f"invocation_5xx_errors={self.invocation_5xx_errors}: the alarm fires at this many errors "
                    "in 5 minutes; 0 would alarm on every quiet window. Use 1 (any error) to 1,000,000.",
                    setting="invocation_5xx_errors",
                    value=self.invocation_5xx_errors,
                )
            )
        return problems


class RealtimeEndpoint(Construct):
    """Model, endpoint configuration and endpoint, with auto scaling, alarms and least-privilege IAM.

    Composed of the shared parts: an :class:`ExecutionRole` (``Role``), a :class:`Model` (``Model``),
    :class:`EndpointAutoScaling` and an :class:`AlarmTopic`. Defaults follow what a production
    endpoint needs: two instances (SageMaker spreads them over the availability zones of the
    subnets), network isolation, the VPC when one is given, KMS on the ML storage volume, logs in a
    KMS-encrypted group with a retention period, and alarms on 5XX errors and model latency. Every
    combination SageMaker would refuse at deploy time is refused at synth, all problems at once.

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
    :param removal_policy: default ``RETAIN``: the key and log group outlive the stack.
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
        stack = Stack.of(self)
        allow_unlisted_instance_types = allow_unlisted_instance_types or _context_flag(
            self, ALLOW_UNLISTED_CONTEXT_KEY
        )
        errors: list[MlBlueprintsError] = []
        instance = None
        try:
            instance = check_instance_type(
                instance_type,
                use=SageMakerUse.REALTIME_INFERENCE,
                allow_unlisted=allow_unlisted_instance_types,
            )
        except MlBlueprintsError as error:
            errors.append(error)
        if image.is_dlc and _context_flag(self, ALLOW_UNLISTED_TAGS_CONTEXT_KEY):
            image = dataclasses.replace(image, allow_unlisted_tag=True)
        errors += image_problems(image, instance, stack.region, service="sagemaker")
        problems = count_problems(initial_instance_count)
        if auto_scaling is not None:
            problems += auto_scaling.problems(initial_instance_count)
            if instance is not None and instance.is_burstable:
                problems.append(
                    Problem(
                        f"auto scaling on {instance_type}: SageMaker does not auto scale burstable (ml.t*) "
                        "instances. Turn auto scaling off, or use a non-burstable type such as ml.m5.large.",
                        setting="auto_scaling",
                        value=True,
                    )
                )
        if alarms is not None:
            problems += alarms.problems()
        if endpoint_name is None:
            base = unique_base_name(self, 63 - STACK_SUFFIX_LENGTH)
            self.endpoint_name = f"{base}-{stack_id_suffix()}"
            arn_name = f"{base.lower()}-{stack_id_suffix()}"
            problems += _name_and_environment_problems(f"{base}-0123abcd", variant_name, environment or {})
        else:
            self.endpoint_name = endpoint_name
            arn_name = endpoint_name if Token.is_unresolved(endpoint_name) else endpoint_name.lower()
            problems += _name_and_environment_problems(endpoint_name, variant_name, environment or {})
        if problems:
            errors.append(EndpointConfigError(problems))
        raise_if_any(errors, EndpointConfigError)

        if instance is not None:
            advice = image_advice(image, instance)
            if advice:
                Annotations.of(self).add_warning_v2("mlblueprints:imageOnCpu", advice)
            if not instance.listed_by_botocore:
                Annotations.of(self).add_warning_v2(
                    "mlblueprints:unlistedInstanceType",
                    f"{instance_type} is not in the installed botocore's list; it was allowed by "
                    "allow_unlisted_instance_types. Check the name before deploying, and add its "
                    "family to constructs/compute/_private/accelerator_facts.py.",
                )
        repository = image.dlc_repository
        if repository is not None and not repository.is_known_tag(image.tag):
            Annotations.of(self).add_warning_v2(
                "mlblueprints:unlistedImageTag",
                f"{image.repository_name}:{image.tag} is not in the catalog's image tables "
                f"({repository.source}); it was allowed by allow_unlisted_image_tags. Check that AWS "
                "publishes it in this stack's region before deploying.",
            )
        if initial_instance_count == 1:
            Annotations.of(self).add_warning_v2(
                "mlblueprints:singleInstance",
                "initial_instance_count=1 puts the endpoint in one availability zone; an AZ outage or "
                "instance replacement takes it down. Use 2 or more for production.",
            )
        self.variant_name = variant_name
        self.instance_type = instance_type

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
            description=f"Execution role of the SageMaker model behind endpoint {self.node.path}",
        )
        self.role = self.execution_role.role
        # What the CreateModel documentation lists for an execution role: container logs to this
        # endpoint's log group, and instance metrics (CPU/GPU/memory utilization) to its namespace.
        self.log_group.grant_write(self.role)
        self.log_group.grant(self.role, "logs:CreateLogGroup", "logs:DescribeLogStreams")
        self.execution_role.grant_put_metric_data("/aws/sagemaker/Endpoints")

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
        )
        self.security_group = self.model.security_group

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
                    model_name=self.model.model_name,
                    instance_type=instance_type,
                    initial_instance_count=initial_instance_count,
                    initial_variant_weight=1.0,
                )
            ],
        )
        if not key_on_volume:
            self._acknowledge_volume_key(instance, instance_type)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Resource",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        self.endpoint.node.add_dependency(self.log_group)
        self.endpoint_arn = stack.format_arn(service="sagemaker", resource="endpoint", resource_name=arn_name)

        self.scalable_target = self.scaling_policy = None
        if auto_scaling is not None:
            self.scalable_target, self.scaling_policy = auto_scaling.bind(
                self,
                endpoint_name=self.endpoint_name,
                variant_name=variant_name,
                initial_instance_count=initial_instance_count,
            )
            self.scalable_target.node.add_dependency(self.endpoint)
        self.alarm_topic: sns.ITopic | None = None
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms is not None:
            self._add_alarms(alarms)

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

    def _acknowledge_volume_key(self, instance, instance_type: str) -> None:
        if instance is not None and instance.has_instance_storage:
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

    def _add_alarms(self, options: EndpointAlarms) -> None:
        topic = options.topic
        if topic is None:
            topic = AlarmTopic(
                self,
                "AlarmTopic",
                encryption_key=self.encryption_key,
                display_name=f"Alarms of SageMaker endpoint {self.endpoint_name}",
            ).topic
        self.alarm_topic = topic
        errors = threshold_alarm(
            self,
            "Invocation5XXErrorsAlarm",
            description=f"{self.endpoint_name}: the model container returned 5XX errors",
            metric=self.metric("Invocation5XXErrors", statistic="Sum", period=Duration.minutes(5)),
            threshold=options.invocation_5xx_errors,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            topic=topic,
        )
        latency = threshold_alarm(
            self,
            "ModelLatencyAlarm",
            description=f"{self.endpoint_name}: p90 model latency above {options.model_latency_p90_ms} ms",
            # ModelLatency is reported in microseconds.
            metric=self.metric("ModelLatency", statistic="p90"),
            threshold=options.model_latency_p90_ms * 1000,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            topic=topic,
        )
        self.alarms = [errors, latency]


def count_problems(initial_instance_count: int) -> list[Problem]:
    if (
        isinstance(initial_instance_count, int)
        and not isinstance(initial_instance_count, bool)
        and 1 <= initial_instance_count <= MAX_INSTANCES_PER_VARIANT
    ):
        return []
    return [
        Problem(
            f"initial_instance_count={initial_instance_count!r}: a real-time endpoint needs 1 to "
            f"{MAX_INSTANCES_PER_VARIANT} instances; use 2 or more so that it spans availability zones "
            "(or a serverless endpoint to scale to zero).",
            setting="initial_instance_count",
            value=initial_instance_count,
        )
    ]


# Documented for ContainerDefinition.Environment, not in the service model: all keys and values of
# the map together may not exceed 32 KB.
_MAX_ENV_TOTAL_BYTES = 32 * 1024


def _name_and_environment_problems(
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


def _context_flag(scope: Construct, key: str) -> bool:
    value = scope.node.try_get_context(key)
    return value is True or (isinstance(value, str) and value.lower() == "true")

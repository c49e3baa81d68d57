"""A SageMaker real-time endpoint on GPU, Inferentia or Trainium, secure and observable by default."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, Aws, CfnRule, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compliance.acknowledge import acknowledge_wildcard_resource
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.compute.regional_offerings import (
    assert_hosted_at_deploy,
    regional_hosting_problems,
)
from mlblueprints.constructs.errors import (
    EndpointConfigError,
    MlBlueprintsError,
    Problem,
    raise_if_any,
)
from mlblueprints.constructs.monitoring.alarms import sagemaker_variant_metric
from mlblueprints.constructs.sagemaker.async_inference import AsyncInference, BacklogScaling
from mlblueprints.constructs.sagemaker.container_image import (
    ALLOW_UNLISTED_TAGS_CONTEXT_KEY,
    ContainerImage,
    image_advice,
    image_problems,
)
from mlblueprints.constructs.sagemaker.deployment import (
    BlueGreenUpdate,
    RollingUpdate,
    TrafficShift,
    default_deployment,
    is_inf1,
)
from mlblueprints.constructs.sagemaker.endpoint_base import (
    EndpointBase,
    alarm_email_problems,
    context_flag,
    volume_key_allowed,
)
from mlblueprints.constructs.sagemaker.model import Model
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.scaling import MAX_INSTANCES_PER_VARIANT, EndpointAutoScaling
from mlblueprints.constructs.sagemaker.traffic import (
    DATA_CAPTURE_PREFIX,
    DataCapture,
    Variant,
    shadow_problems,
    variant_set_problems,
)
from mlblueprints.constructs.sagemaker.variant_options import LargeModelOptions, multi_model_problems
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = [
    "AsyncEndpoint",
    "AsyncInference",
    "BacklogScaling",
    "BlueGreenUpdate",
    "DataCapture",
    "EndpointAlarms",
    "EndpointAutoScaling",
    "EndpointConfigError",
    "LargeModelOptions",
    "MultiModelEndpoint",
    "RealtimeEndpoint",
    "RollingUpdate",
    "Variant",
]

ALLOW_UNLISTED_CONTEXT_KEY = "mlblueprints:allowUnlistedInstanceTypes"
# Realtime invocations time out after 60 s (streaming after 8 minutes); a latency threshold beyond
# an hour could never fire.
MAX_LATENCY_THRESHOLD_MS = 3_600_000
MAX_5XX_THRESHOLD = 1_000_000
# Where an asynchronous endpoint's inputs, results and failures live in its bucket.
ASYNC_INPUT_PREFIX = "async-input/"
ASYNC_OUTPUT_PREFIX = "async-output/"
ASYNC_FAILURE_PREFIX = "async-failures/"


@dataclass(frozen=True)
class EndpointAlarms:
    """CloudWatch alarms that notify an SNS topic.

    :param topic: default: a KMS-encrypted, SSL-only topic created with the endpoint; subscribe to it.
    :param model_latency_p90_ms: alarm when the p90 ``ModelLatency`` stays above this for 3 minutes.
    :param invocation_5xx_errors: alarm when a 5-minute window has at least this many 5XX errors
        (1 or more: a threshold of 0 would alarm on every quiet window).
    :param email: subscribe this address to the topic (SNS mails it a link to confirm).
    """

    topic: sns.ITopic | None = None
    email: str | None = None
    model_latency_p90_ms: float = 1000.0
    invocation_5xx_errors: int = 1

    def problems(self) -> list[Problem]:
        problems = alarm_email_problems(self.email)
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


class RealtimeEndpoint(EndpointBase):
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
    :param deployment: default: rolling (25% batches) on 2+ accelerated instances, else blue/green all at once.
        How updates reach the fleet, rolled back when one of the endpoint's alarms fires. Rolling
        (:class:`RollingUpdate`) needs no second fleet of scarce accelerated capacity; blue/green
        (:class:`BlueGreenUpdate`) bakes the new fleet 10 minutes before the old one goes.
    :param multi_model: host every model archive under ``model_data``'s S3 prefix (``Mode:
        MultiModel``; callers pick one with ``TargetModel``): CPU instances, or single-GPU ones with
        SageMaker's Triton image. See :class:`MultiModelEndpoint`.
    :param large_model: download and startup timeouts and the EBS volume size of a large model.
        An uncompressed model folder is ``ModelData.from_s3_prefix("s3://bucket/prefix/")``.
    :param model_package_arn: serve an approved model package version (``image`` and
        ``model_data`` then name its serving image and its artifacts, for the role's grants).
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
        auto_scaling: EndpointAutoScaling | BacklogScaling | None = EndpointAutoScaling(),
        alarms: EndpointAlarms | None = EndpointAlarms(),
        deployment: BlueGreenUpdate | RollingUpdate | None = None,
        async_inference: AsyncInference | None = None,
        multi_model: bool = False,
        large_model: LargeModelOptions | None = None,
        initial_variant_weight: float = 1.0,
        variants: Sequence[Variant] = (),
        shadow: Variant | None = None,
        data_capture: DataCapture | None = None,
        model_package_arn: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        allow_unlisted_instance_types: bool = False,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        allow_unlisted_instance_types = allow_unlisted_instance_types or context_flag(
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
        regional = []
        if instance is not None and not allow_unlisted_instance_types:
            regional = regional_hosting_problems(instance_type, stack.region)
        if image.is_dlc and context_flag(self, ALLOW_UNLISTED_TAGS_CONTEXT_KEY):
            image = dataclasses.replace(image, allow_unlisted_tag=True)
        errors += image_problems(image, instance, stack.region, service="sagemaker")
        problems = count_problems(initial_instance_count) + regional
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
        problems += _async_problems(async_inference, auto_scaling)
        if large_model is not None:
            problems += large_model.problems(instance)
        if multi_model:
            problems += multi_model_problems(image, instance)
            if not model_data.is_prefix:
                problems.append(
                    Problem(
                        f"multi-model with model data {model_data.s3_url}: a multi-model endpoint loads its "
                        "models from an S3 prefix ending in '/', one model.tar.gz per model under it.",
                        setting="model_data_url",
                        value=model_data.s3_url,
                    )
                )
        variants = tuple(variants)
        problems += variant_set_problems(variant_name, initial_variant_weight, variants, shadow)
        problems += model_package_problems(model_package_arn, stack.region, multi_model=multi_model)
        variant_instances = {}
        for variant in (*variants, *((shadow,) if shadow else ())):
            variant_instance, variant_errors = _variant_checks(
                variant, stack.region, allow_unlisted_instance_types
            )
            advice = image_advice(variant.image, variant_instance) if variant_instance is not None else None
            if advice:
                Annotations.of(self).add_warning_v2(
                    "mlblueprints:imageOnCpu", f"variant {variant.name!r}: {advice}"
                )
            errors += variant_errors
            variant_instances[variant.name] = variant_instance
            if large_model is not None and variant_instance is not None:
                problems += [
                    Problem(f"variant {variant.name!r}: {p.message}", setting=p.setting, value=p.value)
                    for p in large_model.problems(variant_instance)
                    if p.setting == "volume_size_gb"
                ]
        if shadow is not None:
            problems += shadow_problems(
                shadow.name,
                instance,
                variant_instances.get(shadow.name),
                asynchronous=async_inference is not None,
                multi_model=multi_model,
            )
        if data_capture is not None:
            problems += data_capture.problems()
            if multi_model:
                problems.append(
                    Problem(
                        "data capture on a multi-model endpoint: SageMaker's multi-model feature matrix lists data "
                        "capture as not applicable. Capture data on a single-model endpoint.",
                        setting="data_capture_percent",
                    )
                )
        several_variants = bool(variants) or shadow is not None
        if several_variants and deployment is not None and deployment.rolling:
            problems.append(
                Problem(
                    "deployment=RollingUpdate with several variants: SageMaker does not do rolling updates of "
                    "multi-variant endpoints. Use BlueGreenUpdate().",
                    setting="update_strategy",
                    value="rolling",
                )
            )
        min_instances = initial_instance_count
        if auto_scaling is not None and not count_problems(initial_instance_count):
            min_instances = auto_scaling.capacities(initial_instance_count)[0]
        self.deployment = deployment or (
            BlueGreenUpdate() if several_variants else default_deployment(instance, min_instances)
        )
        if isinstance(min_instances, int):
            problems += self.deployment.problems(min_instances)
        problems += self._resolve_name(endpoint_name, variant_name, environment or {})
        if problems:
            errors.append(EndpointConfigError(problems))
        raise_if_any(errors, EndpointConfigError)
        for hosted in (
            instance_type,
            *(v.instance_type for v in (*variants, *((shadow,) if shadow else ()))),
        ):
            assert_hosted_at_deploy(self, hosted)
        package = (
            _MODEL_PACKAGE.fullmatch(model_package_arn)
            if model_package_arn and not Token.is_unresolved(model_package_arn)
            else None
        )
        if package is not None and Token.is_unresolved(stack.region):
            CfnRule(self, "ModelPackageRegion").add_assertion(
                Fn.condition_equals(Aws.REGION, package["region"]),
                f"The model package {model_package_arn} is in {package['region']}; SageMaker creates models "
                "from packages of its own region. Deploy this stack there.",
            )

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
        if (
            is_inf1(instance)
            and deployment is not None
            and (deployment.rolling or deployment.traffic is not TrafficShift.ALL_AT_ONCE)
        ):
            Annotations.of(self).add_warning_v2(
                "mlblueprints:inf1Guardrails",
                f"{instance_type} is an Inf1 type: SageMaker does not apply deployment guardrails to Inf1 "
                "endpoints and updates them blue/green, all at once, with no baking period. Use "
                "BlueGreenUpdate() (the default), or an Inferentia2 type such as ml.inf2.xlarge.",
            )
        if initial_instance_count == 1 and async_inference is None:
            Annotations.of(self).add_warning_v2(
                "mlblueprints:singleInstance",
                "initial_instance_count=1 puts the endpoint in one availability zone; an AZ outage or "
                "instance replacement takes it down. Use 2 or more for production.",
            )
        self.instance_type = instance_type
        self._create_foundation(
            image=image,
            model_data=model_data,
            environment=environment,
            network_isolation=network_isolation,
            vpc=vpc,
            subnets=subnets,
            encryption_key=encryption_key,
            role=role,
            log_retention=log_retention,
            removal_policy=removal_policy,
            kind="endpoint",
            multi_model=multi_model,
            model_package_arn=model_package_arn,
        )

        # Instance types with local NVMe storage encrypt it in hardware, and CreateEndpointConfig
        # fails if a KmsKeyId is given for them: the key is set only where the volume is known EBS.
        all_instances = [instance, *variant_instances.values()]
        key_on_volume = volume_key_allowed(all_instances)
        self.output_bucket: s3.IBucket | None = None
        self.capture_bucket: s3.IBucket | None = None
        self.variant_models: dict[str, Model] = {}
        self.success_topic: sns.ITopic | None = None
        self.error_topic: sns.ITopic | None = None
        async_config = self._create_async_output(async_inference, removal_policy) if async_inference else None
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            kms_key_id=self.encryption_key.key_arn if key_on_volume else None,
            async_inference_config=async_config,
            data_capture_config=self._create_data_capture(data_capture, removal_policy)
            if data_capture
            else None,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant_name,
                    model_name=self.model.model_name,
                    instance_type=instance_type,
                    initial_instance_count=initial_instance_count,
                    initial_variant_weight=initial_variant_weight,
                    **(large_model.variant_properties() if large_model is not None else {}),
                ),
                *(
                    self._variant_property(
                        v,
                        environment_isolation=network_isolation,
                        vpc=vpc,
                        subnets=subnets,
                        multi_model=multi_model,
                        large_model=large_model,
                    )
                    for v in variants
                ),
            ],
            shadow_production_variants=[
                self._variant_property(
                    shadow,
                    environment_isolation=network_isolation,
                    vpc=vpc,
                    subnets=subnets,
                    multi_model=False,
                    large_model=large_model,
                )
            ]
            if shadow is not None
            else None,
        )
        if not key_on_volume:
            self._acknowledge_volume_key(all_instances, instance_type)
        self._create_endpoint(self.endpoint_config)

        self.scalable_target = self.scaling_policy = None
        if auto_scaling is not None:
            self.scalable_target, self.scaling_policy = auto_scaling.bind(
                self,
                endpoint_name=self.endpoint_name,
                variant_name=variant_name,
                initial_instance_count=initial_instance_count,
            )
            self.scalable_target.node.add_dependency(self.endpoint)
            for variant in variants:
                target, _ = auto_scaling.bind(
                    self.node.find_child(f"Variant{variant.name}"),
                    endpoint_name=self.endpoint_name,
                    variant_name=variant.name,
                    initial_instance_count=variant.initial_instance_count,
                )
                target.node.add_dependency(self.endpoint)
        self.alarm_topic: sns.ITopic | None = None
        self.alarms: list[cloudwatch.Alarm] = []
        self.rollback_alarms: list[cloudwatch.Alarm] = []
        if alarms is not None:
            self._add_alarms(alarms, [v.name for v in (*variants, *((shadow,) if shadow else ()))])
            if async_inference is not None:
                # An async request may take minutes by design: its latency says nothing about a
                # new model being broken, so updates roll back on errors only.
                self.rollback_alarms = [a for a in self.rollback_alarms if a in self.error_alarms]
                self.alarms.append(
                    self._alarm(
                        "OldestRequestAgeAlarm",
                        description=f"the oldest queued request is older than {async_inference.oldest_request_age_s} s",
                        metric=cloudwatch.Metric(
                            namespace="AWS/SageMaker",
                            metric_name="ApproximateAgeOfOldestRequest",
                            dimensions_map={"EndpointName": self.endpoint_name},
                            statistic="Maximum",
                            period=Duration.minutes(5),
                        ),
                        threshold=async_inference.oldest_request_age_s,
                        evaluation_periods=1,
                        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    )
                )
        # Updates (a new image, model or instance type) shift traffic under the alarms' watch and
        # roll back when one fires. Inf1 endpoints get SageMaker's fallback, stated as it is.
        if is_inf1(instance):
            self.deployment = BlueGreenUpdate(wait_interval=Duration.seconds(0))
        self.endpoint.deployment_config = self.deployment.to_cfn(
            min_instances, [alarm.alarm_name for alarm in self.rollback_alarms]
        )

    def _create_async_output(
        self, options: AsyncInference, removal_policy: RemovalPolicy
    ) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        """The output bucket and the success and error topics, and the role's access to them."""
        bucket = options.output_bucket
        if bucket is None:
            bucket = SecureBucket(
                self, "AsyncBucket", encryption_key=self.encryption_key, removal_policy=removal_policy
            ).bucket
        self.output_bucket = bucket
        # The execution role reads the queued inputs and writes results and failures
        # (async-inference-create-endpoint-prerequisites.html), with exactly those actions.
        grants = (
            (ASYNC_INPUT_PREFIX, ["s3:GetObject"]),
            (ASYNC_OUTPUT_PREFIX, ["s3:PutObject", "s3:AbortMultipartUpload"]),
            (ASYNC_FAILURE_PREFIX, ["s3:PutObject", "s3:AbortMultipartUpload"]),
        )
        for prefix, actions in grants:
            objects = bucket.arn_for_objects(f"{prefix}*")
            iam.Grant.add_to_principal(grantee=self.role, actions=actions, resource_arns=[objects])
            if self.execution_role.owned:
                acknowledge_wildcard_resource(
                    self.role,
                    objects,
                    topic=f"objects under {prefix} of the async bucket",
                    reason="SageMaker names each request's input and result objects at run time; the role "
                    "reaches only this one prefix of this endpoint's own bucket.",
                )
        # SSE-KMS writes to the bucket and publishes to the encrypted topics.
        self.encryption_key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        self.success_topic, self.error_topic = (
            sns.Topic(
                self,
                name,
                display_name=f"{label} of SageMaker async endpoint {self.endpoint_name}",
                master_key=self.encryption_key,
                enforce_ssl=True,
            )
            for name, label in (("SuccessTopic", "Results"), ("ErrorTopic", "Failures"))
        )
        # sns:Publish alone: the topics' key is granted above, without CDK's kms:GenerateDataKey*.
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["sns:Publish"],
            resource_arns=[self.success_topic.topic_arn, self.error_topic.topic_arn],
        )
        include = (
            ["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]
            if options.include_response_in_notifications
            else None
        )
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=bucket.s3_url_for_object(ASYNC_OUTPUT_PREFIX),
                s3_failure_path=bucket.s3_url_for_object(ASYNC_FAILURE_PREFIX),
                kms_key_id=self.encryption_key.key_arn,
                notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                    success_topic=self.success_topic.topic_arn,
                    error_topic=self.error_topic.topic_arn,
                    include_inference_response_in=include,
                ),
            ),
            client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=options.max_concurrent_invocations_per_instance
            )
            if options.max_concurrent_invocations_per_instance is not None
            else None,
        )

    def grant_submit(self, grantee: iam.IGrantable) -> None:
        """Allow ``grantee`` to queue requests (inputs under ``async-input/``) and read the results."""
        if self.output_bucket is None:
            raise EndpointConfigError("grant_submit needs an asynchronous endpoint (async_inference).")
        self.grant_invoke(grantee)
        self.output_bucket.grant_put(grantee, f"{ASYNC_INPUT_PREFIX}*")
        self.output_bucket.grant_read(grantee, f"{ASYNC_OUTPUT_PREFIX}*")
        self.output_bucket.grant_read(grantee, f"{ASYNC_FAILURE_PREFIX}*")

    def _add_alarms(self, options: EndpointAlarms, other_variants: list[str]) -> None:
        """5XX and latency alarms for each variant (the first variant's keep their original IDs)."""
        self._create_alarm_topic(options.topic, options.email)
        errors, latencies = [], []
        for name in (self.variant_name, *other_variants):
            prefix = "" if name == self.variant_name else f"Variant{name}"
            label = "" if name == self.variant_name else f"variant {name}: "
            errors.append(
                self._alarm(
                    f"{prefix}Invocation5XXErrorsAlarm",
                    description=f"{label}the model container returned 5XX errors",
                    metric=self._variant_metric(
                        name, "Invocation5XXErrors", statistic="Sum", period=Duration.minutes(5)
                    ),
                    threshold=options.invocation_5xx_errors,
                    evaluation_periods=1,
                )
            )
            latencies.append(
                self._alarm(
                    f"{prefix}ModelLatencyAlarm",
                    description=f"{label}p90 model latency above {options.model_latency_p90_ms} ms",
                    # ModelLatency is reported in microseconds.
                    metric=self._variant_metric(name, "ModelLatency", statistic="p90"),
                    threshold=options.model_latency_p90_ms * 1000,
                    evaluation_periods=3,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                )
            )
        self.alarms = [alarm for pair in zip(errors, latencies, strict=True) for alarm in pair]
        self.error_alarms = errors
        # A guarded update rolls back on at most 10 alarms (botocore AutoRollbackConfig.Alarms):
        # every variant's errors first, then latency, in variant order.
        self.rollback_alarms = (errors + latencies)[
            : number_rule("AutoRollbackConfig", "Alarms").maximum or 10
        ]

    def _variant_metric(self, variant_name: str, metric_name: str, **kwargs) -> cloudwatch.Metric:
        return sagemaker_variant_metric(self.endpoint_name, variant_name, metric_name, **kwargs)

    def _variant_property(
        self,
        variant: Variant,
        *,
        environment_isolation: bool,
        vpc: ec2.IVpc | None,
        subnets: ec2.SubnetSelection | None,
        multi_model: bool,
        large_model: LargeModelOptions | None,
    ) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
        """The model of another variant (in ``Variant<name>``), sharing the execution role."""
        scope = Construct(self, f"Variant{variant.name}")
        model = Model(
            scope,
            "Model",
            image=variant.image,
            model_data=variant.model_data,
            role=self.execution_role,
            environment=variant.environment,
            network_isolation=environment_isolation,
            vpc=vpc,
            subnets=subnets,
            multi_model=multi_model,
        )
        self.variant_models[variant.name] = model
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=variant.name,
            model_name=model.model_name,
            instance_type=variant.instance_type,
            initial_instance_count=variant.initial_instance_count,
            initial_variant_weight=variant.weight,
            **(large_model.variant_properties() if large_model is not None else {}),
        )

    def _create_data_capture(
        self, options: DataCapture, removal_policy: RemovalPolicy
    ) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty:
        """The capture bucket (``CaptureBucket``) and the role's right to write under its prefix."""
        bucket = (
            options.bucket
            or SecureBucket(
                self, "CaptureBucket", encryption_key=self.encryption_key, removal_policy=removal_policy
            ).bucket
        )
        self.capture_bucket = bucket
        objects = bucket.arn_for_objects(f"{DATA_CAPTURE_PREFIX}*")
        iam.Grant.add_to_principal(
            grantee=self.role, actions=["s3:PutObject", "s3:AbortMultipartUpload"], resource_arns=[objects]
        )
        self.encryption_key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        if self.execution_role.owned:
            acknowledge_wildcard_resource(
                self.role,
                objects,
                topic=f"objects under {DATA_CAPTURE_PREFIX} of the capture bucket",
                reason="SageMaker names each capture file by endpoint, variant and hour at run time; the "
                "role writes only under this prefix of this endpoint's own bucket.",
            )
        return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
            enable_capture=True,
            initial_sampling_percentage=options.sampling_percent,
            destination_s3_uri=bucket.s3_url_for_object(DATA_CAPTURE_PREFIX.rstrip("/")),
            kms_key_id=self.encryption_key.key_arn,
            capture_options=[
                sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=mode)
                for mode in options.capture_modes
            ],
            capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                json_content_types=list(options.json_content_types),
                csv_content_types=list(options.csv_content_types),
            ),
        )


def _variant_checks(variant: Variant, region: str, allow_unlisted: bool):
    """The instance facts of another variant, and what stops its image from serving on it."""
    errors: list[MlBlueprintsError] = []
    instance = None
    try:
        instance = check_instance_type(
            variant.instance_type, use=SageMakerUse.REALTIME_INFERENCE, allow_unlisted=allow_unlisted
        )
    except MlBlueprintsError as error:
        errors.append(error)
    if instance is not None and not allow_unlisted:
        regional = regional_hosting_problems(variant.instance_type, region, setting="variants")
        if regional:
            errors.append(
                EndpointConfigError(
                    [
                        Problem(f"variant {variant.name!r}: {p.message}", setting=p.setting, value=p.value)
                        for p in regional
                    ]
                )
            )
    for error in image_problems(variant.image, instance, region, service="sagemaker"):
        errors.append(
            type(error)(
                [
                    Problem(f"variant {variant.name!r}: {p.message}", setting=p.setting, value=p.value)
                    for p in error.problems
                ]
            )
        )
    return instance, errors


_MODEL_PACKAGE = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):\d{12}:model-package/[a-zA-Z0-9-]{1,63}/\d+$"
)


def model_package_problems(arn: str | None, region: str, *, multi_model: bool) -> list[Problem]:
    """A versioned model package ARN in the stack's region, for a single-model endpoint."""
    if arn is None or Token.is_unresolved(arn):
        return []
    match = _MODEL_PACKAGE.fullmatch(arn)
    if match is None:
        return [
            Problem(
                f"model_package_arn={arn!r}: use a versioned model package ARN, "
                "arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>.",
                setting="model_package_arn",
                value=arn,
            )
        ]
    problems = []
    if not Token.is_unresolved(region) and match["region"] != region:
        problems.append(
            Problem(
                f"model_package_arn is in {match['region']}, but the stack deploys to {region}: SageMaker creates "
                "models from packages of its own region. Deploy to that region, or register the model here.",
                setting="model_package_arn",
                value=arn,
            )
        )
    if multi_model:
        problems.append(
            Problem(
                "model_package_arn on a multi-model endpoint: a package is one model; serve it from "
                "realtime-endpoint.",
                setting="model_package_arn",
            )
        )
    return problems


def _async_problems(
    async_inference: AsyncInference | None, auto_scaling: EndpointAutoScaling | BacklogScaling | None
) -> list[Problem]:
    if async_inference is None:
        if isinstance(auto_scaling, BacklogScaling):
            return [
                Problem(
                    "BacklogScaling scales on the queue of an asynchronous endpoint; this endpoint has none. "
                    "Pass async_inference=AsyncInference(), or use EndpointAutoScaling.",
                    setting="auto_scaling",
                )
            ]
        return []
    problems = async_inference.problems()
    if isinstance(auto_scaling, EndpointAutoScaling):
        problems.append(
            Problem(
                "EndpointAutoScaling tracks InvocationsPerInstance, which SageMaker does not publish for "
                "asynchronous endpoints; use BacklogScaling (the queue per instance, down to zero).",
                setting="auto_scaling",
            )
        )
    return problems


class AsyncEndpoint(RealtimeEndpoint):
    """An asynchronous endpoint: a :class:`RealtimeEndpoint` with a queue, S3 results and scale to zero.

    Takes every parameter of :class:`RealtimeEndpoint`; the defaults differ where a queue changes
    them: ``async_inference=AsyncInference()`` (a retained, encrypted output bucket and encrypted
    success and error topics), ``auto_scaling=BacklogScaling()`` (0 to twice the initial instances,
    woken from zero by ``HasBacklogWithoutCapacity``), ``initial_instance_count=1``, and an alarm on
    the age of the oldest queued request. Clients get :meth:`grant_submit`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        async_inference: AsyncInference = AsyncInference(),
        auto_scaling: BacklogScaling | None = BacklogScaling(),
        initial_instance_count: int = 1,
        **props,
    ) -> None:
        super().__init__(
            scope,
            id,
            async_inference=async_inference,
            auto_scaling=auto_scaling,
            initial_instance_count=initial_instance_count,
            **props,
        )


class MultiModelEndpoint(RealtimeEndpoint):
    """A real-time endpoint that hosts every ``model.tar.gz`` under one S3 prefix (``Mode: MultiModel``).

    SageMaker loads a model on its first request (``TargetModel``: its key under the prefix) and
    unloads idle ones when memory runs short, so many rarely used models share one fleet. Takes every
    parameter of :class:`RealtimeEndpoint`; ``model_data`` must be ``ModelData.from_s3_prefix(...)``.
    Hosted on CPU instances (with the PyTorch, TensorFlow, MXNet or Triton images, or your own
    image built with the SageMaker inference toolkit), or on single-GPU instances with Triton only.
    """

    def __init__(self, scope: Construct, id: str, **props) -> None:
        super().__init__(scope, id, multi_model=True, **props)


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

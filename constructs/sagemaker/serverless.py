"""A SageMaker serverless endpoint: CPU inference that scales with requests and to zero when idle.

What SageMaker Serverless Inference does not support, from its "Feature exclusions"
(https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html): "GPUs, AWS marketplace
model packages, private Docker registries, Multi-Model Endpoints, VPC configuration, network
isolation, data capture, multiple production variants, Model Monitor, and inference pipelines".
This construct takes none of them; a GPU or Neuron image is refused at synth. The same page limits
the container image to 10 GB and gives each endpoint 5 GB of ephemeral disk, whatever its memory.

Application Auto Scaling of provisioned concurrency is left out on purpose: the same page says it
"is currently not supported on AWS CloudFormation".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compliance.acknowledge import skip_checkov
from mlblueprints.constructs.errors import EndpointConfigError, ImageCompatibilityError, Problem, raise_if_any
from mlblueprints.constructs.sagemaker.container_image import (
    ALLOW_UNLISTED_TAGS_CONTEXT_KEY,
    ContainerImage,
    ImageAccelerator,
    image_problems,
)
from mlblueprints.constructs.sagemaker.deployment import BlueGreenUpdate
from mlblueprints.constructs.sagemaker.endpoint_base import EndpointBase, alarm_email_problems, context_flag
from mlblueprints.constructs.sagemaker.model_data import ModelData

__all__ = [
    "ServerlessAlarms",
    "ServerlessEndpoint",
    "serverless_image_problems",
    "serverless_model_data_problems",
    "serverless_problems",
]

# Memory comes in 1 GB steps: "1024 MB, 2048 MB, 3072 MB, 4096 MB, 5120 MB, or 6144 MB" (serverless
# endpoints page); botocore carries only the range.
MEMORY_STEP_MB = 1024
# ModelSetupTime (cold start) and ModelLatency are reported in microseconds.
_MICROSECONDS_PER_MS = 1000
MAX_COLD_START_MS = 3_600_000


@dataclass(frozen=True)
class ServerlessAlarms:
    """Alarms of a serverless endpoint, to an SNS topic.

    :param invocation_5xx_errors: alarm when a 5-minute window has at least this many 5XX errors.
    :param model_latency_p90_ms: alarm when the p90 ``ModelLatency`` stays above this for 3 minutes.
    :param cold_start_ms: alarm when a cold start (``ModelSetupTime``: launching compute and loading
        the model) took longer than this in a 5-minute window.
    :param concurrency_utilization: alarm when ``ServerlessConcurrentExecutionsUtilization`` (executions
        over ``max_concurrency``) reaches this in a minute: requests beyond ``max_concurrency`` are
        throttled, and SageMaker publishes no throttle metric of its own for serverless endpoints.
    :param email: subscribe this address to the topic (SNS mails it a link to confirm).
    """

    topic: sns.ITopic | None = None
    email: str | None = None
    invocation_5xx_errors: int = 1
    model_latency_p90_ms: float = 1000.0
    cold_start_ms: float = 30_000.0
    concurrency_utilization: float = 0.9

    def problems(self) -> list[Problem]:
        problems = alarm_email_problems(self.email)
        if not 1 <= self.invocation_5xx_errors <= 1_000_000:
            problems.append(
                Problem(
                    f"invocation_5xx_errors={self.invocation_5xx_errors}: use 1 (any error) to 1,000,000.",
                    setting="invocation_5xx_errors",
                    value=self.invocation_5xx_errors,
                )
            )
        for label, value in (
            ("model_latency_p90_ms", self.model_latency_p90_ms),
            ("cold_start_ms", self.cold_start_ms),
        ):
            if not 0 < value <= MAX_COLD_START_MS:
                problems.append(
                    Problem(
                        f"{label}={value}: use above 0 and at most 3,600,000 ms (1 hour).",
                        setting=label,
                        value=value,
                    )
                )
        if not 0 < self.concurrency_utilization <= 1:
            problems.append(
                Problem(
                    f"concurrency_utilization={self.concurrency_utilization}: a share of max_concurrency, "
                    "above 0 and at most 1 (1 = every request beyond this is throttled).",
                    setting="concurrency_utilization",
                    value=self.concurrency_utilization,
                )
            )
        return problems


def serverless_problems(
    memory_size_mb: int, max_concurrency: int, provisioned_concurrency: int | None
) -> list[Problem]:
    """What CreateEndpointConfig refuses in a ``ServerlessConfig``; ranges from botocore."""
    problems = []
    memory = number_rule("ProductionVariantServerlessConfig", "MemorySizeInMB")
    if not memory.contains(memory_size_mb) or memory_size_mb % MEMORY_STEP_MB:
        sizes = ", ".join(str(size) for size in range(memory.minimum, memory.maximum + 1, MEMORY_STEP_MB))
        problems.append(
            Problem(
                f"memory_size_mb={memory_size_mb}: serverless endpoints take {sizes} MB. Pick at least the "
                "model's size in memory; larger sizes also get more vCPUs.",
                setting="memory_size_mb",
                value=memory_size_mb,
            )
        )
    concurrency = number_rule("ProductionVariantServerlessConfig", "MaxConcurrency")
    if not concurrency.contains(max_concurrency):
        problems.append(
            Problem(
                f"max_concurrency={max_concurrency}: use {concurrency.describe()} concurrent invocations "
                "(the account's serverless concurrency quota is shared by all its serverless endpoints).",
                setting="max_concurrency",
                value=max_concurrency,
            )
        )
    if provisioned_concurrency is not None:
        provisioned = number_rule("ProductionVariantServerlessConfig", "ProvisionedConcurrency")
        if not provisioned.contains(provisioned_concurrency):
            problems.append(
                Problem(
                    f"provisioned_concurrency={provisioned_concurrency}: use {provisioned.describe()}, or leave "
                    "it unset for pure on-demand (scale to zero).",
                    setting="provisioned_concurrency",
                    value=provisioned_concurrency,
                )
            )
        elif concurrency.contains(max_concurrency) and provisioned_concurrency > max_concurrency:
            problems.append(
                Problem(
                    f"provisioned_concurrency={provisioned_concurrency} is above max_concurrency={max_concurrency}; "
                    "SageMaker requires it to be at most max_concurrency. Lower it or raise max_concurrency.",
                    setting="provisioned_concurrency",
                    value=provisioned_concurrency,
                )
            )
    return problems


def serverless_model_data_problems(url: str) -> list[Problem]:
    """Serverless endpoints load one archive: ``ModelDataSource`` (an uncompressed folder) is not for them."""
    if not isinstance(url, str) or not url.endswith("/"):
        return []
    return [
        Problem(
            f"model_data_url={url!r} is a folder of uncompressed model files, which serverless endpoints "
            "cannot load (SageMaker: ModelDataSource cannot be used with serverless endpoints). Pack the "
            "model as model.tar.gz and give its URL, or use the realtime-endpoint blueprint.",
            setting="model_data_url",
            value=url,
        )
    ]


def serverless_image_problems(image: ContainerImage) -> list[Problem]:
    """Serverless endpoints run on CPU: refuse images built for GPUs or Neuron devices."""
    runtime = image.accelerator
    if runtime is ImageAccelerator.UNKNOWN:
        return []
    return [
        Problem(
            f"Container image {image.repository_name}:{image.tag} is built for {runtime.value}, but serverless "
            "endpoints run on CPU only (SageMaker Serverless Inference does not support GPUs or other "
            "accelerators). Use the CPU build of the image, e.g. 'pytorch-inference:2.6.0-cpu-py312-"
            "ubuntu22.04-sagemaker', or a real-time endpoint on an accelerated instance type.",
            setting="dlc_tag" if image.is_dlc else "image_uri",
            value=image.tag,
        )
    ]


class ServerlessEndpoint(EndpointBase):
    """Model, serverless endpoint configuration and endpoint, with alarms and least-privilege IAM.

    No instances to choose: SageMaker runs the container on CPU with ``memory_size_mb`` of memory
    (and vCPUs in proportion), starts copies as requests arrive up to ``max_concurrency``, and
    stops them when idle; ``provisioned_concurrency`` keeps that many warm to avoid cold starts.
    The model runs outside any VPC and without network isolation, which serverless does not support.

    :param memory_size_mb: 1024 to 6144 MB in 1024 MB steps; at least the model's size in memory.
    :param max_concurrency: concurrent invocations before SageMaker throttles (1-200).
    :param provisioned_concurrency: warm copies, billed while idle (1-200, at most max_concurrency).
        Default: none, the endpoint scales to zero.
    :param encryption_key: encrypts SageMaker's copy of the image, the logs and the alarm topic.
    :param deployment: updates are blue/green (rolling is not available for serverless); default
        all at once with 10 minutes of baking, rolled back when an alarm fires.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        image: ContainerImage,
        model_data: ModelData,
        memory_size_mb: int = 2048,
        max_concurrency: int = 20,
        provisioned_concurrency: int | None = None,
        environment: dict[str, str] | None = None,
        encryption_key: kms.IKey | None = None,
        role: iam.IRole | None = None,
        endpoint_name: str | None = None,
        variant_name: str = "AllTraffic",
        alarms: ServerlessAlarms | None = ServerlessAlarms(),
        deployment: BlueGreenUpdate | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        if image.is_dlc and context_flag(self, ALLOW_UNLISTED_TAGS_CONTEXT_KEY):
            image = dataclasses.replace(image, allow_unlisted_tag=True)
        errors = image_problems(image, None, Stack.of(self).region, service="sagemaker")
        cpu_problems = serverless_image_problems(image)
        if cpu_problems:
            errors.append(ImageCompatibilityError(cpu_problems))
        problems = serverless_problems(memory_size_mb, max_concurrency, provisioned_concurrency)
        if model_data.is_prefix:
            problems += serverless_model_data_problems(model_data.s3_url)
        if deployment is not None and getattr(deployment, "rolling", False):
            problems.append(
                Problem(
                    "deployment=RollingUpdate: SageMaker does not do rolling updates of serverless endpoints. "
                    "Use BlueGreenUpdate().",
                    setting="deployment",
                    value="rolling",
                )
            )
        self.deployment = deployment or BlueGreenUpdate()
        problems += self.deployment.problems(1) if not problems else []
        if alarms is not None:
            problems += alarms.problems()
        problems += self._resolve_name(endpoint_name, variant_name, environment or {})
        if problems:
            errors.append(EndpointConfigError(problems))
        raise_if_any(errors, EndpointConfigError)
        repository = image.dlc_repository
        if repository is not None and repository.arch != "x86_64":
            Annotations.of(self).add_warning_v2(
                "mlblueprints:serverlessArchitecture",
                f"{image.repository_name} is built for {repository.arch}; AWS documents serverless endpoints "
                "without naming Arm support. Use an x86_64 image unless you have tested this one.",
            )

        self.memory_size_mb = memory_size_mb
        self.max_concurrency = max_concurrency
        self._create_foundation(
            image=image,
            model_data=model_data,
            environment=environment,
            network_isolation=None,
            vpc=None,
            subnets=None,
            encryption_key=encryption_key,
            role=role,
            log_retention=log_retention,
            removal_policy=removal_policy,
            kind="serverless endpoint",
        )
        skip_checkov(
            self.model.resource,
            CKV_AWS_370="SageMaker Serverless Inference does not support network isolation (EnableNetworkIsolation "
            "is refused for serverless endpoints); the realtime-endpoint blueprint serves an isolated container.",
        )
        config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            # On serverless endpoints the key encrypts SageMaker's copy of the ECR image
            # (serverless-endpoints-create-config.html, KmsKeyId).
            kms_key_id=self.encryption_key.key_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant_name,
                    model_name=self.model.model_name,
                    serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                        memory_size_in_mb=memory_size_mb,
                        max_concurrency=max_concurrency,
                        provisioned_concurrency=provisioned_concurrency,
                    ),
                )
            ],
        )
        self._create_endpoint(config)
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms is not None:
            self._add_alarms(alarms)
        self.endpoint.deployment_config = self.deployment.to_cfn(
            1, [alarm.alarm_name for alarm in self.alarms[:10]]
        )

    def _add_alarms(self, options: ServerlessAlarms) -> None:
        self._create_alarm_topic(options.topic, options.email)
        self.alarms = [
            self._alarm(
                "Invocation5XXErrorsAlarm",
                description="the model container returned 5XX errors",
                metric=self.metric("Invocation5XXErrors", statistic="Sum", period=Duration.minutes(5)),
                threshold=options.invocation_5xx_errors,
                evaluation_periods=1,
            ),
            self._alarm(
                "ModelLatencyAlarm",
                description=f"p90 model latency above {options.model_latency_p90_ms} ms",
                metric=self.metric("ModelLatency", statistic="p90"),
                threshold=options.model_latency_p90_ms * _MICROSECONDS_PER_MS,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            ),
        ]
        # Not rollback alarms: a cold start or a busy endpoint says nothing about the new model.
        self.cold_start_alarm = self._alarm(
            "ColdStartAlarm",
            description=f"a cold start (ModelSetupTime) took longer than {options.cold_start_ms} ms",
            metric=self.metric("ModelSetupTime", statistic="Maximum", period=Duration.minutes(5)),
            threshold=options.cold_start_ms * _MICROSECONDS_PER_MS,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )
        self.concurrency_alarm = self._alarm(
            "ConcurrencyAlarm",
            description=(
                f"concurrent executions at {options.concurrency_utilization:.0%} of max_concurrency "
                f"({self.max_concurrency}); requests beyond it are throttled"
            ),
            metric=self.metric("ServerlessConcurrentExecutionsUtilization", statistic="Maximum"),
            threshold=options.concurrency_utilization,
            evaluation_periods=1,
        )

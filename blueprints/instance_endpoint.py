"""What the instance-backed endpoint blueprints share: instance settings, their checks, and the stack.

``realtime-endpoint`` and ``async-endpoint`` both run a model on instances of one type in a private
VPC, with the same alarms and safe updates; they differ in scaling and in what the endpoint
configuration adds. :class:`InstanceEndpointSettings` and :class:`InstanceEndpointStack` hold the
common part, so each blueprint states only its difference.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from aws_cdk import Duration, Environment, RemovalPolicy
from pydantic import Field

from constructs import Construct
from mlblueprints.blueprints.model_settings import (
    ModelSettings,
    add_endpoint_outputs,
    build_model_parts,
    model_preflight,
    typed,
)
from mlblueprints.blueprints.settings_base import construct_default, documented_default
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.compute.instance_types import SageMakerUse, check_instance_type
from mlblueprints.constructs.compute.regional_offerings import regional_hosting_problems
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.sagemaker.deployment import (
    BlueGreenUpdate,
    RollingUpdate,
    default_deployment,
    deployment_for,
)
from mlblueprints.constructs.sagemaker.endpoint import (
    MAX_5XX_THRESHOLD,
    MAX_LATENCY_THRESHOLD_MS,
    EndpointAlarms,
    RealtimeEndpoint,
    count_problems,
)
from mlblueprints.constructs.sagemaker.scaling import MAX_INSTANCES_PER_VARIANT
from mlblueprints.constructs.sagemaker.variant_options import LargeModelOptions
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import (
    AvailabilityZonesAtDeployTime,
    PrivateNetwork,
    network_problems,
)

__all__ = [
    "Count",
    "GuardedUpdateSettings",
    "InstanceEndpointSettings",
    "InstanceEndpointStack",
    "instance_preflight",
    "update_problems",
]

# Ranges are checked by the constructs' own rules (see ``preflight``); the schema states them for editors.
Count = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": MAX_INSTANCES_PER_VARIANT})]
LatencyMs = Annotated[
    float, Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_LATENCY_THRESHOLD_MS})
]
ErrorCount = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": MAX_5XX_THRESHOLD})]
StepPercent = Annotated[int, Field(json_schema_extra={"minimum": 1, "maximum": 50})]
_TIMEOUT = number_rule("ProductionVariant", "ModelDataDownloadTimeoutInSeconds")
TimeoutSeconds = Annotated[
    int, Field(json_schema_extra={"minimum": _TIMEOUT.minimum, "maximum": _TIMEOUT.maximum})
]
_VOLUME = number_rule("ProductionVariant", "VolumeSizeInGB")
VolumeGb = Annotated[int, Field(json_schema_extra={"minimum": _VOLUME.minimum, "maximum": _VOLUME.maximum})]
_WAIT = number_rule("TrafficRoutingConfig", "WaitIntervalInSeconds")
WaitSeconds = Annotated[int, Field(json_schema_extra={"minimum": _WAIT.minimum, "maximum": _WAIT.maximum})]


class InstanceEndpointSettings(ModelSettings):
    """Instance type and count, VPC, alarms and safe updates of an instance-backed endpoint."""

    instance_type: str = Field(
        description="A SageMaker ProductionVariantInstanceType, e.g. ml.g5.xlarge, ml.g6.12xlarge, "
        "ml.p5.48xlarge, ml.inf2.xlarge, ml.trn1.2xlarge.",
        min_length=1,
    )
    initial_instance_count: Count | None = Field(
        None,
        description="Instances at creation; 2 or more spread over availability zones.",
        json_schema_extra=construct_default(RealtimeEndpoint, "initial_instance_count"),
    )
    model_latency_p90_ms: LatencyMs | None = Field(
        None,
        description="Alarm when p90 ModelLatency stays above this for 3 minutes.",
        json_schema_extra=construct_default(EndpointAlarms, "model_latency_p90_ms"),
    )
    invocation_5xx_errors: ErrorCount | None = Field(
        None,
        description="Alarm when a 5-minute window has at least this many 5XX errors.",
        json_schema_extra=construct_default(EndpointAlarms, "invocation_5xx_errors"),
    )
    create_vpc: bool = Field(
        True, description="Run the model in a new private VPC; false runs it without one."
    )
    vpc_cidr: str | None = Field(
        None,
        description="The new VPC's private IPv4 block, /16 to /19 (one /20 subnet per availability zone).",
        json_schema_extra=construct_default(PrivateNetwork, "cidr"),
    )
    network_isolation: bool | None = Field(
        None,
        description="No outbound network from the model container.",
        json_schema_extra=construct_default(RealtimeEndpoint, "network_isolation"),
    )
    allow_unlisted_instance_types: bool = Field(
        False, description="Accept an ml.* type newer than the installed botocore (synth warns)."
    )
    model_data_download_timeout_s: TimeoutSeconds | None = Field(
        None,
        description="Seconds SageMaker may take to download the model (large models: raise it above 40 GB).",
        json_schema_extra={"x-default": "SageMaker's"},
    )
    container_startup_timeout_s: TimeoutSeconds | None = Field(
        None,
        description="Seconds the container may take to pass its first health check (loading weights).",
        json_schema_extra={"x-default": "SageMaker's"},
    )
    volume_size_gb: VolumeGb | None = Field(
        None,
        description="The EBS ML storage volume, for instance types without local NVMe storage; a bit more "
        "than the model's size.",
        json_schema_extra={"x-default": "SageMaker's"},
    )
    update_wait_seconds: WaitSeconds | None = Field(
        None,
        description="How long each step bakes under the alarms before the next.",
        json_schema_extra={"x-default": "300 (rolling), 600 (blue/green)"},
    )


class GuardedUpdateSettings(InstanceEndpointSettings):
    """An instance-backed endpoint updated with SageMaker's deployment guardrails: rolling or blue/green."""

    update_strategy: Literal["rolling", "all-at-once", "canary", "linear"] | None = Field(
        None,
        description="How updates reach the fleet, rolled back when an alarm fires: rolling batches, or "
        "blue/green shifting all at once, a canary, or linear steps.",
        json_schema_extra=documented_default(RealtimeEndpoint, "deployment"),
    )
    update_step_percent: StepPercent | None = Field(
        None,
        description="The rolling batch (5-50), canary (1-50) or linear step (10-50), in percent of the "
        "instances.",
        json_schema_extra={"x-default": "25 (rolling), 10 (canary), 20 (linear)"},
    )


def instance_preflight(config: dict[str, Any], *, region: str | None, default_count: int = 2):
    """Model, VPC, instance type and count problems of an instance-backed endpoint's raw config.

    Returns the problems, the instance type's facts (``None`` if unknown) and the typed instance count.
    """
    problems = []
    if isinstance(config.get("vpc_cidr"), str):
        if config.get("create_vpc") is False:
            problems.append(
                Problem("vpc_cidr is set but create_vpc is false; drop one of them", setting="vpc_cidr")
            )
        problems += network_problems(config["vpc_cidr"], max_azs=2)
    instance = None
    if isinstance(config.get("instance_type"), str):
        try:
            instance = check_instance_type(
                config["instance_type"],
                use=SageMakerUse.REALTIME_INFERENCE,
                allow_unlisted=config.get("allow_unlisted_instance_types") is True,
            )
        except MlBlueprintsError as error:
            problems += error.problems
    if instance is not None and region and config.get("allow_unlisted_instance_types") is not True:
        problems += regional_hosting_problems(config["instance_type"], region)
    model_problems, _ = model_preflight(config, region=region, instance=instance)
    problems += model_problems
    large = large_model_options(config)
    if large is not None:
        problems += large.problems(instance)
    count = typed(config, "initial_instance_count", int, default=default_count)
    if count is not None:
        problems += count_problems(count)
    return problems, instance, count


def large_model_options(config: dict[str, Any]) -> LargeModelOptions | None:
    """The large-model options a config (raw or validated) sets; ``None`` if one is mistyped."""
    values = {}
    for key, option in (
        ("model_data_download_timeout_s", "model_data_download_timeout"),
        ("container_startup_timeout_s", "container_startup_timeout"),
    ):
        seconds = typed(config, key, int)
        if config.get(key) is not None and seconds is None:
            return None
        if seconds is not None:
            values[option] = Duration.seconds(seconds)
    volume = typed(config, "volume_size_gb", int)
    if config.get("volume_size_gb") is not None and volume is None:
        return None
    if volume is not None:
        values["volume_size_gb"] = volume
    return LargeModelOptions(**values) if values else None


def update_problems(config: dict[str, Any], instance, min_instances: int | None) -> list[Problem]:
    """The deployment guardrail problems of ``update_*`` settings."""
    strategy = config.get("update_strategy")
    step, wait = typed(config, "update_step_percent", int), typed(config, "update_wait_seconds", int)
    if (strategy is not None and not isinstance(strategy, str)) or min_instances is None:
        return []
    if strategy is None and step is not None and not default_deployment(instance, min_instances).rolling:
        return [
            Problem(
                "update_step_percent needs update_strategy: the default here is all-at-once, which has no "
                'steps. Set "update_strategy": "canary" or "linear".',
                setting="update_step_percent",
            )
        ]
    try:
        deployment = deployment_for(
            strategy, step_percent=step, wait_seconds=wait, instance=instance, min_instances=min_instances
        )
    except KeyError:
        return []  # an unknown strategy: pydantic names it
    return deployment.problems(min_instances) if deployment is not None else []


class InstanceEndpointStack(AvailabilityZonesAtDeployTime):
    """Key, private network, model parts and an instance-backed endpoint, deployable as one stack.

    Subclasses give :attr:`kind` (for the description) and :meth:`create_endpoint`, and may add
    outputs in :meth:`add_outputs`.
    """

    kind: ClassVar[str] = "real-time"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: InstanceEndpointSettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints {self.kind} SageMaker endpoint on {settings.instance_type}",
        )
        self.settings = settings
        self.removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        baseline = SecurityBaseline.create(
            self,
            create_vpc=settings.create_vpc,
            removal_policy=self.removal_policy,
            **({"vpc_cidr": settings.vpc_cidr} if settings.vpc_cidr else {}),
        )
        self.key, self.network = baseline.key, baseline.network
        image, model_data = build_model_parts(self, settings)
        self.endpoint = self.create_endpoint(
            settings,
            instance_type=settings.instance_type,
            image=image,
            model_data=model_data,
            vpc=self.network.vpc if self.network else None,
            subnets=self.network.subnets if self.network else None,
            encryption_key=self.key.key,
            alarms=EndpointAlarms(
                email=settings.alarm_email,
                **settings.explicit("model_latency_p90_ms", "invocation_5xx_errors"),
            ),
            removal_policy=self.removal_policy,
            allow_unlisted_instance_types=settings.allow_unlisted_instance_types,
            large_model=large_model_options(settings.model_dump()),
            **settings.explicit(
                "initial_instance_count", "environment", "network_isolation", "endpoint_name"
            ),
        )
        if self.network is not None:
            # The VPC's S3 gateway lets through exactly the model artifact (and ECR's image layers).
            self.network.allow_s3_objects(model_data.object_arn(self))
            if model_data.is_prefix:
                # SageMaker lists an uncompressed model folder before downloading it.
                self.network.allow_s3_objects(model_data.bucket_arn(self), actions=("s3:ListBucket",))
            # Interface and gateway endpoints first: the instances pull the image and the model
            # through them as soon as the endpoint is created.
            self.endpoint.endpoint.node.add_dependency(self.network)
        add_endpoint_outputs(self, self.endpoint)
        self.add_outputs()

    def create_endpoint(self, settings: InstanceEndpointSettings, **props: Any) -> RealtimeEndpoint:
        raise NotImplementedError

    def add_outputs(self) -> None:
        """Outputs beyond the endpoint's name, ARN and alarm topic."""

    def update_policy(self, min_instances: int) -> BlueGreenUpdate | RollingUpdate | None:
        """The deployment policy the ``update_*`` settings name; ``None`` leaves the construct's default."""
        settings = self.settings
        instance = check_instance_type(
            settings.instance_type,
            use=SageMakerUse.REALTIME_INFERENCE,
            allow_unlisted=settings.allow_unlisted_instance_types,
        )
        return deployment_for(
            getattr(settings, "update_strategy", None),
            step_percent=getattr(settings, "update_step_percent", None),
            wait_seconds=settings.update_wait_seconds,
            instance=instance,
            min_instances=min_instances,
        )

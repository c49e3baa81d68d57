"""Several models sharing one endpoint's instances, as inference components, scaling to zero copies.

The endpoint configuration names only the instances (type, count, managed instance scaling, and the
execution role, VPC and network isolation that the components' containers run with); each
``AWS::SageMaker::InferenceComponent`` brings a container and asks for accelerators, CPU cores and
memory per copy. SageMaker places copies where an instance has room and, with managed instance
scaling, adds or removes instances as copies need them.

Scale to zero ("Scale an endpoint to zero instances",
https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html): "An
endpoint can scale to and from zero instances only if it hosts inference components", with
``ManagedInstanceScaling.MinInstanceCount`` 0 and each component's copy count registered with
Application Auto Scaling (``sagemaker:inference-component:DesiredCopyCount``) down to 0. A step
policy on ``NoCapacityInvocationFailures`` (a request that found no copy) adds the first copy back,
as on that page; target tracking on concurrent requests per copy does the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct
from mlblueprints.constructs._private.names import STACK_SUFFIX_LENGTH, stack_id_suffix, unique_base_name
from mlblueprints.constructs._private.service_models import enum_values, member_rule, number_rule
from mlblueprints.constructs.compute.instance_specs import instance_specs
from mlblueprints.constructs.compute.instance_types import (
    AcceleratorKind,
    InstanceType,
    SageMakerUse,
    check_instance_type,
)
from mlblueprints.constructs.compute.regional_offerings import (
    assert_hosted_at_deploy,
    regional_hosting_problems,
)
from mlblueprints.constructs.errors import EndpointConfigError, MlBlueprintsError, Problem, raise_if_any
from mlblueprints.constructs.monitoring.alarms import threshold_alarm
from mlblueprints.constructs.sagemaker.container_image import (
    ALLOW_UNLISTED_TAGS_CONTEXT_KEY,
    ContainerImage,
    image_problems,
)
from mlblueprints.constructs.sagemaker.endpoint import ALLOW_UNLISTED_CONTEXT_KEY, EndpointAlarms
from mlblueprints.constructs.sagemaker.endpoint_base import EndpointBase, context_flag, volume_key_allowed
from mlblueprints.constructs.sagemaker.model import attach_to_vpc
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.scaling import scalable_target, wake_from_zero
from mlblueprints.constructs.sagemaker.variant_options import LargeModelOptions

__all__ = [
    "ComponentSizing",
    "CopyScaling",
    "InferenceComponent",
    "InferenceComponentEndpoint",
    "component_problems",
    "fleet_problems",
    "placement_problems",
]

# AWS::SageMaker::InferenceComponent's container environment holds at most 16 variables
# (cfn-lint's CloudFormation resource schema, EnvironmentMap.maxProperties).
MAX_COMPONENT_ENVIRONMENT = 16
_COPY_METRIC = "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"


@dataclass(frozen=True)
class CopyScaling:
    """Application Auto Scaling of a component's copies: target tracking, and a wake-up from zero.

    :param min_copies: 0 lets the component (and, with ``min_instances=0``, the endpoint) scale to
        zero; the first request then fails while a copy starts, and wakes it.
    :param target_concurrent_requests_per_copy: concurrent requests per copy that target tracking
        holds (AWS's samples use 5; measure your model).
    """

    min_copies: int = 0
    max_copies: int = 4
    target_concurrent_requests_per_copy: float = 5.0
    scale_in_cooldown: Duration = Duration.minutes(5)
    scale_out_cooldown: Duration = Duration.minutes(1)

    def problems(self, label: str, copies: int) -> list[Problem]:
        problems = []
        if self.min_copies < 0 or self.max_copies < max(self.min_copies, 1):
            problems.append(
                Problem(
                    f"{label}: min_copies={self.min_copies} and max_copies={self.max_copies}: min_copies is 0 or "
                    "more, and max_copies at least 1 and at least min_copies.",
                    setting="max_copies",
                    value=self.max_copies,
                )
            )
        elif not self.min_copies <= copies <= self.max_copies:
            problems.append(
                Problem(
                    f"{label}: copies={copies} is outside min_copies={self.min_copies} to max_copies="
                    f"{self.max_copies}; start within the scaling range.",
                    setting="copies",
                    value=copies,
                )
            )
        if not 0 < self.target_concurrent_requests_per_copy <= 1_000_000:
            problems.append(
                Problem(
                    f"{label}: target_concurrent_requests_per_copy={self.target_concurrent_requests_per_copy}; "
                    "use a number above 0.",
                    setting="target_concurrent_requests_per_copy",
                    value=self.target_concurrent_requests_per_copy,
                )
            )
        return problems


@dataclass(frozen=True, kw_only=True)
class ComponentSizing:
    """What each copy of a component needs, and how many copies: checked against the instance type.

    :param memory_mb: memory per copy (at least 128 MB; SageMaker requires it).
    :param accelerators: GPUs or Neuron devices per copy. Default: 1 on an accelerated instance,
        none on a CPU instance.
    :param cpu_cores: CPU cores per copy (0.25 or more). Default: SageMaker's.
    :param copies: copies at creation (0 or more).
    :param scaling: copy scaling; ``None`` keeps ``copies`` fixed.
    """

    name: str
    memory_mb: int
    accelerators: int | None = None
    cpu_cores: float | None = None
    copies: int = 1
    environment: dict[str, str] | None = None
    model_data_download_timeout: Duration | None = None
    container_startup_timeout: Duration | None = None
    scaling: CopyScaling | None = CopyScaling()

    def accelerators_on(self, instance: InstanceType | None) -> int | None:
        if self.accelerators is not None:
            return self.accelerators
        return 1 if instance is not None and instance.is_accelerated else None


@dataclass(frozen=True, kw_only=True)
class InferenceComponent(ComponentSizing):
    """One model on the shared instances: its container and model artifact, and its sizing."""

    image: ContainerImage
    model_data: ModelData


class InferenceComponentEndpoint(EndpointBase):
    """An endpoint whose instances host several models as inference components.

    Each component's accelerators, CPU cores and memory per copy are checked against the instance
    type at synth: a copy must fit on one instance, and the initial copies must fit on
    ``max_instances`` instances. Managed instance scaling adds and removes instances as copies need
    them; with ``min_instances=0`` and components scaling to ``min_copies=0``, the endpoint costs
    nothing while idle.

    :param instance_type: the shared instances' type, e.g. ``ml.g6.12xlarge`` or ``ml.inf2.48xlarge``.
    :param min_instances: managed instance scaling's minimum; 0 scales the endpoint to zero.
    :param max_instances: default: initial_instance_count plus 1.
        Managed instance scaling's maximum.
    :param routing_strategy: ``LEAST_OUTSTANDING_REQUESTS`` (default) or another ``RoutingStrategy``.
    :param alarms: 5XX and latency alarms per component (the endpoint alarms' thresholds).
    :param update_wait: a changed component is replaced one copy at a time, each copy baking this
        long under the component's alarms, and rolled back when one fires (0 s to 1 hour).
    :param large_model: the instances' EBS volume size, and download and startup timeouts for the
        components that do not set their own.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instance_type: str,
        components: Sequence[InferenceComponent],
        initial_instance_count: int = 1,
        min_instances: int = 0,
        max_instances: int | None = None,
        routing_strategy: str = "LEAST_OUTSTANDING_REQUESTS",
        network_isolation: bool = True,
        vpc: ec2.IVpc | None = None,
        subnets: ec2.SubnetSelection | None = None,
        encryption_key: kms.IKey | None = None,
        role: iam.IRole | None = None,
        endpoint_name: str | None = None,
        variant_name: str = "AllTraffic",
        alarms: EndpointAlarms | None = EndpointAlarms(),
        update_wait: Duration = Duration.minutes(5),
        large_model: LargeModelOptions | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        allow_unlisted_instance_types: bool = False,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        components = tuple(components)
        if context_flag(self, ALLOW_UNLISTED_TAGS_CONTEXT_KEY):
            components = tuple(
                dataclasses.replace(c, image=dataclasses.replace(c.image, allow_unlisted_tag=True))
                if c.image.is_dlc
                else c
                for c in components
            )
        errors: list[MlBlueprintsError] = []
        instance = None
        try:
            instance = check_instance_type(
                instance_type,
                use=SageMakerUse.REALTIME_INFERENCE,
                allow_unlisted=allow_unlisted_instance_types
                or context_flag(self, ALLOW_UNLISTED_CONTEXT_KEY),
            )
        except MlBlueprintsError as error:
            errors.append(error)
        max_instances = max_instances if max_instances is not None else initial_instance_count + 1
        allow_unlisted = allow_unlisted_instance_types or context_flag(self, ALLOW_UNLISTED_CONTEXT_KEY)
        regional = (
            regional_hosting_problems(instance_type, stack.region)
            if instance is not None and not allow_unlisted
            else []
        )
        problems = regional + fleet_problems(
            initial_instance_count, min_instances, max_instances, routing_strategy
        )
        if not components:
            problems.append(
                Problem(
                    "an inference-component endpoint needs at least one component (a model to host).",
                    setting="components",
                )
            )
        names: set[str] = set()
        for component in components:
            label = f"component {component.name!r}"
            for error in image_problems(component.image, instance, stack.region, service="sagemaker"):
                errors.append(
                    type(error)(
                        [
                            Problem(f"{label}: {p.message}", setting=p.setting, value=p.value)
                            for p in error.problems
                        ]
                    )
                )
            problems += component_problems(component, instance)
            if component.model_data.is_prefix:
                problems.append(
                    Problem(
                        f"{label}: model data {component.model_data.s3_url} is a folder, but an inference component "
                        "loads one model.tar.gz archive (its container's ArtifactUrl). Give the archive's URL.",
                        setting="model_data_url",
                        value=component.model_data.s3_url,
                    )
                )
            if component.name in names:
                problems.append(
                    Problem(
                        f"{label} is named twice; give each component its own name.", setting="components"
                    )
                )
            names.add(component.name)
        problems += placement_problems(components, instance, max_instances)
        wait = number_rule("InferenceComponentRollingUpdatePolicy", "WaitIntervalInSeconds")
        if not wait.contains(update_wait.to_seconds()):
            problems.append(
                Problem(
                    f"update_wait={update_wait.to_seconds():g} s: use {wait.describe()} seconds.",
                    setting="update_wait_seconds",
                    value=update_wait.to_seconds(),
                )
            )
        if large_model is not None:
            problems += large_model.problems(instance)
        if alarms is not None:
            problems += alarms.problems()
        problems += self._resolve_name(endpoint_name, variant_name, {})
        if problems:
            errors.append(EndpointConfigError(problems))
        raise_if_any(errors, EndpointConfigError)
        assert_hosted_at_deploy(self, instance_type)
        for component in components:
            wanted = component.accelerators_on(instance) if instance is not None else None
            if (
                instance is not None
                and wanted is not None
                and instance.accelerator_count is not None
                and wanted > instance.accelerator_count
            ):
                Annotations.of(self).add_warning_v2(
                    "mlblueprints:neuronDevices",
                    f"component {component.name!r} asks for {wanted} accelerators per copy; {instance_type} has "
                    f"{instance.accelerator_count} Neuron devices (chips) and "
                    f"{instance.accelerator_count * NEURON_CORES_PER_DEVICE[instance.family]} NeuronCores. AWS does "
                    "not document which of the two SageMaker counts: if it counts chips, no copy can be placed.",
                )
        if instance is not None and instance_specs(instance) is None:
            Annotations.of(self).add_warning_v2(
                "mlblueprints:instanceSpecsUnknown",
                f"The vCPUs and memory of {instance_type} are not in the catalog's instance specs, so the "
                "components' CPU cores and memory were not checked against it.",
            )

        self.instance_type = instance_type
        self._create_foundation(
            image=None,
            model_data=None,
            environment=None,
            network_isolation=network_isolation,
            vpc=None,
            subnets=None,
            encryption_key=encryption_key,
            role=role,
            log_retention=log_retention,
            removal_policy=removal_policy,
            kind="inference-component endpoint",
        )
        vpc_config = None
        if vpc is not None:
            self.security_group, subnet_ids = attach_to_vpc(
                self,
                vpc,
                subnets,
                self.execution_role,
                description=f"Inference components of {self.node.path}: HTTPS out only",
            )
            vpc_config = sagemaker.CfnEndpointConfig.VpcConfigProperty(
                security_group_ids=[self.security_group.security_group_id], subnets=subnet_ids
            )
        key_on_volume = volume_key_allowed([instance])
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            execution_role_arn=self.execution_role.role_arn,
            enable_network_isolation=network_isolation,
            vpc_config=vpc_config,
            kms_key_id=self.encryption_key.key_arn if key_on_volume else None,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant_name,
                    instance_type=instance_type,
                    initial_instance_count=initial_instance_count,
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED", min_instance_count=min_instances, max_instance_count=max_instances
                    ),
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy=routing_strategy
                    ),
                    volume_size_in_gb=large_model.volume_size_gb if large_model is not None else None,
                )
            ],
        )
        # SageMaker checks the role's access when it creates the endpoint configuration.
        self.endpoint_config.node.add_dependency(self.execution_role.policy_dependable)
        if not key_on_volume:
            self._acknowledge_volume_key([instance], instance_type)
        self._create_endpoint(self.endpoint_config)
        self.execution_role.acknowledge_wildcard(
            "ecr:GetAuthorizationToken returns a registry login token and supports no resource-level "
            "permissions; image pulls are limited to the components' repositories."
        )
        self.components: dict[str, sagemaker.CfnInferenceComponent] = {}
        self.alarms: list[cloudwatch.Alarm] = []
        if alarms is not None:
            self._create_alarm_topic(alarms.topic, alarms.email)
        self.update_wait = update_wait
        for component in components:
            if large_model is not None:
                component = dataclasses.replace(
                    component,
                    model_data_download_timeout=component.model_data_download_timeout
                    or large_model.model_data_download_timeout,
                    container_startup_timeout=component.container_startup_timeout
                    or large_model.container_startup_timeout,
                )
            self._add_component(component, instance, variant_name, alarms)

    def _add_component(
        self,
        component: InferenceComponent,
        instance: InstanceType | None,
        variant_name: str,
        alarms: EndpointAlarms | None,
    ) -> None:
        scope = Construct(self, f"Component{component.name}")
        image_uri = component.image.bind(scope, self.role)
        component.model_data.grant_read(scope, self.role)
        name = f"{unique_base_name(scope, 63 - STACK_SUFFIX_LENGTH)}-{stack_id_suffix()}"
        accelerators = component.accelerators_on(instance)
        startup = {
            key: int(value.to_seconds())
            for key, value in (
                ("model_data_download_timeout_in_seconds", component.model_data_download_timeout),
                ("container_startup_health_check_timeout_in_seconds", component.container_startup_timeout),
            )
            if value is not None
        }
        resource = sagemaker.CfnInferenceComponent(
            scope,
            "Resource",
            endpoint_name=self.endpoint.attr_endpoint_name,
            inference_component_name=name,
            variant_name=variant_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                container=sagemaker.CfnInferenceComponent.InferenceComponentContainerSpecificationProperty(
                    image=image_uri,
                    artifact_url=component.model_data.s3_url,
                    environment=component.environment or None,
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    **startup
                )
                if startup
                else None,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    min_memory_required_in_mb=component.memory_mb,
                    number_of_accelerator_devices_required=accelerators,
                    number_of_cpu_cores_required=component.cpu_cores,
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=component.copies
            ),
        )
        resource.node.add_dependency(self.execution_role.policy_dependable)
        self.components[component.name] = resource
        if component.scaling is not None:
            self._scale_copies(scope, resource, name, component.scaling)
        component_alarms = self._component_alarms(scope, name, alarms) if alarms is not None else []
        self.alarms += component_alarms
        # A changed component is replaced a copy at a time, rolled back on its own alarms.
        resource.deployment_config = sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
            rolling_update_policy=sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
                maximum_batch_size=sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
                    type="COPY_COUNT", value=1
                ),
                wait_interval_in_seconds=int(self.update_wait.to_seconds()),
            ),
            auto_rollback_configuration=sagemaker.CfnInferenceComponent.AutoRollbackConfigurationProperty(
                alarms=[
                    sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=a.alarm_name)
                    for a in component_alarms
                ]
            )
            if component_alarms
            else None,
        )

    def _scale_copies(
        self, scope: Construct, resource: sagemaker.CfnInferenceComponent, name: str, scaling: CopyScaling
    ) -> None:
        """Copy-count target tracking, and (minimum 0) the step policy that adds the first copy back.

        L1 for the service-linked role, as in :meth:`EndpointAutoScaling.bind`.
        """
        target = scalable_target(
            scope,
            resource_id=f"inference-component/{name}",
            dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=scaling.min_copies,
            max_capacity=scaling.max_copies,
        )
        target.node.add_dependency(resource)
        appscaling.CfnScalingPolicy(
            scope,
            "ConcurrencyScaling",
            policy_name=f"{name}-concurrent-requests-per-copy",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=scaling.target_concurrent_requests_per_copy,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type=_COPY_METRIC
                ),
                scale_in_cooldown=int(scaling.scale_in_cooldown.to_seconds()),
                scale_out_cooldown=int(scaling.scale_out_cooldown.to_seconds()),
            ),
        )
        if scaling.min_copies > 0:
            return
        # AWS's recipe: a copy when a request found none (NoCapacityInvocationFailures, Sum over a
        # minute; ChangeInCapacity +1, aggregation Maximum, cooldown 60).
        wake_from_zero(
            scope,
            target=target,
            policy_name=f"{name}-no-capacity",
            alarm_id="NoCapacityAlarm",
            description=f"{name}: a request found no copy of the model; adds one",
            metric_name="NoCapacityInvocationFailures",
            dimension=("InferenceComponentName", name),
            statistic="Sum",
            aggregation="Maximum",
            cooldown=60,
            evaluation_periods=1,
        )

    def _component_alarms(
        self, scope: Construct, name: str, options: EndpointAlarms
    ) -> list[cloudwatch.Alarm]:
        def metric(metric_name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=metric_name,
                dimensions_map={"InferenceComponentName": name},
                statistic=statistic,
                period=period,
            )

        return [
            threshold_alarm(
                scope,
                "Invocation5XXErrorsAlarm",
                description=f"{name}: the model container returned 5XX errors",
                metric=metric("Invocation5XXErrors", "Sum", Duration.minutes(5)),
                threshold=options.invocation_5xx_errors,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                topic=self.alarm_topic,
            ),
            threshold_alarm(
                scope,
                "ModelLatencyAlarm",
                description=f"{name}: p90 model latency above {options.model_latency_p90_ms} ms",
                metric=metric("ModelLatency", "p90", Duration.minutes(1)),
                threshold=options.model_latency_p90_ms * 1000,  # microseconds
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                topic=self.alarm_topic,
            ),
        ]


def fleet_problems(initial: int, minimum: int, maximum: int, routing_strategy: str) -> list[Problem]:
    """Managed instance scaling and routing as CreateEndpointConfig checks them."""
    problems = []
    if not (0 <= minimum <= initial <= maximum) or initial < 1:
        problems.append(
            Problem(
                f"instances: min_instances={minimum}, initial_instance_count={initial}, max_instances={maximum}; "
                "need 0 <= min_instances <= initial_instance_count <= max_instances, and 1 or more at creation.",
                setting="max_instances",
                value=maximum,
            )
        )
    strategies = enum_values("RoutingStrategy")
    if not Token.is_unresolved(routing_strategy) and routing_strategy not in strategies:
        problems.append(
            Problem(
                f"routing_strategy={routing_strategy!r}: use one of {', '.join(strategies)}.",
                setting="routing_strategy",
                value=routing_strategy,
            )
        )
    return problems


def component_problems(component: ComponentSizing, instance: InstanceType | None) -> list[Problem]:
    """One component's names, sizes and startup limits, and whether a copy fits on an instance."""
    label = f"component {component.name!r}"
    problems = []
    violation = member_rule("CreateInferenceComponentInput", "InferenceComponentName").violation(
        component.name
    )
    if violation:
        problems.append(
            Problem(f"{label}: the name {violation}; use letters, digits and hyphens.", setting="components")
        )
    memory = number_rule("InferenceComponentComputeResourceRequirements", "MinMemoryRequiredInMb")
    if not memory.contains(component.memory_mb):
        problems.append(
            Problem(
                f"{label}: memory_mb={component.memory_mb}; use {memory.describe()} MB.", setting="memory_mb"
            )
        )
    cores = number_rule("InferenceComponentComputeResourceRequirements", "NumberOfCpuCoresRequired")
    if component.cpu_cores is not None and not cores.contains(component.cpu_cores):
        problems.append(
            Problem(f"{label}: cpu_cores={component.cpu_cores}; use {cores.describe()}.", setting="cpu_cores")
        )
    if component.copies < 0:
        problems.append(Problem(f"{label}: copies={component.copies}; use 0 or more.", setting="copies"))
    if component.scaling is not None:
        problems += component.scaling.problems(label, component.copies)
    if len(component.environment or {}) > MAX_COMPONENT_ENVIRONMENT:
        problems.append(
            Problem(
                f"{label}: {len(component.environment)} environment variables; an inference component takes at "
                f"most {MAX_COMPONENT_ENVIRONMENT}. Move configuration into the model archive.",
                setting="environment",
            )
        )
    for key, value in (
        ("model_data_download_timeout", component.model_data_download_timeout),
        ("container_startup_timeout", component.container_startup_timeout),
    ):
        rule = number_rule("InferenceComponentStartupParameters", "ModelDataDownloadTimeoutInSeconds")
        if value is not None and not rule.contains(value.to_seconds()):
            problems.append(
                Problem(
                    f"{label}: {key}={value.to_seconds():g} s; use {rule.describe()} seconds.", setting=key
                )
            )
    if instance is None:
        return problems
    accelerators = component.accelerators_on(instance)
    available = instance.accelerator_count
    if accelerators is not None:
        if not instance.is_accelerated:
            problems.append(
                Problem(
                    f"{label}: accelerators={accelerators}, but {instance.name} has no accelerator. Drop "
                    "accelerators, or use an accelerated instance type.",
                    setting="accelerators",
                    value=accelerators,
                )
            )
        elif accelerators < 1:
            problems.append(
                Problem(f"{label}: accelerators={accelerators}; use 1 or more.", setting="accelerators")
            )
        elif available is not None and accelerators > available and _may_count_cores(instance, accelerators):
            pass  # warned about by the construct: the unit may be NeuronCores
        elif available is not None and accelerators > available:
            problems.append(
                Problem(
                    f"{label}: each copy asks for {accelerators} {_unit(instance)}, but {instance.name} has "
                    f"{available}. Ask for at most {available}, or use a larger instance type.",
                    setting="accelerators",
                    value=accelerators,
                )
            )
    specs = instance_specs(instance)
    if specs is not None:
        vcpus, memory_gib = specs
        if component.cpu_cores is not None and component.cpu_cores > vcpus:
            problems.append(
                Problem(
                    f"{label}: each copy asks for {component.cpu_cores} CPU cores, but {instance.name} has {vcpus} "
                    "vCPUs. Ask for fewer, or use a larger instance type.",
                    setting="cpu_cores",
                    value=component.cpu_cores,
                )
            )
        if component.memory_mb > memory_gib * 1024:
            problems.append(
                Problem(
                    f"{label}: each copy asks for {component.memory_mb} MB of memory, but {instance.name} has "
                    f"{memory_gib} GiB. Ask for less, or use a larger instance type.",
                    setting="memory_mb",
                    value=component.memory_mb,
                )
            )
    return problems


def placement_problems(
    components: Sequence[ComponentSizing], instance: InstanceType | None, max_instances: int
) -> list[Problem]:
    """Whether the components' initial copies fit on ``max_instances`` instances of the type."""
    if instance is None or not components:
        return []
    problems = []
    capacity = {"accelerators": (instance.accelerator_count, _unit(instance))}
    specs = instance_specs(instance)
    if specs is not None:
        capacity["cpu_cores"] = (specs[0], "vCPUs")
        capacity["memory_mb"] = (specs[1] * 1024, "MB of memory")
    for resource, (per_instance, unit) in capacity.items():
        if per_instance is None:
            continue
        per_copy = [
            (
                {
                    "accelerators": component.accelerators_on(instance),
                    "cpu_cores": component.cpu_cores,
                    "memory_mb": component.memory_mb,
                }[resource]
                or 0,
                component.copies,
            )
            for component in components
        ]
        if any(each > per_instance for each, _ in per_copy):
            continue  # a copy that fits no instance is reported on its own component
        wanted = sum(each * copies for each, copies in per_copy)
        if wanted > per_instance * max_instances:
            problems.append(
                Problem(
                    f"the components' initial copies need {wanted:g} {unit} in all, but {max_instances} "
                    f"{instance.name} instance(s) have {per_instance * max_instances:g} {unit}. Raise max_instances, "
                    "start fewer copies, or use a larger instance type.",
                    setting="max_instances",
                    value=max_instances,
                )
            )
    return problems


# NeuronCores per Neuron device (chip), from the AWS Neuron architecture docs: Inferentia2 "each with
# two NeuronCore-v2 cores", Trainium "each Trainium include 2 x NeuronCore-v2", "Every Trainium2 chip
# contains eight NeuronCore-V3 cores".
NEURON_CORES_PER_DEVICE = {"inf2": 2, "trn1": 2, "trn1n": 2, "trn2": 8}


def _may_count_cores(instance: InstanceType, accelerators: int) -> bool:
    """AWS documents ``NumberOfAcceleratorDevicesRequired`` as "accelerators", and names a Neuron
    chip a device; whether it counts chips or NeuronCores is not written down. A request above the
    chips but within the cores is warned about, not refused."""
    cores = NEURON_CORES_PER_DEVICE.get(instance.family)
    return (
        cores is not None
        and instance.accelerator_count is not None
        and accelerators <= instance.accelerator_count * cores
    )


def _unit(instance: InstanceType) -> str:
    if instance.accelerator is AcceleratorKind.NVIDIA_GPU:
        return "GPUs"
    if instance.accelerator in (AcceleratorKind.AWS_INFERENTIA, AcceleratorKind.AWS_TRAINIUM):
        return "Neuron devices"
    return "accelerators"

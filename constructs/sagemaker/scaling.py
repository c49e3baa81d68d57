"""Target-tracking auto scaling of a SageMaker production variant's instance count."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs import Construct
from mlblueprints.constructs.errors import Problem

__all__ = [
    "MAX_INSTANCES_PER_VARIANT",
    "MAX_TARGET_INVOCATIONS",
    "EndpointAutoScaling",
    "scalable_target",
    "variant_scalable_target",
    "wake_from_zero",
]

# The hard ceiling this catalog accepts for one variant. SageMaker's default account quota for
# instances per endpoint is far lower (see Service Quotas, "Number of instances across all
# production variants"); a larger fleet needs a quota increase and belongs in several endpoints.
MAX_INSTANCES_PER_VARIANT = 1000
# Invocations per instance per minute: far above what any model serves, and below float noise.
MAX_TARGET_INVOCATIONS = 1_000_000
# Application Auto Scaling cooldowns are whole seconds, at most one day in this catalog.
MAX_COOLDOWN = Duration.days(1)


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

    def capacities(self, initial_instance_count: int) -> tuple[int, int]:
        """The (min, max) the variant scales between, defaults applied."""
        min_capacity = self.min_capacity if self.min_capacity is not None else initial_instance_count
        max_capacity = self.max_capacity if self.max_capacity is not None else 2 * min_capacity
        return min_capacity, max_capacity

    def problems(self, initial_instance_count: int) -> list[Problem]:
        """What Application Auto Scaling would refuse, each with what to use instead."""
        problems = []
        min_capacity, max_capacity = self.capacities(initial_instance_count)
        if self.min_capacity is not None and self.min_capacity < 1:
            problems.append(
                Problem(
                    f"min_capacity={self.min_capacity}: SageMaker variants scale between 1 and max_capacity "
                    "instances; use 1 or more.",
                    setting="min_capacity",
                    value=self.min_capacity,
                )
            )
        if self.max_capacity is not None and not 1 <= self.max_capacity <= MAX_INSTANCES_PER_VARIANT:
            problems.append(
                Problem(
                    f"max_capacity={self.max_capacity}: use 1 to {MAX_INSTANCES_PER_VARIANT} instances per "
                    "variant (and an instance quota that allows it).",
                    setting="max_capacity",
                    value=self.max_capacity,
                )
            )
        elif max_capacity < min_capacity:
            problems.append(
                Problem(
                    f"max_capacity={max_capacity} is below min_capacity={min_capacity}; use a max_capacity of "
                    "at least min_capacity.",
                    setting="max_capacity",
                    value=max_capacity,
                )
            )
        if self.min_capacity is not None and initial_instance_count < self.min_capacity:
            problems.append(
                Problem(
                    f"initial_instance_count={initial_instance_count} is below min_capacity={self.min_capacity}; "
                    "start with at least min_capacity instances.",
                    setting="initial_instance_count",
                    value=initial_instance_count,
                )
            )
        target = self.target_invocations_per_instance
        if not 0 < target <= MAX_TARGET_INVOCATIONS:
            problems.append(
                Problem(
                    f"target_invocations_per_instance={target}: the target is invocations per instance per "
                    "minute, a positive number (at most 1,000,000); measure your model's peak and use 70% of it.",
                    setting="target_invocations_per_instance",
                    value=target,
                )
            )
        for label, cooldown in (
            ("scale_in_cooldown", self.scale_in_cooldown),
            ("scale_out_cooldown", self.scale_out_cooldown),
        ):
            seconds = cooldown.to_seconds()
            if not 0 <= seconds <= MAX_COOLDOWN.to_seconds():
                problems.append(
                    Problem(f"{label}={seconds} s: use 0 s to 1 day.", setting=label, value=seconds)
                )
        return problems

    def bind(
        self, scope: Construct, *, endpoint_name: str, variant_name: str, initial_instance_count: int
    ) -> tuple[appscaling.CfnScalableTarget, appscaling.CfnScalingPolicy]:
        """Create the scalable target (``ScalableTarget``) and policy (``InvocationsScaling``) in ``scope``.

        L1 on purpose: without a RoleARN, Application Auto Scaling uses its SageMaker service-linked
        role; the L2 ScalableTarget would create a role that cannot call SageMaker. Both IDs are
        stable on purpose too: a replaced target or policy is registered under the same resource ID
        or policy name first and then deleted, which would remove the live registration.
        """
        target = variant_scalable_target(
            scope, endpoint_name, variant_name, *self.capacities(initial_instance_count)
        )
        policy = appscaling.CfnScalingPolicy(
            scope,
            "InvocationsScaling",
            policy_name=f"{endpoint_name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=self.target_invocations_per_instance,
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                scale_in_cooldown=int(self.scale_in_cooldown.to_seconds()),
                scale_out_cooldown=int(self.scale_out_cooldown.to_seconds()),
            ),
        )
        return target, policy


def scalable_target(
    scope: Construct, *, resource_id: str, dimension: str, min_capacity: int, max_capacity: int
) -> appscaling.CfnScalableTarget:
    """A SageMaker scalable target (``ScalableTarget``) registered with the service-linked role.

    L1 on purpose: without a RoleARN, Application Auto Scaling uses its SageMaker service-linked
    role; the L2 ScalableTarget would create a role that cannot call SageMaker.
    """
    return appscaling.CfnScalableTarget(
        scope,
        "ScalableTarget",
        service_namespace="sagemaker",
        scalable_dimension=dimension,
        resource_id=resource_id,
        min_capacity=min_capacity,
        max_capacity=max_capacity,
    )


def variant_scalable_target(
    scope: Construct, endpoint_name: str, variant_name: str, min_capacity: int, max_capacity: int
) -> appscaling.CfnScalableTarget:
    """The instance count of one production variant, as a scalable target."""
    return scalable_target(
        scope,
        resource_id=f"endpoint/{endpoint_name}/variant/{variant_name}",
        dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=min_capacity,
        max_capacity=max_capacity,
    )


def wake_from_zero(
    scope: Construct,
    *,
    target: appscaling.CfnScalableTarget,
    policy_name: str,
    alarm_id: str,
    description: str,
    metric_name: str,
    dimension: tuple[str, str],
    statistic: str,
    aggregation: str,
    cooldown: int,
    evaluation_periods: int,
) -> appscaling.CfnScalingPolicy:
    """A step policy (``WakeFromZero``) that adds one unit when ``metric_name`` reaches 1, and its alarm.

    Target tracking never scales out from zero: nothing is there to report the tracked metric. AWS's
    scale-to-zero recipes (async endpoints, inference components) add this step policy for the way back.
    """
    wake = appscaling.CfnScalingPolicy(
        scope,
        "WakeFromZero",
        policy_name=policy_name,
        policy_type="StepScaling",
        scaling_target_id=target.ref,
        step_scaling_policy_configuration=appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
            adjustment_type="ChangeInCapacity",
            metric_aggregation_type=aggregation,
            cooldown=cooldown,
            step_adjustments=[
                appscaling.CfnScalingPolicy.StepAdjustmentProperty(
                    metric_interval_lower_bound=0, scaling_adjustment=1
                )
            ],
        ),
    )
    cloudwatch.CfnAlarm(
        scope,
        alarm_id,
        alarm_description=description,
        namespace="AWS/SageMaker",
        metric_name=metric_name,
        dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name=dimension[0], value=dimension[1])],
        statistic=statistic,
        period=60,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
        threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        treat_missing_data="missing",
        alarm_actions=[wake.ref],
    )
    return wake

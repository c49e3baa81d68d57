"""Asynchronous inference: a queue in front of the instances, results in S3, news on SNS, scale to zero.

Requests are queued by SageMaker (``InvokeEndpointAsync`` with an input object in S3) and answered
into the output bucket; success and error notifications go to two encrypted SNS topics. The fleet
scales on the backlog per instance down to zero instances, and a step policy on
``HasBacklogWithoutCapacity`` wakes it from zero: target tracking alone scales out from zero only
once the backlog exceeds its target ("Autoscale an asynchronous endpoint",
https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html, from which the
target metric, the step policy and its alarm are taken).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_s3 as s3

from constructs import Construct
from mlblueprints.constructs._private.service_models import number_rule
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.scaling import (
    MAX_INSTANCES_PER_VARIANT,
    variant_scalable_target,
    wake_from_zero,
)

__all__ = ["AsyncInference", "BacklogScaling"]

MAX_BACKLOG_AGE_S = (
    6 * 3600
)  # SageMaker keeps an async request at most 6 hours (InvocationTimeoutSeconds max)


@dataclass(frozen=True)
class AsyncInference:
    """Where results and failures go, and how many requests one instance takes at once.

    :param output_bucket: default: a KMS-encrypted, versioned, retained bucket created with the
        endpoint; results under ``async-output/``, failures under ``async-failures/``, inputs
        expected under ``async-input/``.
    :param max_concurrent_invocations_per_instance: default: SageMaker chooses (1-1000).
    :param include_response_in_notifications: put responses of up to 128 KB in the SNS messages.
    :param oldest_request_age_s: alarm when the oldest queued request is older than this (seconds);
        give it the time a cold fleet needs to start from zero.
    """

    output_bucket: s3.IBucket | None = None
    max_concurrent_invocations_per_instance: int | None = None
    include_response_in_notifications: bool = False
    oldest_request_age_s: int = 1800

    def problems(self) -> list[Problem]:
        problems = []
        rule = number_rule("AsyncInferenceClientConfig", "MaxConcurrentInvocationsPerInstance")
        value = self.max_concurrent_invocations_per_instance
        if value is not None and not rule.contains(value):
            problems.append(
                Problem(
                    f"max_concurrent_invocations_per_instance={value}: use {rule.describe()}, or leave it "
                    "unset for SageMaker to choose.",
                    setting="max_concurrent_invocations_per_instance",
                    value=value,
                )
            )
        if not 60 <= self.oldest_request_age_s <= MAX_BACKLOG_AGE_S:
            problems.append(
                Problem(
                    f"oldest_request_age_s={self.oldest_request_age_s}: use 60 to {MAX_BACKLOG_AGE_S} seconds "
                    "(requests expire after at most 6 hours in the queue).",
                    setting="oldest_request_age_s",
                    value=self.oldest_request_age_s,
                )
            )
        return problems


@dataclass(frozen=True)
class BacklogScaling:
    """Target tracking on ``ApproximateBacklogSizePerInstance``, down to ``min_capacity`` (0 by default).

    :param min_capacity: 0 lets the endpoint scale to zero instances when the queue is empty.
    :param max_capacity: default: twice the initial instance count.
    :param target_backlog_per_instance: queued requests per instance to hold (AWS's example: 5).
    """

    min_capacity: int = 0
    max_capacity: int | None = None
    target_backlog_per_instance: float = 5.0
    scale_in_cooldown: Duration = Duration.minutes(10)
    scale_out_cooldown: Duration = Duration.minutes(5)

    def capacities(self, initial_instance_count: int) -> tuple[int, int]:
        max_capacity = (
            self.max_capacity if self.max_capacity is not None else max(2 * initial_instance_count, 1)
        )
        return self.min_capacity, max_capacity

    def problems(self, initial_instance_count: int) -> list[Problem]:
        problems = []
        min_capacity, max_capacity = self.capacities(initial_instance_count)
        if min_capacity < 0:
            problems.append(
                Problem(
                    f"min_capacity={min_capacity}: use 0 (scale to zero) or more.",
                    setting="min_capacity",
                    value=min_capacity,
                )
            )
        if not 1 <= max_capacity <= MAX_INSTANCES_PER_VARIANT:
            problems.append(
                Problem(
                    f"max_capacity={max_capacity}: use 1 to {MAX_INSTANCES_PER_VARIANT} instances.",
                    setting="max_capacity",
                    value=max_capacity,
                )
            )
        elif max_capacity < min_capacity:
            problems.append(
                Problem(
                    f"max_capacity={max_capacity} is below min_capacity={min_capacity}; raise max_capacity.",
                    setting="max_capacity",
                    value=max_capacity,
                )
            )
        if initial_instance_count > max_capacity:
            problems.append(
                Problem(
                    f"initial_instance_count={initial_instance_count} is above max_capacity={max_capacity}; "
                    "start with at most max_capacity instances.",
                    setting="initial_instance_count",
                    value=initial_instance_count,
                )
            )
        if not 0 < self.target_backlog_per_instance <= 1_000_000:
            problems.append(
                Problem(
                    f"target_backlog_per_instance={self.target_backlog_per_instance}: queued requests per "
                    "instance, above 0 (AWS's example uses 5).",
                    setting="target_backlog_per_instance",
                    value=self.target_backlog_per_instance,
                )
            )
        return problems

    def bind(
        self, scope: Construct, *, endpoint_name: str, variant_name: str, initial_instance_count: int
    ) -> tuple[appscaling.CfnScalableTarget, appscaling.CfnScalingPolicy]:
        """The scalable target, the backlog target-tracking policy, and the wake-from-zero step policy.

        L1 for the reason :meth:`EndpointAutoScaling.bind` gives: the SageMaker service-linked role.
        """
        target = variant_scalable_target(
            scope, endpoint_name, variant_name, *self.capacities(initial_instance_count)
        )
        backlog = appscaling.CfnScalingPolicy(
            scope,
            "BacklogScaling",
            policy_name=f"{endpoint_name}-backlog-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=self.target_backlog_per_instance,
                customized_metric_specification=appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metric_name="ApproximateBacklogSizePerInstance",
                    namespace="AWS/SageMaker",
                    dimensions=[
                        appscaling.CfnScalingPolicy.MetricDimensionProperty(
                            name="EndpointName", value=endpoint_name
                        )
                    ],
                    statistic="Average",
                ),
                scale_in_cooldown=int(self.scale_in_cooldown.to_seconds()),
                scale_out_cooldown=int(self.scale_out_cooldown.to_seconds()),
            ),
        )
        # AWS's recipe: one instance when the queue holds requests and none is running
        # (HasBacklogWithoutCapacity, Average, two 1-minute periods; ChangeInCapacity +1, cooldown 300).
        wake_from_zero(
            scope,
            target=target,
            policy_name=f"{endpoint_name}-has-backlog-without-capacity",
            alarm_id="HasBacklogWithoutCapacityAlarm",
            description=f"{endpoint_name}: requests are queued and no instance is running; adds one",
            metric_name="HasBacklogWithoutCapacity",
            dimension=("EndpointName", endpoint_name),
            statistic="Average",
            aggregation="Average",
            cooldown=300,
            evaluation_periods=2,
        )
        return target, backlog

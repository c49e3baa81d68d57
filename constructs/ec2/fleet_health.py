"""Health alarms and idle scale-in of an accelerated fleet, on the metrics its instances publish.

The metrics come from two places:

- EC2: ``StatusCheckFailed`` by ``AutoScalingGroupName`` (EC2 aggregates an Auto Scaling group's
  instances under that dimension when they have detailed monitoring, which the fleet turns on), and
  the group metrics Auto Scaling publishes (``GroupInServiceInstances``).
- The fleet's accelerator health reporter (see ``monitoring_agent``): ``AcceleratorErrors``,
  ``AcceleratorsMissing`` and ``AcceleratorUtilization`` by ``Fleet``.

Every alarm tells the topic when it fires and when it recovers. CloudWatch cannot publish to a topic
encrypted with SNS's AWS managed key, so the topic is the stack's customer-managed one.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs.monitoring.alarms import threshold_alarm

__all__ = ["IDLE_PERIOD", "IDLE_UTILIZATION_PERCENT", "FleetAlarms", "FleetMetrics"]

# Idle is judged on 5-minute periods; an instance below 1% accelerator utilization is idle.
IDLE_PERIOD = Duration.minutes(5)
IDLE_UTILIZATION_PERCENT = 1
# Instances boot, install nothing and start the reporter within minutes; three 5-minute periods of no
# report from a group with instances in service means the reporter is not running.
_SILENT_PERIODS = 3


@dataclass(frozen=True)
class FleetMetrics:
    """The metrics of one fleet: its group and the reporter's namespace and ``Fleet`` dimension."""

    group_name: str
    namespace: str
    fleet: str

    def reporter(
        self, metric_name: str, *, statistic: str, period: Duration = IDLE_PERIOD
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=metric_name,
            dimensions_map={"Fleet": self.fleet},
            statistic=statistic,
            period=period,
        )

    def status_check_failed(self) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name="StatusCheckFailed",
            dimensions_map={"AutoScalingGroupName": self.group_name},
            statistic="Maximum",
            period=Duration.minutes(1),
        )

    def in_service(self) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/AutoScaling",
            metric_name="GroupInServiceInstances",
            dimensions_map={"AutoScalingGroupName": self.group_name},
            statistic="Minimum",
            period=IDLE_PERIOD,
        )


class FleetAlarms(Construct):
    """Alarms on a fleet's failed status checks, accelerator errors, missing devices and a silent reporter.

    :param missing_devices: alarm on ``AcceleratorsMissing`` (only when the type's device count is known).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        metrics: FleetMetrics,
        topic: sns.ITopic,
        missing_devices: bool,
    ) -> None:
        super().__init__(scope, id)
        self.status_check = threshold_alarm(
            self,
            "StatusCheckFailed",
            metric=metrics.status_check_failed(),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3,
            description="An instance of the fleet fails its EC2 status checks (system or instance) for 3 minutes.",
            topic=topic,
        )
        self.accelerator_errors = threshold_alarm(
            self,
            "AcceleratorErrors",
            metric=metrics.reporter("AcceleratorErrors", statistic="Sum"),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            description="An instance reported accelerator errors: an NVIDIA Xid event or uncorrected ECC error, or "
            "a Neuron hardware or uncorrected ECC error. The InstanceId dimension of AcceleratorErrors names it.",
            topic=topic,
        )
        self.missing_devices = None
        if missing_devices:
            self.missing_devices = threshold_alarm(
                self,
                "AcceleratorsMissing",
                metric=metrics.reporter("AcceleratorsMissing", statistic="Maximum"),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=2,
                description="An instance's driver sees fewer GPUs or Neuron devices than its type has, for 10 "
                "minutes. The InstanceId dimension of AcceleratorsMissing names it; replace the instance.",
                topic=topic,
            )
        # Instances in service, but no report from any of them: the reporter is not running (or cannot
        # reach CloudWatch), and the other reporter alarms would stay quiet.
        silent = cloudwatch.MathExpression(
            # Compared with another series, a missing value counts as 0 ("Comparison and logical operators",
            # CloudWatch metric math); a reporter that never published has no series to FILL at all.
            expression="IF(inService > 0 AND FILL(reports, 0) < inService * 0 + 1, 1, 0)",
            using_metrics={
                "inService": metrics.in_service(),
                "reports": metrics.reporter("AcceleratorErrors", statistic="SampleCount"),
            },
            period=IDLE_PERIOD,
            label="Instances in service without accelerator reports",
        )
        self.reporter_silent = threshold_alarm(
            self,
            "ReporterSilent",
            metric=silent,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=_SILENT_PERIODS,
            description="The fleet has instances in service but none has reported accelerator health for 15 "
            "minutes: the accelerator-health service is not running, or cannot reach CloudWatch.",
            topic=topic,
        )

    @property
    def alarms(self) -> list[cloudwatch.Alarm]:
        return [
            alarm
            for alarm in (
                self.status_check,
                self.accelerator_errors,
                self.missing_devices,
                self.reporter_silent,
            )
            if alarm is not None
        ]


def scale_to_zero_when_idle(
    scope: Construct, *, group: autoscaling.IAutoScalingGroup, metrics: FleetMetrics, idle_minutes: int
) -> cloudwatch.Alarm:
    """Set the group's capacity to 0 once no instance has used its accelerators for ``idle_minutes``.

    Judged on the highest utilization of any instance, so one busy instance keeps the fleet. A group
    whose minimum is above 0 (a schedule may raise it) stays at its minimum. Instances that keep
    starting from zero come back with the group's schedules or a change of desired capacity.
    """
    action = autoscaling.StepScalingAction(
        scope,
        "ScaleToZeroWhenIdle",
        auto_scaling_group=group,
        adjustment_type=autoscaling.AdjustmentType.EXACT_CAPACITY,
    )
    action.add_adjustment(adjustment=0, upper_bound=0)
    alarm = cloudwatch.Alarm(
        scope,
        "Idle",
        alarm_description=f"No instance of the fleet used its accelerators (above {IDLE_UTILIZATION_PERCENT}%) "
        f"for {idle_minutes} minutes: the group scales to zero.",
        metric=metrics.reporter("AcceleratorUtilization", statistic="Maximum"),
        threshold=IDLE_UTILIZATION_PERCENT,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluation_periods=idle_minutes // 5,
        # No data: no instance runs, nothing to scale in.
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.AutoScalingAction(action))
    return alarm

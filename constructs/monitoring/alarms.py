"""Metric and alarm factories: every alarm notifies its topic on ALARM and on OK."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns

from constructs import Construct

__all__ = ["sagemaker_variant_metric", "threshold_alarm"]


def sagemaker_variant_metric(
    endpoint_name: str,
    variant_name: str,
    metric_name: str,
    *,
    statistic: str = "Average",
    period: Duration = Duration.minutes(1),
    namespace: str = "AWS/SageMaker",
) -> cloudwatch.Metric:
    """A metric of one production variant: ``Invocations``, ``ModelLatency``, ``Invocation5XXErrors``..."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant_name},
        statistic=statistic,
        period=period,
    )


def threshold_alarm(
    scope: Construct,
    id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    comparison_operator: cloudwatch.ComparisonOperator,
    evaluation_periods: int,
    description: str,
    topic: sns.ITopic,
    treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
) -> cloudwatch.Alarm:
    """An alarm that tells ``topic`` when it fires and when it recovers.

    Missing data is not breaching by default: an endpoint with no traffic is not failing.
    """
    alarm = cloudwatch.Alarm(
        scope,
        id,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=evaluation_periods,
        comparison_operator=comparison_operator,
        treat_missing_data=treat_missing_data,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    alarm.add_ok_action(cw_actions.SnsAction(topic))
    return alarm

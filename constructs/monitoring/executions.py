"""A Step Functions state machine that an EventBridge rule starts: the rule's role, and an alarm on failures."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import acknowledge_inline_policy
from mlblueprints.constructs.monitoring.alarms import threshold_alarm
from mlblueprints.constructs.security.encryption_key import grant_state_machine_key

__all__ = ["watch_event_started_executions"]


def watch_event_started_executions(
    scope: Construct,
    state_machine: sfn.StateMachine,
    *,
    encryption_key: kms.IKey,
    topic: sns.ITopic,
    description: str,
) -> cloudwatch.Alarm:
    """Finish the wiring of a state machine an EventBridge rule targets, once the rule exists.

    The role aws-cdk-lib makes for the rule (``EventsRole``) may use the key, which encrypts the state machine,
    to start executions, and its inline policy is acknowledged; any failed execution in five minutes alarms to
    ``topic`` (``ExecutionsFailed`` in ``scope``), ``description`` saying what failed.
    """
    events_role = state_machine.node.find_child("EventsRole")
    grant_state_machine_key(encryption_key, events_role, state_machine.state_machine_arn)
    acknowledge_inline_policy(events_role)
    return threshold_alarm(
        scope,
        "ExecutionsFailed",
        metric=state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        description=description,
        topic=topic,
    )

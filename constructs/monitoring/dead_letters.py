"""Where EventBridge puts the events it could not deliver, and an alarm that says so."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge
from mlblueprints.constructs.monitoring.alarms import threshold_alarm
from mlblueprints.constructs.security.encryption_key import allow_eventbridge

__all__ = ["EventDeadLetters", "rule_to_topic"]


class EventDeadLetters(Construct):
    """An encrypted, SSL-only queue for undelivered events (kept 14 days, SQS's most), alarmed on arrival."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        allow_eventbridge(encryption_key)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        why = (
            "This queue is itself the dead-letter queue of EventBridge targets (set on the targets, where the "
            "rules cannot see it); a queue behind it would hold what nobody reads, and the alarm reports each arrival."
        )
        for rule, packs in (
            ("SQS3", (Pack.AWS_SOLUTIONS,)),
            ("SQSRedrivePolicy", (Pack.SERVERLESS,)),
            ("sqs_dlq_check", (Pack.CONTROL_TOWER,)),
        ):
            acknowledge(self.queue, rule, topic="a dead-letter queue of its own", reason=why, packs=packs)
        self.alarm = threshold_alarm(
            self,
            "Arrived",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            description="EventBridge could not deliver an event (an object's analysis did not start, or a "
            "notification was lost); the queue holds it for 14 days.",
            topic=topic,
        )


def rule_to_topic(
    scope: Construct,
    id: str,
    *,
    description: str,
    event_pattern: events.EventPattern,
    topic: sns.ITopic,
    topic_key: kms.IKey | None,
    dead_letter_queue: sqs.IQueue | None,
) -> events.Rule:
    """An EventBridge rule that publishes its events to an encrypted ``topic`` (the key lets EventBridge
    encrypt, when it is one made here), sending what it cannot deliver to ``dead_letter_queue``."""
    if topic_key is not None:
        allow_eventbridge(topic_key)
    return events.Rule(
        scope,
        id,
        description=description,
        event_pattern=event_pattern,
        targets=[targets.SnsTopic(topic, dead_letter_queue=dead_letter_queue)],
    )

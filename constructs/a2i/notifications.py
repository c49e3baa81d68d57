"""Tell a topic when human loops finish: A2I's status-change events, through EventBridge.

A2I sends ``SageMaker A2I HumanLoop Status Change`` events (source ``aws.sagemaker``) when a loop is
``Completed``, ``Failed`` or ``Stopped`` ("Use Amazon CloudWatch Events in Amazon Augmented AI",
SageMaker Developer Guide); the rule keeps those of the given flow definitions. EventBridge publishes
to an encrypted topic only if the key lets it encrypt: the statement is added to a key made here.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from mlblueprints.constructs.monitoring.dead_letters import rule_to_topic

__all__ = ["HumanLoopNotifications"]


class HumanLoopNotifications(Construct):
    """An EventBridge rule from the flow definitions' human-loop status changes to ``topic``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        flow_definition_arns: Sequence[str],
        topic: sns.ITopic,
        topic_key: kms.IKey | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.rule = rule_to_topic(
            self,
            "Rule",
            description="A2I human loops of this stack's flow definitions: Completed, Failed or Stopped",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker A2I HumanLoop Status Change"],
                detail={"flowDefinitionArn": list(flow_definition_arns)},
            ),
            topic=topic,
            topic_key=topic_key,
            dead_letter_queue=dead_letter_queue,
        )

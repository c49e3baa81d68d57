"""An encrypted SNS topic that CloudWatch alarms of this account may publish to."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge
from mlblueprints.constructs.security.encryption_key import allow_cloudwatch_alarms

__all__ = ["AlarmTopic", "subscribe_email"]


class AlarmTopic(Construct):
    """KMS-encrypted, SSL-only topic for alarm and OK notifications; subscribe to ``topic``.

    ``enforce_ssl`` gives the topic a resource policy, which replaces SNS's default one, so CloudWatch
    gets its own statement, limited to alarms of this account. The key's policy gets the statement
    CloudWatch needs to encrypt what it publishes (for a key created in CDK).
    """

    def __init__(self, scope: Construct, id: str, *, encryption_key: kms.IKey, display_name: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        # "Default" keeps the topic's logical ID what it was before this construct wrapped it.
        self.topic = sns.Topic(
            self, "Default", display_name=display_name, master_key=encryption_key, enforce_ssl=True
        )
        self.key_policy_updated = allow_cloudwatch_alarms(encryption_key)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )

    @property
    def topic_arn(self) -> str:
        return self.topic.topic_arn


def subscribe_email(topic: sns.ITopic, email: str, *, record: str) -> sns.Subscription:
    """Subscribe ``email`` to ``topic`` (SNS mails it a link to confirm).

    ``record`` says where what the messages announce stays recorded whatever SNS delivers, which is
    why the subscription has no dead-letter queue (the Serverless pack's redrive rule).
    """
    subscription = topic.add_subscription(subscriptions.EmailSubscription(email))
    acknowledge(
        subscription,
        "SNSRedrivePolicy",
        topic="dead-letter queue for an e-mail subscription",
        reason=f"{record} whatever SNS delivers; a dead-letter queue of undelivered e-mails would be a "
        "second copy nobody reads.",
        packs=(Pack.SERVERLESS,),
    )
    return subscription

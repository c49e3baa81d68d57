"""Events to an encrypted topic: EventBridge may encrypt with the key, and what it cannot deliver waits
encrypted in a dead-letter queue that alarms on arrival."""

from __future__ import annotations

from aws_cdk import App, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from mlblueprints.constructs.monitoring.dead_letters import EventDeadLetters, rule_to_topic


def _template() -> Template:
    stack = Stack(App(), "Events")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    topic = sns.Topic(stack, "Topic", master_key=key)
    letters = EventDeadLetters(stack, "DeadLetters", encryption_key=key, topic=topic)
    rule_to_topic(
        stack,
        "Rule",
        description="test",
        event_pattern=events.EventPattern(source=["aws.sagemaker"]),
        topic=topic,
        topic_key=key,
        dead_letter_queue=letters.queue,
    )
    return Template.from_stack(stack)


def test_eventbridge_may_encrypt_for_this_account_only():
    template = _template()
    (key,) = template.find_resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (statement,) = [s for s in statements if s.get("Sid") == "AllowEventBridgeToDeliverToEncryptedTargets"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


def test_undelivered_events_wait_encrypted_and_alarm():
    template = _template()
    (queue,) = template.find_resources("AWS::SQS::Queue").values()
    assert queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][1] == "Arn"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1},
    )
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    assert rule["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][1] == "Arn"

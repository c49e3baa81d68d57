"""Blueprint: batch translation of documents in S3 with Amazon Translate."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.translation.settings import TranslationSettings
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.secure_bucket import SecureBucket
from mlblueprints.constructs.translate.batch_translation import BatchTranslation

__all__ = ["TranslationStack"]


class TranslationStack(Stack):
    """The documents and results buckets, the terminology and parallel data, and the batch flow."""

    def __init__(
        self, scope: Construct, id: str, *, settings: TranslationSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints translation: Amazon Translate batches into {', '.join(settings.target_languages)}",
        )
        assert_services_at_deploy(self, "translate", what="Amazon Translate")
        if settings.resource_types():
            assert_resource_types_at_deploy(
                self, *settings.resource_types(), what="Translation with custom terminology or parallel data"
            )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.documents = SecureBucket(self, "Documents", encryption_key=key, removal_policy=removal_policy)
        self.documents.bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.results = SecureBucket(self, "Results", encryption_key=key, removal_policy=removal_policy)
        self.topic = AlarmTopic(self, "Notifications", encryption_key=key, display_name="Translation").topic
        if settings.notification_email:
            subscribe_email(
                self.topic, settings.notification_email, record="Translate keeps each job's details"
            )
        self.translation = BatchTranslation(
            self,
            "Translation",
            input_bucket=self.documents.bucket,
            output_bucket=self.results.bucket,
            encryption_key=key,
            topic=self.topic,
            options=settings.options(),
            terminology_file=settings.terminology_path,
            parallel_data_file=Path(settings.parallel_data_file) if settings.parallel_data_file else None,
            removal_policy=removal_policy,
        )
        CfnOutput(
            self,
            "DocumentBucket",
            value=self.documents.bucket_name,
            description="Put a batch under input/<batch>/, then any object at start/<batch> to translate it",
        )
        CfnOutput(self, "ResultsUri", value=f"s3://{self.results.bucket_name}/output/")
        CfnOutput(self, "StateMachineArn", value=self.translation.state_machine.state_machine_arn)

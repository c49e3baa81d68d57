"""Blueprint: speech from text and SSML in S3 with Amazon Polly, lexicons and speech marks."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.speech.settings import SpeechSettings
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.polly.speech import Speech
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.folder_deployment import deploy_folder
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["SpeechStack"]


class SpeechStack(Stack):
    """The text and results buckets, the lexicons, the synthesis flow, and the shipped SSML templates."""

    def __init__(
        self, scope: Construct, id: str, *, settings: SpeechSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description or f"mlblueprints speech: Amazon Polly ({settings.voice})",
        )
        assert_services_at_deploy(self, "polly", what="Amazon Polly")
        assert_resource_types_at_deploy(self, "AWS::Polly::Lexicon", what="Polly lexicons")
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.texts = SecureBucket(self, "Texts", encryption_key=key, removal_policy=removal_policy)
        self.texts.bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.results = SecureBucket(self, "Results", encryption_key=key, removal_policy=removal_policy)
        self.topic = AlarmTopic(self, "Notifications", encryption_key=key, display_name="Speech").topic
        if settings.notification_email:
            subscribe_email(self.topic, settings.notification_email, record="Polly keeps each task's status")
        self.speech = Speech(
            self,
            "Speech",
            input_bucket=self.texts.bucket,
            output_bucket=self.results.bucket,
            encryption_key=key,
            topic=self.topic,
            options=settings.options(),
            lexicon_files=settings.lexicon_paths,
            removal_policy=removal_policy,
        )
        if settings.ship_templates:
            deployment = deploy_folder(
                self,
                "SsmlTemplates",
                folder=settings.templates_folder,
                bucket=self.texts.bucket,
                prefix="ssml/templates/",
                encryption_key=key,
                removal_policy=removal_policy,
                purpose="polly",
                what="the SSML templates",
            )
            # Spoken once the flow is in place. Under its own prefix: a deployment prunes what it did not
            # ship, so the users' files elsewhere under ssml/ are never touched.
            deployment.node.add_dependency(self.speech)
        CfnOutput(self, "TextBucket", value=self.texts.bucket_name,
                  description="Put text under text/ or SSML under ssml/ to hear it")  # fmt: skip
        CfnOutput(self, "ResultsUri", value=f"s3://{self.results.bucket_name}/",
                  description="audio/, marks/ (speech marks) and manifest/<key>.json")  # fmt: skip

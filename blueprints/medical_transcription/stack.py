"""Blueprint: HIPAA-eligible medical transcription and analysis of audio in S3, with an audit trail."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3

from constructs import Construct
from mlblueprints.blueprints.medical_transcription.settings import (
    MEDICAL_RESOURCE_TYPES,
    MEDICAL_SERVICES,
    MedicalTranscriptionSettings,
)
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.medical.transcription import MedicalTranscription, MedicalVocabulary
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.security.audit_trail import DataEventsTrail
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["MedicalTranscriptionStack"]


class MedicalTranscriptionStack(Stack):
    """Audio and results buckets, the transcription flow, its vocabulary, topic and trail."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: MedicalTranscriptionSettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or "mlblueprints medical transcription: Transcribe Medical and Comprehend Medical on audio in S3",
        )
        what = "Transcribe Medical with Comprehend Medical"
        assert_services_at_deploy(self, *MEDICAL_SERVICES, what=what)
        assert_resource_types_at_deploy(self, *MEDICAL_RESOURCE_TYPES, what=what)
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.audio = SecureBucket(self, "Audio", encryption_key=key, removal_policy=removal_policy)
        # Object Created events go to EventBridge, which starts each file's transcription.
        self.audio.bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.results = SecureBucket(self, "Results", encryption_key=key, removal_policy=removal_policy)
        self.topic = AlarmTopic(
            self, "Notifications", encryption_key=key, display_name="Medical transcription"
        ).topic
        if settings.notification_email:
            subscribe_email(
                self.topic,
                settings.notification_email,
                record="each execution's history in Step Functions keeps why a file failed",
            )
        self.vocabulary = (
            MedicalVocabulary(
                self, "Vocabulary", file=settings.vocabulary_path, language_code=settings.language_code
            )
            if settings.custom_vocabulary
            else None
        )
        self.transcription = MedicalTranscription(
            self,
            "Transcription",
            input_bucket=self.audio.bucket,
            output_bucket=self.results.bucket,
            encryption_key=key,
            topic=self.topic,
            options=settings.options(),
            vocabulary=self.vocabulary,
            analysis_concurrency=settings.analysis_concurrency,
            removal_policy=removal_policy,
        )
        self.trail = None
        if settings.audit_trail:
            buckets: list[s3.IBucket] = [self.audio.bucket, self.results.bucket]
            self.trail = DataEventsTrail(
                self, "AuditTrail", buckets=buckets, encryption_key=key, removal_policy=removal_policy
            )
            CfnOutput(
                self,
                "TrailArn",
                value=self.trail.trail.trail_arn,
                description="S3 data events of both buckets",
            )
        CfnOutput(
            self,
            "AudioBucket",
            value=self.audio.bucket_name,
            description="Put FLAC, MP3, MP4 or WAV recordings here to transcribe them",
        )
        CfnOutput(
            self,
            "ResultsUri",
            value=f"s3://{self.results.bucket_name}/",
            description="transcripts/: Transcribe Medical's transcripts; analysis/: Comprehend Medical's entities and PHI",
        )
        CfnOutput(self, "StateMachineArn", value=self.transcription.state_machine.state_machine_arn)

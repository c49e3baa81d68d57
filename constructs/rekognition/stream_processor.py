"""Face search in live video: a Kinesis video stream in, a Rekognition stream processor, a Kinesis data stream out.

A face search stream processor compares the faces in a Kinesis video stream against a collection and writes
its matches to a Kinesis data stream ("Searching faces in a collection in streaming video", Amazon Rekognition
Developer Guide). The video stream and the data stream are encrypted with the stack's key; the processor's
own ``KmsKeyId`` is left out, because AWS says it is for label detection processors and "should not be used
to create a face search stream processor" (CreateStreamProcessor, Amazon Rekognition API Reference).

The processor's role reads the one video stream (``kinesisvideo:GetDataEndpoint``, ``GetMedia``) and writes
the one data stream (``kinesis:PutRecord``, ``PutRecords``), as the guide's "Giving Amazon Rekognition Video
access to your resources" lists, plus the key for both encrypted streams.

CloudFormation creates the processor stopped: it is billed while it runs, so starting it is left to the
user once video flows (``aws rekognition start-stream-processor --name <name>``; AWS advises starting it only
after media reaches the video stream). Its name is CloudFormation's: every property is create-only, so a
change replaces it, which a fixed name would forbid.

AWS closed streaming video analysis to new customers ("Streaming Video and Bulk Image Analysis is no longer
available to new customers", CreateStreamProcessor in botocore's Rekognition model; "Rekognition feature
availability changes"): only accounts that already use it can create a stream processor.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisvideo as kinesisvideo
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rekognition as rekognition

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge, acknowledge_inline_policy
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.rekognition.face_collection import FaceCollection

__all__ = ["FaceSearchStreamProcessor", "StreamProcessorError", "stream_problems"]

# Kinesis Video Streams keeps media 1 hour to 87,600 hours (10 years) when retention is on
# (CreateStream, Amazon Kinesis Video Streams API Reference; botocore's DataRetentionInHours has no maximum).
MAX_RETENTION_HOURS = 87_600


class StreamProcessorError(MlBlueprintsError):
    """Stream settings Kinesis or Rekognition would refuse."""


def stream_problems(*, video_retention_hours: int, results_retention_hours: int) -> list[Problem]:
    problems = []
    if not 1 <= video_retention_hours <= MAX_RETENTION_HOURS:
        problems.append(Problem(f"video_retention_hours {video_retention_hours}: 1 to {MAX_RETENTION_HOURS} "
                                "(Kinesis Video Streams).", setting="video_retention_hours"))  # fmt: skip
    # Kinesis Data Streams keeps records 24 to 8,760 hours (365 days).
    if not 24 <= results_retention_hours <= 8_760:
        problems.append(Problem(f"results_retention_hours {results_retention_hours}: 24 to 8760 "
                                "(Kinesis Data Streams).", setting="results_retention_hours"))  # fmt: skip
    return problems


class FaceSearchStreamProcessor(Construct):
    """A video stream, a face search stream processor on ``collection`` and the data stream of its matches."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        collection: FaceCollection,
        encryption_key: kms.IKey,
        face_match_threshold: float = 90.0,
        video_retention_hours: int = 24,
        results_retention_hours: int = 24,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = stream_problems(
            video_retention_hours=video_retention_hours, results_retention_hours=results_retention_hours
        )
        if problems:
            raise StreamProcessorError(problems)
        self.video_stream = kinesisvideo.CfnStream(
            self,
            "VideoStream",
            data_retention_in_hours=video_retention_hours,
            kms_key_id=encryption_key.key_arn,
            media_type="video/h264",
        )
        self.video_stream.apply_removal_policy(removal_policy)
        self.results = kinesis.Stream(
            self,
            "Results",
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=encryption_key,
            retention_period=Duration.hours(results_retention_hours),
            shard_count=1,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.results,
            "KDS3",
            topic="the stack's key on the matches stream",
            reason="the matches name people, so they are encrypted with the key the stack controls and audits, "
            "like its buckets and video stream; the extra KMS requests are few (one data key per batch).",
            packs=(Pack.AWS_SOLUTIONS,),
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "rekognition.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="Rekognition face search: read the video stream, write the matches",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kinesisvideo:GetDataEndpoint", "kinesisvideo:GetMedia"],
                resources=[self.video_stream.attr_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kinesis:PutRecord", "kinesis:PutRecords"], resources=[self.results.stream_arn]
            )
        )
        # Decrypt what the video stream stores, encrypt what the data stream receives.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[encryption_key.key_arn]
            )
        )
        acknowledge_inline_policy(self.role)
        self.processor = rekognition.CfnStreamProcessor(
            self,
            "Processor",
            role_arn=self.role.role_arn,
            kinesis_video_stream=rekognition.CfnStreamProcessor.KinesisVideoStreamProperty(
                arn=self.video_stream.attr_arn
            ),
            kinesis_data_stream=rekognition.CfnStreamProcessor.KinesisDataStreamProperty(
                arn=self.results.stream_arn
            ),
            face_search_settings=rekognition.CfnStreamProcessor.FaceSearchSettingsProperty(
                collection_id=collection.collection_id, face_match_threshold=face_match_threshold
            ),
            data_sharing_preference=rekognition.CfnStreamProcessor.DataSharingPreferenceProperty(
                opt_in=False
            ),
        )
        # Created once its collection exists and its role may read and write.
        self.processor.node.add_dependency(collection.resource, self.role)
        self.name = self.processor.ref

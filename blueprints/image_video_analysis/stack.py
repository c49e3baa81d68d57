"""Blueprint: Amazon Rekognition on images landing in S3 and, with a face collection, on live video."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.blueprints.image_video_analysis.settings import (
    COLLECTION_TYPES,
    VIDEO_TYPES,
    ImageVideoAnalysisSettings,
)
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    assert_services_at_deploy,
)
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.rekognition.face_collection import FaceCollection
from mlblueprints.constructs.rekognition.image_analysis import ImageAnalysis
from mlblueprints.constructs.rekognition.stream_processor import FaceSearchStreamProcessor
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["ImageVideoAnalysisStack"]


class ImageVideoAnalysisStack(Stack):
    """The images and results buckets, the analysis flow, and optionally the collection and the video stream."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: ImageVideoAnalysisSettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description or "mlblueprints image and video analysis: Amazon Rekognition",
        )
        assert_services_at_deploy(self, "rekognition", what="Amazon Rekognition")
        if settings.face_search:
            types = COLLECTION_TYPES + (VIDEO_TYPES if settings.streams_video else ())
            assert_resource_types_at_deploy(self, *types, what="Rekognition face search")
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        key = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy).key.key
        self.images = SecureBucket(self, "Images", encryption_key=key, removal_policy=removal_policy)
        self.images.bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.results = SecureBucket(self, "Results", encryption_key=key, removal_policy=removal_policy)
        self.topic = AlarmTopic(
            self, "Notifications", encryption_key=key, display_name="Image analysis"
        ).topic
        if settings.notification_email:
            subscribe_email(
                self.topic, settings.notification_email, record="each execution's history says why"
            )
        self.collection = (
            FaceCollection(self, "Faces", removal_policy=removal_policy) if settings.face_search else None
        )
        self.analysis = ImageAnalysis(
            self,
            "Analysis",
            input_bucket=self.images.bucket,
            output_bucket=self.results.bucket,
            encryption_key=key,
            topic=self.topic,
            options=settings.options(),
            collection=self.collection,
            removal_policy=removal_policy,
        )
        CfnOutput(self, "ImagesBucket", value=self.images.bucket_name,
                  description="Put JPEG or PNG images under images/ (and faces/<person>/ to index a face)")  # fmt: skip
        CfnOutput(self, "ResultsUri", value=f"s3://{self.results.bucket_name}/results/")
        self.video = None
        if self.collection is not None:
            CfnOutput(self, "CollectionId", value=self.collection.collection_id)
        if self.collection is not None and settings.streams_video:
            self.video = FaceSearchStreamProcessor(
                self,
                "Video",
                collection=self.collection,
                encryption_key=key,
                face_match_threshold=settings.face_match_threshold,
                video_retention_hours=settings.video_retention_hours,
                results_retention_hours=settings.results_retention_hours,
                removal_policy=removal_policy,
            )
            CfnOutput(self, "VideoStreamArn", value=self.video.video_stream.attr_arn,
                      description="Send H.264 video with the Kinesis Video Streams producer SDK or GStreamer plugin")  # fmt: skip
            CfnOutput(self, "StartStreamProcessor", value=f"aws rekognition start-stream-processor --name {self.video.name}",
                      description="Start it once video flows; it is billed while it runs")  # fmt: skip
            CfnOutput(self, "MatchesStreamName", value=self.video.results.stream_name)

"""Settings of the ``image-video-analysis`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.compute.regional_offerings import (
    resource_type_problems,
    resource_type_regions,
    service_region_problems,
    service_regions,
)
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.rekognition.image_analysis import ImageAnalysisOptions, image_analysis_problems
from mlblueprints.constructs.rekognition.stream_processor import stream_problems

__all__ = ["COLLECTION_TYPES", "VIDEO_TYPES", "ImageVideoAnalysisSettings"]

COLLECTION_TYPES = ("AWS::Rekognition::Collection",)
VIDEO_TYPES = ("AWS::Rekognition::StreamProcessor", "AWS::KinesisVideo::Stream")


class ImageVideoAnalysisSettings(BlueprintSettings):
    """Amazon Rekognition on images in S3 and, with a face collection, on live video from Kinesis Video Streams."""

    blueprint_name: ClassVar[str] = "image-video-analysis"

    max_labels: int = Field(20, description="At most this many labels per image (DetectLabels), 1 to 100.")
    min_confidence: float = Field(
        70.0, description="Labels and moderation labels below this confidence (0-100) are left out."
    )
    moderation: bool = Field(True, description="Also detect unsafe content (DetectModerationLabels).")
    face_search: bool = Field(
        True,
        description="A face collection: images under faces/<person>/ are indexed, each analysed image is searched.",
    )
    face_match_threshold: float = Field(
        90.0, description="With face_search: the lowest similarity (0-100) that matches."
    )
    max_faces: int = Field(
        5, description="With face_search: at most this many matches for an image's largest face, 1 to 100."
    )
    video_stream: bool = Field(
        False,
        description="With face_search: a Kinesis video stream, a face search stream processor and a data stream of "
        "matches. AWS closed streaming video analysis to new customers: only accounts that use it already can.",
    )
    video_retention_hours: int = Field(
        24, description="With video_stream: hours the video stream keeps media."
    )
    results_retention_hours: int = Field(
        24, description="With video_stream: hours the data stream keeps matches (24-8760)."
    )
    notification_email: str | None = Field(None, description="Subscribe this address to failed analyses.")
    retain_data: bool = Field(
        True,
        description="Keep the buckets, the collection, the streams, the KMS key and the logs when the stack is deleted.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def options(self) -> ImageAnalysisOptions:
        return ImageAnalysisOptions(
            max_labels=self.max_labels,
            min_confidence=self.min_confidence,
            moderation=self.moderation,
            face_match_threshold=self.face_match_threshold,
            max_faces=self.max_faces,
        )

    @property
    def streams_video(self) -> bool:
        return self.face_search and self.video_stream

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        """Where the defaults (image analysis and a face collection) deploy."""
        return service_regions("rekognition") & resource_type_regions(*COLLECTION_TYPES)

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "rekognition", what="Amazon Rekognition")
        if isinstance(config.get("notification_email"), str):
            from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems

            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        if not problems and settings.face_search:
            types = COLLECTION_TYPES + (VIDEO_TYPES if settings.streams_video else ())
            problems += resource_type_problems(
                region, *types, what="Rekognition face search" + (" in video" if settings.streams_video else ""),
                setting="video_stream" if settings.streams_video else "face_search",
            )  # fmt: skip
        problems += image_analysis_problems(settings.options())
        if settings.streams_video:
            problems += stream_problems(
                video_retention_hours=settings.video_retention_hours,
                results_retention_hours=settings.results_retention_hours,
            )
        elif (
            settings.video_stream and "video_stream" in settings.model_fields_set and not settings.face_search
        ):
            problems.append(Problem("video_stream needs face_search: the stream processor searches the collection.",
                                    setting="video_stream", value=True))  # fmt: skip
        return problems

"""Blueprint: images land in S3, Rekognition moderates them, unsure labels go to people."""

from __future__ import annotations

from mlblueprints.blueprints.human_review import HumanReviewStack
from mlblueprints.constructs.a2i.review_flow import REKOGNITION_MODERATION

__all__ = ["ModerationReviewStack"]


class ModerationReviewStack(HumanReviewStack):
    """Rekognition DetectModerationLabels under A2I review; results and answers in S3."""

    call = REKOGNITION_MODERATION

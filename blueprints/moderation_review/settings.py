"""Settings of the ``moderation-review`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Any, ClassVar

from mlblueprints.blueprints.human_review import HumanReviewSettings
from mlblueprints.constructs.a2i.activation_conditions import A2iTaskType

__all__ = ["ModerationReviewSettings"]


class ModerationReviewSettings(HumanReviewSettings):
    """Images land in S3, Rekognition labels unsafe content, people decide where it is unsure."""

    blueprint_name: ClassVar[str] = "moderation-review"
    task_type: ClassVar[A2iTaskType] = A2iTaskType.REKOGNITION_MODERATION
    # Any moderation label Rekognition finds with 50% to 90% confidence (sure labels need no review),
    # and 1% of the rest at random.
    default_conditions: ClassVar[dict[str, Any]] = {
        "Conditions": [
            {
                "ConditionType": "ModerationLabelConfidenceCheck",
                "ConditionParameters": {
                    "ModerationLabelName": "*",
                    "ConfidenceLessThan": 90,
                    "ConfidenceGreaterThan": 50,
                },
            },
            {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 1}},
        ]
    }
    default_template: ClassVar[str] = "rekognition-moderation.liquid.html"
    default_title: ClassVar[str] = "Review an image for unsafe content"
    default_description: ClassVar[str] = "Choose the moderation categories that apply to the image."

"""Settings of the ``document-review`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Any, ClassVar

from mlblueprints.blueprints.human_review import HumanReviewSettings
from mlblueprints.constructs.a2i.activation_conditions import A2iTaskType

__all__ = ["DocumentReviewSettings"]


class DocumentReviewSettings(HumanReviewSettings):
    """Documents land in S3, Textract reads their forms, people check the fields Textract is unsure of."""

    blueprint_name: ClassVar[str] = "document-review"
    task_type: ClassVar[A2iTaskType] = A2iTaskType.TEXTRACT_FORMS
    # Any form field whose key or value Textract reads with less than 80% confidence, and 2% of the rest
    # at random (to measure what the threshold lets through).
    default_conditions: ClassVar[dict[str, Any]] = {
        "Conditions": [
            {
                "ConditionType": "ImportantFormKeyConfidenceCheck",
                "ConditionParameters": {
                    "ImportantFormKey": "*",
                    "KeyValueBlockConfidenceLessThan": 80,
                    "WordBlockConfidenceLessThan": 80,
                },
            },
            {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 2}},
        ]
    }
    default_template: ClassVar[str] = "textract-forms.liquid.html"
    default_title: ClassVar[str] = "Check the fields of a form"
    default_description: ClassVar[str] = "Correct the form fields the model read with low confidence."

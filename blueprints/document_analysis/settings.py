"""Settings of the ``document-analysis`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mlblueprints.blueprints.human_review import WorkforceSettings, workforce_preflight
from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.a2i.activation_conditions import A2iTaskType, activation_conditions_problems
from mlblueprints.constructs.compute.regional_offerings import service_region_problems, service_regions
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems
from mlblueprints.constructs.textract.document_analysis import TextractQuery, analysis_problems

__all__ = ["DocumentAnalysisSettings", "QuerySettings", "ReviewSettings"]


class QuerySettings(BaseModel):
    """A question Textract answers from each document."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    text: str = Field(description="The question, e.g. 'What is the invoice total?'")
    alias: str | None = Field(None, description="A short name for the answer in the results.")
    pages: list[str] = Field(["*"], description="Pages to ask: '1', '2-4', '4-*', or '*' (all).")


class ReviewSettings(BaseModel):
    """Amazon A2I review of the form fields Textract reads with low confidence (JPEG and PNG documents)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    workforce: WorkforceSettings | None = Field(
        None, description="Who reviews. Default: a new private workforce with a secure Cognito user pool."
    )
    confidence_threshold: int = Field(
        80, description="Review a form whose fields Textract reads with less than this confidence (0 to 100)."
    )
    sampling_percentage: int = Field(
        0,
        description="Also review this share of the other forms at random (0 to 100), to measure the threshold.",
    )
    task_count: int = Field(1, description="Reviewers per document (1 to 3).")
    task_time_limit_minutes: int = Field(60, description="Time a reviewer has for one document.")
    task_availability_hours: int = Field(
        24, description="Time a task waits for a reviewer before it expires."
    )

    def activation_conditions(self) -> dict[str, Any]:
        conditions: list[dict[str, Any]] = [
            {
                "ConditionType": "ImportantFormKeyConfidenceCheck",
                "ConditionParameters": {
                    "ImportantFormKey": "*",
                    "KeyValueBlockConfidenceLessThan": self.confidence_threshold,
                    "WordBlockConfidenceLessThan": self.confidence_threshold,
                },
            }
        ]
        if self.sampling_percentage:
            conditions.append(
                {
                    "ConditionType": "Sampling",
                    "ConditionParameters": {"RandomSamplingPercentage": self.sampling_percentage},
                }
            )
        return {"Conditions": conditions}


class DocumentAnalysisSettings(BlueprintSettings):
    """Documents land in S3 and Amazon Textract analyses them: PDF and TIFF asynchronously, JPEG and PNG at once."""

    blueprint_name: ClassVar[str] = "document-analysis"

    features: list[str] = Field(
        ["FORMS", "TABLES"], description="Textract feature types: FORMS, TABLES, QUERIES, SIGNATURES, LAYOUT."
    )
    queries: list[QuerySettings] | None = Field(
        None, description="With QUERIES: the questions to answer from each document (at most 15)."
    )
    human_review: ReviewSettings | None = Field(
        None,
        description="Send JPEG and PNG forms with low-confidence fields to people (Amazon A2I; needs FORMS). "
        "Default: no review.",
    )
    notification_email: str | None = Field(
        None, description="Subscribe this address to failed analyses, reviews and undelivered events."
    )
    retain_data: bool = Field(
        True,
        description="Keep the buckets, the KMS key and the log groups when the stack is deleted; false deletes them.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def textract_queries(self) -> list[TextractQuery]:
        return [TextractQuery(q.text, q.alias, tuple(q.pages)) for q in self.queries or []]

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        return service_regions("textract")

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "textract", what="Amazon Textract")
        review = config.get("human_review") if isinstance(config.get("human_review"), dict) else None
        if review is not None:
            workforce = review.get("workforce") if isinstance(review.get("workforce"), dict) else {}
            problems += workforce_preflight(workforce, region=region)
        if isinstance(config.get("notification_email"), str):
            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        problems += analysis_problems(
            settings.features, settings.textract_queries(), human_review=settings.human_review is not None
        )
        if settings.human_review is not None:
            review_settings = settings.human_review
            for name, value in (("confidence_threshold", review_settings.confidence_threshold),
                                ("sampling_percentage", review_settings.sampling_percentage)):  # fmt: skip
                if not 0 <= value <= 100:
                    problems.append(
                        Problem(f"human_review.{name} {value}: use 0 to 100.", setting="human_review")
                    )
            if not problems:
                problems += activation_conditions_problems(
                    A2iTaskType.TEXTRACT_FORMS, review_settings.activation_conditions()
                )
        return problems

"""Settings of the ``translation`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from pathlib import Path
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
from mlblueprints.constructs.translate.batch_translation import (
    TERMINOLOGIES,
    TranslationOptions,
    language_problems,
    terminology_problems,
)

__all__ = ["TranslationSettings"]


class TranslationSettings(BlueprintSettings):
    """Batch translation of documents in S3 with Amazon Translate, custom terminology and parallel data."""

    blueprint_name: ClassVar[str] = "translation"

    target_languages: list[str] = Field(
        description="The languages to translate into (1 to 10), e.g. ['es', 'fr']."
    )
    source_language: str = Field("auto", description="The documents' language; 'auto' detects each one's.")
    content_type: str = Field(
        "text/plain",
        description="The batch's document type: text/plain, text/html, Office (docx, pptx, xlsx), XLIFF.",
    )
    terminology: bool = Field(True, description="Apply a custom terminology.")
    terminology_file: str | None = Field(
        None,
        description="The terminology (path; .csv, .tsv or .tmx). Default: the catalog's product-names sample.",
    )
    parallel_data_file: str | None = Field(
        None, description="Parallel data to adapt the translations (path; .csv, .tsv or .tmx). Default: none."
    )
    formality: str | None = Field(None, description="FORMAL or INFORMAL, for the languages that have it.")
    mask_profanity: bool = Field(False, description="Mask profane words in the translations.")
    notification_email: str | None = Field(None, description="Subscribe this address to failed batches.")
    retain_data: bool = Field(
        True, description="Keep the buckets, the KMS key and the log groups when the stack is deleted."
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def options(self) -> TranslationOptions:
        return TranslationOptions(
            target_languages=list(self.target_languages),
            source_language=self.source_language,
            content_type=self.content_type,
            formality=self.formality,
            mask_profanity=self.mask_profanity,
        )

    @property
    def terminology_path(self) -> Path | None:
        if not self.terminology:
            return None
        return Path(self.terminology_file) if self.terminology_file else TERMINOLOGIES / "product-names.csv"

    def resource_types(self) -> tuple[str, ...]:
        """The CloudFormation types this stack uses (not every region has them)."""
        return (("AWS::Translate::Terminology",) if self.terminology else ()) + (
            ("AWS::Translate::ParallelData",) if self.parallel_data_file else ()
        )

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        # With its default terminology (the example's).
        return service_regions("translate") & resource_type_regions("AWS::Translate::Terminology")

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "translate", what="Amazon Translate")
        if isinstance(config.get("notification_email"), str):
            from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems

            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        if not problems and settings.resource_types():
            what = "Translation with custom terminology or parallel data"
            problems += resource_type_problems(region, *settings.resource_types(), what=what, setting="env")
        problems += language_problems(settings.options())
        if settings.terminology_path is not None:
            problems += terminology_problems(settings.terminology_path)
        elif settings.terminology_file:
            problems.append(
                Problem("terminology_file is set but terminology is false.", setting="terminology_file")
            )
        if settings.parallel_data_file:
            problems += terminology_problems(Path(settings.parallel_data_file), setting="parallel_data_file")
        return problems

"""Settings of the ``text-insights`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.comprehend.custom_classifier import (
    MAX_INFERENCE_UNITS,
    SERVING,
    TRAINING,
    training_problems,
)
from mlblueprints.constructs.comprehend.entity_recognizer import ENTITIES, entity_problems
from mlblueprints.constructs.compute.regional_offerings import (
    resource_type_problems,
    resource_type_regions,
    service_region_problems,
    service_regions,
)
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.security.private_network import network_problems

__all__ = ["COMPREHEND_TYPES", "CUSTOM_CLASSIFIER_LANGUAGES", "TextInsightsSettings"]

COMPREHEND_TYPES = ("AWS::Comprehend::DocumentClassifier", "AWS::Comprehend::DocumentClassifierEndpoint",
                    "AWS::Comprehend::Flywheel")  # fmt: skip
# Custom classification takes English, Spanish, French, German, Italian and Portuguese (Amazon Comprehend
# Developer Guide, Languages supported in Amazon Comprehend).
CUSTOM_CLASSIFIER_LANGUAGES = ("en", "es", "fr", "de", "it", "pt")


class TextInsightsSettings(BlueprintSettings):
    """An Amazon Comprehend custom classifier trained from S3 in a private VPC, served by an endpoint or a flywheel."""

    blueprint_name: ClassVar[str] = "text-insights"

    training_data: str | None = Field(
        None, description="A folder of CSV files (label, text). Default: the catalog's support-ticket sample."
    )
    language_code: str = Field("en", description="The documents' language: en, es, fr, de, it or pt.")
    serving: str = Field(
        "none",
        description="endpoint (real time, billed per inference unit), flywheel (retraining), or none (jobs).",
    )
    inference_units: int = Field(
        1, description="With an endpoint: its inference units, 1 to 10 (each 100 characters/second)."
    )
    entity_recognizer: bool = Field(
        False,
        description="Also train a custom entity recognizer from entities_data, again whenever the data changes.",
    )
    entities_data: str | None = Field(
        None,
        description="With entity_recognizer: a folder with documents.txt (one document per line) and entity_list.csv "
        "(Text,Type). Default: the catalog's product and error-code sample.",
    )
    notification_email: str | None = Field(
        None, description="With entity_recognizer: subscribe to failed trainings."
    )
    vpc_cidr: str | None = Field(None, description="The private VPC's block, /16 to /19.")
    retain_data: bool = Field(
        True, description="Keep the bucket, the KMS key and the logs when the stack is deleted."
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    @property
    def training_folder(self) -> Path:
        return Path(self.training_data) if self.training_data else TRAINING

    @property
    def entities_folder(self) -> Path:
        return Path(self.entities_data) if self.entities_data else ENTITIES

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        return service_regions("comprehend") & resource_type_regions(*COMPREHEND_TYPES)

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "comprehend", what="Amazon Comprehend")
        if not problems:
            problems += resource_type_problems(
                region, *COMPREHEND_TYPES, what="Comprehend custom models", setting="env"
            )
        if isinstance(config.get("vpc_cidr"), str):
            problems += network_problems(config["vpc_cidr"], max_azs=2)
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        problems += training_problems(settings.training_folder)
        if settings.entity_recognizer:
            problems += entity_problems(settings.entities_folder)
        if isinstance(config.get("notification_email"), str):
            from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems

            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        if settings.language_code not in CUSTOM_CLASSIFIER_LANGUAGES:
            problems.append(
                Problem(f"language_code {settings.language_code!r}: custom classification takes "
                        f"{', '.join(CUSTOM_CLASSIFIER_LANGUAGES)}.", setting="language_code", value=settings.language_code)
            )  # fmt: skip
        if settings.serving not in SERVING:
            problems.append(
                Problem(f"serving {settings.serving!r}: use {', '.join(SERVING)}.", setting="serving")
            )
        if settings.serving == "endpoint" and not 1 <= settings.inference_units <= MAX_INFERENCE_UNITS:
            problems.append(Problem(f"inference_units {settings.inference_units}: an endpoint takes 1 to "
                                    f"{MAX_INFERENCE_UNITS}.", setting="inference_units", value=settings.inference_units))  # fmt: skip
        return problems

"""Settings of the ``medical-transcription`` blueprint, as a config file or CDK context gives them."""

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
from mlblueprints.constructs.medical.transcription import (
    VOCABULARIES,
    TranscriptionOptions,
    transcription_problems,
    vocabulary_problems,
)
from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems

__all__ = ["MEDICAL_RESOURCE_TYPES", "MEDICAL_SERVICES", "MedicalTranscriptionSettings"]

# botocore endpoint prefixes of the services the flow calls, and the CloudFormation type it creates.
MEDICAL_SERVICES = ("transcribe", "comprehendmedical")
MEDICAL_RESOURCE_TYPES = ("AWS::Transcribe::MedicalVocabulary",)


class MedicalTranscriptionSettings(BlueprintSettings):
    """Medical audio in S3, transcribed by Transcribe Medical and analysed by Comprehend Medical (HIPAA eligible)."""

    blueprint_name: ClassVar[str] = "medical-transcription"

    specialty: str = Field("PRIMARYCARE", description="The medical specialty (batch jobs: PRIMARYCARE).")
    transcription_type: str = Field(
        "CONVERSATION", description="CONVERSATION (clinician and patient) or DICTATION."
    )
    language_code: str = Field(
        "en-US", description="The audio's language; Transcribe Medical takes en-US only."
    )
    speaker_labels: bool = Field(True, description="Label who speaks in the transcript.")
    max_speakers: int = Field(
        2, description="With speaker_labels: the most speakers to tell apart (2 to 30)."
    )
    channel_identification: bool = Field(
        False,
        description="Transcribe each channel apart (one speaker per channel), instead of speaker labels.",
    )
    identify_phi: bool = Field(True, description="Mark protected health information in the transcript.")
    custom_vocabulary: bool = Field(True, description="Use a custom medical vocabulary.")
    vocabulary_file: str | None = Field(
        None,
        description="The vocabulary table (path; Phrase, IPA, SoundsLike, DisplayAs, tab-separated). Default: "
        "the catalog's primary-care sample.",
    )
    analysis_concurrency: int = Field(
        10,
        description="Transcripts analysed at once by Comprehend Medical (the function's reserved concurrency).",
    )
    audit_trail: bool = Field(
        True, description="Record every object read and write of both buckets in a CloudTrail trail."
    )
    notification_email: str | None = Field(
        None, description="Subscribe this address to failed transcriptions and undelivered events."
    )
    retain_data: bool = Field(
        True,
        description="Keep the buckets, the KMS key, the trail's logs and the log groups when the stack is "
        "deleted; false deletes them with it.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def options(self) -> TranscriptionOptions:
        return TranscriptionOptions(
            specialty=self.specialty,
            transcription_type=self.transcription_type,
            language_code=self.language_code,
            speaker_labels=self.speaker_labels,
            max_speakers=self.max_speakers,
            channel_identification=self.channel_identification,
            identify_phi=self.identify_phi,
        )

    @property
    def vocabulary_path(self) -> Path:
        return Path(self.vocabulary_file) if self.vocabulary_file else VOCABULARIES / "primary-care.txt"

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        return service_regions(*MEDICAL_SERVICES) & resource_type_regions(*MEDICAL_RESOURCE_TYPES)

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        what = "Transcribe Medical with Comprehend Medical"
        problems = service_region_problems(region, *MEDICAL_SERVICES, what=what)
        if not problems:
            problems += resource_type_problems(region, *MEDICAL_RESOURCE_TYPES, what=what, setting="env")
        if isinstance(config.get("notification_email"), str):
            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        problems += transcription_problems(settings.options())
        if settings.custom_vocabulary:
            problems += vocabulary_problems(settings.vocabulary_path)
        elif settings.vocabulary_file:
            problems.append(
                Problem("vocabulary_file is set but custom_vocabulary is false: set one or the other.",
                        setting="vocabulary_file")
            )  # fmt: skip
        if settings.analysis_concurrency < 1:
            problems.append(
                Problem("analysis_concurrency must be 1 or more.", setting="analysis_concurrency")
            )
        return problems

"""Settings of the ``speech`` blueprint, as a config file or CDK context gives them."""

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
from mlblueprints.constructs.polly.speech import (
    LEXICONS,
    SSML_TEMPLATES,
    SpeechOptions,
    lexicon_problems,
    speech_problems,
    ssml_problems,
)

__all__ = ["SpeechSettings"]


class SpeechSettings(BlueprintSettings):
    """Amazon Polly speech from text and SSML files in S3, with lexicons and speech marks."""

    blueprint_name: ClassVar[str] = "speech"

    voice: str = Field("Joanna", description="The Amazon Polly voice.")
    engine: str = Field(
        "neural", description="standard, neural, long-form or generative (the voice must offer it)."
    )
    output_format: str = Field("mp3", description="mp3, ogg_vorbis, ogg_opus or pcm.")
    speech_marks: list[str] = Field(
        ["word", "sentence"],
        description="Speech marks to write beside the audio (word, sentence, ssml, viseme); [] for none.",
    )
    lexicon_files: list[str] | None = Field(
        None,
        description="Pronunciation lexicons (PLS files). Default: the catalog's sample.",
    )
    ssml_templates: str | None = Field(
        None,
        description="A folder of SSML templates to ship: checked at synth and copied under ssml/templates/, so they are spoken. "
        "Default: the catalog's welcome template.",
    )
    ship_templates: bool = Field(True, description="Copy the SSML templates into the bucket on deploy.")
    notification_email: str | None = Field(None, description="Subscribe this address to failed syntheses.")
    retain_data: bool = Field(
        True, description="Keep the buckets, the KMS key and the log groups when the stack is deleted."
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def options(self) -> SpeechOptions:
        return SpeechOptions(self.voice, self.engine, self.output_format, tuple(self.speech_marks))

    @property
    def lexicon_paths(self) -> list[Path]:
        if self.lexicon_files is None:
            return [LEXICONS / "productnames.pls"]
        return [Path(p) for p in self.lexicon_files]

    @property
    def templates_folder(self) -> Path:
        return Path(self.ssml_templates) if self.ssml_templates else SSML_TEMPLATES

    def template_problems(self) -> list[Problem]:
        folder = self.templates_folder
        if not folder.is_dir():
            return [Problem(f"ssml_templates: {folder} is not a folder.", setting="ssml_templates")]
        files = sorted(folder.glob("*.ssml"))
        if not files:
            return [Problem(f"ssml_templates: {folder} has no .ssml file.", setting="ssml_templates")]
        return [p for path in files for p in ssml_problems(path, engine=self.engine)]

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        return service_regions("polly") & resource_type_regions("AWS::Polly::Lexicon")

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "polly", what="Amazon Polly")
        if not problems:
            problems += resource_type_problems(
                region, "AWS::Polly::Lexicon", what="Polly lexicons", setting="env"
            )
        if isinstance(config.get("notification_email"), str):
            from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems

            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        problems += speech_problems(settings.options())
        for path in settings.lexicon_paths:
            problems += lexicon_problems(path)
        if len(settings.lexicon_paths) > 5:
            problems.append(Problem("at most 5 lexicons apply to one synthesis.", setting="lexicon_files"))
        if settings.ship_templates:
            problems += settings.template_problems()
        return problems

"""Settings of the ``chatbot`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.compute.regional_offerings import (
    resource_type_problems,
    resource_type_regions,
    service_region_problems,
    service_regions,
)
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.lex.bot import BotDefinition, Intent, Slot, SlotType, bot_problems

__all__ = ["LEX_RESOURCE_TYPES", "ChatbotSettings", "IntentSettings", "SlotSettings", "SlotTypeSettings"]

LEX_RESOURCE_TYPES = ("AWS::Lex::Bot", "AWS::Lex::BotAlias", "AWS::Lex::BotVersion")
_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)


class SlotTypeSettings(BaseModel):
    """A custom slot type: its values, each with its synonyms."""

    model_config = _STRICT

    name: str = Field(description="The slot type's name, e.g. PizzaSize.")
    values: dict[str, list[str]] = Field(
        description='Value -> synonyms, e.g. {"large": ["big"], "small": []}.'
    )


class SlotSettings(BaseModel):
    """A slot of an intent."""

    model_config = _STRICT

    name: str = Field(description="The slot's name, as utterances write it: {Size}.")
    type: str = Field(description="A slot type of the bot, or a built-in one (AMAZON.Number, ...).")
    prompt: str = Field(description="How the bot asks for it.")
    required: bool = Field(True, description="The intent needs it.")
    multiple_values: bool = Field(
        False, description="Takes several values ('ham and pineapple'); custom types only."
    )
    obfuscate: bool = Field(False, description="Hide its value in conversation logs (personal data).")


class IntentSettings(BaseModel):
    """An intent: what users say, the slots it fills, and what comes after."""

    model_config = _STRICT

    name: str = Field(description="The intent's name, e.g. OrderPizza.")
    utterances: list[str] = Field(description="Sample utterances; {Slot} marks a slot.")
    slots: list[SlotSettings] = Field([], description="Slots, in the order the bot asks for them.")
    confirmation: str | None = Field(None, description="Ask before fulfilling, e.g. 'Shall I order it?'.")
    declination: str | None = Field(None, description="The answer to a no.")
    closing: str | None = Field(None, description="The last message when the intent has no code hook.")
    next_intent: str | None = Field(None, description="The intent to start once this one is fulfilled.")
    code_hook: bool = Field(
        True, description="Validate each turn and fulfil with the bot's Lambda code hook."
    )


class ChatbotSettings(BlueprintSettings):
    """An Amazon Lex V2 bot from intents, utterances, slots and slot types, with a code hook and encrypted logs."""

    blueprint_name: ClassVar[str] = "chatbot"

    intents: list[IntentSettings] = Field(description="The bot's intents (a fallback intent is added).")
    slot_types: list[SlotTypeSettings] = Field([], description="Custom slot types.")
    locale: str = Field("en_US", description="The bot's locale.")
    voice: str = Field("Joanna", description="The Amazon Polly voice of voice conversations.")
    voice_engine: str = Field("neural", description="standard, neural, long-form or generative.")
    confidence_threshold: float = Field(
        0.4, description="Below this intent confidence (0 to 1), the fallback intent answers."
    )
    fallback_message: str = Field(
        "Sorry, I did not understand that. Could you say it another way?",
        description="The fallback intent's answer.",
    )
    idle_session_minutes: int = Field(
        5, description="Lex forgets an idle conversation after this (1 to 1440)."
    )
    child_directed: bool = Field(
        False, description="The bot is directed at children under 13 (COPPA): Lex requires the answer."
    )
    code_hook_concurrency: int = Field(10, description="Conversation turns the code hook serves at once.")
    retain_data: bool = Field(
        True,
        description="Keep the conversation logs, their bucket and the KMS key when the stack is deleted.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def definition(self) -> BotDefinition:
        return BotDefinition(
            intents=[
                Intent(
                    name=i.name,
                    utterances=list(i.utterances),
                    slots=[
                        Slot(s.name, s.type, s.prompt, s.required, s.multiple_values, s.obfuscate)
                        for s in i.slots
                    ],
                    confirmation=i.confirmation,
                    declination=i.declination,
                    closing=i.closing,
                    next_intent=i.next_intent,
                    code_hook=i.code_hook,
                )
                for i in self.intents
            ],
            slot_types=[SlotType(t.name, dict(t.values)) for t in self.slot_types],
            locale_id=self.locale,
            voice_id=self.voice,
            voice_engine=self.voice_engine,
            confidence_threshold=self.confidence_threshold,
            fallback_message=self.fallback_message,
        )

    @classmethod
    def offered_regions(cls) -> frozenset[str]:
        return service_regions("models-v2-lex") & resource_type_regions(*LEX_RESOURCE_TYPES)

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        problems = service_region_problems(region, "models-v2-lex", what="Amazon Lex V2")
        if not problems:
            problems += resource_type_problems(
                region, *LEX_RESOURCE_TYPES, what="Amazon Lex V2", setting="env"
            )
        try:
            settings = cls.model_validate(config)
        except Exception:
            return problems
        problems += bot_problems(settings.definition())
        if not 1 <= settings.idle_session_minutes <= 1440:
            problems.append(Problem("idle_session_minutes: 1 to 1440.", setting="idle_session_minutes"))
        if settings.code_hook_concurrency < 1:
            problems.append(
                Problem("code_hook_concurrency must be 1 or more.", setting="code_hook_concurrency")
            )
        return problems

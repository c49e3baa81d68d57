"""An Amazon Lex V2 bot from a definition of intents, sample utterances, slots and slot types.

What the construct builds, and why:

- **The bot** (``AWS::Lex::Bot``): one locale, built on every deploy (``AutoBuildBotLocales``), text and voice
  (an Amazon Polly voice), a fallback intent, a version (``AWS::Lex::BotVersion``, a new one whenever the
  definition changes) and an alias named ``live`` (``AWS::Lex::BotAlias``) that clients call.
- **A code hook** (a Lambda function): validation on each turn (a value outside the bot's own slot values is
  asked for again) and fulfilment (a summary of what was chosen); an intent may chain to another after it is
  fulfilled (the post-fulfilment ``StartIntent`` step).
- **Conversation logs**: text to a KMS-encrypted log group, audio to a KMS-encrypted bucket; slots that may
  hold personal data can be obfuscated in them.
- **Checked at synth**: names, utterances (every ``{Slot}`` an utterance names exists in its intent), slot
  types (custom ones defined, built-in ones ``AMAZON.*``), chained intents, the voice (botocore's Polly
  ``VoiceId``), and the counts and lengths botocore's Lex V2 model gives.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lex as lex

from constructs import Construct
from mlblueprints.constructs._private.names import unique_base_name
from mlblueprints.constructs._private.service_models import enum_values, service_model
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.compliance.functions import (
    PYTHON_RUNTIME,
    accept_synchronous_function,
    encrypted_log_group,
)
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["BotDefinition", "ChatBot", "Intent", "LexError", "Slot", "SlotType", "bot_problems"]

HANDLERS = Path(__file__).parent / "_handlers"
_UTTERANCE_SLOT = re.compile(r"\{([^{}]*)\}")
_LOCALE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")


class LexError(MlBlueprintsError):
    """A bot definition Lex would refuse, or that would not work."""


@dataclass(frozen=True)
class SlotType:
    """A custom slot type: each value and its synonyms (Lex resolves a synonym to its value)."""

    name: str
    values: Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Slot:
    """A slot of an intent: ``prompt`` asks for it; ``multiple_values`` takes a list ("ham and pineapple");
    ``obfuscate`` hides its value in conversation logs (personal data)."""

    name: str
    slot_type: str
    prompt: str
    required: bool = True
    multiple_values: bool = False
    obfuscate: bool = False


@dataclass(frozen=True)
class Intent:
    """An intent: its sample utterances (``{Slot}`` marks a slot), slots in the order they are asked for, an
    optional confirmation (and the answer to a no), the closing message when there is no code hook, and the
    intent to start next once this one is fulfilled."""

    name: str
    utterances: Sequence[str]
    slots: Sequence[Slot] = ()
    confirmation: str | None = None
    declination: str | None = None
    closing: str | None = None
    next_intent: str | None = None
    code_hook: bool = True


@dataclass(frozen=True)
class BotDefinition:
    intents: Sequence[Intent]
    slot_types: Sequence[SlotType] = ()
    locale_id: str = "en_US"
    voice_id: str = "Joanna"
    voice_engine: str = "neural"
    confidence_threshold: float = 0.4
    fallback_message: str = "Sorry, I did not understand that. Could you say it another way?"
    max_retries: int = 2

    def chains(self) -> dict[str, dict[str, str | None]]:
        """Per chained intent, the intent that follows, its first slot and that slot's prompt (for the code hook,
        which starts the next intent itself: a Lambda's response decides where the conversation goes)."""
        by_name = {i.name: i for i in self.intents}
        chains = {}
        for intent in self.intents:
            following = by_name.get(intent.next_intent or "")
            if following is not None:
                first = following.slots[0] if following.slots else None
                chains[intent.name] = {"intent": following.name, "slot": first.name if first else None,
                                       "prompt": first.prompt if first else None}  # fmt: skip
        return chains

    def menu(self) -> dict[str, dict[str, list[str]]]:
        """Per intent and slot of a custom type, the values the bot offers (for the code hook)."""
        types = {t.name: list(t.values) for t in self.slot_types}
        return {
            intent.name: {
                slot.name: types[slot.slot_type] for slot in intent.slots if slot.slot_type in types
            }
            for intent in self.intents
        }


def bot_problems(definition: BotDefinition) -> list[Problem]:
    """Every problem of a bot definition at once (limits from botocore's lexv2-models and polly models)."""
    model = service_model("lexv2-models")
    name_rule = re.compile(model.shape("Name")["pattern"])
    value_max = model.shape("Value")["max"]
    message_max = model.shape("PlainTextMessageValue")["max"]
    values_max = model.shape("SlotTypeValues")["max"]
    retries = model.shape("PromptMaxRetries")
    threshold = model.shape("ConfidenceThreshold")
    problems: list[Problem] = []

    def bad_name(kind: str, name: str) -> None:
        if not name_rule.fullmatch(name) or len(name) > model.shape("Name")["max"]:
            problems.append(
                Problem(f"{kind} {name!r}: letters and digits, single _ or - between them, 100 at most.",
                        setting="intents", value=name)
            )  # fmt: skip

    def message(where: str, text: str | None) -> None:
        if text is not None and not 1 <= len(text) <= message_max:
            problems.append(
                Problem(f"{where}: a message is 1 to {message_max} characters.", setting="intents")
            )

    if not _LOCALE.match(definition.locale_id):
        problems.append(
            Problem(f"locale {definition.locale_id!r}: a Lex locale such as en_US.", setting="locale")
        )
    voices = enum_values("VoiceId", service="polly")
    if definition.voice_id not in voices:
        problems.append(
            Problem(f"voice {definition.voice_id!r} is not an Amazon Polly voice (botocore's VoiceId), e.g. Joanna, "
                    "Matthew, Amy.", setting="voice", value=definition.voice_id)
        )  # fmt: skip
    engines = enum_values("VoiceEngine", service="lexv2-models")
    if definition.voice_engine not in engines:
        problems.append(
            Problem(
                f"voice_engine {definition.voice_engine!r}: use {', '.join(engines)}.", setting="voice_engine"
            )
        )
    if not threshold["min"] <= definition.confidence_threshold <= threshold["max"]:
        problems.append(
            Problem(
                f"confidence_threshold {definition.confidence_threshold}: 0 to 1.",
                setting="confidence_threshold",
            )
        )
    if not retries["min"] <= definition.max_retries <= retries["max"]:
        problems.append(
            Problem(
                f"max_retries {definition.max_retries}: {retries['min']} to {retries['max']}.",
                setting="max_retries",
            )
        )
    message("fallback_message", definition.fallback_message)

    type_names = [t.name for t in definition.slot_types]
    for name in sorted({n for n in type_names if type_names.count(n) > 1}):
        problems.append(Problem(f"slot type {name!r} is defined twice.", setting="slot_types"))
    for slot_type in definition.slot_types:
        bad_name("slot type", slot_type.name)
        if not 1 <= len(slot_type.values) <= values_max:
            problems.append(
                Problem(f"slot type {slot_type.name!r}: 1 to {values_max} values.", setting="slot_types")
            )
        for value, synonyms in slot_type.values.items():
            for text in (value, *synonyms):
                if not 1 <= len(text) <= value_max:
                    problems.append(
                        Problem(f"slot type {slot_type.name!r}: value {text!r} is 1 to {value_max} characters.",
                                setting="slot_types")
                    )  # fmt: skip

    intent_names = [i.name for i in definition.intents]
    if not definition.intents:
        problems.append(Problem("a bot needs at least one intent.", setting="intents"))
    for name in sorted({n for n in intent_names if intent_names.count(n) > 1}):
        problems.append(Problem(f"intent {name!r} is defined twice.", setting="intents"))
    if "FallbackIntent" in intent_names:
        problems.append(
            Problem("FallbackIntent is the bot's own (fallback_message sets its answer).", setting="intents")
        )
    for intent in definition.intents:
        where = f"intent {intent.name!r}"
        bad_name("intent", intent.name)
        slot_names = [s.name for s in intent.slots]
        for name in sorted({n for n in slot_names if slot_names.count(n) > 1}):
            problems.append(Problem(f"{where}: slot {name!r} is defined twice.", setting="intents"))
        if not intent.utterances:
            problems.append(Problem(f"{where}: give sample utterances.", setting="intents"))
        for utterance in intent.utterances:
            for used in _UTTERANCE_SLOT.findall(utterance):
                if used not in slot_names:
                    problems.append(
                        Problem(f"{where}: utterance {utterance!r} names slot {{{used}}}, which the intent does not "
                                f"have (its slots: {', '.join(slot_names) or 'none'}).", setting="intents")
                    )  # fmt: skip
        for slot in intent.slots:
            bad_name("slot", slot.name)
            if slot.slot_type not in type_names and not slot.slot_type.startswith("AMAZON."):
                problems.append(
                    Problem(f"{where}: slot {slot.name!r} has type {slot.slot_type!r}, which is neither a slot type of "
                            "the bot nor a built-in AMAZON.* type.", setting="intents")
                )  # fmt: skip
            if slot.multiple_values and definition.locale_id != "en_US":
                problems.append(
                    Problem(f"{where}: slot {slot.name!r} takes several values, which Lex allows in en_US only "
                            "(Amazon Lex V2 Developer Guide, Using multiple values in a slot).", setting="intents")
                )  # fmt: skip
            if slot.multiple_values and slot.slot_type.startswith("AMAZON."):
                problems.append(
                    Problem(f"{where}: slot {slot.name!r} takes several values, which Lex allows for custom slot types "
                            "only.", setting="intents")
                )  # fmt: skip
            message(f"{where}, slot {slot.name!r} prompt", slot.prompt)
        for what in ("confirmation", "declination", "closing"):
            message(f"{where} {what}", getattr(intent, what))
        if intent.declination and not intent.confirmation:
            problems.append(Problem(f"{where}: a declination answers a confirmation; give the confirmation too.",
                                    setting="intents"))  # fmt: skip
        if intent.next_intent is not None and (
            intent.next_intent not in intent_names or intent.next_intent == intent.name
        ):
            problems.append(
                Problem(
                    f"{where}: next_intent {intent.next_intent!r} is not another intent of the bot.",
                    setting="intents",
                )
            )
    return problems


def _messages(text: str) -> dict[str, Any]:
    return {"MessageGroupsList": [{"Message": {"PlainTextMessage": {"Value": text}}}]}


def _locale(definition: BotDefinition, code_hook: bool) -> dict[str, Any]:
    """The bot locale, in CloudFormation's own shape."""
    intents = []
    for intent in definition.intents:
        body: dict[str, Any] = {
            "Name": intent.name,
            "SampleUtterances": [{"Utterance": u} for u in intent.utterances],
            "Slots": [
                {
                    "Name": slot.name,
                    "SlotTypeName": slot.slot_type,
                    "ValueElicitationSetting": {
                        "SlotConstraint": "Required" if slot.required else "Optional",
                        "PromptSpecification": {**_messages(slot.prompt), "MaxRetries": definition.max_retries,
                                                "AllowInterrupt": True},
                    },
                    **({"MultipleValuesSetting": {"AllowMultipleValues": True}} if slot.multiple_values else {}),
                    **({"ObfuscationSetting": {"ObfuscationSettingType": "DefaultObfuscation"}} if slot.obfuscate else {}),
                }
                for slot in intent.slots
            ],
            "SlotPriorities": [{"Priority": i + 1, "SlotName": s.name} for i, s in enumerate(intent.slots)],
        }  # fmt: skip
        next_step = (
            {"DialogAction": {"Type": "StartIntent"}, "Intent": {"Name": intent.next_intent}}
            if intent.next_intent
            else None
        )
        if intent.confirmation:
            body["IntentConfirmationSetting"] = {
                "PromptSpecification": {
                    **_messages(intent.confirmation),
                    "MaxRetries": definition.max_retries,
                },
                **({"DeclinationResponse": _messages(intent.declination)} if intent.declination else {}),
            }
        if intent.code_hook and code_hook:
            body["DialogCodeHook"] = {"Enabled": True}
            body["FulfillmentCodeHook"] = {
                "Enabled": True,
                **(
                    {"PostFulfillmentStatusSpecification": {"SuccessNextStep": next_step}}
                    if next_step
                    else {}
                ),
            }
        else:
            body["IntentClosingSetting"] = {
                "ClosingResponse": _messages(intent.closing or "Thank you."),
                **({"NextStep": next_step} if next_step else {}),
            }
        intents.append(body)
    intents.append(
        {
            "Name": "FallbackIntent",
            "ParentIntentSignature": "AMAZON.FallbackIntent",
            "IntentClosingSetting": {"ClosingResponse": _messages(definition.fallback_message)},
        }
    )
    return {
        "LocaleId": definition.locale_id,
        "NluConfidenceThreshold": definition.confidence_threshold,
        "VoiceSettings": {"VoiceId": definition.voice_id, "Engine": definition.voice_engine},
        "SlotTypes": [
            {
                "Name": slot_type.name,
                "SlotTypeValues": [
                    {"SampleValue": {"Value": value}, **({"Synonyms": [{"Value": s} for s in synonyms]} if synonyms else {})}
                    for value, synonyms in slot_type.values.items()
                ],
                "ValueSelectionSetting": {"ResolutionStrategy": "TOP_RESOLUTION"},
            }
            for slot_type in definition.slot_types
        ],
        "Intents": intents,
    }  # fmt: skip


class ChatBot(Construct):
    """A Lex V2 bot from ``definition``, its ``live`` alias, code hook and encrypted conversation logs.

    :param idle_session_ttl: how long Lex keeps a conversation's state without input (60 s to 24 h).
    :param child_directed: whether the bot is directed at children under 13 (COPPA); Lex requires the answer.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        definition: BotDefinition,
        encryption_key: kms.IKey,
        idle_session_ttl: Duration = Duration.minutes(5),
        child_directed: bool = False,
        code_hook_concurrency: int = 10,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = bot_problems(definition)
        ttl = service_model("lexv2-models").shape("SessionTTL")
        if not ttl["min"] <= idle_session_ttl.to_seconds() <= ttl["max"]:
            problems.append(
                Problem(
                    f"idle session TTL: {ttl['min']} to {ttl['max']} seconds.", setting="idle_session_minutes"
                )
            )
        if problems:
            raise LexError(problems)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "lexv2.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:lex:{Aws.REGION}:{Aws.ACCOUNT_ID}:bot*"
                    },
                },
            ),
            description="Lex bot: speaks with Polly, writes its conversation logs",
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["polly:SynthesizeSpeech"], resources=["*"]))
        acknowledge_inline_policy(self.role)
        acknowledge_wildcard_resource(
            self.role.node.find_child("DefaultPolicy"),
            "*",
            topic="speech synthesis",
            reason="polly:SynthesizeSpeech is allowed on lexicons only, and the bot uses none; Lex's own role "
            "policy for voice bots grants it on *.",
        )
        # "You can't use conversation logs with a bot subject to the Children's Online Privacy Protection Act"
        # (Amazon Lex V2 Developer Guide, Enabling conversation logs).
        self.text_logs = self.audio_logs = None
        log_settings = (
            None if child_directed else self._conversation_logs(definition, encryption_key, removal_policy)
        )

        code_hook = any(intent.code_hook for intent in definition.intents)
        self.code_hook = (
            self._code_hook(definition, encryption_key, code_hook_concurrency, removal_policy)
            if code_hook
            else None
        )
        locale = _locale(definition, code_hook)
        self.bot = lex.CfnBot(
            self,
            "Resource",
            name=unique_base_name(self, max_length=100),
            role_arn=self.role.role_arn,
            data_privacy=lex.CfnBot.DataPrivacyProperty(child_directed=child_directed),  # renamed below
            idle_session_ttl_in_seconds=int(idle_session_ttl.to_seconds()),
            auto_build_bot_locales=True,
        )
        self.bot.add_property_override("BotLocales", [locale])
        # aws-cdk-lib renders the struct's member as childDirected; CloudFormation's schema names it ChildDirected.
        self.bot.add_property_deletion_override("DataPrivacy.childDirected")
        self.bot.add_property_override("DataPrivacy.ChildDirected", child_directed)
        # A new version whenever what a version keeps changes: the locale and the bot's own settings (its
        # description carries their hash; the type has no update handler, so a change replaces the version).
        kept = {"locale": locale, "ttl": int(idle_session_ttl.to_seconds()), "child_directed": child_directed}
        digest = hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]
        self.version = lex.CfnBotVersion(
            self,
            "Version",
            bot_id=self.bot.attr_id,
            description=f"Definition {digest}",
            bot_version_locale_specification=[
                lex.CfnBotVersion.BotVersionLocaleSpecificationProperty(
                    locale_id=definition.locale_id,
                    bot_version_locale_details=lex.CfnBotVersion.BotVersionLocaleDetailsProperty(
                        source_bot_version="DRAFT"
                    ),
                )
            ],
        )
        locale_setting: dict[str, Any] = {"Enabled": True}
        if self.code_hook is not None:
            locale_setting["CodeHookSpecification"] = {
                "LambdaCodeHook": {
                    "LambdaArn": self.code_hook.function_arn,
                    "CodeHookInterfaceVersion": "1.0",
                }
            }
        self.alias = lex.CfnBotAlias(
            self,
            "LiveAlias",
            bot_id=self.bot.attr_id,
            bot_alias_name="live",
            bot_version=self.version.attr_bot_version,
        )
        self.alias.add_property_override(
            "BotAliasLocaleSettings",
            [{"LocaleId": definition.locale_id, "BotAliasLocaleSetting": locale_setting}],
        )
        if log_settings is not None:
            self.alias.add_property_override("ConversationLogSettings", log_settings)
        # The role's policy (its log grants) is in place before the alias starts logging.
        self.alias.node.add_dependency(self.role)
        if self.code_hook is not None:
            self.code_hook.add_permission(
                "LexInvoke",
                principal=iam.ServicePrincipal("lexv2.amazonaws.com"),
                source_arn=self.alias.attr_arn,
                source_account=stack.account,
            )
        self.bot_id = self.bot.attr_id
        self.alias_id = self.alias.attr_bot_alias_id

    def _conversation_logs(self, definition: BotDefinition, key: kms.IKey, removal_policy) -> dict[str, Any]:
        """Text logs to an encrypted log group; audio logs to an encrypted bucket, unless a slot is obfuscated
        ("it is not possible to obfuscate sensitive slots ... in the audio logs", Amazon Lex V2 Developer Guide)."""
        self.text_logs = encrypted_log_group(
            self, "ConversationLogs", encryption_key=key, removal_policy=removal_policy, purpose="lex"
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.text_logs.log_group_arn],
            )
        )
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge_wildcard_resource(
            policy,
            self.text_logs.log_group_arn,
            topic="text conversation logs",
            reason="The one encrypted log group of this bot's conversations (its ARN ends with :*, for its streams).",
        )
        settings: dict[str, Any] = {
            "TextLogSettings": [
                {"Enabled": True, "Destination": {"CloudWatch": {"CloudWatchLogGroupArn": self.text_logs.log_group_arn,
                                                                 "LogPrefix": "text/"}}}
            ]
        }  # fmt: skip
        if any(slot.obfuscate for intent in definition.intents for slot in intent.slots):
            return settings
        self.audio_logs = SecureBucket(self, "AudioLogs", encryption_key=key, removal_policy=removal_policy)
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.audio_logs.bucket.arn_for_objects("audio/*")]
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key.key_arn]))
        acknowledge_wildcard_resource(
            policy,
            self.audio_logs.bucket.arn_for_objects("audio/*"),
            topic="audio conversation logs",
            reason="Lex writes each utterance's audio under audio/, with keys of its own; write only.",
        )
        settings["AudioLogSettings"] = [
            {"Enabled": True, "Destination": {"S3Bucket": {"S3BucketArn": self.audio_logs.bucket.bucket_arn,
                                                           "LogPrefix": "audio/", "KmsKeyArn": key.key_arn}}}
        ]  # fmt: skip
        return settings

    def _code_hook(self, definition, key, concurrency, removal_policy) -> lambda_.Function:
        function = lambda_.Function(
            self,
            "CodeHook",
            runtime=PYTHON_RUNTIME,
            handler="code_hook.handle",
            code=lambda_.Code.from_asset(str(HANDLERS), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.seconds(10),
            memory_size=256,
            reserved_concurrent_executions=concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "MENU": json.dumps(definition.menu(), sort_keys=True),
                "CHAINS": json.dumps(definition.chains(), sort_keys=True),
            },
            environment_encryption=key,
            log_group=encrypted_log_group(
                self, "CodeHookLogs", encryption_key=key, removal_policy=removal_policy, purpose="lex"
            ),
            description="The bot's validation and fulfilment code hook",
        )
        acknowledge_inline_policy(function.role)
        acknowledge_wildcard_resource(
            function.role.node.find_child("DefaultPolicy"),
            "*",
            topic="tracing",
            reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.",
        )
        accept_synchronous_function(
            function,
            topic="bot code hook",
            caller="Lex, during the conversation (it answers the user with the hook's error handling)",
            outside_vpc="It calls no AWS API and keeps no data: it checks the slots Lex sends against the bot's own "
            "menu and answers",
        )
        return function

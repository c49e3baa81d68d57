"""Speech from text and SSML in S3 with Amazon Polly synthesis tasks, pronunciation lexicons and speech marks.

- **Lexicons** (``AWS::Polly::Lexicon``): W3C PLS files from the repo, checked at synth.
- **Synthesis**: a text file put under ``text/`` or an SSML file under ``ssml/`` of the input bucket
  starts a Step Functions execution: the file is read, a ``StartSpeechSynthesisTask`` writes the audio (MP3,
  OGG or PCM) under ``audio/`` of the results bucket, a second one the speech marks (word and sentence
  offsets, for highlighting) under ``marks/``, and ``manifest/<key>.json`` names both for the source file.
- **SSML templates** the blueprint ships are checked at synth (well-formed, ``<speak>`` root, Polly's tags only).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, Names, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_polly as polly
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from mlblueprints.constructs._private.service_models import enum_values
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_newer_resource_type,
    acknowledge_wildcard_resource,
    skip_checkov,
)
from mlblueprints.constructs.compliance.functions import encrypted_log_group
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.monitoring.dead_letters import EventDeadLetters
from mlblueprints.constructs.monitoring.executions import watch_event_started_executions

__all__ = [
    "LEXICONS",
    "MAX_FILE_BYTES",
    "SSML_TEMPLATES",
    "Speech",
    "SpeechError",
    "SpeechOptions",
    "lexicon_problems",
    "speech_problems",
    "ssml_problems",
]  # fmt: skip

LEXICONS = Path(__file__).parent / "lexicons"
SSML_TEMPLATES = Path(__file__).parent / "ssml"
_PLS = "{http://www.w3.org/2005/01/pronunciation-lexicon}"
_AMAZON = (
    "https://mlblueprints.invalid/amazon-ssml"  # stands for Polly's undeclared amazon: prefix while parsing
)
# Polly's SSML tags ("Supported SSML tags", Amazon Polly Developer Guide).
SSML_TAGS = frozenset({
    "speak", "break", "emphasis", "lang", "mark", "p", "phoneme", "prosody", "s", "say-as", "sub", "w",
    "amazon:auto-breaths", "amazon:breath", "amazon:domain", "amazon:effect",
})  # fmt: skip
# Tags an engine refuses ("Supported SSML tags", Amazon Polly Developer Guide: all tags but the news domain work
# with standard voices; "if you use an unsupported SSML tag in the standard, neural, or long-form format, an
# error occurs"). ``amazon:effect`` is decided by its attributes below.
UNAVAILABLE_TAGS = {
    "standard": frozenset({"amazon:domain"}),
    "neural": frozenset({"emphasis", "amazon:auto-breaths", "amazon:breath"}),
    "long-form": frozenset({"emphasis", "amazon:auto-breaths", "amazon:breath", "amazon:domain"}),
    "generative": frozenset({"emphasis", "amazon:auto-breaths", "amazon:breath", "amazon:domain"}),
}
# amazon:effect name="drc" works with standard, neural and long-form voices; phonation, vocal-tract-length and
# whispering with standard voices only. prosody amazon:max-duration works with standard voices only.
_DRC_ENGINES = frozenset({"standard", "neural", "long-form"})
# A synthesis task takes up to 200,000 characters, 100,000 of them billed (Amazon Polly Developer Guide, Quotas).
MAX_TASK_CHARACTERS = 200_000
# The flow carries a file's text through Step Functions, whose states take at most 256 KiB of input and output
# (Step Functions Developer Guide, Quotas); JSON escaping can grow text, so files stop well short of it.
MAX_FILE_BYTES = 100_000
AUDIO_FORMATS = ("mp3", "ogg_vorbis", "ogg_opus", "pcm")


class SpeechError(MlBlueprintsError):
    """Speech settings Polly would refuse."""


@dataclass(frozen=True)
class SpeechOptions:
    voice_id: str = "Joanna"
    engine: str = "neural"
    output_format: str = "mp3"
    speech_marks: Sequence[str] = ("word", "sentence")


def speech_problems(options: SpeechOptions) -> list[Problem]:
    problems = []
    voices = enum_values("VoiceId", service="polly")
    if options.voice_id not in voices:
        problems.append(Problem(f"voice {options.voice_id!r} is not an Amazon Polly voice (botocore's VoiceId).",
                                setting="voice", value=options.voice_id))  # fmt: skip
    engines = enum_values("Engine", service="polly")
    if options.engine not in engines:
        problems.append(Problem(f"engine {options.engine!r}: use {', '.join(engines)}.", setting="engine"))
    formats = [f for f in enum_values("OutputFormat", service="polly") if f in AUDIO_FORMATS]
    if options.output_format not in formats:
        problems.append(
            Problem(
                f"output_format {options.output_format!r}: use {', '.join(formats)}.", setting="output_format"
            )
        )
    marks = enum_values("SpeechMarkType", service="polly")
    for mark in options.speech_marks:
        if mark not in marks:
            problems.append(Problem(f"speech mark {mark!r}: use {', '.join(marks)}.", setting="speech_marks"))
    return problems


def lexicon_problems(path: Path) -> list[Problem]:
    """A W3C pronunciation lexicon (PLS) Polly takes: its alphabet, language, and lexemes."""
    where = f"lexicon {path}"
    if not path.is_file():
        return [Problem(f"{where}: no such file.", setting="lexicon_files", value=str(path))]
    try:
        root = ElementTree.fromstring(path.read_bytes())
    except ElementTree.ParseError as error:
        return [Problem(f"{where}: not XML ({error}).", setting="lexicon_files")]
    problems = []
    if root.tag != f"{_PLS}lexicon":
        return [
            Problem(
                f"{where}: a PLS document has a <lexicon> root in the {_PLS[1:-1]} namespace.",
                setting="lexicon_files",
            )
        ]
    if root.get("alphabet") not in ("ipa", "x-sampa"):
        problems.append(Problem(f"{where}: alphabet is ipa or x-sampa.", setting="lexicon_files"))
    if not root.get("{http://www.w3.org/XML/1998/namespace}lang"):
        problems.append(Problem(f"{where}: xml:lang names the lexicon's language.", setting="lexicon_files"))
    lexemes = root.findall(f"{_PLS}lexeme")
    if not lexemes:
        problems.append(Problem(f"{where}: no <lexeme>.", setting="lexicon_files"))
    for number, lexeme in enumerate(lexemes, start=1):
        if lexeme.find(f"{_PLS}grapheme") is None or (
            lexeme.find(f"{_PLS}phoneme") is None and lexeme.find(f"{_PLS}alias") is None
        ):
            problems.append(Problem(f"{where}: lexeme {number} needs a <grapheme> and a <phoneme> or <alias>.",
                                    setting="lexicon_files"))  # fmt: skip
    return problems


def ssml_problems(path: Path, *, engine: str = "standard") -> list[Problem]:
    """An SSML document Polly takes with ``engine``: well-formed, a <speak> root, its tags, and a task's length."""
    where = f"SSML {path}"
    text = path.read_text(encoding="utf-8")
    if len(text) > MAX_TASK_CHARACTERS:
        return [
            Problem(
                f"{where}: {len(text)} characters; a synthesis task takes {MAX_TASK_CHARACTERS}.",
                setting="ssml",
            )
        ]
    declared = re.sub(r"<speak(\s|>)", f'<speak xmlns:amazon="{_AMAZON}"\\1', text, count=1)
    try:
        root = ElementTree.fromstring(declared)
    except ElementTree.ParseError as error:
        return [Problem(f"{where}: not well-formed ({error}).", setting="ssml")]
    if root.tag != "speak":
        return [Problem(f"{where}: the root element is <speak>.", setting="ssml")]
    tags = {_tag(element.tag) for element in root.iter()}
    unknown = sorted(tags - SSML_TAGS)
    if unknown:
        return [Problem(f"{where}: Polly does not know the tags {unknown}.", setting="ssml")]
    refused = tags & UNAVAILABLE_TAGS.get(engine, frozenset())
    for element in root.iter():
        tag = _tag(element.tag)
        if tag == "amazon:effect":
            drc = element.get("name") == "drc"
            if (drc and engine not in _DRC_ENGINES) or (not drc and engine != "standard"):
                refused.add(f"amazon:effect {_attributes(element)}")
        if tag == "prosody" and engine != "standard" and element.get(f"{{{_AMAZON}}}max-duration"):
            refused.add("prosody amazon:max-duration")
    if refused:
        return [
            Problem(
                f"{where}: the {engine} engine refuses {sorted(refused)} (Amazon Polly, Supported SSML tags); "
                "remove them or use an engine that takes them.",
                setting="ssml",
            )
        ]
    return []


def _tag(name: str) -> str:
    return name.replace(f"{{{_AMAZON}}}", "amazon:")


def _attributes(element: ElementTree.Element) -> str:
    return " ".join(f'{_tag(k)}="{v}"' for k, v in sorted(element.attrib.items()))


class Speech(Construct):
    """Synthesize speech for each text or SSML file created in ``input_bucket``; audio and marks in ``output_bucket``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        options: SpeechOptions = SpeechOptions(),
        lexicon_files: Sequence[Path] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = speech_problems(options)
        for path in lexicon_files:
            problems += lexicon_problems(Path(path))
        if len(lexicon_files) > 5:
            problems.append(Problem("at most 5 lexicons apply to one synthesis.", setting="lexicon_files"))
        if problems:
            raise SpeechError(problems)
        self.lexicons = []
        for path in map(Path, lexicon_files):
            lexicon = polly.CfnLexicon(
                self, f"Lexicon{path.stem}", name=path.stem, content=path.read_text(encoding="utf-8")
            )
            # Lexicon names are per account and region (1 to 20 letters and digits): the construct path and its
            # hash keep two stacks' lexicons apart, so neither stack's deletion takes the other's.
            lexicon.name = Names.unique_resource_name(lexicon, max_length=20)
            self.lexicons.append(lexicon)
        self.state_machine = self._state_machine(
            input_bucket, output_bucket, encryption_key, options, removal_policy
        )
        for lexicon in self.lexicons:
            acknowledge_newer_resource_type(lexicon)
            self.state_machine.node.add_dependency(lexicon)
        self.dead_letters = EventDeadLetters(
            self, "DeadLetters", encryption_key=encryption_key, topic=topic, removal_policy=removal_policy
        )
        for rule_id, prefix, text_type in (
            ("TextCreated", "text/", "text"),
            ("SsmlCreated", "ssml/", "ssml"),
        ):
            events.Rule(
                self,
                rule_id,
                description=f"Each file created under {prefix} is spoken ({text_type})",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [input_bucket.bucket_name]},
                        "object": {"key": [{"prefix": prefix}]},
                    },
                ),
                targets=[
                    targets.SfnStateMachine(
                        self.state_machine,
                        dead_letter_queue=self.dead_letters.queue,
                        input=events.RuleTargetInput.from_object(
                            {"bucket": events.EventField.from_path("$.detail.bucket.name"),
                             "key": events.EventField.from_path("$.detail.object.key"), "textType": text_type}
                        ),
                    )
                ],
            )  # fmt: skip
        self.failed_alarm = watch_event_started_executions(
            self, self.state_machine, encryption_key=encryption_key, topic=topic,
            description="A file's speech synthesis failed (the execution's history says why).",
        )  # fmt: skip

    def _start(self, id: str, parameters: dict, *, result_path: str) -> tasks.CallAwsService:
        start = tasks.CallAwsService(
            self,
            id,
            service="polly",
            action="startSpeechSynthesisTask",
            iam_action="polly:StartSpeechSynthesisTask",
            iam_resources=["*"],
            parameters=parameters,
            result_selector={"TaskId": sfn.JsonPath.string_at("$.SynthesisTask.TaskId"),
                             "OutputUri": sfn.JsonPath.string_at("$.SynthesisTask.OutputUri")},
            result_path=result_path,
        )  # fmt: skip
        # A neural task start is limited to 10 requests a second (Amazon Polly quotas): back off and retry.
        start.add_retry(
            errors=["Polly.ServiceFailureException", "Polly.ThrottlingException", "Polly.PollyException"],
            interval=Duration.seconds(2),
            max_attempts=5,
            backoff_rate=2,
        )
        return start

    def _poll(self, label: str, task_id_path: str) -> tuple[sfn.Wait, sfn.Choice, str]:
        """Wait for one synthesis task; the Choice fails on ``failed`` and loops until the caller's ``completed``."""
        status = f"$.status{label}.Task"
        wait = sfn.Wait(self, f"WaitFor{label}", time=sfn.WaitTime.duration(Duration.seconds(15)))
        get = tasks.CallAwsService(
            self,
            f"Get{label}Task",
            service="polly",
            action="getSpeechSynthesisTask",
            iam_action="polly:GetSpeechSynthesisTask",
            iam_resources=["*"],
            parameters={"TaskId": sfn.JsonPath.string_at(task_id_path)},
            result_selector={"Task": sfn.JsonPath.object_at("$.SynthesisTask")},
            result_path=f"$.status{label}",
        )
        get.add_retry(
            errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2
        )
        done = sfn.Choice(self, f"{label}Done?").when(
            sfn.Condition.string_equals(f"{status}.TaskStatus", "failed"),
            sfn.Fail(self, f"{label}Failed", error="SynthesisFailed",
                     cause_path=sfn.JsonPath.string_at(f"{status}.TaskStatusReason")),
        )  # fmt: skip
        done.otherwise(wait)
        wait.next(get).next(done)
        return wait, done, status

    def _state_machine(self, input_bucket, output_bucket, key, options: SpeechOptions, removal_policy):
        size = tasks.CallAwsService(
            self,
            "MeasureTheFile",
            service="s3",
            action="headObject",
            iam_action="s3:GetObject",
            iam_resources=[input_bucket.arn_for_objects("text/*"), input_bucket.arn_for_objects("ssml/*")],
            parameters={"Bucket": sfn.JsonPath.string_at("$.bucket"), "Key": sfn.JsonPath.string_at("$.key")},
            result_selector={"Bytes": sfn.JsonPath.number_at("$.ContentLength")},
            result_path="$.file",
        )
        read = tasks.CallAwsService(
            self,
            "ReadTheText",
            service="s3",
            action="getObject",
            iam_action="s3:GetObject",
            iam_resources=[input_bucket.arn_for_objects("text/*"), input_bucket.arn_for_objects("ssml/*")],
            parameters={"Bucket": sfn.JsonPath.string_at("$.bucket"), "Key": sfn.JsonPath.string_at("$.key")},
            result_selector={"Body": sfn.JsonPath.string_at("$.Body")},
            result_path="$.text",
        )
        for step in (size, read):
            step.add_retry(errors=["S3.SdkClientException", "States.Timeout"], max_attempts=3)
        too_large = sfn.Fail(
            self,
            "FileTooLarge",
            error="FileTooLarge",
            cause=f"The file is over {MAX_FILE_BYTES} bytes: a Step Functions state carries at most 256 KiB. "
            "Split it into smaller files.",
        )
        common = {
            "Text": sfn.JsonPath.string_at("$.text.Body"),
            "TextType": sfn.JsonPath.string_at("$.textType"),
            "VoiceId": options.voice_id,
            "Engine": options.engine,
            "OutputS3BucketName": output_bucket.bucket_name,
            **({"LexiconNames": [lexicon.name for lexicon in self.lexicons]} if self.lexicons else {}),
        }
        audio = self._start(
            "SynthesizeAudio",
            {**common, "OutputFormat": options.output_format, "OutputS3KeyPrefix": "audio/"},
            result_path="$.audio",
        )
        started = audio
        # Each task is waited for before the manifest names its output; the text is dropped once both are started.
        polls = [self._poll("Audio", "$.audio.TaskId")]
        if options.speech_marks:
            marks = self._start(
                "SynthesizeSpeechMarks",
                {**common, "OutputFormat": "json", "SpeechMarkTypes": list(options.speech_marks), "OutputS3KeyPrefix": "marks/"},
                result_path="$.marks",
            )  # fmt: skip
            started = audio.next(marks)
            polls.append(self._poll("SpeechMarks", "$.marks.TaskId"))
        forget_the_text = sfn.Pass(
            self,
            "ForgetTheText",
            parameters={
                "bucket": sfn.JsonPath.string_at("$.bucket"),
                "key": sfn.JsonPath.string_at("$.key"),
                "audio": sfn.JsonPath.object_at("$.audio"),
                **({"marks": sfn.JsonPath.object_at("$.marks")} if options.speech_marks else {}),
            },
        )
        manifest = sfn.Pass(
            self,
            "Manifest",
            parameters={
                "Source": sfn.JsonPath.format("s3://{}/{}", sfn.JsonPath.string_at("$.bucket"), sfn.JsonPath.string_at("$.key")),
                "Audio": sfn.JsonPath.string_at("$.audio.OutputUri"),
                **({"SpeechMarks": sfn.JsonPath.string_at("$.marks.OutputUri")} if options.speech_marks else {}),
                "Voice": options.voice_id,
                "Engine": options.engine,
            },
            result_path="$.manifest",
        )  # fmt: skip
        store = tasks.CallAwsService(
            self,
            "StoreManifest",
            service="s3",
            action="putObject",
            iam_action="s3:PutObject",
            iam_resources=[output_bucket.arn_for_objects("manifest/*")],
            parameters={
                "Bucket": output_bucket.bucket_name,
                "Key": sfn.JsonPath.format("manifest/{}.json", sfn.JsonPath.string_at("$.key")),
                "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.manifest")),
                "ContentType": "application/json",
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        store.add_retry(errors=["S3.SdkClientException", "States.Timeout"], max_attempts=3)
        # Wire backwards: the last task's poll goes on to the manifest, each earlier one to the next poll.
        after = manifest.next(store)
        for wait, done, status in reversed(polls):
            done.when(sfn.Condition.string_equals(f"{status}.TaskStatus", "completed"), after)
            after = wait
        measured = sfn.Choice(self, "SmallEnough?").when(
            sfn.Condition.number_greater_than("$.file.Bytes", MAX_FILE_BYTES), too_large
        )
        measured.otherwise(read.next(started).next(forget_the_text).next(polls[0][0]))
        definition = size.next(measured)
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(3),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=encrypted_log_group(self, "Logs", encryption_key=key, removal_policy=removal_policy,
                                                purpose="states"),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(key),
        )  # fmt: skip
        # Polly writes the audio and marks as the caller, into the KMS-encrypted results bucket.
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[
                    output_bucket.arn_for_objects("audio/*"),
                    output_bucket.arn_for_objects("marks/*"),
                ],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
        )
        policy = machine.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(machine.role)
        skip_checkov(
            policy.node.default_child,
            CKV_AWS_111="polly:StartSpeechSynthesisTask applies to lexicons only (voices have no ARN); the task writes "
            "its output as the caller, whose S3 writes this policy limits to audio/ and marks/ of the results bucket.",
        )
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="speech synthesis and tracing",
            reason="Polly's synthesis actions apply to lexicons only (voices have no ARN), and X-Ray's "
            "PutTraceSegments, PutTelemetryRecords and GetSampling* support no resource-level permissions.",
        )
        for resource, what in (
            (input_bucket.arn_for_objects("text/*"), "reads each text file under text/"),
            (input_bucket.arn_for_objects("ssml/*"), "reads each SSML file under ssml/"),
            (output_bucket.arn_for_objects("audio/*"), "lets Polly write the audio under audio/"),
            (output_bucket.arn_for_objects("marks/*"), "lets Polly write the speech marks under marks/"),
            (output_bucket.arn_for_objects("manifest/*"), "writes each file's manifest under manifest/"),
        ):  # fmt: skip
            acknowledge_wildcard_resource(policy, resource, topic="speech files",
                                          reason=f"The flow {what}; one object per file, under that prefix only.")  # fmt: skip
        return machine

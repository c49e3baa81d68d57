"""Medical audio in S3, transcribed by Amazon Transcribe Medical and analysed by Amazon Comprehend Medical.

A Step Functions state machine, started by EventBridge for each audio file (FLAC, MP3, MP4, WAV) created
in the input bucket:

1. ``StartMedicalTranscriptionJob`` (an SDK integration): the transcript is written to the output bucket
   under ``transcripts/``, encrypted with the stack's key, with PHI marked when ``identify_phi`` is on;
2. ``GetMedicalTranscriptionJob`` every 30 seconds until the job completes or fails (Transcribe publishes no
   EventBridge event for medical jobs, and Step Functions has no ``.sync`` integration for Transcribe);
3. a function runs Comprehend Medical's ``DetectEntitiesV2`` and ``DetectPHI`` on the transcript, in
   chunks under the APIs' 20,000-byte limit, and writes ``analysis/<job>.json``.

Every service here is HIPAA eligible. Transcribe reads the audio and writes the transcript with the state
machine's own permissions (the medical API takes no data access role), so its role holds exactly those.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import aws_transcribe as transcribe

from constructs import Construct
from mlblueprints.constructs._private.names import unique_base_name
from mlblueprints.constructs._private.service_models import enum_values, number_rule
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
from mlblueprints.constructs.monitoring.dead_letters import EventDeadLetters
from mlblueprints.constructs.monitoring.executions import watch_event_started_executions

__all__ = [
    "AUDIO_SUFFIXES",
    "MEDICAL_LANGUAGES",
    "MedicalTranscription",
    "MedicalTranscriptionError",
    "MedicalVocabulary",
    "TranscriptionOptions",
    "transcription_problems",
    "vocabulary_problems",
]

HANDLERS = Path(__file__).parent / "_handlers"
VOCABULARIES = Path(__file__).parent / "vocabularies"
# "Amazon Transcribe Medical is available in US English (en-US)" (Amazon Transcribe Developer Guide,
# "Amazon Transcribe Medical"); so are medical custom vocabularies ("Improving transcription accuracy with
# medical custom vocabularies"). botocore's LanguageCode enum is Transcribe's, not the medical API's.
MEDICAL_LANGUAGES = ("en-US",)
# The audio the blueprint takes (each is in botocore's MediaFormat enum; a test checks it).
AUDIO_SUFFIXES = (".flac", ".mp3", ".mp4", ".wav")
# "A custom vocabulary can't exceed 50 KB in size" (Amazon Transcribe Developer Guide).
VOCABULARY_MAX_BYTES = 50_000
VOCABULARY_COLUMNS = ("Phrase", "IPA", "SoundsLike", "DisplayAs")
# "Character set for Amazon Transcribe Medical" (English): Phrase and SoundsLike take letters, apostrophe,
# hyphen and period; IPA takes these phonemes, separated by single spaces.
_PHRASE = re.compile(r"^[A-Za-z'.-]+$")
# (the page's Code column: each phoneme's code points).
_IPA_CODES = (
    "0061 028A",
    "0061 026A",
    "0062",
    "0064",
    "0065 026A",
    "0066",
    "0067",
    "0068",
    "0069",
    "006A",
    "006B",
    "006C",
    "006C 0329",
    "006D",
    "006E",
    "006E 0329",
    "006F 028A",
    "0070",
    "0073",
    "0074",
    "0075",
    "0076",
    "0077",
    "007A",
    "00E6",
    "00F0",
    "014B",
    "0251",
    "0254",
    "0254 026A",
    "0259",
    "025B",
    "025D",
    "0261",
    "026A",
    "0279",
    "0283",
    "028A",
    "028C",
    "028D",
    "0292",
    "02A4",
    "02A7",
    "03B8",
)
_IPA_PHONEMES = frozenset("".join(chr(int(c, 16)) for c in code.split()) for code in _IPA_CODES)
# Each value has "fewer than 256 characters, including hyphens".
_VALUE_MAX = 255
POLL_INTERVAL = Duration.seconds(30)


class MedicalTranscriptionError(MlBlueprintsError):
    """Transcription settings Transcribe Medical would refuse."""


@dataclass(frozen=True)
class TranscriptionOptions:
    """How each file is transcribed (StartMedicalTranscriptionJob's settings).

    :param specialty: botocore's ``Specialty`` enum (batch jobs: PRIMARYCARE).
    :param transcription_type: CONVERSATION (clinician and patient) or DICTATION.
    :param speaker_labels: label who speaks (up to ``max_speakers``); or ``channel_identification`` for
        audio with one speaker per channel (Transcribe takes one of the two).
    :param identify_phi: mark protected health information in the transcript (ContentIdentificationType PHI).
    """

    specialty: str = "PRIMARYCARE"
    transcription_type: str = "CONVERSATION"
    language_code: str = "en-US"
    speaker_labels: bool = True
    max_speakers: int = 2
    channel_identification: bool = False
    identify_phi: bool = True


def transcription_problems(options: TranscriptionOptions) -> list[Problem]:
    """Every setting StartMedicalTranscriptionJob would refuse, at once."""
    problems = []
    if options.language_code not in MEDICAL_LANGUAGES:
        problems.append(
            Problem(f"language_code {options.language_code!r}: Amazon Transcribe Medical transcribes US English "
                    "(en-US) only. Use en-US, or Amazon Transcribe (not Medical) for other languages.",
                    setting="language_code", value=options.language_code)
        )  # fmt: skip
    for setting, value, shape in (
        ("specialty", options.specialty, "Specialty"),
        ("transcription_type", options.transcription_type, "Type"),
    ):
        allowed = enum_values(shape, service="transcribe")
        if value not in allowed:
            problems.append(
                Problem(f"{setting} {value!r}: Transcribe Medical batch jobs take {', '.join(allowed)} (botocore's "
                        f"{shape}).", setting=setting, value=value)
            )  # fmt: skip
    speakers = number_rule("MedicalTranscriptionSetting", "MaxSpeakerLabels", service="transcribe")
    if options.speaker_labels and not speakers.minimum <= options.max_speakers <= speakers.maximum:
        problems.append(
            Problem(f"max_speakers {options.max_speakers}: use {speakers.minimum} to {speakers.maximum}.",
                    setting="max_speakers", value=options.max_speakers)
        )  # fmt: skip
    if options.speaker_labels and options.channel_identification:
        problems.append(
            Problem("speaker_labels and channel_identification: Transcribe takes one of the two. Use channel "
                    "identification for audio with one speaker per channel, speaker labels otherwise.",
                    setting="channel_identification")
        )  # fmt: skip
    return problems


def vocabulary_problems(path: Path) -> list[Problem]:
    """What CreateMedicalVocabulary would refuse in a vocabulary file: its size, its table and its characters
    ("Creating a text file for your medical custom vocabulary", Amazon Transcribe Developer Guide)."""
    where = f"vocabulary {path}"
    if not path.is_file():
        return [Problem(f"{where}: no such file.", setting="vocabulary_file", value=str(path))]
    raw = path.read_bytes()
    if len(raw) > VOCABULARY_MAX_BYTES:
        return [Problem(f"{where}: {len(raw)} bytes; a custom vocabulary can't exceed 50 KB.",
                        setting="vocabulary_file")]  # fmt: skip
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return [Problem(f"{where}: not UTF-8 text.", setting="vocabulary_file")]
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return [
            Problem(f"{where}: empty; give a header row and at least one phrase.", setting="vocabulary_file")
        ]
    header = lines[0].split("\t")
    if sorted(header) != sorted(VOCABULARY_COLUMNS):
        return [
            Problem(f"{where}: the header row is {header}; a medical vocabulary is a table with the four columns "
                    f"{', '.join(VOCABULARY_COLUMNS)}, separated by single tabs.", setting="vocabulary_file")
        ]  # fmt: skip
    problems = []
    for number, line in enumerate(lines[1:], start=2):
        at = f"{where}, line {number}"
        values = line.split("\t")
        if len(values) != len(header):
            problems.append(
                Problem(f"{at}: {len(values)} fields; give {len(header)}, separated by single tabs (empty ones too).",
                        setting="vocabulary_file")
            )  # fmt: skip
            continue
        row = dict(zip(header, values, strict=True))
        for column, value in row.items():
            if value != value.strip():
                problems.append(
                    Problem(f"{at}: {column} has leading or trailing spaces.", setting="vocabulary_file")
                )
            if len(value) > _VALUE_MAX:
                problems.append(Problem(f"{at}: {column} is {len(value)} characters; fewer than 256.",
                                        setting="vocabulary_file"))  # fmt: skip
        phrase, sounds_like, ipa = row["Phrase"], row["SoundsLike"], row["IPA"]
        if not phrase:
            problems.append(Problem(f"{at}: every row needs a Phrase.", setting="vocabulary_file"))
        elif not _PHRASE.match(phrase):
            problems.append(
                Problem(f"{at}: Phrase {phrase!r}: letters, apostrophes, hyphens and periods only (words joined "
                        "by hyphens, acronyms as C.O.P.D., numbers spelled out).", setting="vocabulary_file")
            )  # fmt: skip
        if sounds_like and not _PHRASE.match(sounds_like):
            problems.append(
                Problem(f"{at}: SoundsLike {sounds_like!r}: letters, apostrophes, hyphens and periods only "
                        "(syllables joined by hyphens).", setting="vocabulary_file")
            )  # fmt: skip
        if ipa and sounds_like:
            problems.append(Problem(f"{at}: give IPA or SoundsLike, not both.", setting="vocabulary_file"))
        if ipa:
            unknown = [p for p in unicodedata.normalize("NFC", ipa).split(" ") if p not in _IPA_PHONEMES]
            if unknown:
                problems.append(
                    Problem(f"{at}: IPA phonemes {unknown} are not in Transcribe Medical's English set (separate "
                            "phonemes with single spaces).", setting="vocabulary_file")
                )  # fmt: skip
    if len(lines) == 1:
        problems.append(Problem(f"{where}: no phrase under the header row.", setting="vocabulary_file"))
    return problems


class MedicalVocabulary(Construct):
    """A custom medical vocabulary (``AWS::Transcribe::MedicalVocabulary``) from a table file in the repo.

    The file is checked at synth and staged as an asset; CloudFormation creates the vocabulary from it and
    updates it when the file changes.
    """

    def __init__(self, scope: Construct, id: str, *, file: Path, language_code: str = "en-US") -> None:
        super().__init__(scope, id)
        problems = vocabulary_problems(Path(file))
        if language_code not in MEDICAL_LANGUAGES:
            problems += transcription_problems(TranscriptionOptions(language_code=language_code))
        if problems:
            raise MedicalTranscriptionError(problems)
        self.asset = s3_assets.Asset(self, "File", path=str(file))
        self.vocabulary_name = unique_base_name(self, max_length=200)
        self.resource = transcribe.CfnMedicalVocabulary(
            self,
            "Resource",
            vocabulary_name=self.vocabulary_name,
            language_code=language_code,
            vocabulary_file_uri=self.asset.s3_object_url,
        )


class MedicalTranscription(Construct):
    """Transcribe and analyse each audio file created in ``input_bucket``; results in ``output_bucket``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        options: TranscriptionOptions = TranscriptionOptions(),
        vocabulary: MedicalVocabulary | None = None,
        analysis_concurrency: int = 10,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = transcription_problems(options)
        if analysis_concurrency < 1:
            problems.append(
                Problem("analysis_concurrency must be 1 or more.", setting="analysis_concurrency")
            )
        if problems:
            raise MedicalTranscriptionError(problems)
        stack = Stack.of(self)
        job_prefix = unique_base_name(self, max_length=100)
        self.analyser = self._analyser(output_bucket, encryption_key, analysis_concurrency, removal_policy)

        name = sfn.Pass(
            self,
            "NameTheJob",
            parameters={
                "Name": sfn.JsonPath.format(f"{job_prefix}-{{}}", sfn.JsonPath.uuid()),
                "Source": sfn.JsonPath.format(
                    "s3://{}/{}",
                    sfn.JsonPath.string_at("$.detail.bucket.name"),
                    sfn.JsonPath.string_at("$.detail.object.key"),
                ),
            },
            result_path="$.job",
        )
        settings: dict = {}
        if options.speaker_labels:
            settings |= {"ShowSpeakerLabels": True, "MaxSpeakerLabels": options.max_speakers}
        if options.channel_identification:
            settings["ChannelIdentification"] = True
        if vocabulary is not None:
            settings["VocabularyName"] = vocabulary.vocabulary_name
        start_parameters = {
            "MedicalTranscriptionJobName.$": "$.job.Name",
            "LanguageCode": options.language_code,
            "Specialty": options.specialty,
            "Type": options.transcription_type,
            "Media": {"MediaFileUri.$": "$.job.Source"},
            "OutputBucketName": output_bucket.bucket_name,
            "OutputKey": "transcripts/",
            "OutputEncryptionKMSKeyId": encryption_key.key_arn,
            **({"Settings": settings} if settings else {}),
            **({"ContentIdentificationType": "PHI"} if options.identify_phi else {}),
        }
        # A custom state: the SDK integration's own policy would grant the action on "*" with no condition.
        start = sfn.CustomState(
            self,
            "StartTranscription",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:transcribe:startMedicalTranscriptionJob",
                "Parameters": start_parameters,
                # Keep the execution's input: the next states read $.job (CDK drops a null ResultPath here).
                "ResultSelector": {"Status.$": "$.MedicalTranscriptionJob.TranscriptionJobStatus"},
                "ResultPath": "$.started",
                "Retry": [
                    {
                        "ErrorEquals": [
                            "Transcribe.LimitExceededException",
                            "Transcribe.InternalFailureException",
                        ],
                        "IntervalSeconds": 10,
                        "MaxAttempts": 6,
                        "BackoffRate": 2,
                    }
                ],
            },
        )
        wait = sfn.Wait(self, "WaitForTheJob", time=sfn.WaitTime.duration(POLL_INTERVAL))
        job_arn = stack.format_arn(
            service="transcribe", resource="medical-transcription-job", resource_name=f"{job_prefix}-*"
        )
        status = tasks.CallAwsService(
            self,
            "GetTheJob",
            service="transcribe",
            action="getMedicalTranscriptionJob",
            iam_action="transcribe:GetMedicalTranscriptionJob",
            iam_resources=[job_arn],
            parameters={"MedicalTranscriptionJobName": sfn.JsonPath.string_at("$.job.Name")},
            result_selector={"Job": sfn.JsonPath.object_at("$.MedicalTranscriptionJob")},
            result_path="$.status",
        )
        status.add_retry(
            errors=["Transcribe.LimitExceededException"], interval=Duration.seconds(10), max_attempts=6
        )
        failed = sfn.Fail(
            self,
            "TranscriptionFailed",
            error="TranscriptionFailed",
            cause_path=sfn.JsonPath.string_at("$.status.Job.FailureReason"),
        )
        analyse = tasks.LambdaInvoke(
            self,
            "Analyse",
            lambda_function=self.analyser,
            payload=sfn.TaskInput.from_object(
                {
                    "bucket": output_bucket.bucket_name,
                    "transcript_uri": sfn.JsonPath.string_at("$.status.Job.Transcript.TranscriptFileUri"),
                    "analysis_key": sfn.JsonPath.format(
                        "analysis/{}.json", sfn.JsonPath.string_at("$.job.Name")
                    ),
                    "source": sfn.JsonPath.string_at("$.job.Source"),
                    "job_name": sfn.JsonPath.string_at("$.job.Name"),
                }
            ),
            result_selector={"Analysis": sfn.JsonPath.object_at("$.Payload")},
            result_path="$.analysis",
        )
        # The function's reserved concurrency throttles a burst of finished jobs: wait and try again.
        analyse.add_retry(
            errors=["Lambda.TooManyRequestsException"],
            interval=Duration.seconds(20),
            max_attempts=8,
            backoff_rate=2,
        )
        choice = (
            sfn.Choice(self, "Done?")
            .when(sfn.Condition.string_equals("$.status.Job.TranscriptionJobStatus", "COMPLETED"), analyse)
            .when(sfn.Condition.string_equals("$.status.Job.TranscriptionJobStatus", "FAILED"), failed)
            .otherwise(wait)
        )
        definition = name.next(start).next(wait).next(status).next(choice)
        log_group = encrypted_log_group(
            self, "Logs", encryption_key=encryption_key, removal_policy=removal_policy, purpose="states"
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(6),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(encryption_key),
        )
        self._grant_transcription(input_bucket, output_bucket, encryption_key, vocabulary)
        acknowledge_wildcard_resource(
            self.state_machine.role.node.find_child("DefaultPolicy"),
            f"{self.analyser.function_arn}:*",
            topic="the analysis function's versions",
            reason="Step Functions' Lambda integration grants invoking the function and its versions and aliases; "
            "it is this one function.",
        )
        if vocabulary is not None:
            self.state_machine.node.add_dependency(vocabulary.resource)

        self.dead_letters = EventDeadLetters(
            self, "DeadLetters", encryption_key=encryption_key, topic=topic, removal_policy=removal_policy
        )
        self.rule = events.Rule(
            self,
            "AudioCreated",
            description="Each audio file created in the input bucket starts its transcription",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [input_bucket.bucket_name]},
                    "object": {
                        "key": events.Match.any_of(
                            *(events.Match.suffix_equals_ignore_case(s) for s in AUDIO_SUFFIXES)
                        )
                    },
                },
            ),
            targets=[targets.SfnStateMachine(self.state_machine, dead_letter_queue=self.dead_letters.queue)],
        )
        self.failed_alarm = watch_event_started_executions(
            self, self.state_machine, encryption_key=encryption_key, topic=topic,
            description="A file's transcription or analysis failed (the execution's history says why).",
        )  # fmt: skip

    def _grant_transcription(self, input_bucket, output_bucket, key, vocabulary) -> None:
        """Transcribe Medical reads the audio and writes the transcript as the caller: the state machine."""
        machine = self.state_machine
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["transcribe:StartMedicalTranscriptionJob"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "transcribe:OutputBucketName": output_bucket.bucket_name,
                        "transcribe:OutputEncryptionKMSKeyId": key.key_arn,
                    }
                },
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects("*")])
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[output_bucket.arn_for_objects("transcripts/*")]
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
            )
        )
        policy = machine.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(machine.role)
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="starting transcription jobs, and tracing",
            reason="transcribe:StartMedicalTranscriptionJob supports no resource-level permissions (Service "
            "Authorization Reference); the statement is conditioned on this stack's output bucket and key "
            "(transcribe:OutputBucketName, transcribe:OutputEncryptionKMSKeyId). X-Ray's PutTraceSegments, "
            "PutTelemetryRecords and GetSampling* support none either.",
        )
        acknowledge_wildcard_resource(
            policy,
            input_bucket.arn_for_objects("*"),
            topic="audio to transcribe",
            reason="Transcribe Medical reads each audio file with the caller's permissions; any key of the input "
            "bucket can be a recording. Read only.",
        )
        acknowledge_wildcard_resource(
            policy,
            output_bucket.arn_for_objects("transcripts/*"),
            topic="transcripts",
            reason="Transcribe Medical writes each transcript as the caller, under transcripts/; write only.",
        )
        acknowledge_wildcard_resource(
            policy,
            Stack.of(self).format_arn(
                service="transcribe",
                resource="medical-transcription-job",
                resource_name=f"{unique_base_name(self, max_length=100)}-*",
            ),
            topic="this flow's transcription jobs",
            reason="Each execution names its job <prefix>-<UUID>; the status is read for those jobs only.",
        )

    def _analyser(self, output_bucket, key, concurrency: int, removal_policy) -> lambda_.Function:
        function = lambda_.Function(
            self,
            "Analyser",
            runtime=PYTHON_RUNTIME,
            handler="analyse_transcript.handle",
            code=lambda_.Code.from_asset(str(HANDLERS), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.minutes(5),
            memory_size=512,
            reserved_concurrent_executions=concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"KMS_KEY_ARN": key.key_arn},
            environment_encryption=key,
            log_group=encrypted_log_group(
                self, "AnalyserLogs", encryption_key=key, removal_policy=removal_policy, purpose="medical"
            ),
            description="Comprehend Medical entities and PHI of a Transcribe Medical transcript",
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["comprehendmedical:DetectEntitiesV2", "comprehendmedical:DetectPHI"], resources=["*"]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[output_bucket.arn_for_objects("transcripts/*")]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[output_bucket.arn_for_objects("analysis/*")]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
        )
        acknowledge_inline_policy(function.role)
        policy = function.role.node.find_child("DefaultPolicy")
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="Comprehend Medical and tracing calls",
            reason="comprehendmedical:DetectEntitiesV2 and DetectPHI, and X-Ray's PutTraceSegments and "
            "PutTelemetryRecords, support no resource-level permissions (Service Authorization Reference).",
        )
        for pattern, what in (
            ("transcripts/*", "reads each transcript"),
            ("analysis/*", "writes each analysis"),
        ):
            acknowledge_wildcard_resource(
                policy,
                output_bucket.arn_for_objects(pattern),
                topic=f"{pattern} of the results bucket",
                reason=f"The function {what} under {pattern}, one object per job; nothing else of the bucket.",
            )
        accept_synchronous_function(
            function,
            topic="transcript analysis",
            caller="the transcription state machine (which retries, and alarms on a failed execution)",
            outside_vpc="It calls AWS APIs only (S3, Comprehend Medical, KMS) over TLS with its role, and keeps no "
            "data at rest: the transcript and its analysis stay in the encrypted results bucket",
        )
        return function

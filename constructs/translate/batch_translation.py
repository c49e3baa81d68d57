"""Batch translation of documents in S3 with Amazon Translate, custom terminology and parallel data.

- **Terminology** (``AWS::Translate::Terminology``) from a CSV, TSV or TMX file in the repo, checked at synth
  and embedded (base64) in the template; **parallel data** (``AWS::Translate::ParallelData``) from a file
  staged as an asset. Both are encrypted with the stack's key.
- **Jobs**: putting an object at ``start/<batch>`` in the documents bucket starts a Step Functions execution
  that translates every document under ``input/<batch>/`` (one content type per batch) into the target
  languages, with automatic source-language detection by default (``auto``), and writes the translations,
  encrypted with the stack's key, under ``output/<batch>/`` of the results bucket. The execution follows the
  job (``DescribeTextTranslationJob`` every minute) and fails, alarming, when the job fails or completes with
  errors.
- **Access**: Translate reads and writes S3 with its own data access role, which this construct creates with
  exactly those prefixes; only Translate of this account may assume it.
"""

from __future__ import annotations

import base64
import csv
import io
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import aws_translate as translate

from constructs import Construct
from mlblueprints.constructs._private.names import unique_base_name
from mlblueprints.constructs._private.service_models import enum_values, service_model
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
    "CONTENT_TYPES",
    "TERMINOLOGIES",
    "BatchTranslation",
    "TranslateError",
    "TranslationOptions",
    "language_problems",
    "terminology_problems",
]

TERMINOLOGIES = Path(__file__).parent / "terminologies"
# "Supported formats" for batch translation (Amazon Translate Developer Guide, Asynchronous batch processing).
CONTENT_TYPES = (
    "text/plain",
    "text/html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/x-xliff+xml",
)
# A batch job translates into up to ten target languages (Amazon Translate Developer Guide).
MAX_TARGETS = 10
# Embedded in the template as base64: CloudFormation takes templates of 1 MB at most, so the file stays small.
TERMINOLOGY_MAX_BYTES = 256_000
FORMATS = {".csv": "CSV", ".tsv": "TSV", ".tmx": "TMX"}
POLL_INTERVAL = Duration.minutes(1)


class TranslateError(MlBlueprintsError):
    """Translation settings Amazon Translate would refuse."""


@dataclass(frozen=True)
class TranslationOptions:
    """What each batch job does: ``source_language`` "auto" detects each document's language."""

    target_languages: Sequence[str]
    source_language: str = "auto"
    content_type: str = "text/plain"
    formality: str | None = None
    mask_profanity: bool = False


def language_problems(options: TranslationOptions) -> list[Problem]:
    model = service_model("translate")
    code = model.shape("LanguageCodeString")
    problems = []
    for setting, value in (
        ("source_language", options.source_language),
        *(("target_languages", t) for t in options.target_languages),
    ):
        if not code["min"] <= len(value) <= code["max"]:
            problems.append(
                Problem(
                    f"{setting} {value!r}: a language code such as en, es, zh-TW.",
                    setting=setting,
                    value=value,
                )
            )
    if "auto" in options.target_languages:
        problems.append(
            Problem(
                "target_languages: 'auto' detects a source language; it is not a target.",
                setting="target_languages",
            )
        )
    if not 1 <= len(options.target_languages) <= MAX_TARGETS:
        problems.append(
            Problem(f"target_languages: 1 to {MAX_TARGETS} per batch job.", setting="target_languages")
        )
    if options.source_language in options.target_languages:
        problems.append(
            Problem(
                f"target_languages: {options.source_language} is the source language.",
                setting="target_languages",
            )
        )
    if len(set(options.target_languages)) != len(options.target_languages):
        problems.append(Problem("target_languages: each language once.", setting="target_languages"))
    if options.content_type not in CONTENT_TYPES:
        problems.append(
            Problem(f"content_type {options.content_type!r}: batch translation takes {', '.join(CONTENT_TYPES)}.",
                    setting="content_type", value=options.content_type)
        )  # fmt: skip
    formalities = enum_values("Formality", service="translate")
    if options.formality is not None and options.formality not in formalities:
        problems.append(
            Problem(f"formality {options.formality!r}: {' or '.join(formalities)}.", setting="formality")
        )
    return problems


def terminology_problems(path: Path, *, setting: str = "terminology_file") -> list[Problem]:
    """What ImportTerminology or CreateParallelData would refuse in a file: its format (by extension), its size
    and its table (a header of language codes, then one term per language) or TMX document."""
    where = f"{setting} {path}"
    if not path.is_file():
        return [Problem(f"{where}: no such file.", setting=setting, value=str(path))]
    if path.suffix.lower() not in FORMATS:
        return [Problem(f"{where}: use a .csv, .tsv or .tmx file.", setting=setting, value=str(path))]
    raw = path.read_bytes()
    if len(raw) > TERMINOLOGY_MAX_BYTES:
        return [Problem(f"{where}: {len(raw)} bytes; at most {TERMINOLOGY_MAX_BYTES} here (the template embeds it).",
                        setting=setting)]  # fmt: skip
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [Problem(f"{where}: not UTF-8 text.", setting=setting)]
    if FORMATS[path.suffix.lower()] == "TMX":
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError as error:
            return [Problem(f"{where}: not XML ({error}).", setting=setting)]
        if root.tag != "tmx" or root.find("body") is None or not root.findall("body/tu"):
            return [
                Problem(
                    f"{where}: a TMX document has <tmx><body> with <tu> translation units.", setting=setting
                )
            ]
        return []
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in row)]
    if len(rows) < 2:
        return [
            Problem(f"{where}: a header of language codes, then at least one row of terms.", setting=setting)
        ]
    header = rows[0]
    problems = [
        Problem(f"{where}: header {code!r} is not a language code.", setting=setting)
        for code in header
        if not 2 <= len(code.strip()) <= 5
    ]
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            problems.append(
                Problem(
                    f"{where}, row {number}: {len(row)} columns; the header has {len(header)}.",
                    setting=setting,
                )
            )
        elif not row[0].strip():
            problems.append(Problem(f"{where}, row {number}: the source term is empty.", setting=setting))
    return problems


class BatchTranslation(Construct):
    """Translate each batch of documents under ``input/<batch>/`` of ``input_bucket`` when ``start/<batch>`` is put."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        options: TranslationOptions,
        terminology_file: Path | None = None,
        parallel_data_file: Path | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = language_problems(options)
        if terminology_file is not None:
            problems += terminology_problems(Path(terminology_file))
        if parallel_data_file is not None:
            problems += terminology_problems(Path(parallel_data_file), setting="parallel_data_file")
        if problems:
            raise TranslateError(problems)
        key_spec = {"type": "KMS", "id": encryption_key.key_arn}
        self.terminology = None
        if terminology_file is not None:
            path = Path(terminology_file)
            self.terminology = translate.CfnTerminology(
                self,
                "Terminology",
                name=unique_base_name(self, max_length=100) + "-terms",
                terminology_data=translate.CfnTerminology.TerminologyDataProperty(
                    file=base64.b64encode(path.read_bytes()).decode(), format=FORMATS[path.suffix.lower()]
                ),
                encryption_key=translate.CfnTerminology.EncryptionKeyProperty(**key_spec),
            )
            acknowledge_newer_resource_type(self.terminology)
        self.parallel_data = None
        if parallel_data_file is not None:
            path = Path(parallel_data_file)
            asset = s3_assets.Asset(self, "ParallelDataFile", path=str(path))
            self.parallel_data = translate.CfnParallelData(
                self,
                "ParallelData",
                name=unique_base_name(self, max_length=100) + "-parallel",
                parallel_data_config=translate.CfnParallelData.ParallelDataConfigProperty(
                    s3_uri=asset.s3_object_url, format=FORMATS[path.suffix.lower()]
                ),
                encryption_key=translate.CfnParallelData.EncryptionKeyProperty(**key_spec),
            )

        self.data_access_role = iam.Role(
            self,
            "DataAccessRole",
            assumed_by=iam.ServicePrincipal(
                "translate.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:translate:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    },
                },
            ),
            description="Amazon Translate batch jobs: read input/, write output/",
        )
        role = self.data_access_role
        role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects("input/*")])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[input_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["input/*"]}},
            )
        )
        # Read and write on output/ ("Prerequisite permissions", Amazon Translate Developer Guide).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[output_bucket.arn_for_objects("output/*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[output_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["output/*"]}},
            )
        )
        # A customer managed key for the output needs these five (same page); the grant is Translate's own.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:RetireGrant"],
                resources=[encryption_key.key_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[encryption_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        acknowledge_inline_policy(role)
        for resource, what in ((input_bucket.arn_for_objects("input/*"), "reads every document of a batch"),
                               (output_bucket.arn_for_objects("output/*"), "reads and writes every translation of a batch")):  # fmt: skip
            acknowledge_wildcard_resource(
                role.node.find_child("DefaultPolicy"),
                resource,
                topic="batch documents",
                reason=f"Translate {what}, under this prefix only; the keys are the documents' own.",
            )

        self.state_machine = self._state_machine(
            input_bucket, output_bucket, encryption_key, options, removal_policy
        )
        self.dead_letters = EventDeadLetters(
            self, "DeadLetters", encryption_key=encryption_key, topic=topic, removal_policy=removal_policy
        )
        events.Rule(
            self,
            "BatchStarted",
            description="An object at start/<batch> in the documents bucket translates input/<batch>/",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [input_bucket.bucket_name]},
                    "object": {"key": [{"prefix": "start/"}]},
                },
            ),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    dead_letter_queue=self.dead_letters.queue,
                    input=events.RuleTargetInput.from_object(
                        {"key": events.EventField.from_path("$.detail.object.key")}
                    ),
                )
            ],
        )
        self.failed_alarm = watch_event_started_executions(
            self, self.state_machine, encryption_key=encryption_key, topic=topic,
            description="A translation batch failed or completed with errors (the execution's history says why).",
        )  # fmt: skip

    def _state_machine(self, input_bucket, output_bucket, key, options: TranslationOptions, removal_policy):
        batch = sfn.Pass(
            self,
            "NameTheBatch",
            # One ID per execution: a retried start reuses it as its client token, so it cannot start a second job.
            parameters={
                "Name": sfn.JsonPath.array_get_item(
                    sfn.JsonPath.string_split(sfn.JsonPath.string_at("$.key"), "/"), 1
                ),
                "Id": sfn.JsonPath.uuid(),
            },
            result_path="$.batch",
        )
        settings = {
            **({"Formality": options.formality} if options.formality else {}),
            **({"Profanity": "MASK"} if options.mask_profanity else {}),
        }
        start = tasks.CallAwsService(
            self,
            "StartTranslation",
            service="translate",
            action="startTextTranslationJob",
            iam_action="translate:StartTextTranslationJob",
            iam_resources=["*"],
            parameters={
                "JobName": sfn.JsonPath.format("{}-{}", sfn.JsonPath.string_at("$.batch.Name"), sfn.JsonPath.string_at("$.batch.Id")),
                "InputDataConfig": {
                    "S3Uri": sfn.JsonPath.format(f"s3://{input_bucket.bucket_name}/input/{{}}/",
                                                 sfn.JsonPath.string_at("$.batch.Name")),
                    "ContentType": options.content_type,
                },
                "OutputDataConfig": {
                    "S3Uri": sfn.JsonPath.format(f"s3://{output_bucket.bucket_name}/output/{{}}/",
                                                 sfn.JsonPath.string_at("$.batch.Name")),
                    "EncryptionKey": {"Type": "KMS", "Id": key.key_arn},
                },
                "DataAccessRoleArn": self.data_access_role.role_arn,
                "SourceLanguageCode": options.source_language,
                "TargetLanguageCodes": list(options.target_languages),
                **({"TerminologyNames": [self.terminology.name]} if self.terminology is not None else {}),
                **({"ParallelDataNames": [self.parallel_data.name]} if self.parallel_data is not None else {}),
                "ClientToken": sfn.JsonPath.string_at("$.batch.Id"),
                **({"Settings": settings} if settings else {}),
            },
            result_selector={"JobId": sfn.JsonPath.string_at("$.JobId")},
            result_path="$.job",
        )  # fmt: skip
        start.add_retry(errors=["Translate.TooManyRequestsException", "Translate.InternalServerException"],
                        interval=Duration.seconds(10), max_attempts=6, backoff_rate=2)  # fmt: skip
        wait = sfn.Wait(self, "WaitForTheJob", time=sfn.WaitTime.duration(POLL_INTERVAL))
        status = tasks.CallAwsService(
            self,
            "GetTheJob",
            service="translate",
            action="describeTextTranslationJob",
            iam_action="translate:DescribeTextTranslationJob",
            iam_resources=["*"],
            parameters={"JobId": sfn.JsonPath.string_at("$.job.JobId")},
            result_selector={"Job": sfn.JsonPath.object_at("$.TextTranslationJobProperties")},
            result_path="$.status",
        )
        status.add_retry(errors=["Translate.TooManyRequestsException", "Translate.InternalServerException"],
                         interval=Duration.seconds(10), max_attempts=6, backoff_rate=2)  # fmt: skip
        done = sfn.Succeed(self, "Translated")
        failed = sfn.Fail(
            self,
            "TranslationFailed",
            error="TranslationFailed",
            # The whole job: Message is absent on COMPLETED_WITH_ERROR, whose JobDetails count the failed documents.
            cause_path=sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.status.Job")),
        )
        choice = (
            sfn.Choice(self, "Done?")
            .when(sfn.Condition.string_equals("$.status.Job.JobStatus", "COMPLETED"), done)
            .when(
                sfn.Condition.or_(*(sfn.Condition.string_equals("$.status.Job.JobStatus", s)
                                    for s in ("COMPLETED_WITH_ERROR", "FAILED", "STOPPED"))),
                failed,
            )
            .otherwise(wait)
        )  # fmt: skip
        log_group = encrypted_log_group(
            self, "Logs", encryption_key=key, removal_policy=removal_policy, purpose="states"
        )
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(
                batch.next(start).next(wait).next(status).next(choice)
            ),
            timeout=Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(key),
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.data_access_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "translate.amazonaws.com"}},
            )
        )
        # The job uses the terminology and parallel data, which Translate decrypts for the caller.
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"translate.{Aws.REGION}.{Aws.URL_SUFFIX}"}},
            )
        )
        acknowledge_inline_policy(machine.role)
        skip_checkov(
            machine.role.node.find_child("DefaultPolicy").node.default_child,
            CKV_AWS_111="translate:StartTextTranslationJob's only resource types are terminologies and parallel data, "
            "so a job without them is authorised against *; the job reads and writes only through the data access "
            "role, limited to input/ and output/ of this stack's buckets, the one role the state machine may pass.",
        )
        acknowledge_wildcard_resource(
            machine.role.node.find_child("DefaultPolicy"),
            "*",
            topic="translation jobs and tracing",
            reason="translate:StartTextTranslationJob is authorised against * when a job names no terminology or "
            "parallel data, DescribeTextTranslationJob has no resource type, and X-Ray's PutTraceSegments, "
            "PutTelemetryRecords and GetSampling* support no resource-level permissions.",
        )
        return machine

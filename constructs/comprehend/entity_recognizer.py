"""An Amazon Comprehend custom entity recognizer, trained from an entity list in S3 by a Step Functions flow.

CloudFormation has no entity recognizer type, so the training is a flow of SDK integrations. The deployment copies
the folder (``documents.txt``, one document per line, and ``entity_list.csv``, ``Text,Type``) under
``entities/<version>/`` of the bucket, the version being a digest of the data and the language; then a custom
resource starts the flow, whose execution is named after the version, so each version is trained once. The flow
calls ``CreateEntityRecognizer`` and follows ``DescribeEntityRecognizer`` until the model is trained; a version
that exists already (a retried deploy) is followed, not created again. The recognizer trains in the same VPC,
with the same data access role and key as the classifier; a failed or timed-out training alarms.

Deleting the stack leaves the recognizer and its versions (Comprehend bills each model by the month): stop a
training with ``aws comprehend stop-training-entity-recognizer`` and delete versions with
``aws comprehend delete-entity-recognizer``.

The checks at synth follow "Entity lists (plaintext only)" and "Guidelines and quotas" in the Amazon Comprehend
Developer Guide: the CSV's columns are ``Text`` and ``Type``, types are upper-case with underscores, at most 64
characters and 25 types, each found at least 25 times (as a whole word) in the documents; 3 to 120,000
documents of 1 to 5,000 bytes each, 5 KB to 100 MB in all; entries of 1 to 5,000 characters, at most a million.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import custom_resources as cr

from constructs import Construct
from mlblueprints.constructs._private.names import stack_id_suffix, unique_base_name
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.compliance.functions import accept_deploy_time_function, encrypted_log_group
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.monitoring.alarms import threshold_alarm
from mlblueprints.constructs.security.encryption_key import grant_state_machine_key
from mlblueprints.constructs.security.folder_deployment import deploy_folder

__all__ = [
    "ENTITIES",
    "EntityRecognizerError",
    "EntityRecognizerTraining",
    "entity_problems",
    "entity_version",
]

ENTITIES = Path(__file__).parent / "entities"
FILES = ("documents.txt", "entity_list.csv")
MAX_ENTITY_TYPES = 25
MIN_MATCHES_PER_TYPE = 25
MAX_TYPE_LENGTH = 64  # botocore's EntityTypeName
DOCUMENTS = (3, 120_000)
MAX_DOCUMENT_BYTES = 5_000
TOTAL_BYTES = (5_000, 100_000_000)
MAX_ENTRY_CHARACTERS = 5_000
MAX_ENTRIES = 1_000_000
ENTITY_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*$")
POLL_INTERVAL = Duration.minutes(5)
# The function aws-cdk-lib's AwsCustomResource shares within a stack (a SingletonFunction with this UUID).
AWS_CUSTOM_RESOURCE_ID = "AWS679f53fac002430cb0da5b7982bd2287"


class EntityRecognizerError(MlBlueprintsError):
    """Entity data Comprehend would refuse."""


def _entities(folder: Path) -> list[tuple[str, str]]:
    rows = list(csv.reader(io.StringIO((folder / "entity_list.csv").read_text(encoding="utf-8"))))
    return [(row[0], row[1].strip()) for row in rows[1:] if len(row) == 2]


def entity_problems(folder: Path) -> list[Problem]:
    """The folder's two files, the entity list's columns and types, and each type's matches in the documents."""
    where = f"entities_data {folder}"
    if not folder.is_dir():
        return [Problem(f"{where}: not a folder.", setting="entities_data", value=str(folder))]
    names = sorted(p.name for p in folder.iterdir())
    if names != sorted(FILES):
        return [
            Problem(f"{where}: holds {names}; it holds exactly {', '.join(FILES)}.", setting="entities_data")
        ]
    problems = []
    for name in FILES:
        raw = (folder / name).read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            problems.append(Problem(f"{where}: {name} starts with a byte-order mark; save it as UTF-8 without.",
                                    setting="entities_data"))  # fmt: skip
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(f"{where}: {name} is not UTF-8.", setting="entities_data"))
    if problems:
        return problems
    rows = list(csv.reader(io.StringIO((folder / "entity_list.csv").read_text(encoding="utf-8"))))
    if not rows or [c.strip() for c in rows[0]] != ["Text", "Type"]:
        return [
            Problem(f"{where}: entity_list.csv starts with the header Text,Type.", setting="entities_data")
        ]
    for number, row in enumerate(rows[1:], start=2):
        if (
            len(row) != 2
            or not row[0].strip()
            or len(row[0]) > MAX_ENTRY_CHARACTERS
            or not ENTITY_TYPE.match(row[1].strip())
            or len(row[1].strip()) > MAX_TYPE_LENGTH
        ):
            problems.append(Problem(f"{where}: entity_list.csv row {number}: a text of 1 to {MAX_ENTRY_CHARACTERS} "
                                    f"characters and an upper-case type of at most {MAX_TYPE_LENGTH} (letters, digits, "
                                    "underscores).", setting="entities_data"))  # fmt: skip
            break
    if len(rows) - 1 > MAX_ENTRIES:
        problems.append(
            Problem(f"{where}: {len(rows) - 1} entries; at most {MAX_ENTRIES}.", setting="entities_data")
        )
    raw_documents = (folder / "documents.txt").read_bytes()
    lines = raw_documents.decode("utf-8").splitlines()
    if (
        not DOCUMENTS[0] <= len(lines) <= DOCUMENTS[1]
        or not TOTAL_BYTES[0] <= len(raw_documents) <= TOTAL_BYTES[1]
    ):
        problems.append(Problem(f"{where}: documents.txt has {len(lines)} documents in {len(raw_documents)} bytes; "
                                f"Comprehend trains on {DOCUMENTS[0]} to {DOCUMENTS[1]} documents, {TOTAL_BYTES[0]} "
                                f"bytes to {TOTAL_BYTES[1]} in all.", setting="entities_data"))  # fmt: skip
    for number, line in enumerate(lines, start=1):
        if not line.strip() or len(line.encode()) > MAX_DOCUMENT_BYTES:
            problems.append(Problem(f"{where}: documents.txt line {number}: each document is 1 to "
                                    f"{MAX_DOCUMENT_BYTES} bytes on one line.", setting="entities_data"))  # fmt: skip
            break
    entities = _entities(folder)
    types = sorted({kind for _, kind in entities if ENTITY_TYPE.match(kind)})
    if not types:
        problems.append(Problem(f"{where}: entity_list.csv names no entity.", setting="entities_data"))
    if len(types) > MAX_ENTITY_TYPES:
        problems.append(Problem(f"{where}: {len(types)} entity types; a recognizer trains at most "
                                f"{MAX_ENTITY_TYPES}.", setting="entities_data"))  # fmt: skip
    matches: Counter[str] = Counter()
    for text, kind in entities:
        # Whole words only: "E-10" is not found inside "E-1042".
        matches[kind] += len(re.findall(rf"(?<!\w){re.escape(text)}(?!\w)", raw_documents.decode("utf-8")))
    for kind in types:
        if matches[kind] < MIN_MATCHES_PER_TYPE:
            problems.append(Problem(f"{where}: {kind} is found {matches[kind]} times in documents.txt; give at "
                                    f"least {MIN_MATCHES_PER_TYPE} matches per type.", setting="entities_data"))  # fmt: skip
    return problems


def entity_version(folder: Path, language_code: str) -> str:
    """A version name that changes with the data and the language: ``v-<12 hex digits>``."""
    digest = hashlib.sha256(language_code.encode())
    for name in FILES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return f"v-{digest.hexdigest()[:12]}"


class EntityRecognizerTraining(Construct):
    """Train a custom entity recognizer on ``folder`` each time its data changes, in the given VPC."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        folder: Path,
        bucket: s3.IBucket,
        encryption_key: kms.IKey,
        data_access_role: iam.IRole,
        vpc_config: dict,
        topic: sns.ITopic,
        language_code: str = "en",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        folder = Path(folder)
        problems = entity_problems(folder)
        if problems:
            raise EntityRecognizerError(problems)
        digest = entity_version(folder, language_code)
        # The data of each version under its own prefix: a later deploy or a rollback cannot change what a
        # running training reads.
        prefix = f"entities/{digest}/"
        self.deployment = deploy_folder(self, "EntitiesData", folder=folder, bucket=bucket, prefix=prefix,
                                        encryption_key=encryption_key, removal_policy=removal_policy,
                                        purpose="comprehend", what="the entity list and documents")  # fmt: skip
        self.recognizer_name = unique_base_name(self, max_length=63)
        # The stack ID's block: a version left by a deleted stack (under a key since deleted) is never reused.
        self.version_name = f"{digest}-{stack_id_suffix()}"
        self.recognizer_arn = (f"arn:{Aws.PARTITION}:comprehend:{Aws.REGION}:{Aws.ACCOUNT_ID}:entity-recognizer/"
                               f"{self.recognizer_name}")  # fmt: skip
        self.version_arn = f"{self.recognizer_arn}/version/{self.version_name}"
        types = sorted({kind for _, kind in _entities(folder)})
        create = tasks.CallAwsService(
            self,
            "Train",
            service="comprehend",
            action="createEntityRecognizer",
            iam_action="comprehend:CreateEntityRecognizer",
            iam_resources=[self.recognizer_arn, f"{self.recognizer_arn}/version/*"],
            parameters={
                "RecognizerName": self.recognizer_name,
                "VersionName": self.version_name,
                "DataAccessRoleArn": data_access_role.role_arn,
                "LanguageCode": language_code,
                "InputDataConfig": {
                    "DataFormat": "COMPREHEND_CSV",
                    "EntityTypes": [{"Type": kind} for kind in types],
                    "Documents": {"S3Uri": f"s3://{bucket.bucket_name}/{prefix}documents.txt"},
                    "EntityList": {"S3Uri": f"s3://{bucket.bucket_name}/{prefix}entity_list.csv"},
                },
                "VolumeKmsKeyId": encryption_key.key_arn,
                "ModelKmsKeyId": encryption_key.key_arn,
                "VpcConfig": vpc_config,
            },
            result_selector={"Arn": sfn.JsonPath.string_at("$.EntityRecognizerArn")},
            result_path="$.recognizer",
        )
        create.add_retry(errors=["Comprehend.TooManyRequestsException", "Comprehend.InternalServerException"],
                         interval=Duration.seconds(30), max_attempts=4, backoff_rate=2)  # fmt: skip
        wait = sfn.Wait(self, "WaitForTraining", time=sfn.WaitTime.duration(POLL_INTERVAL))
        # The version exists (the execution ran before, or a retry's create went through): follow it.
        create.add_catch(
            sfn.Pass(
                self, "FollowTheVersion", parameters={"Arn": self.version_arn}, result_path="$.recognizer"
            ).next(wait),
            errors=["Comprehend.ResourceInUseException"],
        )
        status = tasks.CallAwsService(
            self,
            "GetTheRecognizer",
            service="comprehend",
            action="describeEntityRecognizer",
            iam_action="comprehend:DescribeEntityRecognizer",
            iam_resources=[f"{self.recognizer_arn}/version/*"],
            parameters={"EntityRecognizerArn": sfn.JsonPath.string_at("$.recognizer.Arn")},
            result_selector={"Properties": sfn.JsonPath.object_at("$.EntityRecognizerProperties")},
            result_path="$.status",
        )
        status.add_retry(errors=["Comprehend.TooManyRequestsException", "Comprehend.InternalServerException"],
                         interval=Duration.seconds(30), max_attempts=4, backoff_rate=2)  # fmt: skip
        state = "$.status.Properties.Status"
        done = (
            sfn.Choice(self, "Trained?")
            .when(sfn.Condition.or_(sfn.Condition.string_equals(state, "TRAINED"),
                                    sfn.Condition.string_equals(state, "TRAINED_WITH_WARNING")),
                  sfn.Succeed(self, "Trained"))
            .when(sfn.Condition.or_(sfn.Condition.string_equals(state, "IN_ERROR"),
                                    sfn.Condition.string_equals(state, "STOPPED")),
                  sfn.Fail(self, "TrainingFailed", error="TrainingFailed",
                           cause_path=sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.status.Properties"))))
            .otherwise(wait)
        )  # fmt: skip
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(create.next(wait).next(status).next(done)),
            timeout=Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=encrypted_log_group(self, "Logs", encryption_key=encryption_key,
                                                removal_policy=removal_policy, purpose="states"),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(encryption_key),
        )  # fmt: skip
        machine = self.state_machine
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[data_access_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "comprehend.amazonaws.com"}},
            )
        )
        # The caller of a training with customer managed keys lets Comprehend use them ("KMS encryption in
        # Amazon Comprehend"): the grant only for AWS resources.
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[encryption_key.key_arn],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[encryption_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        policy = machine.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(machine.role)
        acknowledge_wildcard_resource(
            policy,
            f"{self.recognizer_arn}/version/*",
            topic="the recognizer's versions",
            reason="Each training is a version of this one recognizer, named after a digest of its data.",
        )
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="tracing",
            reason="X-Ray's PutTraceSegments, PutTelemetryRecords and GetSampling* support no resource-level "
            "permissions.",
        )
        # Started by CloudFormation once the data is copied, one execution per version (named after it).
        call = cr.AwsSdkCall(
            service="SFN",
            action="StartExecution",
            parameters={"stateMachineArn": machine.state_machine_arn, "name": self.version_name},
            physical_resource_id=cr.PhysicalResourceId.of(self.version_name),
        )
        self.start = cr.AwsCustomResource(
            self,
            "StartTraining",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine.state_machine_arn])]
            ),
            log_group=encrypted_log_group(self, "StartLogs", encryption_key=encryption_key,
                                          removal_policy=removal_policy, purpose="comprehend"),
            install_latest_aws_sdk=False,
            timeout=Duration.minutes(2),
        )  # fmt: skip
        self.start.node.add_dependency(self.deployment)
        # The policy AwsCustomResource attaches to its shared function's role: this one StartExecution.
        acknowledge_inline_policy(self.start.node.find_child("CustomResourcePolicy"))
        grant_state_machine_key(encryption_key, self.start.grant_principal, machine.state_machine_arn)
        handler = Stack.of(self).node.find_child(AWS_CUSTOM_RESOURCE_ID)
        handler.node.default_child.memory_size = 256
        accept_deploy_time_function(
            handler,
            purpose="CDK's AwsCustomResource starts the entity recognizer's training",
            library_runtime=True,
        )
        self.failed_alarm = threshold_alarm(
            self,
            "TrainingFailedAlarm",
            metric=cloudwatch.MathExpression(
                expression="failed + timedout",
                using_metrics={
                    "failed": machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                    "timedout": machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
                },
                period=Duration.minutes(5),
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            description="The entity recognizer's training failed or timed out (the execution's history says why).",
            topic=topic,
        )

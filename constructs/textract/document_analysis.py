"""Documents in S3, analysed by Amazon Textract: asynchronously for PDF and TIFF, synchronously for JPEG and PNG.

A Step Functions state machine, started by EventBridge for each document created in the input bucket:

- **PDF, TIFF** (up to 500 MB and 3,000 pages): ``StartDocumentAnalysis`` writes its results to the output
  bucket under ``textract/<job>/``, encrypted with the stack's key, and posts its completion to an encrypted
  SNS topic. The execution waits on a task token it stored under the job's ID
  (``dynamodb:putItem.waitForTaskToken``); a function subscribed to the topic ends the wait. No polling.
- **JPEG, PNG** (up to 10 MB): ``AnalyzeDocument``, optionally under an A2I flow definition that sends
  low-confidence form fields to people, and the analysis is written to ``analysis/<key>.json``.

Every document also gets ``analysis/<key>.json``: for an asynchronous job, the job's ID, its status and
where its result pages are. ("Set Quotas in Amazon Textract", Amazon Textract Developer Guide: sync 10 MB,
one page; async PDF and TIFF 500 MB and 3,000 pages; 15 queries per page synchronous, 30 asynchronous.)
Step Functions passes at most 256 KiB between states: a synchronous analysis larger than that fails the
execution with ``States.DataLimitExceeded``, and the topic hears of every failed execution.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from mlblueprints.constructs._private.service_models import enum_values, service_model
from mlblueprints.constructs.a2i.flow_definition import FlowDefinition
from mlblueprints.constructs.compliance.acknowledge import (
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
    skip_checkov,
)
from mlblueprints.constructs.compliance.functions import PYTHON_RUNTIME, encrypted_log_group
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.monitoring.dead_letters import EventDeadLetters
from mlblueprints.constructs.monitoring.executions import watch_event_started_executions
from mlblueprints.constructs.security.encryption_key import grant_state_machine_key

__all__ = [
    "ASYNC_SUFFIXES",
    "SYNC_SUFFIXES",
    "DocumentAnalysis",
    "DocumentAnalysisError",
    "TextractQuery",
    "analysis_problems",
]

HANDLERS = Path(__file__).parent / "_handlers"
ASYNC_SUFFIXES = (".pdf", ".tif", ".tiff")
SYNC_SUFFIXES = (".jpg", ".jpeg", ".png")
# "Amazon Textract supports up to 15 queries per page for synchronous operations and up to 30 queries per
# page for asynchronous operations" (Set Quotas in Amazon Textract): the same queries serve both paths.
MAX_QUERIES = 15
# How long a job may run before its execution stops waiting (3,000 pages take well under this).
JOB_TIMEOUT = Duration.hours(12)


class DocumentAnalysisError(MlBlueprintsError):
    """Analysis settings Textract would refuse."""


@dataclass(frozen=True)
class TextractQuery:
    """A question Textract answers from each document (``QUERIES``): ``pages`` as Textract takes them ("1",
    "2-4", "*" for all)."""

    text: str
    alias: str | None = None
    pages: tuple[str, ...] = ("*",)

    def request(self) -> dict:
        return {"Text": self.text, **({"Alias": self.alias} if self.alias else {}), "Pages": list(self.pages)}


def analysis_problems(
    features: Sequence[str], queries: Sequence[TextractQuery] = (), *, human_review: bool = False
) -> list[Problem]:
    """Every problem of the analysis settings at once (feature types and query rules from botocore)."""
    problems: list[Problem] = []
    allowed = enum_values("FeatureType", service="textract")
    if not features:
        problems.append(Problem(f"features: give at least one of {', '.join(allowed)}.", setting="features"))
    for feature in features:
        if feature not in allowed:
            problems.append(
                Problem(f"features: {feature!r} is not a Textract feature type; use {', '.join(allowed)}.",
                        setting="features", value=feature)
            )  # fmt: skip
    if len(set(features)) != len(features):
        problems.append(Problem("features: each feature type once.", setting="features"))
    if "QUERIES" in features and not queries:
        problems.append(
            Problem("features has QUERIES but no queries are given: add queries.", setting="queries")
        )
    if queries and "QUERIES" not in features:
        problems.append(Problem("queries are given but features lacks QUERIES: add it.", setting="features"))
    if len(queries) > MAX_QUERIES:
        problems.append(
            Problem(f"{len(queries)} queries: Textract answers at most {MAX_QUERIES} per page synchronously (30 "
                    "asynchronously), and both paths take the same queries.", setting="queries")
        )  # fmt: skip
    model = service_model("textract")
    text_rule, page_rule = model.shape("QueryInput"), model.shape("QueryPage")
    for query in queries:
        for what, value in (("text", query.text), ("alias", query.alias)):
            if value is None:
                continue
            if not text_rule["min"] <= len(value) <= text_rule["max"] or not re.fullmatch(
                text_rule["pattern"], value
            ):
                problems.append(
                    Problem(f"query {what} {value!r}: 1 to {text_rule['max']} characters of letters, digits, spaces "
                            "and punctuation.", setting="queries", value=value)
                )  # fmt: skip
        if not query.pages or ("*" in query.pages and len(query.pages) > 1):
            problems.append(
                Problem(f"query {query.text!r}: pages {list(query.pages)}: give pages, and '*' (every page) alone.",
                        setting="queries")
            )  # fmt: skip
        for page in query.pages:
            if len(page) > page_rule["max"] or not re.fullmatch(
                r"(\*|[1-9][0-9]*(-([1-9][0-9]*|\*))?)", page
            ):
                problems.append(
                    Problem(f"query {query.text!r}: page {page!r}: a page number, a range such as 2-4 or 4-*, or *.",
                            setting="queries", value=page)
                )  # fmt: skip
    if human_review and "FORMS" not in features:
        problems.append(
            Problem("human review checks form fields Textract reads with low confidence: add FORMS to features.",
                    setting="human_review")
        )  # fmt: skip
    return problems


class DocumentAnalysis(Construct):
    """Analyse each document created in ``input_bucket`` with Textract; results in ``output_bucket``.

    :param flow_definition: an A2I flow definition of the Textract task type: images whose form fields meet
        its activation conditions go to people (A2I's Textract integration serves AnalyzeDocument only).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        features: Sequence[str] = ("FORMS", "TABLES"),
        queries: Sequence[TextractQuery] = (),
        flow_definition: FlowDefinition | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        problems = analysis_problems(features, queries, human_review=flow_definition is not None)
        if problems:
            raise DocumentAnalysisError(problems)
        analysis = {
            "FeatureTypes": list(features),
            **({"QueriesConfig": {"Queries": [q.request() for q in queries]}} if queries else {}),
        }
        document = {
            "S3Object": {
                "Bucket": sfn.JsonPath.string_at("$.bucket"),
                "Name": sfn.JsonPath.string_at("$.key"),
            }
        }
        retry = {
            "errors": ["Textract.ThrottlingException", "Textract.ProvisionedThroughputExceededException",
                       "Textract.LimitExceededException", "Textract.InternalServerError"],
            "interval": Duration.seconds(5), "max_attempts": 6, "backoff_rate": 2,
        }  # fmt: skip

        # Asynchronous: start, store the task token under the job's ID, wait for the completion notice.
        self.completion_topic = sns.Topic(
            self, "CompletionTopic", master_key=encryption_key, enforce_ssl=True, display_name="Textract jobs"
        )
        self.textract_role = iam.Role(
            self,
            "TextractPublishRole",
            assumed_by=iam.ServicePrincipal(
                "textract.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:textract:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                    },
                },
            ),
            description="Textract posts job completions to this stack's encrypted topic",
        )
        self.completion_topic.grant_publish(self.textract_role)
        acknowledge_inline_policy(self.textract_role)
        acknowledge(
            self.textract_role.node.find_child("DefaultPolicy"),
            "IAM5[Action::kms:GenerateDataKey*]",
            topic="publishing to the encrypted completion topic",
            reason="aws-cdk-lib's publish grant on a KMS-encrypted topic: SNS asks for a data key of the one key that "
            "encrypts the topic (the statement names it).",
            packs=(Pack.AWS_SOLUTIONS,),
        )
        self.tokens = dynamodb.Table(
            self,
            "TaskTokens",
            partition_key=dynamodb.Attribute(name="JobId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Task tokens of running executions, not data: they mean nothing once the stack is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        _acknowledge_token_table(self.tokens)
        start = tasks.CallAwsService(
            self,
            "StartAnalysis",
            service="textract",
            action="startDocumentAnalysis",
            iam_action="textract:StartDocumentAnalysis",
            iam_resources=["*"],
            parameters={
                "DocumentLocation": document,
                **analysis,
                # Step Functions names SDK members as the AWS SDK for Java 2.x does: a leading acronym is
                # lowercased (botocore's SNSTopicArn and KMSKeyId are SnsTopicArn and KmsKeyId here).
                "NotificationChannel": {
                    "SnsTopicArn": self.completion_topic.topic_arn,
                    "RoleArn": self.textract_role.role_arn,
                },
                "OutputConfig": {"S3Bucket": output_bucket.bucket_name, "S3Prefix": "textract"},
                "KmsKeyId": encryption_key.key_arn,
            },
            result_selector={"JobId": sfn.JsonPath.string_at("$.JobId")},
            result_path="$.job",
        )
        start.add_retry(**retry)
        wait = tasks.CallAwsService(
            self,
            "WaitForTheJob",
            service="dynamodb",
            action="putItem",
            iam_action="dynamodb:PutItem",
            iam_resources=[self.tokens.table_arn],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            parameters={
                "TableName": self.tokens.table_name,
                "Item": {
                    "JobId": {"S": sfn.JsonPath.string_at("$.job.JobId")},
                    "TaskToken": {"S": sfn.JsonPath.task_token},
                },
            },
            task_timeout=sfn.Timeout.duration(JOB_TIMEOUT),
            result_path="$.job.Completion",
        )
        summarise = sfn.Pass(
            self,
            "SummariseTheJob",
            parameters={
                "Document": sfn.JsonPath.format(
                    "s3://{}/{}", sfn.JsonPath.string_at("$.bucket"), sfn.JsonPath.string_at("$.key")
                ),
                "JobId": sfn.JsonPath.string_at("$.job.JobId"),
                "Status": sfn.JsonPath.string_at("$.job.Completion.Status"),
                "Results": sfn.JsonPath.format(
                    f"s3://{output_bucket.bucket_name}/textract/{{}}/", sfn.JsonPath.string_at("$.job.JobId")
                ),
            },
            result_path="$.summary",
        )
        summary = summarise.next(
            tasks.CallAwsService(
                self,
                "StoreJobSummary",
                service="s3",
                action="putObject",
                iam_action="s3:PutObject",
                iam_resources=[output_bucket.arn_for_objects("analysis/*")],
                parameters={
                    "Bucket": output_bucket.bucket_name,
                    "Key": sfn.JsonPath.format("analysis/{}.json", sfn.JsonPath.string_at("$.key")),
                    "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.summary")),
                    "ContentType": "application/json",
                },
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        # A job that never reports back: forget its token, then fail the execution (the topic hears of it).
        forget = tasks.CallAwsService(
            self,
            "ForgetTheToken",
            service="dynamodb",
            action="deleteItem",
            iam_action="dynamodb:DeleteItem",
            iam_resources=[self.tokens.table_arn],
            parameters={
                "TableName": self.tokens.table_name,
                "Key": {"JobId": {"S": sfn.JsonPath.string_at("$.job.JobId")}},
            },
            result_path=sfn.JsonPath.DISCARD,
        ).next(
            sfn.Fail(
                self,
                "JobFailed",
                error="TextractJobFailed",
                cause_path=sfn.JsonPath.string_at("$.error.Cause"),
            )
        )
        wait.add_catch(forget, errors=["States.ALL"], result_path="$.error")
        asynchronous = start.next(wait).next(summary)

        # Synchronous: one call, optionally under A2I review, and its result stored as it is.
        analyse = tasks.CallAwsService(
            self,
            "AnalyseImage",
            service="textract",
            action="analyzeDocument",
            iam_action="textract:AnalyzeDocument",
            iam_resources=["*"],
            parameters={
                "Document": document,
                **analysis,
                **(
                    {
                        "HumanLoopConfig": {
                            "HumanLoopName": sfn.JsonPath.format("document-{}", sfn.JsonPath.uuid()),
                            "FlowDefinitionArn": flow_definition.flow_definition_arn,
                        }
                    }
                    if flow_definition is not None
                    else {}
                ),
            },
            result_path="$.analysis",
        )
        analyse.add_retry(**retry)
        store = tasks.CallAwsService(
            self,
            "StoreAnalysis",
            service="s3",
            action="putObject",
            iam_action="s3:PutObject",
            iam_resources=[output_bucket.arn_for_objects("analysis/*")],
            parameters={
                "Bucket": output_bucket.bucket_name,
                "Key": sfn.JsonPath.format("analysis/{}.json", sfn.JsonPath.string_at("$.key")),
                "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.analysis")),
                "ContentType": "application/json",
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        synchronous = analyse.next(store)
        route = (
            sfn.Choice(self, "Route")
            .when(sfn.Condition.string_equals("$.mode", "async"), asynchronous)
            .otherwise(synchronous)
        )
        log_group = encrypted_log_group(
            self, "Logs", encryption_key=encryption_key, removal_policy=removal_policy, purpose="states"
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(route),
            timeout=JOB_TIMEOUT.plus(Duration.minutes(30)),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(encryption_key),
        )
        self._grant_state_machine(input_bucket, output_bucket, encryption_key, flow_definition)
        self.dead_letters = EventDeadLetters(
            self, "DeadLetters", encryption_key=encryption_key, topic=topic, removal_policy=removal_policy
        )
        self.completion = self._completion_function(encryption_key, removal_policy)
        for rule_id, mode, suffixes in (("DocumentCreated", "async", ASYNC_SUFFIXES),
                                        ("ImageCreated", "sync", SYNC_SUFFIXES)):  # fmt: skip
            events.Rule(
                self,
                rule_id,
                description=f"Each {'/'.join(s.lstrip('.').upper() for s in suffixes)} file created in the input "
                f"bucket starts its {'asynchronous' if mode == 'async' else 'synchronous'} analysis",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [input_bucket.bucket_name]},
                        "object": {
                            "key": events.Match.any_of(
                                *(events.Match.suffix_equals_ignore_case(s) for s in suffixes)
                            )
                        },
                    },
                ),
                targets=[
                    targets.SfnStateMachine(
                        self.state_machine,
                        dead_letter_queue=self.dead_letters.queue,
                        input=events.RuleTargetInput.from_object(
                            {
                                "mode": mode,
                                "bucket": events.EventField.from_path("$.detail.bucket.name"),
                                "key": events.EventField.from_path("$.detail.object.key"),
                            }
                        ),
                    )
                ],
            )
        self.failed_alarm = watch_event_started_executions(
            self, self.state_machine, encryption_key=encryption_key, topic=topic,
            description="A document's analysis failed (the execution's history in Step Functions says why).",
        )  # fmt: skip

    def _grant_state_machine(self, input_bucket, output_bucket, key, flow_definition) -> None:
        """Textract reads each document and writes asynchronous results as the caller: the state machine."""
        machine = self.state_machine
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects("*")])
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[output_bucket.arn_for_objects("textract/*")]
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.textract_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "textract.amazonaws.com"}},
            )
        )
        if flow_definition is not None:
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:StartHumanLoop"], resources=[flow_definition.flow_definition_arn]
                )
            )
        policy = machine.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(machine.role)
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="Textract and tracing calls",
            reason="textract:AnalyzeDocument and StartDocumentAnalysis, and X-Ray's PutTraceSegments, "
            "PutTelemetryRecords and GetSampling*, support no resource-level permissions (Service Authorization "
            "Reference).",
        )
        for resource, topic, reason in (
            (input_bucket.arn_for_objects("*"), "documents to analyse",
             "Textract reads each document with the caller's permissions; any key of the input bucket. Read only."),
            (output_bucket.arn_for_objects("textract/*"), "asynchronous results",
             "Textract writes each job's result pages under textract/<job>/ as the caller; write only."),
            (output_bucket.arn_for_objects("analysis/*"), "analyses",
             "Each document's analysis or job summary is written at analysis/<key>.json; write only."),
        ):  # fmt: skip
            acknowledge_wildcard_resource(policy, resource, topic=topic, reason=reason)

    def _completion_function(self, key: kms.IKey, removal_policy) -> lambda_.Function:
        """The completion notice's subscriber; a notice it cannot match lands in the dead-letter queue, which alarms."""
        function = lambda_.Function(
            self,
            "JobCompletion",
            runtime=PYTHON_RUNTIME,
            handler="job_completion.handle",
            code=lambda_.Code.from_asset(str(HANDLERS), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.seconds(30),
            memory_size=256,
            reserved_concurrent_executions=10,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"TOKEN_TABLE": self.tokens.table_name},
            environment_encryption=key,
            dead_letter_queue=self.dead_letters.queue,
            retry_attempts=2,
            log_group=encrypted_log_group(
                self,
                "JobCompletionLogs",
                encryption_key=key,
                removal_policy=removal_policy,
                purpose="textract",
            ),
            description="Ends the wait of the execution whose Textract job completed",
        )
        acknowledge(
            function.node.find_child("EventInvokeConfig"),
            "LambdaAsyncFailureDestination",
            topic="the completion function's failed notices",
            reason="Its dead-letter queue (the stack's alarmed one) receives every notice that fails after Lambda's "
            "retries; an on-failure destination would record each one a second time.",
            packs=(Pack.SERVERLESS,),
        )
        subscription = self.completion_topic.add_subscription(subscriptions.LambdaSubscription(function))
        acknowledge(
            subscription,
            "SNSRedrivePolicy",
            topic="dead-letter queue for the completion subscription",
            reason="SNS retries a Lambda endpoint for days before it gives up; the function's own failures go to "
            "its on-failure destination, the stack's alarmed dead-letter queue.",
            packs=(Pack.SERVERLESS,),
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:DeleteItem"], resources=[self.tokens.table_arn]
            )
        )
        function.add_to_role_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]))
        # Lambda sends a failed notice to the KMS-encrypted dead-letter queue as the function (aws-cdk-lib grants
        # sqs:SendMessage only): a data key of the queue's key, through SQS.
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.{Aws.URL_SUFFIX}"}},
            )
        )
        self.state_machine.grant_task_response(function)
        grant_state_machine_key(key, function, self.state_machine.state_machine_arn)
        acknowledge_inline_policy(function.role)
        acknowledge_wildcard_resource(
            function.role.node.find_child("DefaultPolicy"),
            "*",
            topic="tracing",
            reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions.",
        )
        acknowledge(
            function.role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            topic="Lambda basic execution",
            reason="The completion function's managed policy only lets it write CloudWatch logs, to the encrypted "
            "log group its logging configuration names.",
            packs=(Pack.AWS_SOLUTIONS,),
        )
        outside = (
            "It calls two AWS APIs (DynamoDB, Step Functions) over TLS with its role and keeps nothing: no data at "
            "rest, no network resource to reach"
        )
        cfn = function.node.default_child
        acknowledge(cfn, "LambdaInsideVPC", topic="Textract completion outside a VPC", reason=f"{outside}.")
        acknowledge(
            cfn,
            "lambda_inside_vpc_check",
            topic="CT.LAMBDA.PR.3: Textract completion outside a VPC",
            reason=f"{outside}.",
            packs=(Pack.CONTROL_TOWER,),
        )
        skip_checkov(cfn, CKV_AWS_117=f"{outside}.")
        return function


def _acknowledge_token_table(table: dynamodb.Table) -> None:
    reason = (
        "The table holds the task tokens of running executions only, each deleted when its job completes or its "
        "wait times out; there is nothing to restore from a backup"
    )
    acknowledge(table, "DynamoDBInBackupPlan", topic="task-token table", reason=f"{reason}.")
    acknowledge(
        table,
        "dynamodb_table_deletion_protection_check",
        topic="task-token table",
        reason=f"{reason}; the stack's deletion removes it with the flow.",
        packs=(Pack.CONTROL_TOWER,),
    )

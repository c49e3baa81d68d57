"""Objects land in S3, an AI service analyses them, the unsure ones go to people, the results land in S3.

A Step Functions state machine with SDK integrations only (no polling functions), started by
EventBridge for each object created in the input bucket:

1. the AI service's call with ``HumanLoopConfig`` (Textract ``AnalyzeDocument``, Rekognition
   ``DetectModerationLabels``): A2I evaluates the flow definition's activation conditions and starts a
   human loop where they hold;
2. the analysis is written to the output bucket (``analysis/<object key>.json``), with the human loop's
   ARN when one started. The reviewers' answers land under the flow definition's prefix (A2I writes
   them), and the topic hears when each loop completes, fails or stops.

Step Functions passes at most 256 KiB between states: an analysis larger than that (a dense page of
Textract blocks) fails the execution with ``States.DataLimitExceeded``; the topic hears of every
failed execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from mlblueprints.constructs.a2i.flow_definition import FlowDefinition
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.compliance.functions import encrypted_log_group
from mlblueprints.constructs.monitoring.dead_letters import EventDeadLetters
from mlblueprints.constructs.monitoring.executions import watch_event_started_executions

__all__ = ["AnalysisCall", "ObjectReviewFlow"]


@dataclass(frozen=True)
class AnalysisCall:
    """An AI service's A2I-integrated call on one S3 object.

    :param object_parameter: the request member holding the S3 object (``Document``, ``Image``).
    """

    service: str
    action: str
    iam_action: str
    object_parameter: str
    parameters: dict[str, Any] = field(default_factory=dict)
    loop_prefix: str = "review"


TEXTRACT_FORMS = AnalysisCall(
    service="textract",
    action="analyzeDocument",
    iam_action="textract:AnalyzeDocument",
    object_parameter="Document",
    parameters={"FeatureTypes": ["FORMS"]},
    loop_prefix="document",
)
REKOGNITION_MODERATION = AnalysisCall(
    service="rekognition",
    action="detectModerationLabels",
    iam_action="rekognition:DetectModerationLabels",
    object_parameter="Image",
    loop_prefix="image",
)


class ObjectReviewFlow(Construct):
    """Analyse each object created in ``input_bucket`` with ``call``, under ``flow_definition``'s review."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        call: AnalysisCall,
        flow_definition: FlowDefinition,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        topic: sns.ITopic,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        analyse = tasks.CallAwsService(
            self,
            "Analyse",
            service=call.service,
            action=call.action,
            iam_action=call.iam_action,
            iam_resources=["*"],
            parameters={
                call.object_parameter: {
                    "S3Object": {
                        "Bucket": sfn.JsonPath.string_at("$.detail.bucket.name"),
                        "Name": sfn.JsonPath.string_at("$.detail.object.key"),
                    }
                },
                **call.parameters,
                "HumanLoopConfig": {
                    # A2I's name rule: lowercase letters, digits, hyphens; a UUID per object and attempt.
                    "HumanLoopName": sfn.JsonPath.format(f"{call.loop_prefix}-{{}}", sfn.JsonPath.uuid()),
                    "FlowDefinitionArn": flow_definition.flow_definition_arn,
                },
            },
            result_path="$.analysis",
        )
        analyse.add_retry(
            errors=[
                f"{call.service.capitalize()}.ThrottlingException",
                f"{call.service.capitalize()}.ProvisionedThroughputExceededException",
                f"{call.service.capitalize()}.InternalServerError",
            ],
            interval=Duration.seconds(5),
            max_attempts=4,
            backoff_rate=2,
        )
        store = tasks.CallAwsService(
            self,
            "StoreAnalysis",
            service="s3",
            action="putObject",
            iam_action="s3:PutObject",
            iam_resources=[output_bucket.arn_for_objects("analysis/*")],
            parameters={
                "Bucket": output_bucket.bucket_name,
                "Key": sfn.JsonPath.format("analysis/{}.json", sfn.JsonPath.string_at("$.detail.object.key")),
                "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.analysis")),
                "ContentType": "application/json",
            },
            result_path=sfn.JsonPath.DISCARD,
        )
        log_group = encrypted_log_group(
            self, "Logs", encryption_key=encryption_key, removal_policy=removal_policy, purpose="states"
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(analyse.next(store)),
            timeout=Duration.minutes(15),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(encryption_key),
        )
        # The AI service reads the object with the caller's permissions (the state machine's role), and starts
        # the human loop as the caller; the key decrypts the object and encrypts the stored analysis.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects("*")])
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[encryption_key.key_arn]
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:StartHumanLoop"], resources=[flow_definition.flow_definition_arn]
            )
        )
        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(self.state_machine.role)
        acknowledge_wildcard_resource(
            policy,
            "*",
            topic="AI service and tracing calls",
            reason=f"{call.iam_action} and X-Ray's PutTraceSegments / PutTelemetryRecords / GetSampling* support no "
            "resource-level permissions (Service Authorization Reference).",
        )
        acknowledge_wildcard_resource(
            policy,
            input_bucket.arn_for_objects("*"),
            topic="objects to analyse",
            reason="Each execution analyses the object whose creation started it, any key of the input bucket; read only.",
        )
        acknowledge_wildcard_resource(
            policy,
            output_bucket.arn_for_objects("analysis/*"),
            topic="analyses",
            reason="Each analysis is written at analysis/<object key>.json; write only, under that prefix.",
        )
        self.dead_letters = EventDeadLetters(
            self, "DeadLetters", encryption_key=encryption_key, topic=topic, removal_policy=removal_policy
        )
        self.rule = events.Rule(
            self,
            "ObjectCreated",
            description="Each object created in the input bucket starts its analysis",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [input_bucket.bucket_name]}},
            ),
            targets=[targets.SfnStateMachine(self.state_machine, dead_letter_queue=self.dead_letters.queue)],
        )
        self.failed_alarm = watch_event_started_executions(
            self, self.state_machine, encryption_key=encryption_key, topic=topic,
            description="An object's analysis failed (the execution's history in Step Functions says why).",
        )  # fmt: skip

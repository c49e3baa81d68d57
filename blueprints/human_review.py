"""What the human review blueprints share: their settings and their stack.

Each blueprint is an AI service's A2I-integrated call on the objects of an input bucket (see
``constructs/a2i/review_flow.py``), a private workforce and work team, a task UI, a flow definition,
encrypted buckets for inputs and results, and a topic for finished human loops and failed analyses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from aws_cdk import CfnOutput, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3
from pydantic import BaseModel, ConfigDict, Field

from constructs import Construct
from mlblueprints.blueprints.settings_base import BlueprintSettings
from mlblueprints.constructs.a2i.activation_conditions import A2iTaskType, activation_conditions_problems
from mlblueprints.constructs.a2i.flow_definition import (
    FlowDefinition,
    a2i_region_problems,
    flow_definition_problems,
)
from mlblueprints.constructs.a2i.notifications import HumanLoopNotifications
from mlblueprints.constructs.a2i.review_flow import AnalysisCall, ObjectReviewFlow
from mlblueprints.constructs.a2i.task_ui import TEMPLATES_DIR, HumanTaskUi, task_template_problems
from mlblueprints.constructs.a2i.workforce import PrivateWorkforce, Workteam, workforce_problems
from mlblueprints.constructs.compute.regional_offerings import (
    assert_resource_types_at_deploy,
    resource_type_problems,
)
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic, subscribe_email
from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = [
    "HumanReview",
    "HumanReviewSettings",
    "HumanReviewStack",
    "WorkforceSettings",
    "workforce_preflight",
]

# What a new workforce needs of CloudFormation in the region (cfn-lint's provider schemas).
_WORKFORCE_TYPES = (
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::SageMaker::Workforce",
)
_REVIEW_TYPES = ("AWS::SageMaker::HumanTaskUi", "AWS::SageMaker::Workteam")


class WorkforceSettings(BaseModel):
    """Who reviews: a new private workforce, or the account's existing one (one per account and region)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    existing_user_pool_id: str | None = Field(
        None,
        pattern=r"^[\w-]+_[0-9a-zA-Z]+$",
        description="The Cognito user pool of the account's private workforce in this region (SageMaker console, "
        "Labeling workforces, Private). Leave unset to create a workforce and its user pool.",
    )
    existing_client_id: str | None = Field(
        None, description="With existing_user_pool_id: the workforce's Cognito app client ID."
    )
    allowed_source_cidrs: list[str] | None = Field(
        None, description="For a new workforce: only these networks reach the worker portal (at most 10)."
    )


class HumanReviewSettings(BlueprintSettings):
    """Settings every human review blueprint takes; each sets its defaults as class variables."""

    task_type: ClassVar[A2iTaskType]
    default_conditions: ClassVar[dict[str, Any]]
    default_template: ClassVar[str]
    default_title: ClassVar[str]
    default_description: ClassVar[str]

    workforce: WorkforceSettings | None = Field(
        None, description="Who reviews. Default: a new private workforce with a secure Cognito user pool."
    )
    activation_conditions: dict[str, Any] | None = Field(
        None,
        description="When A2I asks people: the task type's activation conditions JSON (checked at synth). Default: "
        "the blueprint's, in its README section.",
    )
    task_template: str | None = Field(
        None, description="A Liquid/HTML worker task template file (path). Default: the catalog's template."
    )
    task_title: str | None = Field(None, description="The task's title, as reviewers see it.")
    task_description: str | None = Field(None, description="The task's description, as reviewers see it.")
    task_count: int = Field(1, description="Reviewers per object (1 to 3).")
    task_time_limit_minutes: int = Field(60, description="Time a reviewer has for one task.")
    task_availability_hours: int = Field(
        24, description="Time a task waits for a reviewer before it expires."
    )
    notification_email: str | None = Field(
        None, description="Subscribe this address to finished human loops and failed analyses."
    )
    retain_data: bool = Field(
        True,
        description="Keep the buckets, the KMS key, the user pool and the log groups when the stack is deleted; "
        "false deletes them with it.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    @property
    def conditions(self) -> dict[str, Any]:
        return (
            self.activation_conditions if self.activation_conditions is not None else self.default_conditions
        )

    @property
    def template(self) -> Path:
        return Path(self.task_template) if self.task_template else TEMPLATES_DIR / self.default_template

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        workforce = config.get("workforce") if isinstance(config.get("workforce"), dict) else {}
        problems = workforce_preflight(workforce, region=region)
        if isinstance(config.get("notification_email"), str):
            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        if isinstance(config.get("task_template"), str):
            problems += task_template_problems(config["task_template"])
        conditions = config.get("activation_conditions")
        if conditions is not None:
            problems += activation_conditions_problems(cls.task_type, conditions)
        ints = {
            name: config.get(name)
            for name in ("task_count", "task_time_limit_minutes", "task_availability_hours")
        }
        if all(type(v) is int or v is None for v in ints.values()):
            problems += [
                p
                for p in flow_definition_problems(
                    task_type=cls.task_type,
                    activation_conditions=cls.default_conditions,
                    task_title=config.get("task_title")
                    if isinstance(config.get("task_title"), str)
                    else cls.default_title,
                    task_description=config.get("task_description")
                    if isinstance(config.get("task_description"), str)
                    else cls.default_description,
                    task_count=1 if ints["task_count"] is None else ints["task_count"],
                    task_time_limit=Duration.minutes(
                        60 if ints["task_time_limit_minutes"] is None else ints["task_time_limit_minutes"]
                    ),
                    task_availability_lifetime=Duration.hours(
                        24 if ints["task_availability_hours"] is None else ints["task_availability_hours"]
                    ),
                )
            ]
        return problems


@dataclass(frozen=True)
class HumanReview:
    """What an A2I review needs, created in a stack: the workforce, its work team, the task UI and the flow
    definition (the construct IDs ``Workforce``, ``Workteam``, ``TaskUi`` and ``FlowDefinition``)."""

    workforce: PrivateWorkforce
    workteam: Workteam
    task_ui: HumanTaskUi
    flow_definition: FlowDefinition

    @classmethod
    def create(
        cls,
        stack: Stack,
        *,
        workforce_settings: WorkforceSettings,
        task_type: A2iTaskType | None,
        template: Path,
        activation_conditions: dict[str, Any] | None,
        task_title: str,
        task_description: str,
        task_count: int,
        task_time_limit: Duration,
        task_availability_lifetime: Duration,
        output_bucket: s3.IBucket,
        input_buckets: list[s3.IBucket],
        encryption_key,
        removal_policy: RemovalPolicy,
    ) -> HumanReview:
        if workforce_settings.existing_user_pool_id:
            workforce = PrivateWorkforce.existing(
                user_pool_id=workforce_settings.existing_user_pool_id,
                client_id=workforce_settings.existing_client_id,
            )
        else:
            assert_resource_types_at_deploy(stack, *_WORKFORCE_TYPES, what="A new private workforce")
            workforce = PrivateWorkforce.create(
                stack,
                "Workforce",
                allowed_source_cidrs=workforce_settings.allowed_source_cidrs or (),
                removal_policy=removal_policy,
            )
        assert_resource_types_at_deploy(stack, *_REVIEW_TYPES, what="Human review")
        workteam = Workteam(stack, "Workteam", workforce=workforce, description=task_title)
        task_ui = HumanTaskUi(stack, "TaskUi", template=template)
        flow_definition = FlowDefinition(
            stack,
            "FlowDefinition",
            workteam_arn=workteam.workteam_arn,
            human_task_ui_arn=task_ui.human_task_ui_arn,
            output_bucket=output_bucket,
            encryption_key=encryption_key,
            task_type=task_type,
            activation_conditions=activation_conditions,
            task_title=task_title,
            task_description=task_description,
            input_buckets=input_buckets,
            task_count=task_count,
            task_time_limit=task_time_limit,
            task_availability_lifetime=task_availability_lifetime,
            removal_policy=removal_policy,
        )
        return cls(workforce=workforce, workteam=workteam, task_ui=task_ui, flow_definition=flow_definition)


def workforce_preflight(workforce: dict[str, Any], *, region: str | None) -> list[Problem]:
    """The region's A2I and CloudFormation types, and the workforce settings' own rules."""
    problems = a2i_region_problems(region, setting="env")
    creates_workforce = not workforce.get("existing_user_pool_id")
    what = "a new private workforce" if creates_workforce else "human review"
    types = _REVIEW_TYPES + (_WORKFORCE_TYPES if creates_workforce else ())
    if not problems:
        problems += resource_type_problems(region, *types, what=what, setting="env")
    if bool(workforce.get("existing_user_pool_id")) != bool(workforce.get("existing_client_id")):
        problems.append(
            Problem(
                "workforce: give existing_user_pool_id and existing_client_id together (the account's workforce "
                "is known by both), or neither to create one.",
                setting="workforce",
            )
        )
    cidrs = workforce.get("allowed_source_cidrs")
    if isinstance(cidrs, list) and all(isinstance(c, str) for c in cidrs):
        if not creates_workforce:
            problems.append(
                Problem(
                    "workforce.allowed_source_cidrs is for a new workforce; restrict an existing one in the "
                    "SageMaker console (or its own stack).",
                    setting="workforce",
                )
            )
        problems += workforce_problems(cidrs)
    return problems


class HumanReviewStack(Stack):
    """Buckets, workforce, task UI, flow definition, the analysis flow and its notifications."""

    call: ClassVar[AnalysisCall]

    def __init__(
        self, scope: Construct, id: str, *, settings: HumanReviewSettings, env: Environment | None = None
    ) -> None:
        super().__init__(scope, id, env=env, description=settings.description or self.default_description())
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        baseline = SecurityBaseline.create(self, create_vpc=False, removal_policy=removal_policy)
        key = baseline.key.key
        self.inputs = SecureBucket(self, "Inputs", encryption_key=key, removal_policy=removal_policy)
        # The worker portal loads the object from the browser ("If you do not add a CORS configuration to the
        # S3 buckets that contains your input data, human review tasks for those input data objects fail",
        # SageMaker Developer Guide, A2I permissions).
        self.inputs.bucket.add_cors_rule(allowed_methods=[s3.HttpMethods.GET], allowed_origins=["*"])
        # Object Created events go to EventBridge, which starts each object's analysis.
        self.inputs.bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.results = SecureBucket(self, "Results", encryption_key=key, removal_policy=removal_policy)

        self.review = HumanReview.create(
            self,
            workforce_settings=settings.workforce or WorkforceSettings(),
            task_type=settings.task_type,
            template=settings.template,
            activation_conditions=settings.conditions,
            task_title=settings.task_title or settings.default_title,
            task_description=settings.task_description or settings.default_description,
            task_count=settings.task_count,
            task_time_limit=Duration.minutes(settings.task_time_limit_minutes),
            task_availability_lifetime=Duration.hours(settings.task_availability_hours),
            output_bucket=self.results.bucket,
            input_buckets=[self.inputs.bucket],
            encryption_key=key,
            removal_policy=removal_policy,
        )
        self.workforce, self.workteam = self.review.workforce, self.review.workteam
        self.task_ui, self.flow_definition = self.review.task_ui, self.review.flow_definition
        self.topic = AlarmTopic(self, "Notifications", encryption_key=key, display_name="Human review").topic
        if settings.notification_email:
            subscribe_email(
                self.topic,
                settings.notification_email,
                record="A2I keeps each human loop's status and output",
            )
        self.flow = ObjectReviewFlow(
            self,
            "Flow",
            call=self.call,
            flow_definition=self.flow_definition,
            input_bucket=self.inputs.bucket,
            output_bucket=self.results.bucket,
            encryption_key=key,
            topic=self.topic,
            removal_policy=removal_policy,
        )
        HumanLoopNotifications(
            self,
            "HumanLoops",
            flow_definition_arns=[self.flow_definition.flow_definition_arn],
            topic=self.topic,
            topic_key=key,
            dead_letter_queue=self.flow.dead_letters.queue,
        )
        CfnOutput(
            self, "InputBucket", value=self.inputs.bucket_name, description="Put objects here to analyse them"
        )
        CfnOutput(
            self,
            "ResultsUri",
            value=f"s3://{self.results.bucket_name}/",
            description="analysis/: each object's analysis; human-review/: the reviewers' answers",
        )
        CfnOutput(self, "FlowDefinitionArn", value=self.flow_definition.flow_definition_arn)
        CfnOutput(self, "WorkteamArn", value=self.workteam.workteam_arn)
        CfnOutput(
            self,
            "ReviewersUserPool",
            value=self.workforce.user_pool_id,
            description="Invite reviewers to group 'reviewers'",
        )
        CfnOutput(
            self,
            "ReviewersClient",
            value=self.workforce.client_id,
            description="With ReviewersUserPool: workforce.existing_* for another review stack in this region",
        )

    @classmethod
    def default_description(cls) -> str:
        return f"mlblueprints human review of {cls.call.service} {cls.call.action} results (Amazon A2I)"

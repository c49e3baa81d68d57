"""An Amazon A2I flow definition: who reviews what, with which UI, and where the answers go.

CloudFormation has no resource type for it, so it is a custom resource (CDK's Provider framework, in
front of the handler in ``_handlers/flow_definition.py``, written with boto3). Its physical ID is the
flow definition ARN; any change replaces it (see the handler). Answers go to a prefix of a
KMS-encrypted bucket; the flow definition's role may read the input buckets (the task UI shows their
objects) and write that prefix only.

A2I runs in 12 regions (AWS General Reference, "Amazon Augmented AI endpoints and quotas": us-east-1,
us-east-2, us-west-2, ca-central-1, eu-central-1, eu-west-1, eu-west-2, ap-south-1, ap-northeast-1,
ap-northeast-2, ap-southeast-1, ap-southeast-2), and is no longer open to new customers ("Amazon
SageMaker A2I is no longer open to new customers. Existing customers can continue to use the service
as normal", Amazon SageMaker Developer Guide): an account new to A2I cannot create flow definitions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnRule, CustomResource, Duration, Fn, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr

from constructs import Construct
from mlblueprints.constructs._private.service_models import member_rule, number_rule
from mlblueprints.constructs.a2i.activation_conditions import (
    A2iTaskType,
    activation_conditions_problems,
    conditions_json,
)
from mlblueprints.constructs.compliance.acknowledge import (
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.compliance.functions import (
    PYTHON_RUNTIME,
    accept_deploy_time_function,
    encrypted_log_group,
)
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = [
    "A2I_REGIONS",
    "FlowDefinition",
    "FlowDefinitionError",
    "a2i_region_problems",
    "flow_definition_problems",
]

# AWS General Reference, "Amazon Augmented AI endpoints and quotas" (a2i-runtime.sagemaker endpoints);
# botocore's endpoint data no longer lists the service per region.
A2I_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
        "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
    }
)  # fmt: skip
HANDLERS = Path(__file__).parent / "_handlers"


class FlowDefinitionError(MlBlueprintsError):
    """Flow definition settings SageMaker would refuse."""


def a2i_region_problems(region: str | None, *, setting: str = "region") -> list[Problem]:
    """Why a stack pinned to ``region`` cannot use A2I."""
    if region is None or Token.is_unresolved(region) or region in A2I_REGIONS:
        return []
    return [
        Problem(
            f"Amazon A2I is not offered in {region} (AWS General Reference, Amazon Augmented AI endpoints); deploy "
            f"to one of {', '.join(sorted(A2I_REGIONS))}.",
            setting=setting,
            value=region,
        )
    ]


def flow_definition_problems(
    *,
    task_type: A2iTaskType | None,
    activation_conditions: dict[str, Any] | None,
    task_title: str,
    task_description: str,
    task_count: int,
    task_time_limit: Duration,
    task_availability_lifetime: Duration,
) -> list[Problem]:
    """Every problem CreateFlowDefinition would report, at once (limits read from botocore)."""
    problems = []
    if task_type is None and activation_conditions is not None:
        problems.append(
            Problem(
                "activation conditions are for the built-in task types (Textract, Rekognition): a custom task type "
                "starts its human loops itself (StartHumanLoop), e.g. with ConfidenceGate.",
                setting="activation_conditions",
            )
        )
    if task_type is not None:
        if activation_conditions is None:
            problems.append(
                Problem(
                    f"{task_type.value} needs activation conditions: without them A2I sends every request to people.",
                    setting="activation_conditions",
                )
            )
        else:
            problems += activation_conditions_problems(task_type, activation_conditions)
    for setting, value, shape, member in (
        ("task_title", task_title, "HumanLoopConfig", "TaskTitle"),
        ("task_description", task_description, "HumanLoopConfig", "TaskDescription"),
    ):
        violation = member_rule(shape, member).violation(value)
        if violation:
            problems.append(Problem(f"{setting} {violation}", setting=setting, value=value))
    count = number_rule("HumanLoopConfig", "TaskCount")
    if not count.minimum <= task_count <= count.maximum:
        problems.append(
            Problem(
                f"task_count={task_count}: use {count.minimum} to {count.maximum} reviewers per object.",
                setting="task_count",
            )
        )
    limit_seconds = task_time_limit.to_seconds()
    lifetime_seconds = task_availability_lifetime.to_seconds()
    least = number_rule("HumanLoopConfig", "TaskTimeLimitInSeconds").minimum
    if limit_seconds < least:
        problems.append(
            Problem(
                f"task_time_limit is {limit_seconds:g} s; SageMaker needs at least {least} s.",
                setting="task_time_limit",
            )
        )
    if lifetime_seconds < limit_seconds:
        problems.append(
            Problem(
                "task_availability_lifetime is shorter than task_time_limit: a reviewer could not finish a task taken "
                "near its expiry.",
                setting="task_availability_lifetime",
            )
        )
    return problems


class FlowDefinition(Construct):
    """A human review workflow for a built-in task type (``task_type``) or a custom one (None).

    :param workteam_arn: the private work team that reviews.
    :param human_task_ui_arn: the task UI its reviewers see.
    :param output_bucket: answers go under ``output_prefix``, encrypted with ``encryption_key``.
    :param input_buckets: buckets whose objects the task UI shows (the role may read them).
    :param activation_conditions: with a built-in task type, when to ask people (checked at synth).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workteam_arn: str,
        human_task_ui_arn: str,
        output_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        task_title: str,
        task_description: str,
        task_type: A2iTaskType | None = None,
        activation_conditions: dict[str, Any] | None = None,
        input_buckets: Sequence[s3.IBucket] = (),
        output_prefix: str = "human-review/",
        task_count: int = 1,
        task_time_limit: Duration = Duration.hours(1),
        task_availability_lifetime: Duration = Duration.days(1),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        problems = flow_definition_problems(
            task_type=task_type,
            activation_conditions=activation_conditions,
            task_title=task_title,
            task_description=task_description,
            task_count=task_count,
            task_time_limit=task_time_limit,
            task_availability_lifetime=task_availability_lifetime,
        ) + a2i_region_problems(stack.region)
        if problems:
            raise FlowDefinitionError(problems)
        _assert_a2i_region(stack)
        prefix = output_prefix.strip("/") + "/"
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="A2I flow definition: reads the objects reviewers see, writes their answers",
        )
        # Exactly what A2I does as this role ("Permissions and security in Amazon A2I"): read the objects the
        # task UI shows, write the answers; the key decrypts the one and encrypts the other.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[output_bucket.arn_for_objects(f"{prefix}*")]
            )
        )
        if input_buckets:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects("*") for bucket in input_buckets],
                )
            )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[encryption_key.key_arn]
            )
        )
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(self.role)
        acknowledge_wildcard_resource(
            policy,
            output_bucket.arn_for_objects(f"{prefix}*"),
            topic="A2I answers",
            reason="A2I writes each human loop's answers under the flow definition's output prefix, at keys it names "
            "(<prefix>/<flow definition>/<date>/<loop>/output.json).",
        )
        for bucket in input_buckets:
            acknowledge_wildcard_resource(
                policy,
                bucket.arn_for_objects("*"),
                topic="objects reviewers see",
                reason="The task UI shows whichever object of the input bucket a human loop is about; read only.",
            )

        handler_log_group = encrypted_log_group(
            self, "HandlerLogs", encryption_key=encryption_key, removal_policy=removal_policy, purpose="a2i"
        )
        handler = lambda_.Function(
            self,
            "Handler",
            runtime=PYTHON_RUNTIME,
            handler="flow_definition.on_event",
            code=lambda_.Code.from_asset(
                str(HANDLERS), exclude=["__pycache__", "*.pyc", "confidence_gate.py"]
            ),
            timeout=Duration.minutes(14),
            memory_size=256,
            log_group=handler_log_group,
            description="Creates, replaces and deletes an A2I flow definition for CloudFormation",
        )
        definitions = stack.format_arn(
            service="sagemaker", resource="flow-definition", resource_name=f"{_name_prefix(self)}-*"
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateFlowDefinition",
                    "sagemaker:DescribeFlowDefinition",
                    "sagemaker:DeleteFlowDefinition",
                ],
                resources=[definitions],
            )
        )
        acknowledge_wildcard_resource(
            handler.role.node.find_child("DefaultPolicy"),
            definitions,
            topic="the flow definitions this resource names",
            reason="The handler names each flow definition <prefix>-<digest of its properties> at deploy time (a "
            "change is a new definition); the wildcard is that digest, under this resource's own prefix.",
        )
        # CreateFlowDefinition passes the role to SageMaker.
        self.role.grant_pass_role(handler)
        accept_deploy_time_function(handler, purpose="The A2I flow definition's custom resource handler")
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=handler,
            log_group=encrypted_log_group(
                self,
                "ProviderLogs",
                encryption_key=encryption_key,
                removal_policy=removal_policy,
                purpose="a2i",
            ),
        )
        framework = provider.node.find_child("framework-onEvent")
        framework.node.default_child.memory_size = 256
        accept_deploy_time_function(framework, purpose="CDK's custom resource framework function")
        acknowledge_wildcard_resource(
            framework.role.node.find_child("DefaultPolicy"),
            f"{handler.function_arn}:*",
            topic="the framework invokes the handler",
            reason="CDK's Provider framework may invoke the handler function and its versions; it invokes nothing else.",
        )

        config = {
            "WorkteamArn": workteam_arn,
            "HumanTaskUiArn": human_task_ui_arn,
            "TaskTitle": task_title,
            "TaskDescription": task_description,
            "TaskCount": task_count,
            "TaskAvailabilityLifetimeInSeconds": int(task_availability_lifetime.to_seconds()),
            "TaskTimeLimitInSeconds": int(task_time_limit.to_seconds()),
        }
        properties: dict[str, Any] = {
            "NamePrefix": _name_prefix(self),
            "RoleArn": self.role.role_arn,
            "HumanLoopConfig": config,
            "OutputConfig": {
                "S3OutputPath": f"s3://{output_bucket.bucket_name}/{prefix}",
                "KmsKeyId": encryption_key.key_arn,
            },
        }
        if task_type is not None:
            properties["HumanLoopRequestSource"] = {"AwsManagedHumanLoopRequestSource": task_type.value}
            properties["HumanLoopActivationConfig"] = {
                "HumanLoopActivationConditionsConfig": {
                    "HumanLoopActivationConditions": conditions_json(activation_conditions)
                }
            }
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::A2iFlowDefinition",
            properties=properties,
        )
        # The role's permissions exist before SageMaker checks them.
        self.resource.node.add_dependency(self.role)
        self.flow_definition_arn = self.resource.get_att_string("FlowDefinitionArn")
        self.flow_definition_name = self.resource.get_att_string("FlowDefinitionName")
        self.output_uri = f"s3://{output_bucket.bucket_name}/{prefix}"


def _name_prefix(scope: Construct) -> str:
    """A lowercase prefix of the flow definition's name; the handler adds a digest of its properties."""
    text = Names.unique_resource_name(scope, max_length=40, separator="-").lower()
    cleaned = "".join(c if c.isalnum() else "-" for c in text)
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-") or "flow"


def _assert_a2i_region(stack: Stack) -> None:
    if not Token.is_unresolved(stack.region):
        return
    rule_id = f"A2iRegion{hashlib.sha256(b'a2i').hexdigest()[:8].upper()}"
    if stack.node.try_find_child(rule_id) is None:
        CfnRule(stack, rule_id).add_assertion(
            Fn.condition_contains(sorted(A2I_REGIONS), Aws.REGION),
            f"Amazon A2I is offered in {', '.join(sorted(A2I_REGIONS))} only.",
        )

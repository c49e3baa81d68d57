"""Lambda functions of the catalog's own: encrypted, retained log groups, and the gates' exceptions justified.

Two kinds:

- ``deploy_time``: a custom resource's handler (or CDK's Provider framework function in front of it),
  which CloudFormation invokes only while it deploys the stack. It calls AWS APIs and holds no data.
- runtime: a function the workload calls, which must answer for its concurrency and failures.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct
from mlblueprints.constructs._private.names import unique_name_with_stack_suffix
from mlblueprints.constructs._private.retention import named_log_group_removal_policy
from mlblueprints.constructs.compliance.acknowledge import (
    REGULATORY_PACKS,
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    skip_checkov,
)
from mlblueprints.constructs.security.encryption_key import allow_cloudwatch_logs

__all__ = ["accept_deploy_time_function", "accept_synchronous_function", "encrypted_log_group"]

# The Python runtime of the catalog's functions: the newest Lambda offers (cdk-nag's L1 checks it).
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14


def encrypted_log_group(
    scope: Construct,
    id: str,
    *,
    encryption_key: kms.IKey,
    removal_policy: RemovalPolicy,
    purpose: str,
    log_group_name: str | None = None,
) -> logs.LogGroup:
    """A named log group encrypted with ``encryption_key`` and kept a year (kept after the stack unless
    ``removal_policy`` is DESTROY).

    :param log_group_name: default: /mlblueprints/<purpose>/<stack>/<id>. A name a service requires instead (WAF
        writes only to aws-waf-logs-*); the key then lets CloudWatch Logs use it for that one group.
    """
    name = (
        log_group_name
        or f"/mlblueprints/{purpose}/{unique_name_with_stack_suffix(scope, max_length=100)}/{id}"
    )
    allow_cloudwatch_logs(encryption_key, log_group_name or f"/mlblueprints/{purpose}/*")
    return logs.LogGroup(
        scope,
        id,
        log_group_name=name,
        encryption_key=encryption_key,
        retention=logs.RetentionDays.ONE_YEAR,
        removal_policy=named_log_group_removal_policy(removal_policy),
    )


def accept_deploy_time_function(
    function: lambda_.Function,
    *,
    purpose: str,
    role: iam.IRole | None = None,
    managed_basic_execution: bool = True,
    library_runtime: bool = False,
) -> None:
    """Justify what the packs ask of runtime functions, for a function only CloudFormation invokes.

    :param role: the function's role when it is not ``function.role`` (a construct library's shared one).
    :param managed_basic_execution: the role carries AWSLambdaBasicExecutionRole (CDK's default).
    :param library_runtime: a construct library's own handler, whose runtime comes with the library.
    """
    cfn = function.node.default_child
    why = f"{purpose}; CloudFormation invokes it only while it deploys this stack"
    role = role or function.role
    if role is not None:
        acknowledge_inline_policy(role)
        if managed_basic_execution:
            acknowledge(
                role,
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                topic="Lambda basic execution",
                reason=f"{why}; the managed policy only lets it write its own CloudWatch logs.",
                packs=(Pack.AWS_SOLUTIONS,),
            )
    for rule, reason in (
        ("LambdaConcurrency", "a concurrency reservation would only limit deploys"),
        ("LambdaDLQ", "failures surface as a failed stack operation, not a queue"),
        ("LambdaInsideVPC", "it calls AWS APIs only and holds no data"),
    ):
        acknowledge(cfn, rule, topic="deploy-time function", reason=f"{why}: {reason}.")
    acknowledge(
        cfn,
        "lambda_inside_vpc_check",
        topic="CT.LAMBDA.PR.3: deploy-time function outside a VPC",
        reason=f"{why}: it calls AWS APIs and holds no data; nothing of the workload runs outside a VPC.",
        packs=(Pack.CONTROL_TOWER,),
    )
    for rule, pack in (("LambdaDLQ", Pack.SERVERLESS), ("LambdaTracing", Pack.SERVERLESS)):
        acknowledge(
            cfn,
            rule,
            topic="deploy-time function",
            reason=f"{why}: failures and their reasons go to the stack's events and the function's log group.",
            packs=(pack,),
        )
    if library_runtime:
        for rule, pack in (("L1", Pack.AWS_SOLUTIONS), ("LambdaLatestVersion", Pack.SERVERLESS)):
            acknowledge(
                cfn,
                rule,
                topic="deploy-time function",
                reason=f"{why}; its runtime is the construct library's, pinned with it.",
                packs=(pack,),
            )
    skip_checkov(
        cfn,
        CKV_AWS_115=f"{why}: a concurrency reservation would only limit deploys.",
        CKV_AWS_116=f"{why}: failures surface as a failed stack operation, not a queue.",
        CKV_AWS_117=f"{why}: it calls AWS APIs and holds no data.",
        CKV_AWS_173=f"{why}: its environment holds no secrets.",
    )


def accept_synchronous_function(
    function: lambda_.Function, *, topic: str, caller: str, outside_vpc: str
) -> None:
    """Justify what the packs ask of a runtime function that ``caller`` invokes synchronously, outside a VPC.

    :param caller: who invokes it and gets its result or error (a dead-letter queue serves only asynchronous
        invocations).
    :param outside_vpc: why it runs outside a VPC: what it calls, and that it keeps no data at rest.
    """
    if function.role is not None:
        acknowledge(
            function.role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            topic="Lambda basic execution",
            reason=f"The {topic} function's managed policy only lets it write CloudWatch logs, to the encrypted "
            "log group its logging configuration names.",
            packs=(Pack.AWS_SOLUTIONS,),
        )
    cfn = function.node.default_child
    why = f"It is invoked synchronously by {caller}, which gets the result or the error in the response; a dead-letter queue only serves asynchronous invocations"
    for pack in (REGULATORY_PACKS, (Pack.SERVERLESS,)):
        acknowledge(cfn, "LambdaDLQ", topic=topic, reason=f"{why}.", packs=pack)
    acknowledge(cfn, "LambdaInsideVPC", topic=f"{topic} outside a VPC", reason=f"{outside_vpc}.")
    acknowledge(
        cfn,
        "lambda_inside_vpc_check",
        topic=f"CT.LAMBDA.PR.3: {topic} outside a VPC",
        reason=f"{outside_vpc}.",
        packs=(Pack.CONTROL_TOWER,),
    )
    skip_checkov(cfn, CKV_AWS_116=f"{why}.", CKV_AWS_117=f"{outside_vpc}.")

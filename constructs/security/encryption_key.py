"""A customer-managed KMS key with rotation, kept when the stack is deleted."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import skip_checkov

__all__ = [
    "EncryptionKey",
    "allow_cloudwatch_alarms",
    "allow_cloudwatch_logs",
    "allow_ebs_in_account",
    "grant_state_machine_key",
    "limit_grants_to_aws_services",
]


class EncryptionKey(Construct):
    """The key that encrypts a blueprint's data: buckets, logs, topics and ML storage volumes.

    Rotation is on (yearly). The key is retained on stack deletion by default because deleting it
    makes every object it encrypted unreadable; pass ``removal_policy=RemovalPolicy.DESTROY`` to
    schedule its deletion (after ``pending_window``) together with the stack.

    The key policy limits ``kms:CreateGrant`` to grants that AWS services make for the account's
    resources (AWS Control Tower control CT.KMS.PR.3): principals may use the key through SageMaker,
    EBS or CloudWatch Logs, but cannot hand its use on to anyone else.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        description: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        pending_window: Duration = Duration.days(30),
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Resource",
            description=description,
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=pending_window,
        )
        limit_grants_to_aws_services(self.key)

    @property
    def key_arn(self) -> str:
        return self.key.key_arn

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.key.grant_encrypt_decrypt(grantee)

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.key.grant_decrypt(grantee)

    def allow_cloudwatch_logs(self, log_group_name: str) -> None:
        """Let CloudWatch Logs encrypt the log group ``log_group_name`` (``*`` allowed) with the key."""
        allow_cloudwatch_logs(self.key, log_group_name)

    def allow_cloudwatch_alarms(self) -> None:
        """Let CloudWatch alarms publish to SNS topics encrypted with the key."""
        allow_cloudwatch_alarms(self.key)


def limit_grants_to_aws_services(key: kms.IKey) -> bool:
    """Deny ``kms:CreateGrant`` unless an AWS service asks for it, or asks on a principal's behalf.

    The statement the AWS Control Tower control CT.KMS.PR.3 requires: deny for all principals when
    both ``kms:GrantIsForAWSResource`` and ``aws:PrincipalIsAWSService`` are false (``BoolIfExists``).
    SageMaker (for ML volumes) and EBS create their grants that way, so nothing this catalog deploys
    needs any other grant.
    """
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsNotForAwsResources",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={
                "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
            },
        ),
        allow_no_op=True,
    ).statement_added


def allow_cloudwatch_logs(key: kms.IKey, log_group_name: str) -> bool:
    """Add the key-policy statement CloudWatch Logs needs to encrypt one log group (or a name pattern).

    The condition names the log group's ARN, so the key encrypts this stack's groups and no others
    of the account. Returns ``False`` for an imported key, whose policy cannot be changed from here:
    it must already allow it.
    """
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.{Aws.URL_SUFFIX}")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{log_group_name}"
                    )
                }
            },
        ),
        allow_no_op=True,
    ).statement_added


def allow_cloudwatch_alarms(key: kms.IKey) -> bool:
    """Add the key-policy statement CloudWatch alarms need to publish to SNS topics encrypted with it."""
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ),
        allow_no_op=True,
    ).statement_added


def allow_ebs_in_account(key: kms.IKey) -> bool:
    """Let EC2 use the key for EBS volumes of this account, whoever launches them.

    The statement of AWS's own ``aws/ebs`` key policy: any principal of the account, through EC2
    only (``kms:ViaService`` and ``kms:CallerAccount``). Auto Scaling launches as its service-linked
    role, which a key policy cannot name before the account's first group creates it; without this,
    instances with encrypted volumes fail to launch ("Required AWS KMS key policy for use with
    encrypted volumes", Amazon EC2 Auto Scaling User Guide).
    """
    cfn_key = key.node.default_child if isinstance(key, kms.Key) else None
    skips = (cfn_key.get_metadata("checkov") or {}).get("skip", []) if cfn_key is not None else []
    if cfn_key is not None and not any(skip["id"] == "CKV_AWS_33" for skip in skips):
        skip_checkov(
            cfn_key,
            CKV_AWS_33="The one '*' principal is AWS's own aws/ebs key-policy statement: limited to callers of this "
            "account (kms:CallerAccount) through EC2 (kms:ViaService), so Auto Scaling's service-linked role can "
            "launch instances with encrypted volumes.",
        )
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowEbsThroughEc2InThisAccount",
            principals=[iam.AnyPrincipal()],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:CreateGrant",
                "kms:DescribeKey",
            ],
            resources=["*"],
            conditions={
                "StringEquals": {
                    "kms:CallerAccount": Aws.ACCOUNT_ID,
                    "kms:ViaService": f"ec2.{Aws.REGION}.{Aws.URL_SUFFIX}",
                }
            },
        )
    )


def allow_eventbridge(key: kms.IKey) -> bool:
    """Let EventBridge encrypt what it delivers to this key's SNS topics and SQS queues (for a key created
    in CDK; an imported key must already allow it)."""
    return key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowEventBridgeToDeliverToEncryptedTargets",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        ),
        allow_no_op=True,
    ).statement_added


def grant_state_machine_key(key: kms.IKey, grantee: iam.IGrantable, state_machine_arn: str) -> None:
    """Let ``grantee`` start, or answer the tasks of, a state machine encrypted with ``key``.

    Step Functions encrypts an execution's data with the state machine's customer managed key, so a caller of
    StartExecution, SendTaskSuccess or SendTaskFailure needs ``kms:GenerateDataKey`` and ``kms:Decrypt`` on it
    ("Data at rest encryption in Step Functions", AWS Step Functions Developer Guide); aws-cdk-lib's
    ``grant_start_execution`` and ``grant_task_response`` grant no KMS action. The encryption context names
    the one state machine.
    """
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
            conditions={
                "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": state_machine_arn}
            },
        )
    )

"""Who read or wrote which object: a CloudTrail trail of the S3 data events of a workload's buckets."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import acknowledge_inline_policy, skip_checkov
from mlblueprints.constructs.compliance.functions import encrypted_log_group
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["DataEventsTrail", "allow_cloudtrail", "trail_name_for"]


def trail_name_for(stack_name: str) -> str:
    """``<stack>-data-events``, as CloudTrail takes trail names: letters, digits, periods, underscores and
    dashes, no two of those three in a row, starting and ending with a letter or digit, 3 to 128 long."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", f"{stack_name}-data-events")
    name = re.sub(r"[._-]{2,}", "-", name)[:128]
    return name.strip("._-")


def allow_cloudtrail(key: kms.IKey, trail_arn: str) -> bool:
    """Let CloudTrail encrypt one trail's log files with ``key`` ("Configure AWS KMS key policies for
    CloudTrail", AWS CloudTrail User Guide: GenerateDataKey* with the trail's ARN in the encryption
    context, and DescribeKey). An imported key must already allow it."""
    principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
    source = {"aws:SourceArn": trail_arn}
    added = key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudTrailToEncryptItsLogs",
            principals=[principal],
            actions=["kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": source,
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
                },
            },
        ),
        allow_no_op=True,
    ).statement_added
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudTrailToDescribeTheKey",
            principals=[principal],
            # Decrypt too: "If you are using an existing S3 bucket with an S3 Bucket Key, kms:Decrypt permissions
            # are required to create or update a trail with SSE-KMS encryption enabled" (same page).
            actions=["kms:DescribeKey", "kms:Decrypt"],
            resources=["*"],
            conditions={"StringEquals": source},
        ),
        allow_no_op=True,
    )
    return added


class DataEventsTrail(Construct):
    """A trail of every object read and write in ``buckets``, for an audit of who touched which data.

    The log files are encrypted with ``encryption_key``, validated (CloudTrail signs a digest each hour),
    kept in their own encrypted bucket and copied to an encrypted CloudWatch log group (a year). The trail
    records data events only, in this region: management events are the account trail's, and a second copy
    of them is billed. S3 data events are billed per 100,000 events (AWS CloudTrail pricing).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        buckets: Sequence[s3.IBucket],
        encryption_key: kms.IKey,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self.logs_bucket = SecureBucket(
            self, "Logs", encryption_key=encryption_key, removal_policy=removal_policy
        )
        self.log_group = encrypted_log_group(
            self,
            "LogGroup",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            purpose="cloudtrail",
        )
        trail_name = trail_name_for(Stack.of(self).stack_name)
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=self.logs_bucket.bucket,
            encryption_key=encryption_key,
            enable_file_validation=True,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.log_group,
            include_global_service_events=False,
            is_multi_region_trail=False,
            management_events=cloudtrail.ReadWriteType.NONE,
        )
        self.trail.add_s3_event_selector(
            [cloudtrail.S3EventSelector(bucket=bucket) for bucket in buckets],
            read_write_type=cloudtrail.ReadWriteType.ALL,
            include_management_events=False,
        )
        trail_arn = Stack.of(self).format_arn(
            service="cloudtrail", resource="trail", resource_name=trail_name
        )
        allow_cloudtrail(encryption_key, trail_arn)
        # aws-cdk-lib's delivery statement names this account's AWSLogs/ prefix, not this trail: another trail
        # of the account could write here too. Only this trail may.
        self.logs_bucket.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.logs_bucket.bucket.arn_for_objects("*")],
                conditions={"StringNotEquals": {"aws:SourceArn": trail_arn}},
            )
        )
        self.trail.node.add_dependency(self.logs_bucket.bucket.policy or self.logs_bucket.bucket)
        skip_checkov(
            self.trail.node.default_child,
            CKV_AWS_67="This trail records the data events of this stack's buckets, which live in one region; the "
            "account's own multi-region trail (AWS Organizations or Control Tower) records management events everywhere.",
        )
        role = self.trail.node.try_find_child("LogsRole")
        if role is not None:
            acknowledge_inline_policy(role)

"""An S3 bucket that passes the compliance packs: KMS, SSL-only, versioned, logged, private."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge, skip_checkov

__all__ = ["SecureBucket"]

# What every bucket here shares: TLS 1.2+ only, versioned, no public access, no ACLs.
_PRIVATE_BUCKET = {
    "enforce_ssl": True,
    "minimum_tls_version": 1.2,
    "versioned": True,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
}


class SecureBucket(Construct):
    """A KMS-encrypted, versioned, SSL-only, public-access-blocked bucket with server access logs.

    :param encryption_key: the customer-managed key for default encryption (S3 Bucket Keys on, to
        keep KMS request costs down).
    :param server_access_logs_bucket: where access logs go. Default: a log bucket created beside
        this one (SSE-S3: S3 log delivery cannot write to SSE-KMS buckets).
    :param bucket_name: a fixed name, where a service only reaches buckets named so (HyperPod's
        ``sagemaker-*`` lifecycle buckets); default: CloudFormation's unique name.
    :param removal_policy: default ``RETAIN``: the data outlives the stack. ``DESTROY`` deletes the
        bucket with the stack, and CloudFormation refuses while it still holds objects.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        server_access_logs_bucket: s3.IBucket | None = None,
        server_access_logs_prefix: str = "access-logs/",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        noncurrent_version_expiration: Duration = Duration.days(90),
        bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if server_access_logs_bucket is None:
            server_access_logs_bucket = self._create_log_bucket(removal_policy)
        self.server_access_logs_bucket = server_access_logs_bucket
        self.bucket = s3.Bucket(
            self,
            "Resource",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            removal_policy=removal_policy,
            **_PRIVATE_BUCKET,
            lifecycle_rules=[
                s3.LifecycleRule(
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    noncurrent_version_expiration=noncurrent_version_expiration,
                )
            ],
        )
        self._log_to(server_access_logs_bucket, server_access_logs_prefix)
        acknowledge_no_replication(self.bucket)
        acknowledge_control_tower_bucket_controls(self.bucket)

    def _log_to(self, log_bucket: s3.IBucket, prefix: str) -> None:
        """Server access logging through a bucket policy for the S3 logging service.

        Set here rather than through ``s3.Bucket(server_access_logs_bucket=...)``, which falls back to
        the legacy ``LogDeliveryWrite`` ACL (refused by buckets with ACLs disabled) in apps that do
        not set the ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` feature flag.
        """
        cfn_bucket: s3.CfnBucket = self.bucket.node.default_child
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=log_bucket.bucket_name, log_file_prefix=prefix
        )
        log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[log_bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": self.bucket.bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )

    def _create_log_bucket(self, removal_policy: RemovalPolicy) -> s3.Bucket:
        log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            removal_policy=removal_policy,
            **_PRIVATE_BUCKET,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
        )
        topic = "server access logs of the access-log bucket itself"
        reason = (
            "This bucket is the server access log destination; logging it into itself would create "
            "a feedback loop, and S3 records its own management events in CloudTrail."
        )
        acknowledge(log_bucket, "S1", topic=topic, reason=reason, packs=(Pack.AWS_SOLUTIONS,))
        acknowledge(log_bucket, "S3BucketLoggingEnabled", topic=topic, reason=reason)
        acknowledge(
            log_bucket,
            "s3_bucket_logging_enabled_check",
            topic=topic,
            reason=reason,
            packs=(Pack.CONTROL_TOWER,),
        )
        skip_checkov(log_bucket.node.default_child, CKV_AWS_18=reason)
        kms_topic = "KMS default encryption on the access-log bucket"
        kms_reason = (
            "S3 server access log delivery only supports SSE-S3 (AES-256) on the destination bucket; "
            "SSE-KMS would make log delivery fail."
        )
        acknowledge(log_bucket, "S3DefaultEncryptionKMS", topic=kms_topic, reason=kms_reason)
        acknowledge(
            log_bucket,
            "s3_bucket_default_encryption_kms_check",
            topic=kms_topic,
            reason=kms_reason,
            packs=(Pack.CONTROL_TOWER,),
        )
        acknowledge_no_replication(log_bucket)
        acknowledge_control_tower_bucket_controls(log_bucket)
        return log_bucket

    @property
    def bucket_name(self) -> str:
        return self.bucket.bucket_name

    @property
    def bucket_arn(self) -> str:
        return self.bucket.bucket_arn

    def grant_read(self, grantee: iam.IGrantable, objects_key_pattern: str = "*") -> iam.Grant:
        return self.bucket.grant_read(grantee, objects_key_pattern)

    def grant_read_write(self, grantee: iam.IGrantable, objects_key_pattern: str = "*") -> iam.Grant:
        return self.bucket.grant_read_write(grantee, objects_key_pattern)


def acknowledge_control_tower_bucket_controls(bucket: s3.IBucket) -> None:
    """CT.S3.PR.4 (event notifications) and CT.S3.PR.9 (Object Lock), which a general bucket leaves off."""
    acknowledge(
        bucket,
        "s3_event_notifications_enabled_check",
        topic="CT.S3.PR.4: S3 event notifications",
        reason="No consumer of object events is part of this bucket's job; a notification target would "
        "add a function or queue that reads nothing. Server access logs and versioning record changes.",
        packs=(Pack.CONTROL_TOWER,),
    )
    acknowledge(
        bucket,
        "s3_bucket_object_lock_enabled_check",
        topic="CT.S3.PR.9: S3 Object Lock",
        reason="Object Lock (WORM) would keep the lifecycle rule from expiring noncurrent versions and stop "
        "owners deleting data they must be able to delete; versioning and retention on stack deletion "
        "protect it. Turn Object Lock on where a retention mandate requires it.",
        packs=(Pack.CONTROL_TOWER,),
    )


def acknowledge_no_replication(bucket: s3.IBucket) -> None:
    acknowledge(
        bucket,
        "S3BucketReplicationEnabled",
        topic="cross-region replication",
        reason="Replication needs a destination bucket and key in a second region, which a single-region "
        "blueprint cannot create; versioning and retention on deletion protect against loss here. "
        "Add replication_configuration when your recovery plan needs a second region.",
    )

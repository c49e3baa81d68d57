"""A folder of the repo copied into an encrypted bucket while CloudFormation deploys the stack."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge, acknowledge_wildcard_resource
from mlblueprints.constructs.compliance.functions import accept_deploy_time_function, encrypted_log_group

__all__ = ["deploy_folder"]


def deploy_folder(
    scope: Construct,
    id: str,
    *,
    folder: Path,
    bucket: s3.IBucket,
    prefix: str,
    encryption_key: kms.IKey,
    removal_policy: RemovalPolicy,
    purpose: str,
    what: str,
    distribution: cloudfront.IDistribution | None = None,
) -> s3_deployment.BucketDeployment:
    """Copy ``folder`` under ``prefix`` of ``bucket`` (SSE-KMS with ``encryption_key``) with aws-cdk-lib's bucket
    deployment, its log group encrypted, and the gates' exceptions for its function justified.

    :param purpose: the log group's path element (``/mlblueprints/<purpose>/...``).
    :param what: what is copied, for the reasons the gates record ("the lifecycle scripts").
    :param distribution: a CloudFront distribution serving the bucket, whose cache each deployment invalidates.
    """
    deployment = s3_deployment.BucketDeployment(
        scope,
        id,
        destination_bucket=bucket,
        destination_key_prefix=prefix,
        sources=[s3_deployment.Source.asset(str(folder))],
        server_side_encryption=s3_deployment.ServerSideEncryption.AWS_KMS,
        server_side_encryption_aws_kms_key_id=encryption_key.key_id,
        memory_limit=512,
        distribution=distribution,
        distribution_paths=["/*"] if distribution is not None else None,
        # The deployments of a stack share one function, so a second one in this scope shares the log group.
        log_group=scope.node.try_find_child("DeploymentLogs")
        or encrypted_log_group(
            scope,
            "DeploymentLogs",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            purpose=purpose,
        ),
    )
    encryption_key.grant_encrypt_decrypt(deployment.handler_role)
    stack = Stack.of(scope)
    handler = next(
        child
        for child in stack.node.children
        if isinstance(child, Construct) and child.node.id.startswith("Custom::CDKBucketDeployment")
    )
    why = f"CDK's bucket deployment copies {what} while CloudFormation deploys the stack"
    accept_deploy_time_function(handler, purpose=why, library_runtime=True)
    role_policy = deployment.handler_role.node.find_child("DefaultPolicy")
    for action in ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*",
                   "kms:GenerateDataKey*", "kms:ReEncrypt*"):  # fmt: skip
        acknowledge(
            role_policy,
            f"IAM5[Action::{action}]",
            topic="CDK's bucket deployment grants",
            reason=f"{why}: aws-cdk-lib's read grant on its asset and read-write grant on the destination bucket, "
            "limited to those two buckets; the key encrypts the copies.",
            packs=(Pack.AWS_SOLUTIONS,),
        )
    for resource, where in (
        (bucket.arn_for_objects("*"), "the destination bucket's objects (it syncs the folder)"),
        (f"arn:{stack.partition}:s3:::cdk-hnb659fds-assets-{stack.account}-{stack.region}/*",
         "the CDK bootstrap assets bucket, where the zipped folder is keyed by its hash"),
    ):  # fmt: skip
        acknowledge_wildcard_resource(
            role_policy, resource, topic="CDK's bucket deployment", reason=f"{why}: {where}."
        )
    return deployment

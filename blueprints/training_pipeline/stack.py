"""Blueprint: SageMaker training on GPU or Trainium, run on demand or on a schedule, ready for ``cdk deploy``.

The security baseline (a rotating KMS key and a private VPC with the endpoints SageMaker needs) and a
:class:`TrainingPipeline`: a Step Functions state machine that starts each training job with the
whole ``CreateTrainingJob`` request, an encrypted artifacts bucket, failure notifications, and a
model package group the endpoint blueprints deploy from. Start a run with ``aws stepfunctions
start-execution`` (input: overrides of hyperparameters, instance_count and channels).
"""

from __future__ import annotations

import dataclasses
import json

from aws_cdk import CfnOutput, Environment, RemovalPolicy
from aws_cdk import aws_events as events

from constructs import Construct
from mlblueprints.blueprints.training_pipeline.settings import TrainingPipelineSettings, source_of
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.security.baseline import SecurityBaseline
from mlblueprints.constructs.security.private_network import AvailabilityZonesAtDeployTime
from mlblueprints.constructs.training.training_job import SourceCode
from mlblueprints.constructs.training.training_pipeline import (
    CHECKPOINT_PREFIX,
    OUTPUT_PREFIX,
    TrainingPipeline,
    channel_bucket,
)

__all__ = ["TrainingPipelineSettings", "TrainingPipelineStack"]


class TrainingPipelineStack(AvailabilityZonesAtDeployTime):
    """A training pipeline and everything it needs, deployable as one stack."""

    def __init__(
        self, scope: Construct, id: str, *, settings: TrainingPipelineSettings, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope,
            id,
            env=env,
            description=settings.description
            or f"mlblueprints SageMaker training on {settings.instance_type}",
        )
        removal_policy = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        baseline = SecurityBaseline.create(
            self,
            create_vpc=settings.create_vpc,
            removal_policy=removal_policy,
            **({"vpc_cidr": settings.vpc_cidr} if settings.vpc_cidr else {}),
        )
        self.key, self.network = baseline.key, baseline.network
        job = settings.training_job()
        source_dir, entry_point = source_of(settings.model_dump())
        if source_dir is not None:
            job = dataclasses.replace(
                job, source=SourceCode.from_directory(self, "SourceCode", source_dir), entry_point=entry_point
            )
        inference_image = (
            ContainerImage.from_dlc(settings.inference_dlc_repository, settings.inference_dlc_tag)
            if settings.inference_dlc_repository and settings.inference_dlc_tag
            else None
        )
        self.pipeline = TrainingPipeline(
            self,
            "Training",
            job=job,
            encryption_key=self.key.key,
            vpc=self.network.vpc if self.network else None,
            subnets=self.network.subnets if self.network else None,
            inference_image=inference_image,
            model_package_group_name=settings.model_package_group_name,
            schedule=events.Schedule.expression(settings.schedule) if settings.schedule else None,
            notification_email=settings.notification_email,
            removal_policy=removal_policy,
        )
        if self.network is not None:
            bucket = self.pipeline.bucket
            for name in sorted({channel_bucket(channel.s3_uri) for channel in job.channels}):
                self.network.allow_s3_objects(f"arn:{self.partition}:s3:::{name}/*")
                self.network.allow_s3_objects(f"arn:{self.partition}:s3:::{name}", actions=("s3:ListBucket",))
            self.network.allow_s3_objects(
                bucket.arn_for_objects(f"{OUTPUT_PREFIX}*"),
                actions=("s3:PutObject", "s3:AbortMultipartUpload"),
            )
            self.network.allow_s3_objects(
                bucket.arn_for_objects(f"{CHECKPOINT_PREFIX}*"),
                actions=("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:DeleteObject"),
            )
            self.network.allow_s3_objects(bucket.bucket_arn, actions=("s3:ListBucket",))
            if job.source is not None:
                self.network.allow_s3_objects(job.source.object_arn(self))
            self.pipeline.state_machine.node.add_dependency(self.network)
        CfnOutput(
            self,
            "StateMachineArn",
            value=self.pipeline.state_machine.state_machine_arn,
            description="Start runs here",
        )
        CfnOutput(
            self,
            "TrainingJobNamePrefix",
            value=self.pipeline.job_name_prefix,
            description="Each run's training job is named <prefix>-<run ID>",
        )
        CfnOutput(
            self,
            "Channels",
            value=json.dumps({channel.name: channel.s3_uri for channel in job.channels}),
            description="The configured input channels (a run may point them elsewhere in the same buckets)",
        )
        CfnOutput(
            self,
            "ArtifactsLocation",
            value=self.pipeline.bucket.s3_url_for_object(OUTPUT_PREFIX),
            description="Trained artifacts: model_data_url of an endpoint serving a registered package",
        )
        CfnOutput(
            self,
            "ArtifactsKeyArn",
            value=self.key.key.key_arn,
            description="Their KMS key: model_data_kms_key_arn of that endpoint",
        )
        CfnOutput(
            self,
            "ArtifactsBucket",
            value=self.pipeline.bucket.bucket_name,
            description="Outputs and checkpoints",
        )
        CfnOutput(
            self,
            "NotificationTopicArn",
            value=self.pipeline.topic.topic_arn,
            description="Failed or stopped jobs",
        )
        if self.pipeline.model_package_group is not None:
            CfnOutput(
                self,
                "ModelPackageGroupName",
                value=self.pipeline.model_package_group.model_package_group_name,
                description="Trained models are registered here",
            )

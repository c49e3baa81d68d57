"""The machinery that runs SageMaker training jobs on demand: a Step Functions state machine and what
surrounds it.

Each execution merges its input's overrides over the configured job (``hyperparameters`` key by key,
``instance_count``, and ``channels`` by name), starts the job with the optimized integration
``arn:aws:states:::sagemaker:createTrainingJob.sync`` (which waits for the job and fails the
execution when it fails), and registers the trained artifact in a model package group, pending
approval; ``RealtimeEndpoint(model_package_arn=...)`` serves an approved version. EventBridge rules turn failed or stopped jobs, and failed runs, into messages on an
encrypted topic; an optional schedule starts runs periodically.

Why Step Functions rather than SageMaker Pipelines: it is deployable in one CloudFormation stack with
no pipeline definition to upload, its executions take JSON overrides from any caller (the CLI, a
schedule, another workflow), and its role and log are ordinary IAM and CloudWatch resources that
the compliance gates check like everything else.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from mlblueprints.constructs._private.names import stack_id_suffix, unique_base_name
from mlblueprints.constructs._private.retention import named_log_group_removal_policy
from mlblueprints.constructs.compliance.acknowledge import (
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
)
from mlblueprints.constructs.errors import TrainingJobError, raise_if_any
from mlblueprints.constructs.monitoring.alarm_topic import subscribe_email
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.execution_role import ExecutionRole
from mlblueprints.constructs.sagemaker.model import attach_to_vpc
from mlblueprints.constructs.security.encryption_key import EncryptionKey, allow_cloudwatch_logs
from mlblueprints.constructs.security.secure_bucket import SecureBucket
from mlblueprints.constructs.training.training_job import CODE_CHANNEL, TrainingJob

__all__ = ["CHECKPOINT_PREFIX", "OUTPUT_PREFIX", "TrainingPipeline", "channel_bucket"]

OUTPUT_PREFIX = "output/"
CHECKPOINT_PREFIX = "checkpoints/"


def channel_bucket(s3_uri: str) -> str:
    return s3_uri.removeprefix("s3://").partition("/")[0]


# The managed rule the .sync integration creates to learn when the job ends (Step Functions
# Developer Guide, "IAM policies for calling Amazon SageMaker AI").
SYNC_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
JOB_NAME_PREFIX_LENGTH = 26


class TrainingPipeline(Construct):
    """A state machine that runs ``job`` on demand (or on a schedule) and registers its model.

    :param job: what each run trains; executions may override hyperparameters, instance count and
        channel locations.
    :param bucket: where outputs and checkpoints go. Default: a KMS-encrypted, versioned, retained
        bucket (``output/`` and ``checkpoints/<execution>/``).
    :param inference_image: the image the registered model package serves with; without it no
        package is registered.
    :param schedule: start a run on this schedule, with no overrides.
    :param vpc: run the job in this VPC's ``subnets`` (default: no VPC).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job: TrainingJob,
        encryption_key: kms.IKey | None = None,
        bucket: s3.IBucket | None = None,
        vpc: ec2.IVpc | None = None,
        subnets: ec2.SubnetSelection | None = None,
        role: iam.IRole | None = None,
        inference_image: ContainerImage | None = None,
        model_package_group_name: str | None = None,
        schedule: events.Schedule | None = None,
        notification_email: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        problems = job.problems(stack.region)
        raise_if_any([TrainingJobError(problems)] if problems else [], TrainingJobError)
        self.job = job
        if encryption_key is None:
            encryption_key = EncryptionKey(
                self,
                "Key",
                description=f"Encrypts the training of {self.node.path}",
                removal_policy=removal_policy,
            ).key
        self.encryption_key = encryption_key
        self.bucket = (
            bucket
            or SecureBucket(
                self, "Artifacts", encryption_key=encryption_key, removal_policy=removal_policy
            ).bucket
        )
        # Job names are "<prefix>-<execution name>", at most 63 characters: a 26-character prefix leaves
        # room for the default execution name, a 36-character UUID.
        self.job_name_prefix = unique_base_name(self, JOB_NAME_PREFIX_LENGTH).lower()

        self.execution_role = ExecutionRole(
            self, "Role", role=role, description=f"Execution role of the training jobs of {self.node.path}"
        )
        self._grant_job_access(job, vpc, subnets)
        self.model_package_group = (
            sagemaker.CfnModelPackageGroup(
                self,
                "ModelPackageGroup",
                model_package_group_name=model_package_group_name or self.job_name_prefix,
                model_package_group_description=f"Models trained by {self.node.path}",
            )
            if inference_image is not None
            else None
        )
        self.log_group = self._log_group(log_retention, removal_policy)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(job, inference_image)),
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
            comment=f"Runs the SageMaker training jobs of {self.node.path}",
        )
        self._grant_state_machine(inference_image)
        acknowledge_inline_policy(self.state_machine.role)
        # Events EventBridge could not deliver (a missed scheduled start, an undelivered failure
        # notice) wait here for 14 days instead of being dropped.
        self.dead_letters = sqs.Queue(
            self,
            "UndeliveredEvents",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.dead_letters,
            "SQS3",
            topic="a dead-letter queue without a dead-letter queue of its own",
            reason="This queue is the dead-letter queue of the pipeline's EventBridge targets; cdk-nag only "
            "recognises queues named in another queue's redrive policy as dead-letter queues.",
            packs=(Pack.AWS_SOLUTIONS,),
        )
        acknowledge(
            self.dead_letters,
            "SQSRedrivePolicy",
            topic="a dead-letter queue without a redrive policy",
            reason="It is the last stop for events EventBridge could not deliver; a queue behind it would only "
            "hold the same messages again.",
            packs=(Pack.SERVERLESS,),
        )
        acknowledge(
            self.dead_letters,
            "sqs_dlq_check",
            topic="CT.SQS.PR.1 on a dead-letter queue",
            reason="This queue is itself the dead-letter queue of the pipeline's EventBridge targets.",
            packs=(Pack.CONTROL_TOWER,),
        )
        self.topic = self._failure_notifications(notification_email)
        if schedule is not None:
            rule = events.Rule(
                self,
                "Schedule",
                schedule=schedule,
                description=f"Starts a training run of {self.node.path}",
                targets=[
                    targets.SfnStateMachine(
                        self.state_machine,
                        input=events.RuleTargetInput.from_object({}),
                        dead_letter_queue=self.dead_letters,
                    )
                ],
            )
            for child in (*rule.node.find_all(), *self.state_machine.node.find_all()):
                if isinstance(child, iam.Role) and child is not self.state_machine.role:
                    acknowledge_inline_policy(child)

    # --- the execution role of the job ---------------------------------------------------------

    def _grant_job_access(
        self, job: TrainingJob, vpc: ec2.IVpc | None, subnets: ec2.SubnetSelection | None
    ) -> None:
        role = self.execution_role
        self.image_uri = job.image.bind(self, role.role)
        role.acknowledge_wildcard(
            "ecr:GetAuthorizationToken returns a registry login token and supports no resource-level "
            "permissions; image pulls are limited to the training image's repository."
        )
        # Runs may point a channel at other data in the same bucket (train-v2/), so the role reads the
        # channels' buckets, and no others.
        for bucket in sorted({channel_bucket(channel.s3_uri) for channel in job.channels}):
            objects = f"arn:{Aws.PARTITION}:s3:::{bucket}/*"
            iam.Grant.add_to_principal(grantee=role.role, actions=["s3:GetObject"], resource_arns=[objects])
            iam.Grant.add_to_principal(
                grantee=role.role,
                actions=["s3:ListBucket"],
                resource_arns=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
            )
            self._acknowledge_objects(objects, f"the objects of input bucket {bucket}")
        for prefix, actions in (
            (OUTPUT_PREFIX, ["s3:PutObject", "s3:AbortMultipartUpload"]),
            (
                CHECKPOINT_PREFIX,
                ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
            ),
        ):
            objects = self.bucket.arn_for_objects(f"{prefix}*")
            iam.Grant.add_to_principal(grantee=role.role, actions=actions, resource_arns=[objects])
            self._acknowledge_objects(objects, f"objects under {prefix} of the artifacts bucket")
        iam.Grant.add_to_principal(
            grantee=role.role,
            actions=["s3:ListBucket"],
            resource_arns=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{CHECKPOINT_PREFIX}*"]}},
        )
        self.encryption_key.grant(
            role.role, "kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:DescribeKey"
        )
        # SageMaker encrypts the ML storage volume (VolumeKmsKeyId) through a grant made for the job.
        iam.Grant.add_to_principal(
            grantee=role.role,
            actions=["kms:CreateGrant"],
            resource_arns=[self.encryption_key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
        group = (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/TrainingJobs"
        )
        iam.Grant.add_to_principal(
            grantee=role.role,
            actions=[
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:CreateLogGroup",
                "logs:DescribeLogStreams",
            ],
            resource_arns=[group, f"{group}:log-stream:*"],
        )
        self._acknowledge_objects(f"{group}:log-stream:*", "the training jobs' log streams")
        role.grant_put_metric_data("/aws/sagemaker/TrainingJobs")
        self.security_group: ec2.ISecurityGroup | None = None
        self.subnet_ids: list[str] | None = None
        if vpc is not None:
            self.security_group, self.subnet_ids = attach_to_vpc(
                self,
                vpc,
                subnets,
                role,
                description=f"Training jobs of {self.node.path}: HTTPS out, each other",
            )
            # Distributed training talks between the job's instances (and, encrypted, over UDP 500 and
            # ESP): all traffic within the group, nothing from elsewhere.
            group_id = self.security_group.security_group_id
            ingress = ec2.CfnSecurityGroupIngress(
                self,
                "BetweenInstancesIn",
                group_id=group_id,
                source_security_group_id=group_id,
                ip_protocol="-1",
                description="From the job's other instances",
            )
            ec2.CfnSecurityGroupEgress(
                self,
                "BetweenInstancesOut",
                group_id=group_id,
                destination_security_group_id=group_id,
                ip_protocol="-1",
                description="To the job's other instances",
            )
            acknowledge(
                ingress,
                "EC2RestrictedCommonPorts",
                topic="all traffic between the training job's own instances",
                reason="The rule's source is this security group itself: the job's instances talk to each other "
                "(torchrun, NCCL, and IPsec for inter-container encryption); nothing else may connect.",
            )

    def _acknowledge_objects(self, arn: str, what: str) -> None:
        if self.execution_role.owned:
            acknowledge_wildcard_resource(
                self.execution_role.role,
                arn,
                topic=what,
                reason="A training job names its files at run time; the role reaches only this prefix.",
            )

    # --- the state machine ---------------------------------------------------------------------

    def _definition(self, job: TrainingJob, inference_image: ContainerImage | None) -> sfn.IChainable:
        defaults = {
            "hyperparameters": job.effective_hyperparameters(),
            "channels": {channel.name: channel.s3_uri for channel in job.channels},
            "scalars": {"instance_count": job.instance_count},
        }
        start = sfn.Pass(
            self,
            "ReadInput",
            comment="The execution input, with empty overrides where it gives none",
            parameters={"empty": {"hyperparameters": {}, "channels": {}}, "given.$": "$$.Execution.Input"},
        )
        merge = sfn.Pass(
            self,
            "ApplyOverrides",
            parameters={"defaults": defaults, "input.$": "States.JsonMerge($.empty, $.given, false)"},
        )
        resolve = sfn.Pass(
            self,
            "ResolveRun",
            comment="Input hyperparameters and channels override the configured ones key by key",
            parameters={
                "hyperparameters.$": "States.JsonMerge($.defaults.hyperparameters, $.input.hyperparameters, false)",
                "channels.$": "States.JsonMerge($.defaults.channels, $.input.channels, false)",
                "scalars.$": "States.JsonMerge($.defaults.scalars, $.input, false)",
                # The job's own name: executions started by EventBridge have names SageMaker refuses.
                "run_id.$": "States.UUID()",
            },
        )
        request = job.request(
            job_name=f"States.Format('{self.job_name_prefix}-{{}}', $.run_id)",
            role_arn=self.execution_role.role_arn,
            image_uri=self.image_uri,
            output_s3_uri=self.bucket.s3_url_for_object(OUTPUT_PREFIX),
            checkpoint_s3_uri=self.bucket.s3_url_for_object(CHECKPOINT_PREFIX),
            kms_key_arn=self.encryption_key.key_arn,
            security_group_ids=[self.security_group.security_group_id] if self.security_group else None,
            subnet_ids=self.subnet_ids,
        )
        request.pop("HyperParameters", None)
        request["HyperParameters.$"] = "$.hyperparameters"
        request["ResourceConfig"]["InstanceCount.$"] = "$.scalars.instance_count"
        del request["ResourceConfig"]["InstanceCount"]
        if "CheckpointConfig" in request:
            # Each run checkpoints under its own ID: an interrupted spot job, or a job SageMaker retries,
            # resumes from its own checkpoints.
            del request["CheckpointConfig"]["S3Uri"]
            request["CheckpointConfig"]["S3Uri.$"] = (
                f"States.Format('s3://{self.bucket.bucket_name}/{CHECKPOINT_PREFIX}{{}}/', $.run_id)"
            )
        for channel in request.get("InputDataConfig", []):
            if channel["ChannelName"] == CODE_CHANNEL:
                continue  # the code is part of the pipeline, not of a run's overrides
            source = channel["DataSource"]["S3DataSource"]
            del source["S3Uri"]
            source["S3Uri.$"] = f"$.channels.{channel['ChannelName']}"
        train = sfn.CustomState(
            self,
            "Train",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": request,
                "ResultPath": "$.training",
            },
        )
        chain = start.next(merge).next(resolve).next(train)
        if inference_image is None or self.model_package_group is None:
            return chain
        # Only named here: the endpoint that deploys the package pulls it with its own role.
        self.inference_image_uri, _ = inference_image.locate(self)
        register = sfn.CustomState(
            self,
            "RegisterModel",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:sagemaker:createModelPackage",
                "Parameters": {
                    "ModelPackageGroupName": self.model_package_group.model_package_group_name,
                    "ModelApprovalStatus": "PendingManualApproval",
                    "InferenceSpecification": {
                        "Containers": [
                            {
                                "Image": self.inference_image_uri,
                                "ModelDataUrl.$": "$.training.ModelArtifacts.S3ModelArtifacts",
                            }
                        ],
                        "SupportedContentTypes": ["application/json"],
                        "SupportedResponseMIMETypes": ["application/json"],
                    },
                    "ModelPackageDescription.$": "States.Format('Trained by {}', $.training.TrainingJobName)",
                },
                "ResultPath": "$.model_package",
            },
        )
        return chain.next(register)

    def _log_group(self, retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> logs.LogGroup:
        # Retained on deletion: the stack-ID block keeps a re-created stack from colliding with it.
        name = f"/aws/vendedlogs/states/{self.job_name_prefix}-{stack_id_suffix()}"
        allow_cloudwatch_logs(self.encryption_key, f"/aws/vendedlogs/states/{self.job_name_prefix}-*")
        return logs.LogGroup(
            self,
            "Logs",
            log_group_name=name,
            encryption_key=self.encryption_key,
            retention=retention,
            removal_policy=named_log_group_removal_policy(removal_policy),
        )

    def _grant_state_machine(self, inference_image: ContainerImage | None) -> None:
        """Exactly what the .sync integration needs (Step Functions Developer Guide, SageMaker AI policies)."""
        stack = Stack.of(self)
        role = self.state_machine.role
        jobs = stack.format_arn(
            service="sagemaker", resource="training-job", resource_name=f"{self.job_name_prefix}-*"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[jobs],
            )
        )
        # CreateTrainingJob with VolumeKmsKeyId/KmsKeyId: SageMaker checks the key, and grants itself its use.
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:DescribeKey"], resources=[self.encryption_key.key_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[self.encryption_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        # ListTags accepts no narrower resource in the documented policy.
        role.add_to_principal_policy(iam.PolicyStatement(actions=["sagemaker:ListTags"], resources=["*"]))
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=SYNC_RULE)],
            )
        )
        each_run = "Each run creates a new one, named only at run time."
        wildcards = [
            (jobs, "training jobs named with this pipeline's prefix and the execution name", each_run),
            (
                "*",
                "sagemaker:ListTags, which the .sync integration calls on the job",
                "The Step Functions Developer Guide's policy for createTrainingJob.sync grants it on all resources.",
            ),
        ]
        if self.model_package_group is not None:
            packages = stack.format_arn(
                service="sagemaker",
                resource="model-package",
                resource_name=f"{self.model_package_group.model_package_group_name}/*",
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:CreateModelPackage"],
                    resources=[
                        packages,
                        stack.format_arn(
                            service="sagemaker",
                            resource="model-package-group",
                            resource_name=self.model_package_group.model_package_group_name,
                        ),
                    ],
                )
            )
            wildcards.append((packages, "the versions of this pipeline's model package group", each_run))
        for arn, topic, reason in wildcards:
            acknowledge_wildcard_resource(role, arn, topic=topic, reason=reason)

    def _failure_notifications(self, email: str | None) -> sns.Topic:
        """An encrypted topic that EventBridge publishes failed and stopped jobs of this pipeline to."""
        topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"Failed or stopped training jobs of {self.node.path}",
            master_key=self.encryption_key,
            enforce_ssl=True,
        )
        rule = events.Rule(
            self,
            "JobFailed",
            description=f"Failed or stopped training jobs of {self.node.path}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Training Job State Change"],
                detail={
                    "TrainingJobStatus": ["Failed", "Stopped"],
                    "TrainingJobName": [{"prefix": f"{self.job_name_prefix}-"}],
                },
            ),
        )
        rule.add_target(targets.SnsTopic(topic, dead_letter_queue=self.dead_letters))
        # A run can also fail before SageMaker has a job (a quota, a validation error) or after it
        # (registering the model): the execution's own failure is announced too.
        events.Rule(
            self,
            "RunFailed",
            description=f"Failed, timed-out or aborted runs of {self.node.path}",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            targets=[targets.SnsTopic(topic, dead_letter_queue=self.dead_letters)],
        )
        if email is not None:
            subscribe_email(
                topic,
                email,
                record="The job's status and failure reason stay in SageMaker (DescribeTrainingJob) and the "
                "state machine's log",
            )
        return topic

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to start runs and follow them (the CLI's ``train`` command)."""
        return self.state_machine.grant_start_execution(grantee)

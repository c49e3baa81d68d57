"""TrainingPipeline: the state machine's request, the roles' exact permissions, and operations."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk.assertions import Match, Template

from mlblueprints.constructs.errors import TrainingJobError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.training.training_job import InputChannel, MetricDefinition, TrainingJob
from mlblueprints.constructs.training.training_pipeline import TrainingPipeline

GPU_TRAINING = ContainerImage.from_dlc("pytorch-training", "2.9.0-gpu-py312")
INFERENCE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
JOB = TrainingJob(
    image=GPU_TRAINING,
    instance_type="ml.g5.12xlarge",
    instance_count=2,
    spot=True,
    hyperparameters={"epochs": "3"},
    channels=[InputChannel("train", "s3://my-data-bucket/train/")],
    metric_definitions=[MetricDefinition("loss", r"loss=([0-9.]+)")],
)


@pytest.fixture(scope="module")
def built():
    stack = Stack(App(), "Test")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    pipeline = TrainingPipeline(
        stack,
        "Training",
        job=JOB,
        vpc=vpc,
        inference_image=INFERENCE,
        schedule=events.Schedule.rate(Duration.days(7)),
        notification_email="ml@example.com",
    )
    template = Template.from_stack(stack)
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    definition = json.loads(
        "".join(
            part if isinstance(part, str) else "TOKEN"
            for part in machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        )
    )
    return pipeline, template, machine, definition


def test_task_runs_the_sync_integration_with_the_whole_request(built):
    _, _, _, definition = built
    train = definition["States"]["Train"]
    assert train["Resource"] == "arn:TOKEN:states:::sagemaker:createTrainingJob.sync"
    request = train["Parameters"]
    assert request["EnableManagedSpotTraining"] is True
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert request["EnableNetworkIsolation"] is True
    assert set(request["VpcConfig"]) == {"SecurityGroupIds", "Subnets"}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    assert request["CheckpointConfig"]["S3Uri.$"].startswith("States.Format('s3://TOKEN/checkpoints/{}/'")
    assert request["HyperParameters.$"] == "$.hyperparameters"
    assert request["ResourceConfig"]["InstanceCount.$"] == "$.scalars.instance_count"
    assert "VolumeKmsKeyId" not in request["ResourceConfig"], "g5 has NVMe instance storage"
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.channels.train"


def test_overrides_merge_over_the_configured_job(built):
    _, _, _, definition = built
    defaults = definition["States"]["ApplyOverrides"]["Parameters"]["defaults"]
    assert defaults == {
        "hyperparameters": {"epochs": "3"},
        "channels": {"train": "s3://my-data-bucket/train/"},
        "scalars": {"instance_count": 2},
    }
    resolve = definition["States"]["ResolveRun"]["Parameters"]
    assert (
        resolve["hyperparameters.$"]
        == "States.JsonMerge($.defaults.hyperparameters, $.input.hyperparameters, false)"
    )


def test_trained_model_is_registered(built):
    _, template, _, definition = built
    register = definition["States"]["RegisterModel"]
    assert register["Resource"].endswith(":states:::aws-sdk:sagemaker:createModelPackage")
    container = register["Parameters"]["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl.$"] == "$.training.ModelArtifacts.S3ModelArtifacts"
    template.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)


def test_state_machine_role_has_exactly_what_sync_needs(built):
    _, template, _, _ = built
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if "StateMachineRole" in json.dumps(p["Properties"]["Roles"])
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_action = {json.dumps(s["Action"]): s for s in statements}
    create = by_action[
        json.dumps(
            ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"]
        )
    ]
    assert ":training-job/" in json.dumps(create["Resource"])
    passrole = by_action['"iam:PassRole"']
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    rule = by_action[json.dumps(["events:PutTargets", "events:PutRule", "events:DescribeRule"])]
    assert "StepFunctionsGetEventsForSageMakerTrainingJobsRule" in json.dumps(rule["Resource"])


def test_logging_all_and_tracing(built):
    _, _, machine, _ = built
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}


def test_failed_jobs_notify_an_encrypted_topic_and_runs_can_be_scheduled(built):
    pipeline, template, _, _ = built
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Training Job State Change"],
                "detail": {
                    "TrainingJobStatus": ["Failed", "Stopped"],
                    "TrainingJobName": [{"prefix": f"{pipeline.job_name_prefix}-"}],
                },
            }
        },
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(7 days)"})
    for topic in template.find_resources("AWS::SNS::Topic").values():
        assert "KmsMasterKeyId" in topic["Properties"]
    template.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})


def test_job_name_leaves_room_for_an_execution_uuid(built):
    pipeline, _, _, _ = built
    assert len(pipeline.job_name_prefix) + 1 + 36 <= 63


def test_instances_talk_to_each_other_only(built):
    _, template, _, _ = built
    (ingress,) = template.find_resources("AWS::EC2::SecurityGroupIngress").values()
    assert ingress["Properties"]["IpProtocol"] == "-1"
    assert ingress["Properties"]["SourceSecurityGroupId"] == ingress["Properties"]["GroupId"]


def test_bad_job_is_refused_before_anything_is_built():
    bad = TrainingJob(image=GPU_TRAINING, instance_type="ml.inf2.xlarge")
    with pytest.raises(TrainingJobError, match=r"AWS Inferentia serves inference only"):
        TrainingPipeline(Stack(App(), "Test"), "Training", job=bad)


def test_job_role_reads_the_channel_buckets_and_writes_only_its_prefixes(built):
    _, template, _, _ = built
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if "TrainingRole" in json.dumps(p["Properties"]["Roles"])
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_resource = {json.dumps(s["Resource"]): s for s in statements}
    reads = by_resource[
        json.dumps({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-data-bucket/*"]]})
    ]
    assert reads["Action"] == "s3:GetObject"
    writes = [s for s in statements if "s3:PutObject" in json.dumps(s["Action"])]
    prefixes = sorted(json.dumps(s["Resource"]).split('"/')[-1].split('"')[0] for s in writes)
    assert prefixes == ["checkpoints/*", "output/*"]
    actions = {
        a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert not any(a.endswith("*") for a in actions if a.startswith("s3:"))


def test_artifacts_bucket_and_log_group_are_retained_and_encrypted(built):
    _, template, _, _ = built
    buckets = [
        b for b in template.find_resources("AWS::S3::Bucket").values() if "KMSMasterKeyID" in json.dumps(b)
    ]
    assert len(buckets) == 1 and buckets[0]["DeletionPolicy"] == "Retain"
    (group,) = [
        g
        for g in template.find_resources("AWS::Logs::LogGroup").values()
        if "vendedlogs/states" in json.dumps(g["Properties"]["LogGroupName"])
    ]
    assert "KmsKeyId" in group["Properties"] and group["DeletionPolicy"] == "RetainExceptOnCreate"

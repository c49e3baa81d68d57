"""The ``train`` command against botocore's Stubber: every call is checked against the real API models."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from mlblueprints.apps.train import RunError, follow_run, main, parse_overrides, stack_outputs, start_run

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Training"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Training:run-1"
PREFIX = "finetune-training"
JOB = f"{PREFIX}-0f8fad5b-d9cb-469f-a165-70867728950e"
HISTORY_EMPTY = {"events": []}
HISTORY_TRAIN = {
    "events": [
        {
            "timestamp": "2026-11-25T00:00:01Z",
            "type": "TaskScheduled",
            "id": 5,
            "taskScheduledEventDetails": {
                "resourceType": "sagemaker",
                "resource": "createTrainingJob.sync",
                "region": "us-east-1",
                "parameters": json.dumps({"TrainingJobName": JOB}),
            },
        }
    ]
}


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )


def test_overrides_become_the_execution_input(session):
    stepfunctions = session.client("stepfunctions")
    overrides = parse_overrides(["epochs=5", "lr=0.1"], 4, ["train=s3://my-data/train-v2/"])
    with Stubber(stepfunctions) as stub:
        stub.add_response(
            "start_execution",
            {"executionArn": EXECUTION, "startDate": "2026-11-25T00:00:00Z"},
            {
                "stateMachineArn": ARN,
                "name": "run-1",
                "input": json.dumps(
                    {
                        "hyperparameters": {"epochs": "5", "lr": "0.1"},
                        "instance_count": 4,
                        "channels": {"train": "s3://my-data/train-v2/"},
                    }
                ),
            },
        )
        assert start_run(stepfunctions, ARN, overrides, name="run-1") == EXECUTION


def test_bad_overrides_are_refused_together():
    with pytest.raises(RunError) as caught:
        parse_overrides(["epochs"], 0, ["train=data/train"])
    message = str(caught.value)
    assert (
        "--hyperparameter 'epochs'" in message
        and "--instance-count 0" in message
        and "--channel 'train=data/train'" in message
    )


def test_follow_prints_status_changes_until_success(session):
    stepfunctions, sagemaker = session.client("stepfunctions"), session.client("sagemaker")
    lines: list[str] = []
    job = JOB
    describe = {"executionArn": EXECUTION, "stateMachineArn": ARN, "startDate": "2026-11-25T00:00:00Z"}
    training = {
        "TrainingJobName": job,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}",
        "ModelArtifacts": {"S3ModelArtifacts": "s3://artifacts/output/model.tar.gz"},
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g5.12xlarge", "InstanceCount": 2, "VolumeSizeInGB": 100},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": "2026-11-25T00:00:00Z",
    }
    output = {
        "training": {"ModelArtifacts": {"S3ModelArtifacts": "s3://artifacts/output/model.tar.gz"}},
        "model_package": {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"},
    }
    history = {"executionArn": EXECUTION, "maxResults": 100}
    with Stubber(stepfunctions) as sfn_stub, Stubber(sagemaker) as sm_stub:
        # The Train task is not scheduled yet: no job to describe.
        sfn_stub.add_response(
            "describe_execution", {**describe, "status": "RUNNING"}, {"executionArn": EXECUTION}
        )
        sfn_stub.add_response("get_execution_history", HISTORY_EMPTY, history)
        # Scheduled, but SageMaker has not created the job yet.
        sfn_stub.add_response(
            "describe_execution", {**describe, "status": "RUNNING"}, {"executionArn": EXECUTION}
        )
        sfn_stub.add_response("get_execution_history", HISTORY_TRAIN, history)
        sm_stub.add_client_error(
            "describe_training_job",
            "ValidationException",
            "Requested resource not found.",
            expected_params={"TrainingJobName": job},
        )
        sfn_stub.add_response(
            "describe_execution", {**describe, "status": "RUNNING"}, {"executionArn": EXECUTION}
        )
        sm_stub.add_response(
            "describe_training_job",
            {**training, "TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"},
            {"TrainingJobName": job},
        )
        sfn_stub.add_response(
            "describe_execution",
            {
                **describe,
                "status": "SUCCEEDED",
                "stopDate": "2026-11-25T01:00:00Z",
                "output": json.dumps(output),
            },
            {"executionArn": EXECUTION},
        )
        sm_stub.add_response(
            "describe_training_job",
            {**training, "TrainingJobStatus": "Completed", "SecondaryStatus": "Completed"},
            {"TrainingJobName": job},
        )
        code = follow_run(stepfunctions, sagemaker, EXECUTION, sleep=lambda _: None, out=lines.append)
    assert code == 0
    assert lines == [
        "execution RUNNING",
        f"execution RUNNING; training job {job}: InProgress (Training)",
        f"execution SUCCEEDED; training job {job}: Completed (Completed)",
        "model artifacts: s3://artifacts/output/model.tar.gz",
        "registered model package: arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
    ]


def test_follow_reports_the_failure_reason(session):
    stepfunctions, sagemaker = session.client("stepfunctions"), session.client("sagemaker")
    lines: list[str] = []
    job = JOB
    with Stubber(stepfunctions) as sfn_stub, Stubber(sagemaker) as sm_stub:
        sfn_stub.add_response(
            "describe_execution",
            {
                "executionArn": EXECUTION,
                "stateMachineArn": ARN,
                "startDate": "2026-11-25T00:00:00Z",
                "status": "FAILED",
                "stopDate": "2026-11-25T00:10:00Z",
                "error": "SageMaker.AmazonSageMakerException",
            },
            {"executionArn": EXECUTION},
        )
        sfn_stub.add_response(
            "get_execution_history", HISTORY_TRAIN, {"executionArn": EXECUTION, "maxResults": 100}
        )
        sm_stub.add_response(
            "describe_training_job",
            {
                "TrainingJobName": job,
                "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{job}",
                "TrainingJobStatus": "Failed",
                "SecondaryStatus": "Failed",
                "FailureReason": "CapacityError: Unable to provision requested ML compute capacity.",
                "ModelArtifacts": {"S3ModelArtifacts": ""},
                "AlgorithmSpecification": {"TrainingInputMode": "File"},
                "ResourceConfig": {
                    "InstanceType": "ml.g5.12xlarge",
                    "InstanceCount": 2,
                    "VolumeSizeInGB": 100,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
                "CreationTime": "2026-11-25T00:00:00Z",
            },
            {"TrainingJobName": job},
        )
        code = follow_run(stepfunctions, sagemaker, EXECUTION, sleep=lambda _: None, out=lines.append)
    assert code == 1
    assert lines[-1] == "run failed: CapacityError: Unable to provision requested ML compute capacity."


def test_stack_outputs_name_what_is_missing(session):
    cloudformation = session.client("cloudformation")
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "S",
                        "CreationTime": "2026-11-25T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": "StateMachineArn", "OutputValue": ARN}],
                    }
                ]
            },
            {"StackName": "S"},
        )
        with pytest.raises(RunError, match=r"no Channels output: is it a training-pipeline stack"):
            stack_outputs(cloudformation, "S")
    with Stubber(cloudformation) as stub:
        stub.add_client_error(
            "describe_stacks",
            "ValidationError",
            "Stack with id Nope does not exist",
            expected_params={"StackName": "Nope"},
        )
        with pytest.raises(RunError, match=r"stack 'Nope': Stack with id Nope does not exist"):
            stack_outputs(cloudformation, "Nope")


def test_main_starts_without_following(session, capsys):
    clients = {name: session.client(name) for name in ("cloudformation", "stepfunctions", "sagemaker")}

    class FakeSession:
        def client(self, name):
            return clients[name]

    with Stubber(clients["cloudformation"]) as cfn, Stubber(clients["stepfunctions"]) as sfn:
        cfn.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "S",
                        "CreationTime": "2026-11-25T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [
                            {"OutputKey": "StateMachineArn", "OutputValue": ARN},
                            {
                                "OutputKey": "Channels",
                                "OutputValue": json.dumps({"train": "s3://my-data/train/"}),
                            },
                        ],
                    }
                ]
            },
            {"StackName": "S"},
        )
        sfn.add_response(
            "start_execution",
            {"executionArn": EXECUTION, "startDate": "2026-11-25T00:00:00Z"},
            {"stateMachineArn": ARN, "name": ANY, "input": json.dumps({"hyperparameters": {"epochs": "5"}})},
        )
        assert main(["S", "--hyperparameter", "epochs=5", "--no-follow"], session=FakeSession()) == 0
    assert f"started {EXECUTION}" in capsys.readouterr().out
    assert main(["S", "--instance-count", "0"], session=FakeSession()) == 2


def test_run_names_and_channel_overrides_are_checked():
    from mlblueprints.apps.train import check_channels, check_run_name

    check_run_name("nightly_2026-11-25")
    with pytest.raises(RunError, match=r"--name 'my run'"):
        check_run_name("my run")
    configured = {"train": "s3://my-data/train/"}
    check_channels(parse_overrides([], None, ["train=s3://my-data/train-v2/"]), configured)
    with pytest.raises(RunError, match=r"no channel 'eval' \(it has train\)"):
        check_channels(parse_overrides([], None, ["eval=s3://my-data/eval/"]), configured)
    with pytest.raises(RunError, match=r"reads only the configured channels' buckets \(my-data\)"):
        check_channels(parse_overrides([], None, ["train=s3://other-bucket/train/"]), configured)


def test_missing_credentials_are_one_line(monkeypatch, capsys):
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    assert main(["S", "--region", "us-east-1"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: Unable to locate credentials") and "Traceback" not in error


def test_missing_region_names_the_option(monkeypatch, capsys):
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    assert main(["S"]) == 1
    error = capsys.readouterr().err
    assert "region" in error.lower() and "--region" in error and "Traceback" not in error

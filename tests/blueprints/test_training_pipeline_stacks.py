"""The training-pipeline example: snapshot, the request it generates, and settings refused with reasons."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from conftest import mask_template

from mlblueprints.blueprints.training_pipeline.settings import TrainingPipelineSettings
from mlblueprints.constructs.errors import BlueprintConfigError

EXAMPLE = "FineTuneOnGpu"
BASE = {"instance_type": "ml.g5.12xlarge", "dlc_repository": "pytorch-training", "dlc_tag": "2.9.0-gpu-py312"}


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[f"{EXAMPLE}-agnostic"]) == snapshot_json


def _train_state(template: dict) -> dict:
    (machine,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))["States"]


def test_example_settings_reach_the_request(contract_templates):
    states = _train_state(contract_templates[f"{EXAMPLE}-eu-west-1"])
    request = states["Train"]["Parameters"]
    assert request["ResourceConfig"]["InstanceType"] == "ml.g5.12xlarge"
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 43200, "MaxWaitTimeInSeconds": 86400}
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert "VpcConfig" in request and request["EnableNetworkIsolation"] is True
    modes = {c["ChannelName"]: c["InputMode"] for c in request["InputDataConfig"]}
    assert modes == {"train": "File", "validation": "FastFile", "code": "File"}
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "train:loss", "Regex": "loss=([0-9.]+)"}
    ]
    defaults = states["ApplyOverrides"]["Parameters"]["defaults"]
    assert {k: v for k, v in defaults["hyperparameters"].items() if not k.startswith("sagemaker_")} == {
        "epochs": "3",
        "learning_rate": "0.0001",
    }
    assert "RegisterModel" in states


def test_schedule_and_outputs(contract_templates):
    template = Template.from_json(contract_templates[f"{EXAMPLE}-agnostic"])
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(7 days)"})
    assert {"StateMachineArn", "ArtifactsBucket", "NotificationTopicArn", "ModelPackageGroupName"} <= set(
        template.to_json()["Outputs"]
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"instance_type": "ml.inf2.xlarge"}, r"AWS Inferentia serves inference only"),
        ({"dlc_repository": "pytorch-inference", "dlc_tag": "2.6.0-gpu-py312"}, r"holds inference images"),
        ({"max_runtime_hours": 700}, r"at most 28 days"),
        ({"spot": True, "max_runtime_hours": 10, "max_wait_hours": 5}, r"shorter than max_runtime"),
        ({"spot": True, "keep_alive_minutes": 30}, r"warm pools cannot be used with managed spot"),
        ({"channels": {"train": "data/train"}}, r"not an S3 location"),
        (
            {"channels": {"train": {"s3_uri": "s3://my-data/x/", "input_mode": "Stream"}}},
            r"input_mode='Stream'",
        ),
        ({"metric_definitions": {"loss": "loss"}}, r"has no group"),
        ({"schedule": "every week"}, r"EventBridge schedule expression"),
        ({"inference_dlc_repository": "pytorch-inference"}, r"together"),
        ({"dlc_repository": None, "dlc_tag": None}, r"no container image: .*pytorch-training"),
        ({"instance_type": "ml.trn1.32xlarge"}, r"CUDA .* image, but 'ml.trn1.32xlarge'"),
    ],
)
def test_settings_refused_with_the_reason(config, message):
    with pytest.raises(BlueprintConfigError, match=message):
        TrainingPipelineSettings.parse("S", {**BASE, **config})


def test_trainium_example_runs_torch_distributed_from_a_warm_pool(contract_templates):
    states = _train_state(contract_templates["PretrainOnTrainium-us-east-1"])
    request = states["Train"]["Parameters"]
    hyperparameters = states["ApplyOverrides"]["Parameters"]["defaults"]["hyperparameters"]
    assert hyperparameters["sagemaker_torch_distributed_enabled"] == "true"
    assert hyperparameters["sagemaker_instance_type"] == '"ml.trn1.32xlarge"'
    assert hyperparameters["sagemaker_program"] == "train.py"
    assert "Environment" not in request, "the code comes in its channel, not baked into the image"
    assert request["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    assert "VolumeKmsKeyId" not in request["ResourceConfig"], "trn1 has NVMe instance storage"
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert (
        request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        == "ShardedByS3Key"
    )
    assert (
        "/pytorch-training-neuronx:2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04"
        in request["AlgorithmSpecification"]["TrainingImage"]
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:1"}, r"not both"),
        ({"schedule": "cron(0 3 * * *)"}, r"six-field"),
        ({"schedule": "rate(1 weeks)"}, r"EventBridge schedule expression"),
        (
            {
                "model_package_group_name": "my_group",
                "inference_dlc_repository": "pytorch-inference",
                "inference_dlc_tag": "2.6.0-gpu-py312",
            },
            r"model_package_group_name='my_group'",
        ),
        ({"model_package_group_name": "models"}, r"without inference_dlc_repository"),
        (
            {"inference_dlc_repository": "pytorch-training", "inference_dlc_tag": "2.9.0-gpu-py312"},
            r"inference image: 'pytorch-training' holds training images",
        ),
    ],
)
def test_more_settings_refused_with_the_reason(config, message):
    with pytest.raises(BlueprintConfigError, match=message):
        TrainingPipelineSettings.parse("S", {**BASE, **config})


def test_valid_schedules_pass():
    for schedule in ("rate(1 day)", "rate(7 days)", "cron(0 3 ? * SUN *)"):
        TrainingPipelineSettings.parse("S", {**BASE, "schedule": schedule})


def test_every_run_checkpoints_under_its_own_id_and_failures_of_the_run_notify(contract_templates):
    states = _train_state(contract_templates["PretrainOnTrainium-us-east-1"])
    assert states["ResolveRun"]["Parameters"]["run_id.$"] == "States.UUID()"
    request = states["Train"]["Parameters"]
    assert request["TrainingJobName.$"].endswith("-{}', $.run_id)")
    assert request["CheckpointConfig"]["S3Uri.$"].endswith("/checkpoints/{}/', $.run_id)")
    assert request["EnableInterContainerTrafficEncryption"] is True
    template = Template.from_json(contract_templates["PretrainOnTrainium-us-east-1"])
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"]},
            }
        },
    )
    assert {"TrainingJobNamePrefix", "Channels"} <= set(template.to_json()["Outputs"])


def test_dlc_runs_get_their_code_as_the_code_channel(contract_templates):
    states = _train_state(contract_templates[f"{EXAMPLE}-agnostic"])
    request = states["Train"]["Parameters"]
    code = next(c for c in request["InputDataConfig"] if c["ChannelName"] == "code")
    # The staged asset, a literal: runs override data channels, never the code.
    assert (
        "S3Uri" in code["DataSource"]["S3DataSource"] and "S3Uri.$" not in code["DataSource"]["S3DataSource"]
    )
    hyperparameters = states["ApplyOverrides"]["Parameters"]["defaults"]["hyperparameters"]
    assert hyperparameters["sagemaker_program"] == "train.py"
    assert hyperparameters["sagemaker_submit_directory"].startswith("/opt/ml/input/data/code/")
    assert request["EnableNetworkIsolation"] is True


def test_source_dir_and_entry_point_are_checked():
    with pytest.raises(BlueprintConfigError, match=r"source_dir='no/such/dir' is not a directory"):
        TrainingPipelineSettings.parse("S", {**BASE, "source_dir": "no/such/dir", "entry_point": "train.py"})
    with pytest.raises(BlueprintConfigError, match=r"entry_point='missing.py' is not a file in source_dir"):
        TrainingPipelineSettings.parse(
            "S",
            {
                **BASE,
                "source_dir": "blueprints/training_pipeline/smoke_test_training",
                "entry_point": "missing.py",
            },
        )


def test_smoke_test_training_script_runs_as_the_toolkit_runs_it(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO

    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "part-0.jsonl").write_text("{}\n")
    env = {
        **os.environ,
        "SM_CHANNELS": json.dumps(["train"]),
        "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
        "SM_MODEL_DIR": str(tmp_path / "model"),
    }
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "blueprints/training_pipeline/smoke_test_training/train.py"),
            "--epochs",
            "2",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "channel train: 1 file(s)" in result.stdout
    assert "epoch=2 loss=0.2500" in result.stdout  # what the metric definition's regex reads
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model == {"epochs": 2, "loss": 0.25, "files": {"train": 1}}


def test_outputs_say_where_an_endpoint_finds_the_artifacts(contract_templates):
    outputs = Template.from_json(contract_templates[f"{EXAMPLE}-agnostic"]).to_json()["Outputs"]
    assert outputs["ArtifactsLocation"]["Value"]["Fn::Join"][1][-1] == "/output/"
    assert outputs["ArtifactsKeyArn"]["Value"] == {"Fn::GetAtt": ["KeyE447D366", "Arn"]}

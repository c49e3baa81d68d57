"""TrainingJob: the CreateTrainingJob request, checked against botocore, and every refusal."""

from __future__ import annotations

import pytest
from aws_cdk import Duration

from mlblueprints.constructs._private.request_validation import request_problems
from mlblueprints.constructs.errors import TrainingJobError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.training.training_job import InputChannel, MetricDefinition, TrainingJob

GPU_TRAINING = ContainerImage.from_dlc("pytorch-training", "2.9.0-gpu-py312")
NEURON_TRAINING = ContainerImage.from_dlc(
    "pytorch-training-neuronx", "2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04"
)
REQUEST = {
    "job_name": "States.Format('train-{}', $$.Execution.Name)",
    "role_arn": "arn:aws:iam::123456789012:role/training",
    "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.9.0-gpu-py312",
    "output_s3_uri": "s3://artifacts-bucket/output/",
    "checkpoint_s3_uri": "s3://artifacts-bucket/checkpoints/",
    "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}


def _job(**overrides) -> TrainingJob:
    return TrainingJob(**{"image": GPU_TRAINING, "instance_type": "ml.g5.12xlarge", **overrides})


def test_spot_distributed_request_has_every_field_cdk_lacks():
    request = _job(
        instance_count=2,
        spot=True,
        channels=[InputChannel("train", "s3://data-bucket/train/", input_mode="FastFile", sharded=True)],
        metric_definitions=[MetricDefinition("loss", r"loss=([0-9.]+)")],
        max_retries=2,
    ).request(**REQUEST, security_group_ids=["sg-1"], subnet_ids=["subnet-1"])
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    assert request["CheckpointConfig"] == {"S3Uri": "s3://artifacts-bucket/checkpoints/"}
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert request["EnableNetworkIsolation"] is True
    assert request["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    assert request["TrainingJobName.$"].startswith("States.Format(")
    assert request["InputDataConfig"][0]["InputMode"] == "FastFile"
    assert (
        request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        == "ShardedByS3Key"
    )
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert request["OutputDataConfig"]["KmsKeyId"] == REQUEST["kms_key_arn"]


def test_volume_key_only_where_the_instance_has_ebs():
    assert "VolumeKmsKeyId" not in _job().request(**REQUEST)["ResourceConfig"], "g5 has local NVMe storage"
    ebs = _job(
        instance_type="ml.m5.xlarge", image=ContainerImage.from_dlc("pytorch-training", "2.9.0-cpu-py312")
    )
    assert ebs.request(**REQUEST)["ResourceConfig"]["VolumeKmsKeyId"] == REQUEST["kms_key_arn"]


def test_gpu_job_is_not_launched_with_torchrun_but_traffic_encryption_stays_on():
    # Encryption costs a single instance nothing, and keeps a run that overrides the count encrypted.
    request = _job().request(**REQUEST)
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert "sagemaker_torch_distributed_enabled" not in request.get("HyperParameters", {})
    assert (
        _job(inter_container_encryption=False).request(**REQUEST)["EnableInterContainerTrafficEncryption"]
        is False
    )


def test_trainium_cluster_runs_torch_distributed():
    request = _job(image=NEURON_TRAINING, instance_type="ml.trn1.32xlarge", instance_count=4).request(
        **REQUEST
    )
    assert request["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"


def test_the_request_is_validated_against_botocore():
    minimal = {
        "TrainingJobName": "x",
        "RoleArn": REQUEST["role_arn"],
        "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
    }
    assert request_problems("CreateTrainingJobRequest", minimal) == []
    assert (
        "RoleArn: 1 characters; the API takes 20 to 2048"
        in request_problems("CreateTrainingJobRequest", {**minimal, "RoleArn": "r"})[0]
    )
    assert (
        "OutputDataConfig: required by the API, missing"
        in request_problems(
            "CreateTrainingJobRequest", {"TrainingJobName": "x", "RoleArn": REQUEST["role_arn"]}
        )[0]
    )
    problems = request_problems(
        "CreateTrainingJobRequest",
        {
            **minimal,
            "ResourceConfig": {
                "InstanceType": "ml.g5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
                "Spot": True,
            },
            "RetryStrategy": {"MaximumRetryAttempts": 31},
            "AlgorithmSpecification": {"TrainingInputMode": "Stream"},
        },
    )
    joined = "\n".join(problems)
    assert "ResourceConfig.Spot: not a member" in joined
    assert "RetryStrategy.MaximumRetryAttempts: 31; the API takes 1 to 30" in joined
    assert "AlgorithmSpecification.TrainingInputMode: 'Stream' is not one of" in joined


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"instance_type": "ml.inf2.xlarge"}, r"AWS Inferentia serves inference only"),
        (
            {"image": ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312")},
            r"holds inference images",
        ),
        ({"image": NEURON_TRAINING}, r"Neuron SDK, but 'ml.g5.12xlarge' has"),
        ({"instance_type": "ml.trn1.2xlarge"}, r"CUDA .* image, but 'ml.trn1.2xlarge'"),
        ({"max_runtime": Duration.days(29)}, r"at most 28 days"),
        ({"spot": True, "max_wait": Duration.hours(1)}, r"shorter than max_runtime"),
        ({"max_wait": Duration.hours(48)}, r"managed spot training only"),
        ({"instance_count": 0}, r"instance_count=0"),
        ({"max_retries": 31}, r"max_retries=31: SageMaker retries 1 to 30"),
        ({"keep_alive": Duration.hours(7)}, r"keep_alive of 25200 s.*0 to 21600"),
        ({"channels": [InputChannel("train", "data/train")]}, r"not an S3 location"),
        (
            {
                "channels": [
                    InputChannel("a", "s3://data-bucket/a/"),
                    InputChannel("a", "s3://data-bucket/b/"),
                ]
            },
            r"named twice",
        ),
        (
            {"channels": [InputChannel("a", "s3://data-bucket/a/", input_mode="Stream")]},
            r"input_mode='Stream'",
        ),
        ({"metric_definitions": [MetricDefinition("loss", "loss")]}, r"has no group"),
        ({"metric_definitions": [MetricDefinition("loss", "loss=([0-9.]+")]}, r"does not compile"),
        ({"hyperparameters": {"epochs": 3}}, r"values are strings"),
        ({"distribution": "mpi"}, r"use 'torch_distributed'"),
    ],
)
def test_refused_with_the_reason(overrides, message):
    problems = _job(**overrides).problems("us-east-1")
    assert any(__import__("re").search(message, p.message) for p in problems), [p.message for p in problems]


def test_request_refuses_a_job_with_problems_it_cannot_express():
    with pytest.raises(TrainingJobError, match=r"MaximumRetryAttempts: 31"):
        _job(max_retries=31).request(**REQUEST)


def test_torch_neuron_images_are_refused_on_trn1():
    torch_neuron = ContainerImage.from_dlc(
        "pytorch-training-neuronx", "2.13.0-neuronx-py312-sdk2.33.0-ubuntu24.04", allow_unlisted_tag=True
    )
    problems = _job(image=torch_neuron, instance_type="ml.trn1.32xlarge").problems("us-east-1")
    assert any("TorchNeuron" in p.message and "Trn2 and Trn3 only" in p.message for p in problems)
    assert not [
        p
        for p in _job(image=torch_neuron, instance_type="ml.trn2.48xlarge").problems("us-east-1")
        if "TorchNeuron" in p.message
    ]


def test_warm_pools_and_spot_do_not_mix():
    problems = _job(spot=True, keep_alive=Duration.minutes(30)).problems("us-east-1")
    assert any("warm pools cannot be used with managed spot training" in p.message for p in problems)


def test_entry_point_of_a_training_toolkit_image():
    own = ContainerImage.from_image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-trainer:1.0")
    request = _job(image=own, entry_point="train.py").request(**REQUEST)
    assert request["Environment"] == {"SAGEMAKER_PROGRAM": "train.py"}
    assert any("entry_point='rm -rf'" in p.message for p in _job(entry_point="rm -rf").problems("us-east-1"))


def test_source_code_travels_as_the_code_channel_with_isolation_on():
    from mlblueprints.constructs.training.training_job import SourceCode

    source = SourceCode.from_s3_url("s3://code-bucket/train/sourcedir.tar.gz")
    request = _job(source=source, entry_point="train.py").request(**REQUEST)
    (code,) = [c for c in request["InputDataConfig"] if c["ChannelName"] == "code"]
    assert code["DataSource"]["S3DataSource"]["S3Uri"] == "s3://code-bucket/train/sourcedir.tar.gz"
    assert request["HyperParameters"]["sagemaker_program"] == "train.py"
    assert (
        request["HyperParameters"]["sagemaker_submit_directory"] == "/opt/ml/input/data/code/sourcedir.tar.gz"
    )
    assert request["EnableNetworkIsolation"] is True
    assert "Environment" not in request
    problems = [p.message for p in _job(source=source).problems("us-east-1")]
    assert any("source code without entry_point" in m for m in problems)
    clash = _job(
        source=source, entry_point="train.py", channels=[InputChannel("code", "s3://data-bucket/x/")]
    )
    assert any("carries the code" in p.message for p in clash.problems("us-east-1"))


def test_image_mismatch_suggests_training_images_and_types():
    neuron_on_gpu = [p.message for p in _job(image=NEURON_TRAINING).problems("us-east-1")]
    assert any("pytorch-training:<version>-gpu-py312" in m and "ml.trn1.32xlarge" in m for m in neuron_on_gpu)
    cuda_on_trainium = [p.message for p in _job(instance_type="ml.trn1.32xlarge").problems("us-east-1")]
    assert any("pytorch-training-neuronx:2.9.0" in m for m in cuda_on_trainium)
    assert not any("inference" in m for m in neuron_on_gpu + cuda_on_trainium)

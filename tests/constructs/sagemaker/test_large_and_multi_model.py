"""Large models (timeouts, EBS volume, uncompressed folders) and multi-model endpoints."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from mlblueprints.constructs.errors import EndpointConfigError, ModelDataError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.endpoint import LargeModelOptions, MultiModelEndpoint, RealtimeEndpoint
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.serverless import ServerlessEndpoint

NEURONX_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
)
GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
CPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-cpu-py312-ubuntu22.04-sagemaker")
TRITON_IMAGE = ContainerImage.from_dlc("sagemaker-tritonserver", "25.09-py3")
FOLDER = "s3://models/llama-70b/"


def _template(construct=RealtimeEndpoint, **props) -> Template:
    stack = Stack(App(), "Test")
    construct(stack, "Endpoint", **props)
    return Template.from_stack(stack)


def _variant(template: Template) -> dict:
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    return config["Properties"]["ProductionVariants"][0]


def _model(template: Template) -> dict:
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    return model["Properties"]["PrimaryContainer"]


def test_uncompressed_folder_is_an_s3_prefix_data_source_the_role_can_list():
    template = _template(
        instance_type="ml.inf2.48xlarge",
        image=NEURONX_IMAGE,
        model_data=ModelData.from_s3_prefix(FOLDER),
        large_model=LargeModelOptions(
            model_data_download_timeout=Duration.minutes(30),
            container_startup_timeout=Duration.minutes(40),
            volume_size_gb=256,
        ),
    )
    container = _model(template)
    assert "ModelDataUrl" not in container
    assert container["ModelDataSource"] == {
        "S3DataSource": {"S3Uri": FOLDER, "S3DataType": "S3Prefix", "CompressionType": "None"}
    }
    variant = _variant(template)
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 1800
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 2400
    assert variant["VolumeSizeInGB"] == 256
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert '"s3:ListBucket"' in policies and '"s3:prefix": ["llama-70b/*"]' in policies
    assert ":s3:::models/llama-70b/*" in policies


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            LargeModelOptions(model_data_download_timeout=Duration.seconds(30)),
            r"model_data_download_timeout_s=30: SageMaker accepts 60 to 3600",
        ),
        (LargeModelOptions(container_startup_timeout=Duration.hours(2)), r"container_startup_timeout_s=7200"),
        (LargeModelOptions(volume_size_gb=1024), r"volume_size_gb=1024: SageMaker accepts 1 to 512 GB"),
    ],
)
def test_large_model_limits(options, message):
    with pytest.raises(EndpointConfigError, match=message):
        _template(
            instance_type="ml.inf2.xlarge",
            image=NEURONX_IMAGE,
            model_data=ModelData.from_s3_prefix(FOLDER),
            large_model=options,
        )


def test_volume_size_refused_on_instance_storage_types():
    with pytest.raises(EndpointConfigError, match=r"ml.g5.12xlarge serves from local NVMe instance storage"):
        _template(
            instance_type="ml.g5.12xlarge",
            image=GPU_IMAGE,
            model_data=ModelData.from_s3_prefix(FOLDER),
            large_model=LargeModelOptions(volume_size_gb=100),
        )


@pytest.mark.parametrize("url", ["s3://models/llama", "s3://Models/x/", "https://models/x/"])
def test_prefix_urls_must_be_folders(url):
    with pytest.raises(ModelDataError, match=r"not an S3 folder URL"):
        ModelData.from_s3_prefix(url)


def test_serverless_refuses_uncompressed_folders():
    with pytest.raises(EndpointConfigError, match=r"ModelDataSource cannot be used with serverless"):
        _template(ServerlessEndpoint, image=CPU_IMAGE, model_data=ModelData.from_s3_prefix(FOLDER))


def test_multi_model_on_cpu_points_the_container_at_the_prefix():
    template = _template(
        MultiModelEndpoint,
        instance_type="ml.m5.xlarge",
        image=CPU_IMAGE,
        model_data=ModelData.from_s3_prefix(FOLDER),
    )
    container = _model(template)
    assert container["Mode"] == "MultiModel"
    assert container["ModelDataUrl"] == FOLDER
    assert "ModelDataSource" not in container


def test_multi_model_on_a_single_gpu_with_triton():
    template = _template(
        MultiModelEndpoint,
        instance_type="ml.g5.xlarge",
        image=TRITON_IMAGE,
        model_data=ModelData.from_s3_prefix(FOLDER),
    )
    assert _model(template)["Mode"] == "MultiModel"


@pytest.mark.parametrize(
    ("instance_type", "image", "message"),
    [
        (
            "ml.inf2.xlarge",
            NEURONX_IMAGE,
            r"multi-model on ml.inf2.xlarge: SageMaker hosts multi-model endpoints on CPU",
        ),
        ("ml.trn1.2xlarge", NEURONX_IMAGE, r"not on AWS Trainium"),
        ("ml.g5.xlarge", GPU_IMAGE, r"only with its NVIDIA Triton Inference Server image"),
        ("ml.g5.12xlarge", TRITON_IMAGE, r"\(4 GPUs\).*single-GPU instance types"),
        (
            "ml.m5.xlarge",
            ContainerImage.from_dlc(
                "huggingface-pytorch-inference", "2.6.0-transformers4.51.3-cpu-py312-ubuntu22.04"
            ),
            r"support multi-model endpoints",
        ),
    ],
)
def test_multi_model_refuses_what_sagemaker_cannot_host(instance_type, image, message):
    with pytest.raises(Exception, match=message):
        _template(
            MultiModelEndpoint,
            instance_type=instance_type,
            image=image,
            model_data=ModelData.from_s3_prefix(FOLDER),
        )


def test_multi_model_needs_a_prefix():
    with pytest.raises(EndpointConfigError, match=r"loads its models from an S3 prefix"):
        _template(
            MultiModelEndpoint,
            instance_type="ml.m5.xlarge",
            image=CPU_IMAGE,
            model_data=ModelData.from_s3_url("s3://models/one/model.tar.gz"),
        )


def test_multi_model_refuses_data_capture():
    from mlblueprints.constructs.sagemaker.traffic import DataCapture

    with pytest.raises(EndpointConfigError, match=r"data capture on a multi-model endpoint"):
        _template(
            MultiModelEndpoint,
            instance_type="ml.m5.xlarge",
            image=CPU_IMAGE,
            model_data=ModelData.from_s3_prefix(FOLDER),
            data_capture=DataCapture(),
        )

"""The inference-components-endpoint example: snapshot, assertions, and settings refused with reasons."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from conftest import mask_template

from mlblueprints.blueprints.inference_components_endpoint.settings import InferenceComponentsEndpointSettings
from mlblueprints.constructs.errors import BlueprintConfigError

EXAMPLE = "SharedGpuModels"
BASE = {
    "instance_type": "ml.g6.12xlarge",
    "dlc_repository": "pytorch-inference",
    "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
    "memory_mb": 16384,
}


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[f"{EXAMPLE}-agnostic"]) == snapshot_json


def test_example_runs_two_components_in_the_vpc(contract_templates):
    template = Template.from_json(contract_templates[f"{EXAMPLE}-ap-northeast-1"])
    components = template.find_resources("AWS::SageMaker::InferenceComponent")
    requirements = sorted(
        c["Properties"]["Specification"]["ComputeResourceRequirements"]["NumberOfAcceleratorDevicesRequired"]
        for c in components.values()
    )
    assert requirements == [1, 2]
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    assert "VpcConfig" in config["Properties"]
    assert config["Properties"]["ProductionVariants"][0]["ManagedInstanceScaling"]["MaxInstanceCount"] == 2
    (gateway,) = [
        e
        for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    ]
    resources = json.dumps(gateway["Properties"]["PolicyDocument"])
    assert "my-model-artifacts/embeddings/model.tar.gz" in resources
    assert "my-model-artifacts/llama-3-8b/model.tar.gz" in resources


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"target_invocations_per_instance": 70},
            r"does not apply to inference-components-endpoint: inference components scale their copies",
        ),
        ({"update_strategy": "rolling"}, r"updated a copy at a time"),
        ({"accelerators": 8}, r"each copy asks for 8 GPUs, but ml.g6.12xlarge has 4"),
        ({"min_instances": 3}, r"need 0 <= min_instances <= initial_instance_count"),
        (
            {
                "components": [
                    {
                        "name": "E",
                        "model_data_url": "s3://m/e/model.tar.gz",
                        "memory_mb": 1024,
                        "dlc_repository": "pytorch-inference-neuronx",
                        "dlc_tag": "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
                    }
                ]
            },
            r"components\[0\]: Container image .* Neuron",
        ),
    ],
)
def test_settings_refused_with_the_reason(config, message):
    with pytest.raises(BlueprintConfigError, match=message):
        InferenceComponentsEndpointSettings.parse("S", {**BASE, **config})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model_data_url": "s3://models/llm/"}, r"model_data_url='s3://models/llm/' is a folder"),
        ({"variants": []}, r"add models under components"),
        ({"data_capture_percent": 5}, r"not for inference components"),
    ],
)
def test_more_settings_refused_with_the_reason(config, message):
    with pytest.raises(BlueprintConfigError, match=message):
        InferenceComponentsEndpointSettings.parse("S", {**BASE, **config})

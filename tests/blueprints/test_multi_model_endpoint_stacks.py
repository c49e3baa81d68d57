"""The multi-model-endpoint example, and the real-time example that serves a large model folder."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template
from conftest import mask_template

from mlblueprints.blueprints.multi_model_endpoint.settings import MultiModelEndpointSettings
from mlblueprints.constructs.errors import BlueprintConfigError

EXAMPLE = "PerTenantModelsOnCpu"
LARGE = "Llama70BFolderOnInferentia2"


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[f"{EXAMPLE}-agnostic"]) == snapshot_json


def _gateway_statements(template: Template) -> list[dict]:
    (gateway,) = [
        e
        for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    ]
    return gateway["Properties"]["PolicyDocument"]["Statement"]


def test_container_serves_every_model_under_the_prefix(contract_templates):
    template = Template.from_json(contract_templates[f"{EXAMPLE}-agnostic"])
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    container = model["Properties"]["PrimaryContainer"]
    assert container["Mode"] == "MultiModel"
    assert container["ModelDataUrl"] == "s3://my-model-artifacts/tenants/"
    resources = json.dumps([s["Resource"] for s in _gateway_statements(template)])
    assert ":s3:::my-model-artifacts/tenants/*" in resources


def test_large_model_folder_example(contract_templates):
    template = Template.from_json(contract_templates[f"{LARGE}-us-east-1"])
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    source = model["Properties"]["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
    assert source == {
        "S3Uri": "s3://my-model-artifacts/llama-3-70b/",
        "S3DataType": "S3Prefix",
        "CompressionType": "None",
    }
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    variant = config["Properties"]["ProductionVariants"][0]
    assert (
        variant["ModelDataDownloadTimeoutInSeconds"],
        variant["ContainerStartupHealthCheckTimeoutInSeconds"],
    ) == (2400, 3000)
    assert variant["VolumeSizeInGB"] == 400
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    routing = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 50}
    statements = _gateway_statements(template)
    assert any(
        s["Action"] == "s3:ListBucket" and s["Resource"] == "arn:aws:s3:::my-model-artifacts"
        for s in statements
    )


MODEL = {"dlc_repository": "pytorch-inference", "dlc_tag": "2.6.0-cpu-py312-ubuntu22.04-sagemaker"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"instance_type": "ml.c7i.2xlarge", "model_data_url": "s3://b/tenants/model.tar.gz"},
            r"model_data_url",
        ),
        (
            {
                "instance_type": "ml.inf2.xlarge",
                "dlc_repository": "pytorch-inference-neuronx",
                "dlc_tag": "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
                "model_data_url": "s3://models/tenants/",
            },
            r"SageMaker hosts multi-model endpoints on CPU instances",
        ),
        (
            {
                "instance_type": "ml.g5.xlarge",
                "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
                "model_data_url": "s3://models/tenants/",
            },
            r"only with its NVIDIA Triton Inference Server image",
        ),
    ],
)
def test_settings_refuse_what_multi_model_cannot_host(config, message):
    with pytest.raises(BlueprintConfigError, match=message):
        MultiModelEndpointSettings.parse("S", {**MODEL, **config})


def test_volume_size_on_an_nvme_type_is_refused_before_building():
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings

    with pytest.raises(BlueprintConfigError, match=r"serves from local NVMe instance storage"):
        RealtimeEndpointSettings.parse(
            "S",
            {
                "instance_type": "ml.g5.12xlarge",
                "dlc_repository": "pytorch-inference",
                "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
                "volume_size_gb": 100,
            },
        )


AB = "AbTestOnGpu"


def test_ab_example_has_two_weighted_variants_and_captures_data(contract_templates):
    template = Template.from_json(contract_templates[f"{AB}-eu-west-1"])
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    variants = config["Properties"]["ProductionVariants"]
    assert [(v["VariantName"], v["InstanceType"], v["InitialVariantWeight"]) for v in variants] == [
        ("AllTraffic", "ml.g5.xlarge", 9),
        ("RankerV2", "ml.g6.xlarge", 1),
    ]
    assert config["Properties"]["DataCaptureConfig"]["InitialSamplingPercentage"] == 10
    writes = [s for s in _gateway_statements(template) if "s3:PutObject" in s["Action"]]
    assert "/data-capture/*" in json.dumps(writes)
    reads = json.dumps([s["Resource"] for s in _gateway_statements(template)])
    assert ":s3:::my-model-artifacts/ranker/v2/model.tar.gz" in reads


def test_variant_and_shadow_settings_are_checked_like_the_main_model():
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings

    base = {
        "instance_type": "ml.inf2.xlarge",
        "dlc_repository": "pytorch-inference-neuronx",
        "dlc_tag": "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
    }
    variant = {
        "name": "V2",
        "instance_type": "ml.g5.xlarge",
        "model_data_url": "s3://models/v2/model.tar.gz",
        **{k: base[k] for k in ("dlc_repository", "dlc_tag")},
    }
    with pytest.raises(BlueprintConfigError) as caught:
        RealtimeEndpointSettings.parse(
            "S",
            {
                **base,
                "variants": [
                    variant,
                    {**variant, "name": "V2", "instance_type": "ml.inf2.xlarge", "colour": "red"},
                ],
                "shadow": {**variant, "name": "S", "instance_type": "ml.inf1.xlarge"},
                "update_strategy": "rolling",
            },
        )
    messages = " ".join(p.message for p in caught.value.problems)
    assert "variants[0]: Container image" in messages and "Neuron" in messages
    assert "'V2' is used twice" in messages
    assert "variants.1.colour" in messages
    assert "a shadow only beside a single production variant" in messages
    assert "does not run shadow variants on endpoints on Inf1" in messages
    assert "rolling updates of multi-variant endpoints" in messages


def test_data_capture_of_responses_only():
    from aws_cdk import App

    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
    from mlblueprints.blueprints.realtime_endpoint.stack import RealtimeEndpointStack

    settings = RealtimeEndpointSettings.parse(
        "S",
        {
            **MODEL,
            "instance_type": "ml.c7i.xlarge",
            "data_capture_percent": 5,
            "data_capture_of": "responses",
        },
    )
    template = Template.from_stack(RealtimeEndpointStack(App(), "S", settings=settings))
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    capture = config["Properties"]["DataCaptureConfig"]
    assert (capture["InitialSamplingPercentage"], capture["CaptureOptions"]) == (
        5,
        [{"CaptureMode": "Output"}],
    )
    with pytest.raises(BlueprintConfigError, match=r"data_capture_of needs data_capture_percent"):
        RealtimeEndpointSettings.parse(
            "S", {**MODEL, "instance_type": "ml.c7i.xlarge", "data_capture_of": "requests"}
        )


def test_archive_url_on_multi_model_gets_one_clear_message():
    with pytest.raises(BlueprintConfigError) as caught:
        MultiModelEndpointSettings.parse(
            "S", {**MODEL, "instance_type": "ml.c7i.xlarge", "model_data_url": "s3://models/folder"}
        )
    messages = [
        p.message for p in caught.value.problems if "model_data_url" in p.message or ".tar.gz" in p.message
    ]
    assert len(messages) == 1 and "ending in '/'" in messages[0]


def test_unknown_key_in_a_variant_lists_the_variant_keys():
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings

    variant = {
        "name": "B",
        "instance_type": "ml.c7i.xlarge",
        "model_data_url": "s3://models/b/model.tar.gz",
        "volume_size": 3,
    }
    with pytest.raises(
        BlueprintConfigError,
        match=r"unknown setting 'variants.0.volume_size': Valid keys of variants.0: dlc_repository",
    ):
        RealtimeEndpointSettings.parse(
            "S", {**MODEL, "instance_type": "ml.c7i.xlarge", "variants": [{**MODEL, **variant}]}
        )


def test_pattern_errors_say_what_is_expected_not_the_regex():
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings

    with pytest.raises(BlueprintConfigError) as caught:
        RealtimeEndpointSettings.parse(
            "S",
            {
                **MODEL,
                "instance_type": "ml.c7i.xlarge",
                "model_data_url": "s3://models/m/model.tar.gz",
                "model_data_kms_key_arn": "alias/x",
            },
        )
    (message,) = [p.message for p in caught.value.problems if "model_data_kms_key_arn" in p.message]
    assert "expected form (KMS key ARN (not an alias)" in message and "^arn" not in message

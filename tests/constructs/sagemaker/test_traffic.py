"""A/B variants, a shadow variant and data capture on a real-time endpoint."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from mlblueprints.constructs.errors import MlBlueprintsError
from mlblueprints.constructs.sagemaker.async_inference import AsyncInference, BacklogScaling
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.deployment import RollingUpdate
from mlblueprints.constructs.sagemaker.endpoint import DataCapture, RealtimeEndpoint, Variant
from mlblueprints.constructs.sagemaker.model_data import ModelData

NEURONX_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
)
GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
INF1_IMAGE = ContainerImage.from_dlc("pytorch-inference-neuron", "1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04")
PRIMARY = {
    "instance_type": "ml.inf2.xlarge",
    "image": NEURONX_IMAGE,
    "model_data": ModelData.from_s3_url("s3://models/v1/model.tar.gz"),
}


def _challenger(name="Challenger", **overrides) -> Variant:
    return Variant(
        **{
            "name": name,
            "image": NEURONX_IMAGE,
            "model_data": ModelData.from_s3_url("s3://models/v2/model.tar.gz"),
            "instance_type": "ml.inf2.xlarge",
            "initial_instance_count": 2,
            **overrides,
        }
    )


def _template(**props) -> Template:
    stack = Stack(App(), "Test")
    RealtimeEndpoint(stack, "Endpoint", **{**PRIMARY, **props})
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def ab():
    return _template(
        initial_variant_weight=9,
        variants=[_challenger(weight=1)],
        data_capture=DataCapture(sampling_percent=20),
    )


def _config(template: Template) -> dict:
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    return config["Properties"]


def test_ab_variants_split_traffic_by_weight_each_with_its_model(ab):
    variants = _config(ab)["ProductionVariants"]
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in variants] == [
        ("AllTraffic", 9),
        ("Challenger", 1),
    ]
    assert variants[0]["ModelName"] != variants[1]["ModelName"]
    ab.resource_count_is("AWS::SageMaker::Model", 2)
    # One execution role for both models, reading both artifacts.
    ab.resource_count_is("AWS::IAM::Role", 1)
    policies = json.dumps(ab.find_resources("AWS::IAM::Policy"))
    assert ":s3:::models/v1/model.tar.gz" in policies and ":s3:::models/v2/model.tar.gz" in policies


def test_each_variant_scales_and_has_its_alarms(ab):
    targets = ab.find_resources("AWS::ApplicationAutoScaling::ScalableTarget")
    resource_ids = sorted(json.dumps(t["Properties"]["ResourceId"]) for t in targets.values())
    assert len(resource_ids) == 2 and "/variant/Challenger" in resource_ids[1] + resource_ids[0]
    alarms = ab.find_resources("AWS::CloudWatch::Alarm")
    variants = sorted(
        {
            d["Value"]
            for a in alarms.values()
            for d in a["Properties"]["Dimensions"]
            if d["Name"] == "VariantName"
        }
    )
    assert variants == ["AllTraffic", "Challenger"]
    assert len(alarms) == 4


def test_several_variants_update_blue_green_and_roll_back_on_every_variant(ab):
    (endpoint,) = ab.find_resources("AWS::SageMaker::Endpoint").values()
    config = endpoint["Properties"]["DeploymentConfig"]
    assert "BlueGreenUpdatePolicy" in config
    names = [a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
    assert names[0].startswith("EndpointInvocation5XXErrorsAlarm")
    assert names[1].startswith("EndpointVariantChallengerInvocation5XXErrorsAlarm")


def test_data_capture_to_an_encrypted_retained_bucket(ab):
    capture = _config(ab)["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 20
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert "KmsKeyId" in capture
    assert json.dumps(capture["DestinationS3Uri"]).endswith('"/data-capture"]]}')
    buckets = [b for b in ab.find_resources("AWS::S3::Bucket").values() if "KMSMasterKeyID" in json.dumps(b)]
    assert len(buckets) == 1 and buckets[0]["DeletionPolicy"] == "Retain"
    policies = json.dumps(ab.find_resources("AWS::IAM::Policy"))
    assert "/data-capture/*" in policies


def test_shadow_variant_gets_a_copy_of_the_traffic():
    template = _template(shadow=_challenger("Shadow", weight=0.5))
    config = _config(template)
    (shadow,) = config["ShadowProductionVariants"]
    assert shadow["VariantName"] == "Shadow" and shadow["InitialVariantWeight"] == 0.5
    assert len(config["ProductionVariants"]) == 1


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"variants": [_challenger("AllTraffic")]}, r"'AllTraffic' is the main variant's name"),
        ({"variants": [_challenger("B"), _challenger("B")]}, r"'B' is used twice"),
        (
            {"variants": [_challenger(name=f"V{i}") for i in range(10)]},
            r"11 production variants: SageMaker takes at most 10",
        ),
        (
            {"variants": [_challenger()], "shadow": _challenger("Shadow")},
            r"shadow only beside a single production variant",
        ),
        ({"variants": [_challenger(weight=0)], "initial_variant_weight": 0}, r"at least one must be above 0"),
        (
            {"variants": [_challenger()], "deployment": RollingUpdate()},
            r"does not do rolling updates of multi-variant",
        ),
        (
            {"variants": [_challenger(instance_type="ml.g5.xlarge")]},
            r"variant 'Challenger': Container image .* Neuron",
        ),
        ({"variants": [_challenger(name="bad_name")]}, r"variant name 'bad_name'"),
        ({"shadow": _challenger("Shadow", weight=0)}, r"shadow with weight 0 receives no copies"),
        (
            {
                "shadow": _challenger("Shadow"),
                "async_inference": AsyncInference(),
                "auto_scaling": BacklogScaling(),
            },
            r"does not run shadow variants on asynchronous endpoints",
        ),
        (
            {"shadow": _challenger("Shadow", instance_type="ml.inf1.xlarge", image=INF1_IMAGE)},
            r"does not run shadow variants on endpoints on Inf1",
        ),
        (
            {"data_capture": DataCapture(sampling_percent=101)},
            r"data capture share of 101% \(data_capture_percent\): SageMaker samples 0 to 100",
        ),
        ({"data_capture": DataCapture(capture_input=False, capture_output=False)}, r"captures nothing"),
    ],
)
def test_refused_at_synth(props, message):
    with pytest.raises(MlBlueprintsError, match=message):
        _template(**props)


def test_volume_key_is_set_only_when_every_variant_is_on_ebs():
    assert "KmsKeyId" in _config(_template(variants=[_challenger()]))
    assert "KmsKeyId" not in _config(_template(variants=[_challenger(instance_type="ml.trn1.2xlarge")])), (
        "trn1 serves from NVMe instance storage"
    )

"""InferenceComponentEndpoint: the shared fleet, per-copy resources against the instance, scale to zero."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match, Template

from mlblueprints.constructs.compute.instance_specs import _SPECS, instance_specs
from mlblueprints.constructs.compute.instance_types import (
    SageMakerUse,
    check_instance_type,
    instance_types_for,
)
from mlblueprints.constructs.errors import MlBlueprintsError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.inference_components import (
    CopyScaling,
    InferenceComponent,
    InferenceComponentEndpoint,
)
from mlblueprints.constructs.sagemaker.model_data import ModelData

GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
NEURONX_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
)


def _component(name="Llama", **overrides) -> InferenceComponent:
    return InferenceComponent(
        **{
            "name": name,
            "image": GPU_IMAGE,
            "model_data": ModelData.from_s3_url(f"s3://models/{name.lower()}/model.tar.gz"),
            "memory_mb": 16384,
            **overrides,
        }
    )


def _endpoint(**props) -> tuple[Stack, Template]:
    stack = Stack(App(), "Test")
    InferenceComponentEndpoint(
        stack, "Endpoint", **{"instance_type": "ml.g5.12xlarge", "components": [_component()], **props}
    )
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="module")
def two_models():
    return _endpoint(
        components=[
            _component("Llama", accelerators=2, cpu_cores=8, copies=1),
            _component("Mistral", accelerators=1, copies=2, scaling=CopyScaling(min_copies=1, max_copies=2)),
        ],
        initial_instance_count=1,
        max_instances=2,
    )[1]


def test_endpoint_config_names_instances_not_models(two_models):
    (config,) = two_models.find_resources("AWS::SageMaker::EndpointConfig").values()
    properties = config["Properties"]
    (variant,) = properties["ProductionVariants"]
    assert "ModelName" not in variant
    assert variant["ManagedInstanceScaling"] == {
        "Status": "ENABLED",
        "MinInstanceCount": 0,
        "MaxInstanceCount": 2,
    }
    assert variant["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    assert properties["ExecutionRoleArn"]["Fn::GetAtt"][0].startswith("EndpointRole")
    assert properties["EnableNetworkIsolation"] is True
    two_models.resource_count_is("AWS::SageMaker::Model", 0)


def test_each_component_asks_for_its_resources(two_models):
    components = {
        json.dumps(c["Properties"]["InferenceComponentName"]): c["Properties"]
        for c in two_models.find_resources("AWS::SageMaker::InferenceComponent").values()
    }
    assert len(components) == 2
    by_model = {p["Specification"]["Container"]["ArtifactUrl"]: p for p in components.values()}
    llama = by_model["s3://models/llama/model.tar.gz"]
    assert llama["Specification"]["ComputeResourceRequirements"] == {
        "MinMemoryRequiredInMb": 16384,
        "NumberOfAcceleratorDevicesRequired": 2,
        "NumberOfCpuCoresRequired": 8,
    }
    assert llama["RuntimeConfig"] == {"CopyCount": 1}
    assert by_model["s3://models/mistral/model.tar.gz"]["RuntimeConfig"] == {"CopyCount": 2}


def test_copies_scale_to_zero_and_wake_on_no_capacity(two_models):
    targets = two_models.find_resources("AWS::ApplicationAutoScaling::ScalableTarget")
    bounds = sorted(
        (t["Properties"]["MinCapacity"], t["Properties"]["MaxCapacity"]) for t in targets.values()
    )
    assert bounds == [(0, 4), (1, 2)]
    assert all(
        t["Properties"]["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
        for t in targets.values()
    )
    policies = two_models.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = [p for p in policies.values() if p["Properties"]["PolicyType"] == "TargetTrackingScaling"]
    assert len(tracking) == 2
    metric = tracking[0]["Properties"]["TargetTrackingScalingPolicyConfiguration"][
        "PredefinedMetricSpecification"
    ]
    assert (
        metric["PredefinedMetricType"] == "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    )
    (step_id,) = [k for k, p in policies.items() if p["Properties"]["PolicyType"] == "StepScaling"]
    two_models.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "NoCapacityInvocationFailures",
            "Dimensions": [Match.object_like({"Name": "InferenceComponentName"})],
            "AlarmActions": [{"Ref": step_id}],
        },
    )


def test_alarms_per_component(two_models):
    alarms = two_models.find_resources("AWS::CloudWatch::Alarm")
    notified = [a for a in alarms.values() if "OKActions" in a["Properties"]]
    assert sorted(a["Properties"]["MetricName"] for a in notified) == [
        "Invocation5XXErrors",
        "Invocation5XXErrors",
        "ModelLatency",
        "ModelLatency",
    ]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"components": [_component(accelerators=8)]},
            r"each copy asks for 8 GPUs, but ml.g5.12xlarge has 4",
        ),
        ({"components": [_component(cpu_cores=64)]}, r"64 CPU cores, but ml.g5.12xlarge has 48 vCPUs"),
        (
            {"components": [_component(memory_mb=300_000)]},
            r"300000 MB of memory, but ml.g5.12xlarge has 192 GiB",
        ),
        ({"components": [_component(memory_mb=64)]}, r"memory_mb=64; use 128 or more MB"),
        (
            {"components": [_component(accelerators=2, copies=3, scaling=None)], "max_instances": 1},
            r"need 6 GPUs in all, but 1",
        ),
        ({"components": [_component(), _component()]}, r"named twice"),
        ({"components": [_component(name="bad_name")]}, r"the name must match"),
        (
            {"components": [_component(scaling=CopyScaling(min_copies=2, max_copies=4))]},
            r"copies=1 is outside min_copies=2",
        ),
        (
            {"components": [_component(environment={f"K{i}": "v" for i in range(17)})]},
            r"17 environment variables",
        ),
        ({"components": []}, r"needs at least one component"),
        (
            {"min_instances": 2, "initial_instance_count": 1},
            r"need 0 <= min_instances <= initial_instance_count",
        ),
        ({"routing_strategy": "ROUND_ROBIN"}, r"routing_strategy='ROUND_ROBIN'"),
        (
            {"instance_type": "ml.m5.xlarge", "components": [_component(accelerators=1)]},
            r"has no accelerator",
        ),
        (
            {
                "instance_type": "ml.inf2.xlarge",
                "components": [_component(image=NEURONX_IMAGE, accelerators=4)],
            },
            r"asks for 4 Neuron devices, but ml.inf2.xlarge has 1",
        ),
        (
            {"components": [_component(image=NEURONX_IMAGE)]},
            r"component 'Llama': Container image .* Neuron SDK",
        ),
    ],
)
def test_refused_at_synth(props, message):
    with pytest.raises(MlBlueprintsError, match=message):
        _endpoint(**props)


def test_neuron_cores_beyond_the_chips_are_warned_about_not_refused():
    stack, _ = _endpoint(
        instance_type="ml.inf2.xlarge",
        components=[_component(image=NEURONX_IMAGE, accelerators=2, memory_mb=8192)],
    )
    Annotations.from_stack(stack).has_warning("/Test/Endpoint", Match.string_like_regexp("Neuron devices"))


def test_specs_cover_every_hosting_size_of_their_families():
    """A family in the specs table has every size botocore lists for hosting (drift check)."""
    missing = [
        name
        for name in instance_types_for(SageMakerUse.REALTIME_INFERENCE)
        if name.split(".")[1] in _SPECS
        and instance_specs(check_instance_type(name, use=SageMakerUse.REALTIME_INFERENCE)) is None
    ]
    assert missing == []


def test_components_update_a_copy_at_a_time_under_their_alarms(two_models):
    for component in two_models.find_resources("AWS::SageMaker::InferenceComponent").values():
        config = component["Properties"]["DeploymentConfig"]
        assert config["RollingUpdatePolicy"] == {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 300,
        }
        names = [a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
        assert len(names) == 2 and all("Component" in n for n in names)


def test_update_wait_and_volume_limits():
    from aws_cdk import Duration

    from mlblueprints.constructs.sagemaker.variant_options import LargeModelOptions

    with pytest.raises(MlBlueprintsError, match=r"update_wait=7200 s"):
        _endpoint(update_wait=Duration.hours(2))
    with pytest.raises(MlBlueprintsError, match=r"serves from local NVMe"):
        _endpoint(large_model=LargeModelOptions(volume_size_gb=100))


def test_folder_model_data_is_refused_for_a_component():
    with pytest.raises(
        MlBlueprintsError, match=r"is a folder, but an inference component loads one model.tar.gz"
    ):
        _endpoint(components=[_component(model_data=ModelData.from_s3_prefix("s3://models/llama/"))])


def test_volume_size_reaches_the_variant():
    from mlblueprints.constructs.sagemaker.variant_options import LargeModelOptions

    _, template = _endpoint(
        instance_type="ml.inf2.8xlarge",
        components=[_component(image=NEURONX_IMAGE, memory_mb=8192)],
        large_model=LargeModelOptions(volume_size_gb=100),
    )
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    assert config["Properties"]["ProductionVariants"][0]["VolumeSizeInGB"] == 100


def test_a_copy_too_large_for_any_instance_is_reported_once():
    with pytest.raises(MlBlueprintsError) as caught:
        _endpoint(components=[_component(accelerators=8)])
    messages = [p.message for p in caught.value.problems]
    assert len([m for m in messages if "GPUs" in m]) == 1, messages

"""ServerlessEndpoint: the serverless config, what serverless excludes, and its alarms."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from mlblueprints.constructs.errors import EndpointConfigError, ImageCompatibilityError, MlBlueprintsError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.deployment import RollingUpdate
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.serverless import ServerlessAlarms, ServerlessEndpoint

CPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-cpu-py312-ubuntu22.04-sagemaker")
GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
NEURONX_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
)


def _serverless(**props) -> tuple[ServerlessEndpoint, Template]:
    stack = Stack(App(), "Test")
    endpoint = ServerlessEndpoint(
        stack,
        "Endpoint",
        **{"image": CPU_IMAGE, "model_data": ModelData.from_s3_url("s3://models/m/model.tar.gz"), **props},
    )
    return endpoint, Template.from_stack(stack)


@pytest.fixture(scope="module")
def default():
    return _serverless(provisioned_concurrency=2, alarms=ServerlessAlarms(email="oncall@example.com"))


def test_serverless_config_and_no_instances(default):
    _, template = default
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": 2048,
        "MaxConcurrency": 20,
        "ProvisionedConcurrency": 2,
    }
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    # On serverless, the key encrypts SageMaker's copy of the image.
    assert "KmsKeyId" in config["Properties"]


def test_model_has_no_vpc_and_no_network_isolation(default):
    _, template = default
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    assert "VpcConfig" not in model["Properties"]
    assert "EnableNetworkIsolation" not in model["Properties"]
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)


def test_updates_are_blue_green_and_roll_back_on_errors_and_latency(default):
    _, template = default
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    config = endpoint["Properties"]["DeploymentConfig"]
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    alarms = [alarm["AlarmName"]["Ref"] for alarm in config["AutoRollbackConfiguration"]["Alarms"]]
    assert len(alarms) == 2 and all("ColdStart" not in name and "Concurrency" not in name for name in alarms)


def test_cold_start_and_concurrency_alarms(default):
    _, template = default
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ModelSetupTime", "Statistic": "Maximum", "Threshold": 30_000_000, "Period": 300},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ServerlessConcurrentExecutionsUtilization", "Threshold": 0.9},
    )
    template.resource_count_is("AWS::CloudWatch::Alarm", 4)


def test_alarm_email_subscribes_to_the_topic(default):
    _, template = default
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"memory_size_mb": 1500},
            r"memory_size_mb=1500: serverless endpoints take 1024, 2048, 3072, 4096, 5120, 6144 MB",
        ),
        ({"memory_size_mb": 8192}, r"memory_size_mb=8192"),
        ({"max_concurrency": 0}, r"max_concurrency=0: use 1 to 200"),
        ({"max_concurrency": 201}, r"max_concurrency=201"),
        ({"provisioned_concurrency": 0}, r"provisioned_concurrency=0: use 1 to 200"),
        (
            {"max_concurrency": 5, "provisioned_concurrency": 6},
            r"provisioned_concurrency=6 is above max_concurrency=5",
        ),
        ({"deployment": RollingUpdate()}, r"does not do rolling updates of serverless endpoints"),
        ({"alarms": ServerlessAlarms(concurrency_utilization=1.5)}, r"concurrency_utilization=1.5"),
        ({"alarms": ServerlessAlarms(email="not an address")}, r"alarm_email='not an address'"),
    ],
)
def test_what_serverless_refuses(props, message):
    with pytest.raises(EndpointConfigError, match=message):
        _serverless(**props)


@pytest.mark.parametrize("image", [GPU_IMAGE, NEURONX_IMAGE])
def test_accelerator_images_are_refused_with_the_reason(image):
    with pytest.raises(ImageCompatibilityError, match=r"serverless endpoints run on CPU only"):
        _serverless(image=image)


def test_every_problem_at_once():
    with pytest.raises(MlBlueprintsError) as caught:
        _serverless(image=GPU_IMAGE, memory_size_mb=100, max_concurrency=500)
    messages = " ".join(problem.message for problem in caught.value.problems)
    assert "CPU only" in messages and "memory_size_mb=100" in messages and "max_concurrency=500" in messages


def test_blueprint_names_why_realtime_settings_do_not_apply():
    from mlblueprints.blueprints.serverless_endpoint.settings import ServerlessEndpointSettings
    from mlblueprints.constructs.errors import BlueprintConfigError

    config = {
        "dlc_repository": "pytorch-inference",
        "dlc_tag": "2.6.0-cpu-py312-ubuntu22.04-sagemaker",
        "instance_type": "ml.m5.large",
        "create_vpc": True,
        "network_isolation": True,
        "memory_size_mb": 3000,
    }
    with pytest.raises(BlueprintConfigError) as caught:
        ServerlessEndpointSettings.parse("S", config)
    messages = [problem.message for problem in caught.value.problems]
    assert any(
        "'instance_type' does not apply to serverless-endpoint: serverless endpoints have no instances" in m
        for m in messages
    )
    assert any(
        "'create_vpc' does not apply" in m and "does not support VPC configuration" in m for m in messages
    )
    assert any(
        "'network_isolation' does not apply" in m and "does not support network isolation" in m
        for m in messages
    )
    assert any("memory_size_mb=3000" in m for m in messages)
    assert not any(m.startswith("unknown setting") for m in messages)


def test_blueprint_refuses_a_gpu_image_before_building():
    from mlblueprints.blueprints.serverless_endpoint.settings import ServerlessEndpointSettings
    from mlblueprints.constructs.errors import BlueprintConfigError

    with pytest.raises(BlueprintConfigError, match=r"serverless endpoints run on CPU only"):
        ServerlessEndpointSettings.parse(
            "S",
            {"dlc_repository": "pytorch-inference", "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"},
        )


def test_same_model_definition_switches_mode():
    """A real-time stack's model settings, unchanged, make a valid serverless stack."""
    from mlblueprints.blueprints.model_settings import ModelSettings
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
    from mlblueprints.blueprints.serverless_endpoint.settings import ServerlessEndpointSettings

    model = {
        "dlc_repository": "pytorch-inference",
        "dlc_tag": "2.6.0-cpu-py312-ubuntu22.04-sagemaker",
        "model_data_url": "s3://models/m/model.tar.gz",
        "environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"},
        "alarm_email": "oncall@example.com",
    }
    assert set(model) <= set(ModelSettings.model_fields)
    realtime = RealtimeEndpointSettings.parse("S", {**model, "instance_type": "ml.m5.large"})
    serverless = ServerlessEndpointSettings.parse("S", model)
    assert {k: getattr(realtime, k) for k in model} == {k: getattr(serverless, k) for k in model}


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("variants", "does not support multiple production variants"),
        ("shadow", "shadow variants on serverless"),
        ("data_capture_percent", "does not support data capture"),
        ("volume_size_gb", "5 GB of ephemeral disk"),
    ],
)
def test_blueprint_names_serverless_exclusions(setting, reason):
    from mlblueprints.blueprints.serverless_endpoint.settings import ServerlessEndpointSettings
    from mlblueprints.constructs.errors import BlueprintConfigError

    config = {
        "dlc_repository": "pytorch-inference",
        "dlc_tag": "2.6.0-cpu-py312-ubuntu22.04-sagemaker",
        setting: 1,
    }
    with pytest.raises(BlueprintConfigError, match=reason):
        ServerlessEndpointSettings.parse("S", config)

"""Safe updates: the default per instance kind, the guardrail limits, and auto-rollback on the alarms."""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Annotations, Match, Template

from mlblueprints.constructs.errors import EndpointConfigError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.deployment import (
    BlueGreenUpdate,
    Capacity,
    RollingUpdate,
    TrafficShift,
)
from mlblueprints.constructs.sagemaker.endpoint import EndpointAlarms, RealtimeEndpoint
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.scaling import EndpointAutoScaling

GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
CPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-cpu-py312-ubuntu22.04-sagemaker")
INF1_IMAGE = ContainerImage.from_dlc("pytorch-inference-neuron", "1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04")


def _deployment_config(**props) -> tuple[dict, Stack]:
    stack = Stack(App(), "Test")
    RealtimeEndpoint(
        stack,
        "Endpoint",
        **{
            "instance_type": "ml.g5.xlarge",
            "image": GPU_IMAGE,
            "model_data": ModelData.from_s3_url("s3://models/m/model.tar.gz"),
            **props,
        },
    )
    (endpoint,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint").values()
    return endpoint["Properties"].get("DeploymentConfig"), stack


def test_accelerated_endpoint_rolls_in_batches_and_rolls_back_on_its_alarms():
    config, _ = _deployment_config()
    assert config["RollingUpdatePolicy"]["MaximumBatchSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    assert "BlueGreenUpdatePolicy" not in config
    alarms = [alarm["AlarmName"]["Ref"] for alarm in config["AutoRollbackConfiguration"]["Alarms"]]
    assert [name.split("Alarm")[0] for name in alarms] == [
        "EndpointInvocation5XXErrors",
        "EndpointModelLatency",
    ]


def test_cpu_endpoint_updates_blue_green_all_at_once_with_baking():
    config, _ = _deployment_config(instance_type="ml.m5.xlarge", image=CPU_IMAGE)
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}
    assert config["BlueGreenUpdatePolicy"]["TerminationWaitInSeconds"] == 300


def test_accelerated_endpoint_that_may_shrink_to_one_instance_uses_blue_green():
    config, _ = _deployment_config(auto_scaling=EndpointAutoScaling(min_capacity=1, max_capacity=4))
    assert "BlueGreenUpdatePolicy" in config


def test_without_alarms_there_is_no_rollback():
    config, _ = _deployment_config(alarms=None)
    assert "AutoRollbackConfiguration" not in config


def test_canary_and_linear_steps():
    config, _ = _deployment_config(
        deployment=BlueGreenUpdate(traffic=TrafficShift.CANARY, step=Capacity.instances(1))
    )
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["CanarySize"] == {"Type": "INSTANCE_COUNT", "Value": 1}
    config, _ = _deployment_config(deployment=BlueGreenUpdate(traffic=TrafficShift.LINEAR))
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 20}
    assert config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] > 5 * 600 + 300


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        (
            BlueGreenUpdate(traffic=TrafficShift.CANARY, step=Capacity.percent(60)),
            r"a canary of 60%: SageMaker requires 0-50%",
        ),
        (
            BlueGreenUpdate(traffic=TrafficShift.CANARY, step=Capacity.instances(2)),
            r"a canary of 2 instance.*100% of 2",
        ),
        (
            BlueGreenUpdate(traffic=TrafficShift.LINEAR, step=Capacity.percent(5)),
            r"a linear step of 5%.*10-50%",
        ),
        (BlueGreenUpdate(step=Capacity.percent(10)), r"CANARY and LINEAR"),
        (
            BlueGreenUpdate(wait_interval=Duration.hours(2)),
            r"update_wait_seconds\) of 7200 s: SageMaker accepts 0 to 3600",
        ),
        (BlueGreenUpdate(termination_wait=Duration.hours(2)), r"terminated of 7200 s.*0 to 3600"),
        (RollingUpdate(batch=Capacity.percent(60)), r"a rolling batch of 60%.*5-50%.*Use 5 to 50 percent"),
        (RollingUpdate(batch=Capacity.percent(4)), r"a rolling batch of 4%.*5-50%"),
        (
            RollingUpdate(max_execution_timeout=Duration.minutes(5)),
            r"an update timeout of 300 s.*600 to 28800",
        ),
        (RollingUpdate(max_execution_timeout=Duration.minutes(15)), r"not longer than the update's waits"),
    ],
)
def test_guardrail_limits_are_refused_at_synth(deployment, message):
    with pytest.raises(EndpointConfigError, match=message):
        _deployment_config(deployment=deployment)


def test_rolling_needs_two_instances():
    with pytest.raises(EndpointConfigError, match=r"rolling update needs 2 or more instances"):
        _deployment_config(initial_instance_count=1, auto_scaling=None, deployment=RollingUpdate())


def test_inf1_falls_back_to_all_at_once_and_says_so():
    config, stack = _deployment_config(
        instance_type="ml.inf1.xlarge",
        image=INF1_IMAGE,
        deployment=BlueGreenUpdate(traffic=TrafficShift.CANARY),
    )
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    Annotations.from_stack(stack).has_warning("/Test/Endpoint", Match.string_like_regexp("Inf1 endpoints"))


def test_variant_name_stays_when_the_instance_type_changes():
    # A guarded update needs the new endpoint config to keep the variant's name.
    names = set()
    for instance_type in ("ml.g5.xlarge", "ml.g6.xlarge"):
        stack = Stack(App(), "Test")
        RealtimeEndpoint(
            stack,
            "Endpoint",
            instance_type=instance_type,
            image=GPU_IMAGE,
            model_data=ModelData.from_s3_url("s3://models/m/model.tar.gz"),
            alarms=EndpointAlarms(),
        )
        (config,) = Template.from_stack(stack).find_resources("AWS::SageMaker::EndpointConfig").values()
        names.add(config["Properties"]["ProductionVariants"][0]["VariantName"])
    assert names == {"AllTraffic"}


REALTIME = {
    "instance_type": "ml.g5.xlarge",
    "dlc_repository": "pytorch-inference",
    "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"update_strategy": "canary", "update_step_percent": 60}, r"a canary of 60%"),
        ({"update_strategy": "linear", "update_step_percent": 5}, r"a linear step of 5%"),
        (
            {"update_strategy": "rolling", "initial_instance_count": 1, "auto_scaling": False},
            r"2 or more instances",
        ),
        ({"update_strategy": "rolling", "update_step_percent": 60}, r"a rolling batch of 60%"),
        ({"update_wait_seconds": 4000}, r"update_wait_seconds\) of 4000 s"),
        ({"update_strategy": "blue-green"}, r"update_strategy"),
        (
            {
                "instance_type": "ml.m5.xlarge",
                "dlc_tag": "2.6.0-cpu-py312-ubuntu22.04-sagemaker",
                "update_step_percent": 20,
            },
            r"update_step_percent needs update_strategy",
        ),
    ],
)
def test_update_settings_are_checked_before_building(settings, message):
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
    from mlblueprints.constructs.errors import BlueprintConfigError

    with pytest.raises(BlueprintConfigError, match=message):
        RealtimeEndpointSettings.parse("S", {**REALTIME, **settings})


def test_update_settings_reach_the_endpoint():
    from aws_cdk import App

    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
    from mlblueprints.blueprints.realtime_endpoint.stack import RealtimeEndpointStack

    settings = RealtimeEndpointSettings.parse(
        "S", {**REALTIME, "update_strategy": "linear", "update_step_percent": 25, "update_wait_seconds": 120}
    )
    stack = RealtimeEndpointStack(App(), "S", settings=settings)
    (endpoint,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint").values()
    routing = endpoint["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing == {
        "Type": "LINEAR",
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
        "WaitIntervalInSeconds": 120,
    }


def test_waits_beyond_the_eight_hour_limit_are_refused():
    with pytest.raises(EndpointConfigError, match=r"waits add up to .* at most 28800 s"):
        _deployment_config(
            deployment=BlueGreenUpdate(
                traffic=TrafficShift.LINEAR, step=Capacity.percent(10), wait_interval=Duration.hours(1)
            )
        )

"""AsyncEndpoint: queue output to S3 and SNS, scale to zero and back, backlog alarms, refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from mlblueprints.constructs.errors import EndpointConfigError
from mlblueprints.constructs.sagemaker.async_inference import AsyncInference, BacklogScaling
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.endpoint import AsyncEndpoint, RealtimeEndpoint
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.scaling import EndpointAutoScaling

GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
PROPS = {
    "instance_type": "ml.g5.xlarge",
    "image": GPU_IMAGE,
    "model_data": ModelData.from_s3_url("s3://models/m/model.tar.gz"),
}


@pytest.fixture(scope="module")
def default():
    stack = Stack(App(), "Test")
    endpoint = AsyncEndpoint(stack, "Endpoint", **PROPS)
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_submit(client)
    return endpoint, Template.from_stack(stack)


def _resources(template: Template, resource_type: str) -> dict:
    return template.find_resources(resource_type)


def test_results_and_failures_go_to_the_encrypted_bucket_and_topics(default):
    _, template = default
    (config,) = _resources(template, "AWS::SageMaker::EndpointConfig").values()
    output = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]
    assert json.dumps(output["S3OutputPath"]).endswith('"/async-output/"]]}')
    assert json.dumps(output["S3FailurePath"]).endswith('"/async-failures/"]]}')
    assert "KmsKeyId" in output
    topics = output["NotificationConfig"]
    assert topics["SuccessTopic"]["Ref"].startswith("EndpointSuccessTopic")
    assert topics["ErrorTopic"]["Ref"].startswith("EndpointErrorTopic")
    for topic in _resources(template, "AWS::SNS::Topic").values():
        assert "KmsMasterKeyId" in topic["Properties"]


def test_output_bucket_is_kms_encrypted_and_retained(default):
    _, template = default
    buckets = [
        b for b in _resources(template, "AWS::S3::Bucket").values() if "KMSMasterKeyID" in json.dumps(b)
    ]
    assert len(buckets) == 1
    assert buckets[0]["DeletionPolicy"] == "Retain"


def test_scales_to_zero_on_the_backlog_and_wakes_from_zero(default):
    _, template = default
    (target,) = _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["MinCapacity"] == 0 and target["Properties"]["MaxCapacity"] == 2
    policies = _resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = next(p for p in policies.values() if p["Properties"]["PolicyType"] == "TargetTrackingScaling")
    metric = tracking["Properties"]["TargetTrackingScalingPolicyConfiguration"][
        "CustomizedMetricSpecification"
    ]
    assert metric["MetricName"] == "ApproximateBacklogSizePerInstance" and metric["Statistic"] == "Average"
    step_id, step = next(
        (k, p) for k, p in policies.items() if p["Properties"]["PolicyType"] == "StepScaling"
    )
    adjustments = step["Properties"]["StepScalingPolicyConfiguration"]["StepAdjustments"]
    assert adjustments == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "HasBacklogWithoutCapacity",
            "Threshold": 1,
            "EvaluationPeriods": 2,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": step_id}],
        },
    )


def test_alarm_on_the_age_of_the_oldest_request(default):
    _, template = default
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateAgeOfOldestRequest", "Threshold": 1800}
    )


def test_fleet_that_scales_to_zero_updates_blue_green(default):
    _, template = default
    (endpoint,) = _resources(template, "AWS::SageMaker::Endpoint").values()
    assert "BlueGreenUpdatePolicy" in endpoint["Properties"]["DeploymentConfig"]


def test_role_gets_exact_actions_on_its_prefixes_and_topics(default):
    _, template = default
    statements = [
        s
        for policy in _resources(template, "AWS::IAM::Policy").values()
        if "EndpointRole" in json.dumps(policy["Properties"]["Roles"])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {
        a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "sns:Publish"} <= actions
    assert not any("*" in action for action in actions)


def test_grant_submit_lets_a_client_queue_and_read(default):
    _, template = default
    client = next(
        p
        for p in _resources(template, "AWS::IAM::Policy").values()
        if "Client" in json.dumps(p["Properties"]["Roles"])
    )
    document = json.dumps(client["Properties"]["PolicyDocument"])
    assert "sagemaker:InvokeEndpointAsync" in document and "/async-input/*" in document


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"auto_scaling": EndpointAutoScaling()},
            r"does not publish for asynchronous endpoints; use BacklogScaling",
        ),
        (
            {"async_inference": AsyncInference(max_concurrent_invocations_per_instance=0)},
            r"max_concurrent_invocations_per_instance=0: use 1 to 1000",
        ),
        ({"async_inference": AsyncInference(oldest_request_age_s=30)}, r"oldest_request_age_s=30"),
        (
            {"auto_scaling": BacklogScaling(min_capacity=3, max_capacity=2)},
            r"max_capacity=2 is below min_capacity=3",
        ),
        (
            {"auto_scaling": BacklogScaling(max_capacity=2), "initial_instance_count": 3},
            r"initial_instance_count=3 is above",
        ),
    ],
)
def test_what_async_refuses(props, message):
    with pytest.raises(EndpointConfigError, match=message):
        AsyncEndpoint(Stack(App(), "Test"), "Endpoint", **{**PROPS, **props})


def test_backlog_scaling_needs_a_queue():
    with pytest.raises(EndpointConfigError, match=r"BacklogScaling scales on the queue"):
        RealtimeEndpoint(Stack(App(), "Test"), "Endpoint", auto_scaling=BacklogScaling(), **PROPS)


def test_updates_roll_back_on_errors_not_on_long_requests(default):
    _, template = default
    (endpoint,) = _resources(template, "AWS::SageMaker::Endpoint").values()
    names = [
        a["AlarmName"]["Ref"]
        for a in endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    ]
    assert len(names) == 1 and names[0].startswith("EndpointInvocation5XXErrorsAlarm")

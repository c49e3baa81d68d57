"""The catalog app: configuration from a file or CDK context, and the errors bad config gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from mlblueprints.apps.catalog import EXAMPLE_STACKS, build_app
from mlblueprints.blueprints.realtime_endpoint.stack import BlueprintConfigError
from mlblueprints.constructs.compute.instance_types import InstanceTypeError
from mlblueprints.constructs.sagemaker.container_image import ImageCompatibilityError
from mlblueprints.constructs.sagemaker.model_data import ModelDataError

REPO = Path(__file__).resolve().parents[2]
VALID = {
    "instance_type": "ml.g6.2xlarge",
    "dlc_repository": "pytorch-inference",
    "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
    "model_data_url": "s3://models/m/model.tar.gz",
}


def _app_with(stacks: dict) -> App:
    return build_app(App(context={"stacks": json.dumps(stacks)}))


def test_example_config_file_deploys_the_users_model(tmp_path):
    app = build_app(
        App(context={"config": str(REPO / "examples" / "my-endpoint.json")}, outdir=str(tmp_path))
    )
    (stack,) = app.node.children[:1]
    assert stack.node.id == "LlamaOnInferentia2"
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"InstanceType": "ml.inf2.8xlarge", "InitialInstanceCount": 2})
            ]
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {
                    "ModelDataUrl": "s3://my-model-artifacts/llama-3-8b/model.tar.gz",
                    "Environment": {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "600"},
                }
            )
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 6}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ModelLatency", "Threshold": 2_500_000}
    )


def test_context_stacks_replace_the_examples():
    app = _app_with({"Mine": VALID})
    ids = {child.node.id for child in app.node.children}
    assert "Mine" in ids
    assert not ids & set(EXAMPLE_STACKS)


def test_without_config_the_examples_are_built():
    app = build_app(App())
    assert {c.node.id for c in app.node.children} >= set(EXAMPLE_STACKS)


def test_unknown_setting_is_named_with_the_valid_ones():
    with pytest.raises(
        BlueprintConfigError,
        match=r"Stack 'Mine': unknown setting\(s\) 'instance_typ'.*Valid settings: .*instance_type",
    ):
        _app_with({"Mine": {**VALID, "instance_typ": "ml.g5.xlarge"}})


def test_wrong_type_is_named():
    with pytest.raises(
        BlueprintConfigError, match=r"setting 'initial_instance_count' is '2' \(str\); expected int"
    ):
        _app_with({"Mine": {**VALID, "initial_instance_count": "2"}})


def test_boolean_is_not_a_count():
    with pytest.raises(BlueprintConfigError, match=r"'initial_instance_count' is True \(bool\)"):
        _app_with({"Mine": {**VALID, "initial_instance_count": True}})


def test_missing_instance_type_is_named():
    config = {k: v for k, v in VALID.items() if k != "instance_type"}
    with pytest.raises(BlueprintConfigError, match=r"'instance_type' is required"):
        _app_with({"Mine": config})


def test_unknown_blueprint_is_named():
    with pytest.raises(
        BlueprintConfigError, match=r"unknown blueprint 'batch'. Available: realtime-endpoint"
    ):
        _app_with({"Mine": {**VALID, "blueprint": "batch"}})


def test_image_must_be_given_once():
    with pytest.raises(BlueprintConfigError, match=r"either image_uri .* not both"):
        _app_with({"Mine": {**VALID, "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"}})
    config = {k: v for k, v in VALID.items() if not k.startswith("dlc_")}
    with pytest.raises(BlueprintConfigError, match=r"No container image"):
        _app_with({"Mine": config})


def test_config_errors_from_constructs_reach_the_user():
    with pytest.raises(InstanceTypeError, match=r"'ml.inf2.xlarg'.*ml.inf2.xlarge"):
        _app_with({"Mine": {**VALID, "instance_type": "ml.inf2.xlarg"}})
    with pytest.raises(ImageCompatibilityError, match=r"CUDA"):
        _app_with({"Mine": {**VALID, "instance_type": "ml.inf2.xlarge"}})
    with pytest.raises(ModelDataError, match=r"not an S3 URL of a .tar.gz"):
        _app_with({"Mine": {**VALID, "model_data_url": "s3://models/m/model.bin"}})


def test_missing_or_malformed_config_file(tmp_path):
    with pytest.raises(
        BlueprintConfigError, match=r"Config file '.*nope.json' \(context 'config'\) does not exist"
    ):
        build_app(App(context={"config": str(tmp_path / "nope.json")}))
    bad = tmp_path / "bad.json"
    bad.write_text("{stacks: }")
    with pytest.raises(BlueprintConfigError, match=r"is not valid JSON"):
        build_app(App(context={"config": str(bad)}))
    with pytest.raises(BlueprintConfigError, match=r"Context 'stacks' is not valid JSON"):
        build_app(App(context={"stacks": "{Mine: }"}))
    empty = tmp_path / "empty.json"
    empty.write_text('{"stacks": {}}')
    with pytest.raises(BlueprintConfigError, match=r"non-empty 'stacks' object"):
        build_app(App(context={"config": str(empty)}))


# The settings that change what a stack deploys, one stack each, synthesized together once.
VARIANTS = {
    "NoRetention": {**VALID, "retain_data": False},
    "NoVpc": {**VALID, "create_vpc": False},
    "NoScaling": {**VALID, "auto_scaling": False},
}


@pytest.fixture(scope="module")
def variants():
    app = _app_with(VARIANTS)
    assembly = app.synth()
    return {name: Template.from_json(assembly.get_stack_by_name(name).template) for name in VARIANTS}


def test_opting_out_of_retention_deletes_data_with_the_stack(variants):
    template = variants["NoRetention"]
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] == "Delete"


def test_no_vpc_option_keeps_network_isolation(variants):
    template = variants["NoVpc"]
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"EnableNetworkIsolation": True, "VpcConfig": Match.absent()}
    )


def test_auto_scaling_can_be_switched_off_for_an_instance_type_change(variants):
    template = variants["NoScaling"]
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 0)


def test_env_pins_the_stack_environment_and_rejects_other_keys():
    app = _app_with({"Mine": {**VALID, "env": {"account": "123456789012", "region": "eu-west-1"}}})
    stack = app.node.find_child("Mine")
    assert (stack.account, stack.region) == ("123456789012", "eu-west-1")
    with pytest.raises(
        BlueprintConfigError, match=r"'env' is \{'acount': '1'\}; expected an object with string"
    ):
        _app_with({"Mine": {**VALID, "env": {"acount": "1"}}})

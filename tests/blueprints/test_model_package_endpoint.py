"""A real-time endpoint serving a model package registered by the training blueprint."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Environment
from aws_cdk.assertions import Template

from mlblueprints.blueprints.multi_model_endpoint.settings import MultiModelEndpointSettings
from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
from mlblueprints.blueprints.realtime_endpoint.stack import RealtimeEndpointStack
from mlblueprints.constructs.errors import BlueprintConfigError

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/finetune-training/3"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONFIG = {
    "instance_type": "ml.g5.xlarge",
    "dlc_repository": "pytorch-inference",
    "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
    "model_package_arn": PACKAGE,
    "model_data_url": "s3://train-artifacts-bucket/output/",
    "model_data_kms_key_arn": KEY,
}


@pytest.fixture(scope="module")
def template() -> Template:
    settings = RealtimeEndpointSettings.parse("S", CONFIG, region="us-east-1")
    stack = RealtimeEndpointStack(
        App(), "S", settings=settings, env=Environment(account="123456789012", region="us-east-1")
    )
    return Template.from_stack(stack)


def test_the_model_names_the_package_not_an_image(template):
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    assert model["Properties"]["PrimaryContainer"] == {"ModelPackageName": PACKAGE}


def test_the_role_reads_the_artifacts_and_pulls_the_serving_image(template):
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "train-artifacts-bucket/output/*" in policies
    assert "repository/pytorch-inference" in policies
    assert KEY in policies


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/g"},
            r"versioned model package ARN",
        ),
        (
            {"model_package_arn": PACKAGE.replace("us-east-1", "eu-west-1")},
            r"is in eu-west-1, but the stack deploys to us-east-1",
        ),
        ({"model_data_url": None, "model_data_kms_key_arn": None}, r"model_package_arn needs model_data_url"),
    ],
)
def test_refused_with_the_reason(config, message):
    with pytest.raises(BlueprintConfigError, match=message):
        RealtimeEndpointSettings.parse(
            "S", {k: v for k, v in {**CONFIG, **config}.items() if v is not None}, region="us-east-1"
        )


def test_multi_model_refuses_a_package():
    with pytest.raises(BlueprintConfigError, match=r"a package is one model"):
        MultiModelEndpointSettings.parse(
            "S",
            {**CONFIG, "instance_type": "ml.c7i.xlarge", "dlc_tag": "2.6.0-cpu-py312-ubuntu22.04-sagemaker"},
            region="us-east-1",
        )


def test_agnostic_stack_asserts_the_package_region_at_deploy():
    settings = RealtimeEndpointSettings.parse("S", CONFIG)
    rules = Template.from_stack(RealtimeEndpointStack(App(), "S", settings=settings)).to_json()["Rules"]
    (rule,) = [r for name, r in rules.items() if name.startswith("EndpointModelPackageRegion")]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}

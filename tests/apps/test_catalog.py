"""The catalog app: configuration from a file or CDK context, and the one block of errors bad config gets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template
from conftest import REPO, cdk_json_context, offline_env

from mlblueprints.apps.catalog import EXAMPLE_STACKS, build_app
from mlblueprints.apps.config import CatalogConfigError

EXAMPLE = REPO / "blueprints" / "realtime_endpoint" / "example.json"
VALID = {
    "blueprint": "realtime-endpoint",
    "instance_type": "ml.g6.2xlarge",
    "dlc_repository": "pytorch-inference",
    "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
    "model_data_url": "s3://models/m/model.tar.gz",
}


def _app_with(stacks: dict) -> App:
    return build_app(App(context={"stacks": json.dumps(stacks)}))


def _problems(stacks: dict) -> str:
    with pytest.raises(CatalogConfigError) as caught:
        _app_with(stacks)
    return str(caught.value)


def test_example_config_file_deploys_the_users_model(tmp_path):
    app = build_app(App(context={"config": str(EXAMPLE)}, outdir=str(tmp_path)))
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
    ids = {child.node.id for child in _app_with({"Mine": VALID}).node.children}
    assert "Mine" in ids
    assert not ids & set(EXAMPLE_STACKS)


def test_without_config_the_examples_are_built():
    assert {c.node.id for c in build_app(App()).node.children} >= set(EXAMPLE_STACKS)


def test_every_problem_of_every_stack_in_one_error():
    message = _problems(
        {
            "Typo": {**VALID, "instance_typ": "ml.g5.xlarge"},
            "Range": {**VALID, "initial_instance_count": 10**12, "invocation_5xx_errors": 0},
            "Latency": {**VALID, "model_latency_p90_ms": 1e300},
            "NotAnObject": [1, 2],
            "Env": {**VALID, "env": {"account": 1234, "region": "moon-1"}},
            "Cidr": {**VALID, "vpc_cidr": "10.80.0.0/28"},
            "Construct": {**VALID, "instance_type": "ml.inf2.xlarg"},
            "Fine": VALID,
        }
    )
    expected = [
        r"Stack 'Typo': unknown setting 'instance_typ': did you mean 'instance_type'\?",
        r"Stack 'Range': initial_instance_count=1000000000000: a real-time endpoint needs 1 to 1000 instances",
        r"Stack 'Range': invocation_5xx_errors=0: .*0 would alarm on every quiet window",
        r"Stack 'Latency': model_latency_p90_ms=1e\+300: use a latency above 0 and at most 3600000 ms",
        r"Stack 'NotAnObject': the stack entry is \[1, 2\]; expected an object",
        r"Stack 'Env': \"env.account\" is 1234; an AWS account ID is a string of 12 digits",
        r"Stack 'Env': \"env.region\" is 'moon-1'",
        r"Stack 'Cidr': .*vpc_cidr '10.80.0.0/28' is too small.*needs a /19 or larger",
        r"Stack 'Construct': 'ml.inf2.xlarg' is not a SageMaker instance type.*ml.inf2.xlarge",
    ]
    for pattern in expected:
        assert __import__("re").search(pattern, message), f"{pattern!r} not in:\n{message}"
    assert "Fine" not in message
    assert message.startswith("9 problem(s) in the catalog configuration:")


def test_one_stack_reports_type_range_and_construct_problems_together():
    message = _problems(
        {
            "M1": {
                **VALID,
                "instance_type": "ml.g5.xlarg",
                "dlc_tag": "latest",
                "model_data_url": "s3://my-models/k.zip",
                "initial_instance_count": "2",
                "model_latency_p90_ms": float("nan"),
            }
        }
    )
    for part in (
        "setting 'initial_instance_count' is '2': Input should be a valid integer",
        "'ml.g5.xlarg' is not a SageMaker instance type",
        "uses the mutable 'latest' tag",
        "'s3://my-models/k.zip' is not an S3 URL of a .tar.gz archive",
        "model_latency_p90_ms=nan",
    ):
        assert part in message, f"{part!r} not in:\n{message}"
    assert message.startswith("5 problem(s)")


def test_duplicate_json_keys_are_refused(tmp_path):
    config = tmp_path / "dup.json"
    config.write_text('{"stacks": {"A": {"blueprint": "realtime-endpoint", "blueprint": "x"}}}')
    with pytest.raises(CatalogConfigError, match=r"repeats the key\(s\) 'blueprint'"):
        build_app(App(context={"config": str(config)}))


def test_model_data_key_must_be_in_the_stack_region():
    key = "arn:aws:kms:eu-west-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"
    env = {"account": "123456789012", "region": "us-east-1"}
    message = _problems({"Mine": {**VALID, "env": env, "model_data_kms_key_arn": key}})
    assert "model_data_kms_key_arn is a key in eu-west-1, but the stack deploys to us-east-1" in message
    _app_with({"Mine": {**VALID, "env": {**env, "region": "eu-west-1"}, "model_data_kms_key_arn": key}})


def test_strict_types():
    message = _problems(
        {"Mine": {**VALID, "initial_instance_count": "2"}, "Other": {**VALID, "auto_scaling": 1}}
    )
    assert "setting 'initial_instance_count' is '2': Input should be a valid integer" in message
    assert "setting 'auto_scaling' is 1: Input should be a valid boolean" in message
    assert "setting 'initial_instance_count' is True: Input should be a valid integer" in _problems(
        {"Mine": {**VALID, "initial_instance_count": True}}
    )


def test_blueprint_is_required_and_must_be_known():
    config = {k: v for k, v in VALID.items() if k != "blueprint"}
    assert '"blueprint" is missing; set it to one of: realtime-endpoint' in _problems({"Mine": config})
    assert "\"blueprint\" is 'batch'; set it to one of: realtime-endpoint" in _problems(
        {"Mine": {**VALID, "blueprint": "batch"}}
    )


def test_missing_instance_type_and_image_are_named():
    config = {k: v for k, v in VALID.items() if k not in ("instance_type", "dlc_repository", "dlc_tag")}
    message = _problems({"Mine": config})
    assert "setting 'instance_type' is required" in message
    assert _problems(
        {"Mine": {**VALID, "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"}}
    ).count("not both")


def test_kms_alias_is_not_a_key_arn():
    message = _problems(
        {"Mine": {**VALID, "model_data_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:alias/models"}}
    )
    assert "setting 'model_data_kms_key_arn'" in message and "not an alias" in message


def test_empty_config_context_is_an_error_not_the_examples():
    with pytest.raises(CatalogConfigError, match=r"context 'config' is empty"):
        build_app(App(context={"config": ""}))


def test_missing_or_malformed_config_file(tmp_path):
    with pytest.raises(
        CatalogConfigError, match=r"config file '.*nope.json' \(context 'config'\) does not exist"
    ):
        build_app(App(context={"config": str(tmp_path / "nope.json")}))
    bad = tmp_path / "bad.json"
    bad.write_text("{stacks: }")
    with pytest.raises(CatalogConfigError, match=r"is not valid JSON"):
        build_app(App(context={"config": str(bad)}))
    with pytest.raises(CatalogConfigError, match=r"context 'stacks' is not valid JSON"):
        build_app(App(context={"stacks": "{Mine: }"}))
    empty = tmp_path / "empty.json"
    empty.write_text('{"stacks": {}}')
    with pytest.raises(CatalogConfigError, match=r"non-empty \"stacks\" object"):
        build_app(App(context={"config": str(empty)}))


def test_the_cli_prints_one_block_and_no_traceback(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"stacks": {"A": {**VALID, "vpc_cidr": "10.80.0.0/28"}, "B": [1]}}))
    result = subprocess.run(
        [sys.executable, "-m", "mlblueprints.apps.catalog"],
        cwd=REPO,
        env={**offline_env(), "CDK_CONTEXT_JSON": json.dumps({"config": str(config)})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Stack 'A':" in result.stderr and "Stack 'B':" in result.stderr


# The settings that change what a stack deploys, one stack each, synthesized together once.
VARIANTS = {
    "NoRetention": {**VALID, "retain_data": False},
    "NoVpc": {**VALID, "create_vpc": False},
    "NoScaling": {**VALID, "auto_scaling": False},
}


@pytest.fixture(scope="module")
def variants():
    assembly = _app_with(VARIANTS).synth()
    return {name: Template.from_json(assembly.get_stack_by_name(name).template) for name in VARIANTS}


def test_opting_out_of_retention_deletes_data_with_the_stack(variants):
    template = variants["NoRetention"]
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Delete"})
    groups = template.find_resources("AWS::Logs::LogGroup").values()
    assert len(groups) == 2
    for group in groups:
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


def test_env_pins_the_stack_environment():
    app = _app_with({"Mine": {**VALID, "env": {"account": "123456789012", "region": "eu-west-1"}}})
    stack = app.node.find_child("Mine")
    assert (stack.account, stack.region) == ("123456789012", "eu-west-1")
    assert "\"env\" is {'acount': '1'}" in _problems({"Mine": {**VALID, "env": {"acount": "1"}}})


def test_cli_environment_pins_unpinned_stacks(monkeypatch):
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "ap-northeast-1")
    stack = _app_with({"Mine": VALID}).node.find_child("Mine")
    assert (stack.account, stack.region) == ("123456789012", "ap-northeast-1")


def test_synth_reads_no_aws_profile(monkeypatch):
    # A CI runner's AWS_PROFILE names a profile this machine does not have: botocore's session would die.
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-on-this-machine")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(Path("/nonexistent/config")))
    from mlblueprints.constructs._private import service_models

    service_models.service_model.cache_clear()
    assert service_models.service_model().service_name == "sagemaker"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, r"is not valid JSON"),  # nesting beyond the recursion limit
        ('{"stacks": {"A": {"initial_instance_count": ' + "9" * 5000 + "}}}", r"is not valid JSON"),
        ('{"stacks": {"A": {"blueprint": "realtime-endpoint", "blueprint": "x"}}}', r"repeats the key"),
    ],
)
def test_hostile_json_gets_the_error_block(tmp_path, text, expected):
    config = tmp_path / "config.json"
    config.write_text(text)
    with pytest.raises(CatalogConfigError, match=expected):
        build_app(App(context={"config": str(config)}))


def test_unreadable_or_misnamed_config_files(tmp_path):
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"stacks": {"Caf\xe9": {}}}'.encode("latin-1"))
    with pytest.raises(CatalogConfigError, match=r"cannot be read as UTF-8 text"):
        build_app(App(context={"config": str(latin1)}))
    with pytest.raises(CatalogConfigError, match=r"is a directory, not a file"):
        build_app(App(context={"config": str(tmp_path)}))
    with pytest.raises(CatalogConfigError, match=r"context 'config' is True, not a path"):
        build_app(App(context={"config": True}))


def test_numbers_beyond_any_float_are_out_of_range_not_a_crash():
    message = _problems({"Mine": {**VALID, "target_invocations_per_instance": 10**400}})
    assert "target_invocations_per_instance=inf" in message


def test_cdk_token_strings_are_refused_in_a_config():
    message = _problems({"Mine": {**VALID, "instance_type": "${Token[TOKEN.1]}"}})
    assert "setting 'instance_type' holds a CDK token string" in message


def test_region_problems_come_with_the_other_problems_of_the_stack():
    message = _problems(
        {
            "Mine": {
                **{k: v for k, v in VALID.items() if not k.startswith("dlc_")},
                "env": {"region": "eu-west-1"},
                "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1",
                "initial_instance_count": 0,
                "model_data_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab",
            }
        }
    )
    assert "is in ECR region us-east-1, but the stack deploys to eu-west-1" in message
    assert "model_data_kms_key_arn is a key in us-east-1, but the stack deploys to eu-west-1" in message
    assert "initial_instance_count=0" in message
    assert "max_capacity" not in message, "no scaling verdicts derived from an invalid count"


def test_two_stacks_cannot_claim_one_endpoint_name():
    message = _problems({"A": {**VALID, "endpoint_name": "llm"}, "B": {**VALID, "endpoint_name": "llm"}})
    assert "Stack 'A': endpoint_name 'llm' is also set by another stack (A, B)" in message
    assert "Stack 'B': endpoint_name 'llm'" in message
    other_region = {
        **VALID,
        "endpoint_name": "llm",
        "env": {"account": "123456789012", "region": "eu-west-1"},
    }
    _app_with(
        {
            "A": {**VALID, "endpoint_name": "llm", "env": {"account": "123456789012", "region": "us-east-1"}},
            "B": other_region,
        }
    )


def test_an_empty_key_is_named_as_such():
    assert "the stack entry has an empty key" in _problems({"Mine": {**VALID, "": 1}})


def test_cdk_deploy_of_the_examples_in_a_region_that_hosts_only_some(monkeypatch, capsys):
    # `cdk deploy` with credentials: the examples are pinned to the CLI's region, and AWS_PROFILE may
    # name a profile this machine lacks. Trainium is hosted in two regions only.
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-on-this-machine")
    app = build_app(App(context=cdk_json_context()))
    stacks = {child.node.id for child in app.node.children if isinstance(child, Stack)}
    assert stacks == {"GpuEndpoint", "Inferentia2Endpoint"}
    assert all(app.node.find_child(name).region == "eu-west-1" for name in stacks)
    err = capsys.readouterr().err
    assert (
        "Example stack 'TrainiumEndpoint' is not built in this region: ml.trn1.2xlarge is not offered" in err
    )


def test_examples_fail_where_none_fits_and_own_configs_stay_strict(monkeypatch):
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "af-south-1")
    with pytest.raises(CatalogConfigError, match=r"GpuEndpoint.*ml.g5.xlarge is not offered"):
        build_app(App(context=cdk_json_context()))
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    with pytest.raises(
        CatalogConfigError, match=r"ml.trn1.2xlarge is not offered for SageMaker hosting in eu-west-1"
    ):
        _app_with({"Mine": {**EXAMPLE_STACKS["TrainiumEndpoint"]}})


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("forecast", "Amazon Forecast is no longer available to new customers"),
        ("Amazon_Forecast", "Chronos with the realtime-endpoint blueprint"),
        ("elastic-inference", "Amazon Elastic Inference is no longer available"),
    ],
)
def test_a_retired_service_is_named_with_its_replacement(asked, expected):
    message = _problems({"Mine": {**VALID, "blueprint": asked}})
    assert expected in message and "set it to one of" not in message


def test_an_elastic_inference_type_points_to_inferentia():
    message = _problems({"Mine": {**VALID, "instance_type": "ml.eia2.medium"}})
    assert "Elastic Inference accelerator, which AWS retired" in message and "ml.inf2.xlarge" in message

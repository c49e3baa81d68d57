"""RealtimeEndpoint: synth-time validation, existing resources, and least privilege."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template

from mlblueprints.constructs.compute.instance_types import InstanceTypeError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage, ImageCompatibilityError
from mlblueprints.constructs.sagemaker.endpoint import (
    EndpointAutoScaling,
    EndpointConfigError,
    RealtimeEndpoint,
)
from mlblueprints.constructs.sagemaker.model_data import ModelData, ModelDataError

GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
NEURONX_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
)
MODEL_URL = "s3://my-models/llm/model.tar.gz"


def _endpoint(stack=None, **overrides):
    stack = stack or Stack(App(), "Test")
    props = {
        "instance_type": "ml.inf2.xlarge",
        "image": NEURONX_IMAGE,
        "model_data": ModelData.from_s3_url(MODEL_URL),
        **overrides,
    }
    return RealtimeEndpoint(stack, "Endpoint", **props)


def test_instance_count_below_one_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"initial_instance_count=0: a real-time endpoint needs at least one"
    ):
        _endpoint(initial_instance_count=0)


def test_every_count_problem_is_reported_at_once():
    with pytest.raises(EndpointConfigError) as error:
        _endpoint(
            auto_scaling=EndpointAutoScaling(
                min_capacity=0, max_capacity=1, target_invocations_per_instance=0
            )
        )
    message = str(error.value)
    assert "auto_scaling.min_capacity=0" in message
    assert "target_invocations_per_instance=0" in message


def test_max_capacity_below_min_rejected():
    with pytest.raises(EndpointConfigError, match=r"max_capacity=1 is below min_capacity=2"):
        _endpoint(auto_scaling=EndpointAutoScaling(max_capacity=1))


def test_initial_count_below_min_capacity_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"initial_instance_count=2 is below auto_scaling.min_capacity=3"
    ):
        _endpoint(auto_scaling=EndpointAutoScaling(min_capacity=3))


@pytest.mark.parametrize(
    "url",
    ["https://my-models.s3.amazonaws.com/model.tar.gz", "s3://my-models/model.zip", "s3://my-models/"],
)
def test_model_artifact_must_be_an_s3_tar_gz_url(url):
    with pytest.raises(
        ModelDataError, match=r"is not an S3 URL of a .tar.gz archive.*s3://<bucket>/<key>.tar.gz"
    ):
        ModelData.from_s3_url(url)


def test_model_artifact_key_in_bucket_must_be_tar_gz():
    stack = Stack(App(), "Test")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    with pytest.raises(ModelDataError, match=r"'llm/weights.bin' is not a .tar.gz archive"):
        ModelData.from_bucket(bucket, "llm/weights.bin")


def test_typo_in_instance_type_rejected_by_the_construct():
    with pytest.raises(InstanceTypeError, match=r"'ml.inf2.xlarg'.*ml.inf2.xlarge"):
        _endpoint(instance_type="ml.inf2.xlarg")


def test_elastic_inference_rejected_by_the_construct():
    with pytest.raises(InstanceTypeError, match=r"Elastic Inference.*ml.inf2.xlarge"):
        _endpoint(instance_type="ml.eia2.large")


def test_training_only_type_rejected_for_an_endpoint():
    with pytest.raises(InstanceTypeError, match=r"'ml.p3dn.24xlarge' cannot be used for realtime-inference"):
        _endpoint(instance_type="ml.p3dn.24xlarge", image=GPU_IMAGE)


def test_neuron_image_on_gpu_rejected_by_the_construct():
    with pytest.raises(ImageCompatibilityError, match=r"'ml.g6.xlarge' has NVIDIA L4"):
        _endpoint(instance_type="ml.g6.xlarge")


def test_invalid_endpoint_name_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"endpoint_name 'my_endpoint' is not a valid SageMaker name: it must match"
    ):
        _endpoint(endpoint_name="my_endpoint")


def test_unlisted_instance_type_passes_with_escape_hatch_and_warns():
    stack = Stack(App(), "Test")
    _endpoint(stack, instance_type="ml.inf3.xlarge", allow_unlisted_instance_types=True)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.inf3.xlarge"})]},
    )
    Annotations.from_stack(stack).has_warning(
        "/Test/Endpoint", Match.string_like_regexp("allow_unlisted_instance_types")
    )


def test_single_instance_warns_about_availability():
    stack = Stack(App(), "Test")
    _endpoint(stack, initial_instance_count=1, auto_scaling=EndpointAutoScaling(min_capacity=1))
    Annotations.from_stack(stack).has_warning(
        "/Test/Endpoint", Match.string_like_regexp("one availability zone")
    )


def test_existing_vpc_key_role_and_topic_are_used_instead_of_new_ones():
    stack = Stack(App(), "Test")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    key = kms.Key(stack, "SharedKey", enable_key_rotation=True)
    role = iam.Role(stack, "SharedRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    topic = sns.Topic(stack, "OpsTopic")
    from mlblueprints.constructs.sagemaker.endpoint import EndpointAlarms

    endpoint = _endpoint(stack, vpc=vpc, encryption_key=key, role=role, alarms=EndpointAlarms(topic=topic))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::IAM::Role", 1)
    assert endpoint.role is role
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"ExecutionRoleArn": {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}},
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"KmsKeyId": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}},
    )


def test_without_a_vpc_the_model_has_no_vpc_config_but_stays_isolated():
    stack = Stack(App(), "Test")
    _endpoint(stack)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"VpcConfig": Match.absent(), "EnableNetworkIsolation": True}
    )
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)


def test_model_role_reads_exactly_the_model_object_and_one_repository():
    stack = Stack(App(), "Test")
    _endpoint(stack)
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = {
        tuple(st["Action"]) if isinstance(st["Action"], list) else (st["Action"],): st["Resource"]
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert "my-models/llm/model.tar.gz" in str(statements[("s3:GetObject",)])
    pull = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    assert "repository/pytorch-inference-neuronx" in str(statements[pull])
    assert statements[("ecr:GetAuthorizationToken",)] == "*"


def test_grant_invoke_is_scoped_to_the_endpoint():
    stack = Stack(App(), "Test")
    endpoint = _endpoint(stack, endpoint_name="llm-prod")
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(caller)
    statements = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    caller_policy = next(p for k, p in statements.items() if k.startswith("CallerDefaultPolicy"))
    statement = caller_policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert "sagemaker:InvokeEndpoint" in statement["Action"]
    assert "endpoint/llm-prod" in str(statement["Resource"])


def test_default_endpoint_name_is_unique_per_stack_instance():
    stack = Stack(App(), "Test")
    _endpoint(stack)
    template = Template.from_stack(stack)
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    name = endpoint["Properties"]["EndpointName"]["Fn::Join"][1]
    assert name[0].startswith("Test-Endpoint-") and len(name[0]) <= 55
    # The stack's ID, new on every re-creation, ends the name (and the log group's name).
    assert "AWS::StackId" in str(name[1])
    (log_group,) = template.find_resources("AWS::Logs::LogGroup").values()
    assert "AWS::StackId" in str(log_group["Properties"]["LogGroupName"])


def test_endpoint_arn_uses_the_lowercase_name_sagemaker_reports():
    stack = Stack(App(), "Test")
    endpoint = _endpoint(stack, endpoint_name="Llm-Prod")
    assert stack.resolve(endpoint.endpoint_arn)["Fn::Join"][1][-1].endswith(":endpoint/llm-prod")


def test_escape_hatch_can_be_switched_on_through_context():
    stack = Stack(App(context={"mlblueprints:allowUnlistedInstanceTypes": "true"}), "Test")
    _endpoint(stack, instance_type="ml.inf3.xlarge")
    Annotations.from_stack(stack).has_warning(
        "/Test/Endpoint", Match.string_like_regexp("not in the installed botocore")
    )


def test_invalid_variant_name_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"variant_name 'all traffic' is not a valid SageMaker name"
    ):
        _endpoint(variant_name="all traffic")


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"MODEL-ID": "x"}, r"environment variable name 'MODEL-ID' must match .*: use letters, digits and"),
        ({"BATCH": 8}, r"environment variable 'BATCH' = 8: values must be strings"),
        ({"PROMPT": "x" * 1025}, r"'PROMPT' must be 0 to 1024 characters long \(is 1025\)"),
        ({f"V{i}": "x" * 1000 for i in range(40)}, r"environment holds \d+ bytes .* at most 32 KB"),
        ({f"V{i}": "1" for i in range(101)}, r"environment has 101 variables; SageMaker accepts at most 100"),
    ],
)
def test_environment_limits_of_create_model_are_enforced(environment, message):
    # The limits come from botocore's ContainerDefinition shape (100 entries, 1024 per key/value).
    with pytest.raises(EndpointConfigError, match=message):
        _endpoint(environment=environment)


def test_imported_role_and_key_get_dependencies_and_warnings():
    stack = Stack(App(), "Test")
    role = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::123456789012:role/ml-exec")
    key = kms.Key.from_key_arn(stack, "ImportedKey", "arn:aws:kms:us-east-1:123456789012:key/abc")
    _endpoint(stack, role=role, encryption_key=key)
    template = Template.from_stack(stack)
    (model,) = template.find_resources("AWS::SageMaker::Model").values()
    policies = template.find_resources("AWS::IAM::Policy")
    assert set(policies) and set(policies) <= set(model["DependsOn"])
    annotations = Annotations.from_stack(stack)
    annotations.has_warning("/Test/Endpoint", Match.string_like_regexp("role is imported"))
    annotations.has_warning("/Test/Endpoint", Match.string_like_regexp("encryption_key is imported"))


def test_unknown_storage_kind_leaves_the_volume_key_out_and_warns():
    stack = Stack(App(), "Test")
    _endpoint(stack, instance_type="ml.inf3.xlarge", allow_unlisted_instance_types=True)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig", {"KmsKeyId": Match.absent()}
    )
    Annotations.from_stack(stack).has_warning(
        "/Test/Endpoint", Match.string_like_regexp("storage kind is unknown")
    )


def test_cuda_image_on_cpu_instance_warns():
    stack = Stack(App(), "Test")
    _endpoint(stack, instance_type="ml.m5.xlarge", image=GPU_IMAGE)
    Annotations.from_stack(stack).has_warning("/Test/Endpoint", Match.string_like_regexp("has no GPU"))


def test_public_subnets_are_refused_for_the_model():
    stack = Stack(App(), "Test")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        subnet_configuration=[ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)],
    )
    with pytest.raises(EndpointConfigError, match=r"include public subnets.*PRIVATE_ISOLATED"):
        _endpoint(stack, vpc=vpc)


def test_private_subnets_with_egress_are_used_by_default():
    stack = Stack(App(), "Test")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=1)  # public + private-with-egress subnets
    _endpoint(stack, vpc=vpc)
    (model,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Model").values()
    assert all("Private" in subnet["Ref"] for subnet in model["Properties"]["VpcConfig"]["Subnets"])


def test_model_data_url_must_be_literal_to_scope_the_grant():
    from aws_cdk import Fn

    with pytest.raises(
        ModelDataError, match=r"needs a literal 's3://<bucket>/<key>.tar.gz' URL.*from_bucket"
    ):
        ModelData.from_s3_url(Fn.join("", ["s3://", Fn.ref("Bucket"), "/model.tar.gz"]))


def test_model_directory_must_exist(tmp_path):
    with pytest.raises(ModelDataError, match=r"does not exist or is not a directory"):
        ModelData.from_directory(Stack(App(), "Test"), "Model", tmp_path / "missing")


def test_directory_asset_is_refused_as_model_data(tmp_path):
    from aws_cdk import aws_s3_assets as s3_assets

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("")
    asset = s3_assets.Asset(Stack(App(), "Test"), "Model", path=str(tmp_path))
    with pytest.raises(ModelDataError, match=r"is a directory, which CDK uploads as a zip.*from_directory"):
        ModelData.from_asset(asset)


def test_model_data_from_bucket_grants_that_object_only():
    stack = Stack(App(), "Test")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    _endpoint(stack, model_data=ModelData.from_bucket(bucket, "llm/model.tar.gz"))
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    assert "my-models/llm/model.tar.gz" in str(policy)
    assert "my-models/*" not in str(policy)


def test_count_name_and_environment_problems_come_in_one_error():
    with pytest.raises(EndpointConfigError) as error:
        _endpoint(initial_instance_count=0, endpoint_name="bad_name", environment={"A-B": "1"})
    message = str(error.value)
    assert "initial_instance_count=0" in message
    assert "endpoint_name 'bad_name'" in message
    assert "environment variable name 'A-B'" in message

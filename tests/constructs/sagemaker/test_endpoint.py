"""RealtimeEndpoint: synth-time validation, defaults, existing resources, and least privilege."""

from __future__ import annotations

import pytest
from aws_cdk import App, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match, Template

from mlblueprints.constructs.errors import (
    EndpointConfigError,
    ImageCompatibilityError,
    InstanceTypeError,
    MlBlueprintsError,
    ModelDataError,
)
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.endpoint import EndpointAlarms, RealtimeEndpoint
from mlblueprints.constructs.sagemaker.model_data import ModelData
from mlblueprints.constructs.sagemaker.scaling import EndpointAutoScaling

GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
NEURONX_IMAGE = ContainerImage.from_dlc(
    "pytorch-inference-neuronx", "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
)
MODEL_URL = "s3://my-models/llm/model.tar.gz"
MODEL_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# The first block of the stack's UUID (arn:...:stack/<name>/<uuid>), as CloudFormation computes it.
STACK_ID_BLOCK = {
    "Fn::Select": [
        0,
        {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]},
    ]
}


def _endpoint(stack=None, **overrides):
    stack = stack or Stack(App(), "Test")
    props = {
        "instance_type": "ml.inf2.xlarge",
        "image": NEURONX_IMAGE,
        "model_data": ModelData.from_s3_url(MODEL_URL),
        **overrides,
    }
    return RealtimeEndpoint(stack, "Endpoint", **props)


def _only(template: Template, resource_type: str) -> dict:
    (resource,) = template.find_resources(resource_type).values()
    return resource


def _role_statements(template: Template) -> list[dict]:
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _actions(statement: dict) -> tuple[str, ...]:
    action = statement["Action"]
    return tuple(action) if isinstance(action, list) else (action,)


@pytest.fixture(scope="module")
def default():
    """One endpoint with every default (its own key, role, topic; no VPC), synthesized once."""
    stack = Stack(App(), "Test")
    endpoint = _endpoint(stack)
    return endpoint, Template.from_stack(stack)


def _isolated_vpc(stack: Stack, subnet_group: str) -> ec2.Vpc:
    return ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name=subnet_group, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )


@pytest.fixture(scope="module")
def in_vpc():
    """An endpoint in an isolated VPC, synthesized once."""
    stack = Stack(App(), "Test")
    vpc = _isolated_vpc(stack, "Isolated")
    _endpoint(stack, vpc=vpc)
    return stack, vpc, Template.from_stack(stack)


# --- counts and auto scaling -----------------------------------------------------------------------


def test_instance_count_below_one_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"^initial_instance_count=0: a real-time endpoint needs 1 to"
    ):
        _endpoint(initial_instance_count=0)


def test_every_count_problem_is_reported_at_once():
    with pytest.raises(EndpointConfigError, match=r"^Invalid settings:\n- ") as error:
        _endpoint(
            auto_scaling=EndpointAutoScaling(
                min_capacity=0, max_capacity=1, target_invocations_per_instance=0
            )
        )
    settings = [problem.setting for problem in error.value.problems]
    assert "min_capacity" in settings
    assert "target_invocations_per_instance" in settings
    message = str(error.value)
    assert "- min_capacity=0" in message
    assert "- target_invocations_per_instance=0" in message


def test_max_capacity_below_min_rejected():
    with pytest.raises(EndpointConfigError, match=r"^max_capacity=1 is below min_capacity=2"):
        _endpoint(auto_scaling=EndpointAutoScaling(max_capacity=1))


def test_max_capacity_equal_to_min_accepted():
    endpoint = _endpoint(auto_scaling=EndpointAutoScaling(min_capacity=2, max_capacity=2))
    target = endpoint.scalable_target
    assert (target.min_capacity, target.max_capacity) == (2, 2)


def test_initial_count_below_min_capacity_rejected():
    with pytest.raises(EndpointConfigError, match=r"^initial_instance_count=2 is below min_capacity=3"):
        _endpoint(auto_scaling=EndpointAutoScaling(min_capacity=3))


def test_burstable_instance_with_auto_scaling_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"^auto scaling on ml.t2.medium: SageMaker does not auto scale burstable"
    ):
        _endpoint(instance_type="ml.t2.medium", image=GPU_IMAGE)


def test_burstable_instance_without_auto_scaling_accepted():
    endpoint = _endpoint(instance_type="ml.t2.medium", image=GPU_IMAGE, auto_scaling=None)
    assert endpoint.scalable_target is None


def test_default_scaling_targets_70_invocations_between_count_and_twice_count(default):
    _, template = default
    target = _only(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    policy = _only(template, "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["TargetValue"] == 70
    assert configuration["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }


def test_default_max_capacity_is_twice_min_capacity():
    endpoint = _endpoint(initial_instance_count=4, auto_scaling=EndpointAutoScaling(min_capacity=3))
    assert (endpoint.scalable_target.min_capacity, endpoint.scalable_target.max_capacity) == (3, 6)


def test_target_invocations_reach_the_policy():
    endpoint = _endpoint(auto_scaling=EndpointAutoScaling(target_invocations_per_instance=40))
    configuration = Stack.of(endpoint).resolve(
        endpoint.scaling_policy.target_tracking_scaling_policy_configuration
    )
    assert configuration["targetValue"] == 40


# --- alarms ----------------------------------------------------------------------------------------


def _alarm(template: Template, metric_name: str) -> dict:
    (alarm,) = template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": metric_name}}
    ).values()
    return alarm["Properties"]


def test_5xx_alarm_fires_at_the_first_error_by_default(default):
    _, template = default
    alarm = _alarm(template, "Invocation5XXErrors")
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert (alarm["Threshold"], alarm["Statistic"], alarm["Period"]) == (1, "Sum", 300)


def test_alarm_thresholds_reach_the_alarms():
    stack = Stack(App(), "Test")
    _endpoint(stack, alarms=EndpointAlarms(model_latency_p90_ms=2500, invocation_5xx_errors=3))
    template = Template.from_stack(stack)
    latency = _alarm(template, "ModelLatency")
    # ModelLatency is reported in microseconds.
    assert (latency["ComparisonOperator"], latency["Threshold"]) == ("GreaterThanThreshold", 2_500_000)
    assert latency["ExtendedStatistic"] == "p90"
    errors = _alarm(template, "Invocation5XXErrors")
    assert (errors["ComparisonOperator"], errors["Threshold"]) == ("GreaterThanOrEqualToThreshold", 3)


def test_alarms_notify_the_topic_on_alarm_and_ok(default):
    _, template = default
    topic = {"Ref": next(iter(template.find_resources("AWS::SNS::Topic")))}
    for metric in ("ModelLatency", "Invocation5XXErrors"):
        alarm = _alarm(template, metric)
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic]


def test_zero_5xx_threshold_rejected():
    with pytest.raises(EndpointConfigError, match=r"^invocation_5xx_errors=0: the alarm fires at this many"):
        _endpoint(alarms=EndpointAlarms(invocation_5xx_errors=0))


def test_latency_threshold_beyond_an_hour_rejected():
    with pytest.raises(EndpointConfigError, match=r"^model_latency_p90_ms=3600001: use a latency above 0"):
        _endpoint(alarms=EndpointAlarms(model_latency_p90_ms=3_600_001))


# --- model data ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://my-models.s3.amazonaws.com/model.tar.gz",
        "s3://my-models/model.zip",
        "s3://my-models/",
        "s3://my-models/model.tar.gz.bak",  # the pattern is anchored at the end
        " s3://my-models/model.tar.gz",  # ... and at the start
    ],
)
def test_model_artifact_must_be_an_s3_tar_gz_url(url):
    with pytest.raises(
        ModelDataError, match=r"is not an S3 URL of a .tar.gz archive.*s3://<bucket>/<key>.tar.gz"
    ):
        ModelData.from_s3_url(url)


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("s3://b/k/model.tar.gz", r"'b' is not a bucket name"),
        ("s3://My_Models/model.tar.gz", r"'My_Models' is not a bucket name"),
        ("s3://my-models/model.tar.gz.bak", r"the key 'model.tar.gz.bak' does not end in .tar.gz"),
        ("https://my-models/model.tar.gz", r"it does not start with s3://"),
    ],
)
def test_model_artifact_error_names_the_faulty_part(url, cause):
    with pytest.raises(ModelDataError, match=cause):
        ModelData.from_s3_url(url)


def test_model_artifact_key_in_bucket_must_be_tar_gz():
    stack = Stack(App(), "Test")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    with pytest.raises(ModelDataError, match=r"'llm/weights.bin' is not a .tar.gz archive"):
        ModelData.from_bucket(bucket, "llm/weights.bin")


def test_model_data_url_must_be_literal_to_scope_the_grant():
    with pytest.raises(
        ModelDataError, match=r"needs a literal 's3://<bucket>/<key>.tar.gz' URL.*from_bucket"
    ):
        ModelData.from_s3_url(Fn.join("", ["s3://", Fn.ref("Bucket"), "/model.tar.gz"]))


def test_model_directory_must_exist(tmp_path):
    with pytest.raises(ModelDataError, match=r"does not exist or is not a directory"):
        ModelData.from_directory(Stack(App(), "Test"), "Model", tmp_path / "missing")


def test_directory_asset_is_refused_as_model_data(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text("")
    asset = s3_assets.Asset(Stack(App(), "Test"), "Model", path=str(tmp_path))
    with pytest.raises(ModelDataError, match=r"is a directory, which CDK uploads as a zip.*from_directory"):
        ModelData.from_asset(asset)


def test_model_data_from_bucket_grants_that_object_only():
    stack = Stack(App(), "Test")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "my-models")
    _endpoint(stack, model_data=ModelData.from_bucket(bucket, "llm/model.tar.gz"))
    statements = str(_role_statements(Template.from_stack(stack)))
    assert "my-models/llm/model.tar.gz" in statements
    assert "my-models/*" not in statements


def test_sse_kms_model_bucket_key_is_granted_decrypt():
    stack = Stack(App(), "Test")
    key = kms.Key.from_key_arn(stack, "ModelDataKey", MODEL_KEY_ARN)
    _endpoint(stack, model_data=ModelData.from_s3_url(MODEL_URL, encryption_key=key))
    decrypt = [s for s in _role_statements(Template.from_stack(stack)) if "kms:Decrypt" in _actions(s)]
    assert [s["Resource"] for s in decrypt] == [MODEL_KEY_ARN]
    assert decrypt[0]["Effect"] == "Allow"


def test_model_data_without_a_key_grants_no_decrypt(default):
    _, template = default
    assert not [s for s in _role_statements(template) if any(a.startswith("kms:") for a in _actions(s))]


# --- instance type and image -----------------------------------------------------------------------


def test_typo_in_instance_type_rejected_by_the_construct():
    with pytest.raises(InstanceTypeError, match=r"'ml.inf2.xlarg'.*ml.inf2.xlarge"):
        _endpoint(instance_type="ml.inf2.xlarg")


def test_upper_case_instance_type_rejected_by_the_construct():
    with pytest.raises(
        InstanceTypeError, match=r"'ML.G5.XLARGE' is not a SageMaker instance type: names are lower case"
    ):
        _endpoint(instance_type="ML.G5.XLARGE", image=GPU_IMAGE)


def test_elastic_inference_rejected_by_the_construct():
    with pytest.raises(InstanceTypeError, match=r"Elastic Inference.*ml.inf2.xlarge"):
        _endpoint(instance_type="ml.eia2.large")


def test_training_only_type_rejected_for_an_endpoint():
    with pytest.raises(InstanceTypeError, match=r"'ml.p3dn.24xlarge' cannot be used for realtime-inference"):
        _endpoint(instance_type="ml.p3dn.24xlarge", image=GPU_IMAGE)


def test_neuron_image_on_gpu_rejected_by_the_construct():
    with pytest.raises(ImageCompatibilityError, match=r"'ml.g6.xlarge' has NVIDIA L4"):
        _endpoint(instance_type="ml.g6.xlarge")


def test_instance_type_and_endpoint_problems_come_in_one_error():
    with pytest.raises(MlBlueprintsError, match=r"^Invalid settings:\n- ") as error:
        _endpoint(instance_type="ml.inf2.xlarg", initial_instance_count=0)
    assert [p.setting for p in error.value.problems] == ["instance_type", "initial_instance_count"]


def test_unlisted_instance_type_passes_with_escape_hatch_and_warns():
    stack = Stack(App(), "Test")
    _endpoint(stack, instance_type="ml.inf3.xlarge", allow_unlisted_instance_types=True)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.inf3.xlarge"})]},
    )
    annotations = Annotations.from_stack(stack)
    annotations.has_warning("/Test/Endpoint", Match.string_like_regexp("allow_unlisted_instance_types"))
    # Its storage kind is unknown too: no key on the volume (an NVMe type would refuse it).
    annotations.has_warning("/Test/Endpoint", Match.string_like_regexp("storage kind is unknown"))
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig", {"KmsKeyId": Match.absent()}
    )


def test_escape_hatch_can_be_switched_on_through_context():
    stack = Stack(App(context={"mlblueprints:allowUnlistedInstanceTypes": "true"}), "Test")
    _endpoint(stack, instance_type="ml.inf3.xlarge")
    Annotations.from_stack(stack).has_warning(
        "/Test/Endpoint", Match.string_like_regexp("not in the installed botocore")
    )


def test_cuda_image_on_cpu_instance_warns():
    stack = Stack(App(), "Test")
    _endpoint(stack, instance_type="ml.m5.xlarge", image=GPU_IMAGE)
    Annotations.from_stack(stack).has_warning("/Test/Endpoint", Match.string_like_regexp("has no GPU"))


def test_ebs_backed_instance_gets_the_key_on_its_volume(default):
    endpoint, template = default
    config = _only(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert config["KmsKeyId"] == {"Fn::GetAtt": [_logical_id(endpoint.encryption_key), "Arn"]}


def test_nvme_instance_gets_no_key_on_its_volume():
    stack = Stack(App(), "Test")
    _endpoint(stack, instance_type="ml.g5.xlarge", image=GPU_IMAGE)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig", {"KmsKeyId": Match.absent()}
    )


# --- names -----------------------------------------------------------------------------------------


def test_invalid_endpoint_name_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"endpoint_name 'my_endpoint' is not a valid SageMaker name: it must match"
    ):
        _endpoint(endpoint_name="my_endpoint")


def test_invalid_variant_name_rejected():
    with pytest.raises(
        EndpointConfigError, match=r"variant_name 'all traffic' is not a valid SageMaker name"
    ):
        _endpoint(variant_name="all traffic")


def test_default_endpoint_name_ends_with_the_stack_id_block(default):
    _, template = default
    name = _only(template, "AWS::SageMaker::Endpoint")["Properties"]["EndpointName"]
    separator, (base, block) = name["Fn::Join"]
    assert separator == ""
    assert base.startswith("Test-Endpoint-") and base.endswith("-") and len(base) + 8 <= 63
    assert block == STACK_ID_BLOCK


def test_default_log_group_is_named_after_the_endpoint(default):
    _, template = default
    endpoint_name = _only(template, "AWS::SageMaker::Endpoint")["Properties"]["EndpointName"]["Fn::Join"][1]
    log_group_name = _only(template, "AWS::Logs::LogGroup")["Properties"]["LogGroupName"]
    assert log_group_name == {
        "Fn::Join": ["", [f"/aws/sagemaker/Endpoints/{endpoint_name[0]}", STACK_ID_BLOCK]]
    }


def test_endpoint_arn_uses_the_lowercase_name_sagemaker_reports():
    stack = Stack(App(), "Test")
    endpoint = _endpoint(stack, endpoint_name="Llm-Prod")
    assert stack.resolve(endpoint.endpoint_arn)["Fn::Join"][1][-1].endswith(":endpoint/llm-prod")


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"MODEL-ID": "x"}, r"environment variable name 'MODEL-ID' must match .*: use letters, digits and"),
        ({"BATCH": 8}, r"environment variable 'BATCH' = 8: values must be strings"),
        ({"PROMPT": "x" * 1025}, r"'PROMPT' must be 0 to 1024 characters long \(is 1025\)"),
        ({f"V{i}": "x" * 1000 for i in range(40)}, r"environment holds \d+ bytes .* at most 32 KB"),
        ({f"V{i}": "1" for i in range(101)}, r"environment has 101 variables; SageMaker accepts at most 100"),
    ],
    ids=["key", "type", "value-length", "total-size", "count"],
)
def test_environment_limits_of_create_model_are_enforced(environment, message):
    # The limits come from botocore's ContainerDefinition shape (100 entries, 1024 per key/value).
    with pytest.raises(EndpointConfigError, match=message):
        _endpoint(environment=environment)


def test_count_name_and_environment_problems_come_in_one_error():
    with pytest.raises(EndpointConfigError, match=r"^Invalid settings:\n- ") as error:
        _endpoint(initial_instance_count=0, endpoint_name="bad_name", environment={"A-B": "1"})
    message = str(error.value)
    assert "\n- initial_instance_count=0" in message
    assert "\n- endpoint_name 'bad_name'" in message
    assert "\n- environment variable name 'A-B'" in message
    assert len(error.value.problems) == 3


# --- removal policy, key policy, logs --------------------------------------------------------------


def _logical_id(construct) -> str:
    return Stack.of(construct).get_logical_id(construct.node.default_child)


def test_key_and_log_group_are_retained_by_default(default):
    endpoint, template = default
    key = template.to_json()["Resources"][_logical_id(endpoint.encryption_key)]
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    log_group = _only(template, "AWS::Logs::LogGroup")
    # RETAIN_ON_UPDATE_OR_DELETE: kept on deletion and replacement, removed if the first creation rolls back.
    assert (log_group["DeletionPolicy"], log_group["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate",
        "Retain",
    )


def test_destroy_removal_policy_deletes_key_and_log_group():
    from aws_cdk import RemovalPolicy

    stack = Stack(App(), "Test")
    _endpoint(stack, removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    assert _only(template, "AWS::KMS::Key")["DeletionPolicy"] == "Delete"
    assert _only(template, "AWS::Logs::LogGroup")["DeletionPolicy"] == "Delete"


def _key_statements(template: Template) -> list[dict]:
    return _only(template, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]


def test_key_policy_lets_logs_encrypt_exactly_the_endpoint_log_group(default):
    _, template = default
    log_group_name = _only(template, "AWS::Logs::LogGroup")["Properties"]["LogGroupName"]["Fn::Join"][1]
    (statement,) = [s for s in _key_statements(template) if "logs." in str(s["Principal"])]
    expected_arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":log-group:{log_group_name[0]}",
                *log_group_name[1:],
            ],
        ]
    }
    assert statement["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": expected_arn}}


def test_own_key_denies_grants_not_for_aws_resources(default):
    # The statement's exact shape is EncryptionKey's, tested with it; here: the endpoint's own key has it.
    _, template = default
    assert "DenyGrantsNotForAwsResources" in [s.get("Sid") for s in _key_statements(template)]


def test_role_writes_to_its_own_log_group_only(default):
    endpoint, template = default
    log_group = {"Fn::GetAtt": [_logical_id(endpoint.log_group), "Arn"]}
    logs = [s for s in _role_statements(template) if any(a.startswith("logs:") for a in _actions(s))]
    assert logs and all(s["Resource"] == log_group for s in logs)


# --- existing resources and least privilege --------------------------------------------------------


def test_existing_vpc_key_role_and_topic_are_used_instead_of_new_ones():
    stack = Stack(App(), "Test")
    vpc = _isolated_vpc(stack, "Private")
    key = kms.Key(stack, "SharedKey", enable_key_rotation=True)
    role = iam.Role(stack, "SharedRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    topic = sns.Topic(stack, "OpsTopic")
    endpoint = _endpoint(stack, vpc=vpc, encryption_key=key, role=role, alarms=EndpointAlarms(topic=topic))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::IAM::Role", 1)
    assert endpoint.role is role
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"ExecutionRoleArn": {"Fn::GetAtt": [_logical_id(role), "Arn"]}},
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig", {"KmsKeyId": {"Fn::GetAtt": [_logical_id(key), "Arn"]}}
    )


def test_without_a_vpc_the_model_has_no_vpc_config_but_stays_isolated(default):
    _, template = default
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"VpcConfig": Match.absent(), "EnableNetworkIsolation": True}
    )
    template.resource_count_is("AWS::EC2::SecurityGroup", 0)


def test_model_role_reads_exactly_the_model_object_and_one_repository(default):
    _, template = default
    statements = {_actions(st): st["Resource"] for st in _role_statements(template)}
    assert "my-models/llm/model.tar.gz" in str(statements[("s3:GetObject",)])
    pull = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    assert "repository/pytorch-inference-neuronx" in str(statements[pull])
    assert statements[("ecr:GetAuthorizationToken",)] == "*"


def test_network_interface_actions_are_limited_to_the_vpc(in_vpc):
    stack, vpc, template = in_vpc
    vpc_arn = stack.resolve(stack.format_arn(service="ec2", resource="vpc", resource_name=vpc.vpc_id))
    on_enis = [s for s in _role_statements(template) if "network-interface/*" in str(s["Resource"])]
    (create,) = [s for s in on_enis if "ec2:CreateNetworkInterface" in _actions(s)]
    (manage,) = [s for s in on_enis if "ec2:DeleteNetworkInterface" in _actions(s)]
    # ec2:Vpc is not in CreateNetworkInterface's request context for the network-interface resource:
    # a condition there would deny every creation. The subnets and security group confine it instead.
    assert "Condition" not in create
    assert "subnet/" in str(create["Resource"]) and "security-group/" in str(create["Resource"])
    assert _actions(create) == ("ec2:CreateNetworkInterface",)
    assert manage["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc_arn}}
    assert set(_actions(manage)) == {
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    }


def test_model_in_a_vpc_gets_an_https_only_security_group(in_vpc):
    _, _, template = in_vpc
    group = _only(template, "AWS::EC2::SecurityGroup")["Properties"]
    assert [
        (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) for rule in group["SecurityGroupEgress"]
    ] == [("tcp", 443, 443)]
    assert "SecurityGroupIngress" not in group


def test_grant_invoke_is_scoped_to_the_endpoint():
    stack = Stack(App(), "Test")
    endpoint = _endpoint(stack, endpoint_name="llm-prod")
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_invoke(caller)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    caller_policy = next(p for k, p in policies.items() if k.startswith("CallerDefaultPolicy"))
    (statement,) = caller_policy["Properties"]["PolicyDocument"]["Statement"]
    assert "sagemaker:InvokeEndpoint" in statement["Action"]
    assert "endpoint/llm-prod" in str(statement["Resource"])


def test_imported_role_and_key_get_dependencies_and_warnings():
    stack = Stack(App(), "Test")
    role = iam.Role.from_role_arn(stack, "Imported", "arn:aws:iam::123456789012:role/ml-exec")
    key = kms.Key.from_key_arn(stack, "ImportedKey", "arn:aws:kms:us-east-1:123456789012:key/abc")
    _endpoint(stack, role=role, encryption_key=key)
    template = Template.from_stack(stack)
    model = _only(template, "AWS::SageMaker::Model")
    policies = template.find_resources("AWS::IAM::Policy")
    assert set(policies) and set(policies) <= set(model["DependsOn"])
    annotations = Annotations.from_stack(stack)
    annotations.has_warning("/Test/Endpoint/Model", Match.string_like_regexp("role is imported"))
    annotations.has_warning("/Test/Endpoint", Match.string_like_regexp("encryption_key is imported"))


def test_single_instance_warns_about_availability():
    stack = Stack(App(), "Test")
    _endpoint(stack, initial_instance_count=1, auto_scaling=EndpointAutoScaling(min_capacity=1))
    Annotations.from_stack(stack).has_warning(
        "/Test/Endpoint", Match.string_like_regexp("one availability zone")
    )


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
    model = _only(Template.from_stack(stack), "AWS::SageMaker::Model")
    assert all("Private" in subnet["Ref"] for subnet in model["Properties"]["VpcConfig"]["Subnets"])


# --- boundaries and defaults that only the snapshots held ---------------------------------------------


def test_instance_counts_stop_at_the_catalogs_ceiling():
    _endpoint(initial_instance_count=1000, auto_scaling=EndpointAutoScaling(max_capacity=1000))
    with pytest.raises(
        EndpointConfigError, match=r"initial_instance_count=1001: a real-time endpoint needs 1 to 1000"
    ):
        _endpoint(initial_instance_count=1001, auto_scaling=None)
    with pytest.raises(EndpointConfigError, match=r"max_capacity=1001: use 1 to 1000 instances"):
        _endpoint(auto_scaling=EndpointAutoScaling(max_capacity=1001))


def test_scaling_cooldowns_default_to_five_minutes_in_and_one_out(default):
    _, template = default
    policy = _only(template, "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (configuration["ScaleInCooldown"], configuration["ScaleOutCooldown"]) == (300, 60)


def test_scaling_cooldown_beyond_a_day_is_refused():
    from aws_cdk import Duration

    with pytest.raises(EndpointConfigError, match=r"scale_in_cooldown=172800 s: use 0 s to 1 day"):
        _endpoint(auto_scaling=EndpointAutoScaling(scale_in_cooldown=Duration.days(2)))


def test_instance_metrics_are_limited_to_the_endpoints_namespace(default):
    _, template = default
    (metrics,) = [s for s in _role_statements(template) if s["Action"] == "cloudwatch:PutMetricData"]
    assert metrics["Resource"] == "*"
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}}


def test_unlisted_image_tag_needs_the_escape_hatch_and_warns():
    newer = ContainerImage.from_dlc("pytorch-inference", "9.9.9-gpu-py399")
    with pytest.raises(
        ImageCompatibilityError, match=r"Image tag '9.9.9-gpu-py399' .* is not in the catalog's image"
    ):
        _endpoint(instance_type="ml.g5.xlarge", image=newer)
    app = App(context={"mlblueprints:allowUnlistedImageTags": "true"})
    endpoint = _endpoint(Stack(app, "Test"), instance_type="ml.g5.xlarge", image=newer)
    Annotations.from_stack(Stack.of(endpoint)).has_warning(
        "*",
        Match.string_like_regexp("pytorch-inference:9.9.9-gpu-py399 is not in the catalog's image tables"),
    )


def test_model_data_key_from_another_region_is_refused_in_a_pinned_stack():
    from aws_cdk import Environment

    stack = Stack(App(), "Pinned", env=Environment(account="123456789012", region="eu-west-1"))
    key = kms.Key.from_key_arn(stack, "ModelKey", MODEL_KEY_ARN)  # a us-east-1 key
    with pytest.raises(
        ModelDataError,
        match=r"model_data_kms_key_arn is a key in us-east-1, but the stack deploys to eu-west-1",
    ):
        _endpoint(stack, model_data=ModelData.from_s3_url(MODEL_URL, encryption_key=key))

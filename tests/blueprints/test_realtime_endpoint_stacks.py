"""The default catalog's endpoint stacks: snapshots plus assertions on what must never drift."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template
from conftest import mask_template

STACKS = {
    "GpuEndpoint": "ml.g5.xlarge",
    "Inferentia2Endpoint": "ml.inf2.xlarge",
    "TrainiumEndpoint": "ml.trn1.2xlarge",
}


@pytest.fixture(scope="module")
def templates(catalog_templates):
    return {name: Template.from_json(catalog_templates[name]) for name in STACKS}


def test_default_catalog_has_gpu_inferentia_and_trainium_stacks(catalog_templates):
    assert set(catalog_templates) == set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_template_snapshot(stack, catalog_templates, snapshot_json):
    template = mask_template(catalog_templates[stack])
    assert "<asset-hash>" in str(template["Resources"]), "the smoke-test model asset should be masked"
    assert template == snapshot_json


@pytest.mark.parametrize(("stack", "instance_type"), STACKS.items())
def test_endpoint_runs_two_instances_of_the_configured_type(stack, instance_type, templates):
    templates[stack].has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"InstanceType": instance_type, "InitialInstanceCount": 2})
            ]
        },
    )


@pytest.mark.parametrize("stack", STACKS)
def test_model_is_network_isolated_in_private_subnets(stack, templates):
    template = templates[stack]
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "EnableNetworkIsolation": True,
            "VpcConfig": {"Subnets": Match.any_value(), "SecurityGroupIds": Match.any_value()},
        },
    )
    model = next(iter(template.find_resources("AWS::SageMaker::Model").values()))
    assert len(model["Properties"]["VpcConfig"]["Subnets"]) == 2
    # No way to the internet: no internet gateway, no NAT, every subnet isolated.
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    subnets = template.find_resources("AWS::EC2::Subnet").values()
    assert len(subnets) == 2
    for subnet in subnets:
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_vpc_has_the_endpoints_sagemaker_needs(stack, templates):
    endpoints = templates[stack].find_resources("AWS::EC2::VPCEndpoint")
    names = " ".join(str(e["Properties"]["ServiceName"]) for e in endpoints.values())
    for service in ("sagemaker.api", "sagemaker.runtime", "ecr.api", "ecr.dkr", "logs", "sts", ".s3"):
        assert service in names, f"missing VPC endpoint for {service}"
    assert len(endpoints) == 7
    templates[stack].has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"})


def test_kms_key_on_ml_volume_only_where_sagemaker_accepts_it(templates):
    # ml.inf2 hosts use EBS volumes: the key applies. ml.g5 and ml.trn1 use hardware-encrypted NVMe
    # instance storage, and CreateEndpointConfig fails if KmsKeyId is set for them.
    templates["Inferentia2Endpoint"].has_resource_properties(
        "AWS::SageMaker::EndpointConfig", {"KmsKeyId": Match.any_value()}
    )
    for stack in ("GpuEndpoint", "TrainiumEndpoint"):
        templates[stack].has_resource_properties(
            "AWS::SageMaker::EndpointConfig", {"KmsKeyId": Match.absent()}
        )


@pytest.mark.parametrize("stack", STACKS)
def test_keys_rotate_and_data_is_retained(stack, templates):
    template = templates[stack]
    template.has_resource(
        "AWS::KMS::Key",
        {"Properties": Match.object_like({"EnableKeyRotation": True}), "DeletionPolicy": "Retain"},
    )
    log_groups = template.find_resources("AWS::Logs::LogGroup").values()
    assert len(log_groups) == 2, "the endpoint's and the VPC flow logs' groups"
    for log_group in log_groups:
        assert "KmsKeyId" in log_group["Properties"]
        assert log_group["Properties"]["RetentionInDays"] == 365
        assert log_group["UpdateReplacePolicy"] == "Retain"
        # Log groups have fixed names: dropped when a first create rolls back, so that a retry does
        # not collide with them; kept on stack deletion.
        assert "LogGroupName" in log_group["Properties"]
        assert log_group["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.parametrize("stack", STACKS)
def test_target_tracking_on_invocations_per_instance(stack, templates):
    template = templates[stack]
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": 2,
            "MaxCapacity": 4,
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ServiceNamespace": "sagemaker",
            "RoleARN": Match.absent(),
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 70,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    },
                }
            ),
        },
    )


@pytest.mark.parametrize("stack", STACKS)
def test_alarms_on_5xx_and_latency_notify_encrypted_topic(stack, templates):
    template = templates[stack]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert sorted(a["Properties"]["MetricName"] for a in alarms.values()) == [
        "Invocation5XXErrors",
        "ModelLatency",
    ]
    topic_id = next(iter(template.find_resources("AWS::SNS::Topic")))
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["Namespace"] == "AWS/SageMaker"
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ModelLatency", "ExtendedStatistic": "p90", "Threshold": 1_000_000},
    )


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_endpoint_name_and_arn(stack, templates):
    outputs = templates[stack].find_outputs("*")
    assert {"EndpointName", "EndpointArn", "AlarmTopicArn"} <= set(outputs)


@pytest.mark.parametrize("stack", STACKS)
def test_only_unscopable_actions_use_a_wildcard_resource(stack, catalog_templates):
    allowed = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"} | {
        f"ec2:Describe{what}"
        for what in ("DhcpOptions", "NetworkInterfaces", "SecurityGroups", "Subnets", "Vpcs")
    }
    documents = []
    for resource in catalog_templates[stack]["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    assert documents, "the stack's roles have policies"
    wildcard_actions = set()
    for document in documents:
        for statement in document["Statement"]:
            resources = statement.get("Resource", [])
            if "*" in (resources if isinstance(resources, list) else [resources]):
                actions = statement["Action"]
                wildcard_actions |= set(actions if isinstance(actions, list) else [actions])
    assert wildcard_actions, "the execution role needs a few unscopable actions"
    assert wildcard_actions <= allowed, wildcard_actions - allowed


def test_neuron_stacks_use_neuronx_images_and_gpu_stack_a_cuda_image(catalog_templates):
    def image(stack):
        model = next(
            r for r in catalog_templates[stack]["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"
        )
        return str(model["Properties"]["PrimaryContainer"]["Image"])

    assert "pytorch-inference:2.6.0-gpu-py312-cu124" in image("GpuEndpoint")
    assert "pytorch-inference-neuronx:" in image("Inferentia2Endpoint")
    assert "pytorch-inference-neuronx:" in image("TrainiumEndpoint")
    # The DLC registry account is looked up per region in a mapping from the SageMaker SDK's tables.
    assert "DlcRegistry" in image("GpuEndpoint")


@pytest.mark.parametrize("stack", STACKS)
def test_agnostic_stack_stops_at_change_set_in_a_region_without_its_image(stack, catalog_templates):
    template = catalog_templates[stack]
    (mapping,) = [m for name, m in template["Mappings"].items() if name.startswith("DlcRegistry")]
    (rule,) = [r for name, r in template["Rules"].items() if name.startswith("DlcRegion")]
    (assertion,) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert region == {"Ref": "AWS::Region"}
    assert sorted(regions) == sorted(mapping)
    assert "only in" in assertion["AssertDescription"]
    if "Neuron" in stack or "Trainium" in stack or "Inferentia" in stack:
        assert "eu-west-2" not in regions, "AWS publishes no Neuron images in eu-west-2"
    else:
        assert mapping["af-south-1"] == {"account": "626614931356"}, "CDK's region facts lacked it"


@pytest.mark.parametrize("stack", STACKS)
def test_s3_gateway_reads_only_the_model_and_ecr_layers(stack, templates):
    (endpoint,) = [
        e
        for e in templates[stack].find_resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"
    ]
    statements = endpoint["Properties"]["PolicyDocument"]["Statement"]
    resources = json.dumps([s["Resource"] for s in statements])
    assert all(s["Action"] == "s3:GetObject" for s in statements)
    assert "starport-layer-bucket/*" in resources
    assert "cdk-hnb659fds-assets" in resources, "the smoke-test model's asset object"
    assert '"*"' not in resources


@pytest.mark.parametrize("stack", STACKS)
def test_key_policy_limits_grants_to_aws_services(stack, templates):
    (key,) = templates[stack].find_resources("AWS::KMS::Key").values()
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == "kms:CreateGrant"
    assert deny["Condition"] == {
        "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
    }
    logs = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "kms:EncryptionContext:aws:logs:arn" in json.dumps(s)
    ]
    patterns = json.dumps([s["Condition"] for s in logs])
    assert "/aws/sagemaker/Endpoints/" in patterns and "/mlblueprints/vpc-flow-logs/" in patterns
    assert "log-group:*" not in patterns, "the logs statements name this stack's groups, not all of them"


@pytest.mark.parametrize("stack", STACKS)
def test_model_can_reach_s3_through_the_gateway_endpoint(stack, templates):
    # The S3 gateway endpoint routes to S3's public ranges, not the VPC CIDR: an egress rule limited
    # to the VPC CIDR would strand the model download. The route table confines the traffic.
    templates[stack].has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("SageMaker model"),
            "SecurityGroupEgress": [
                Match.object_like(
                    {"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
                )
            ],
        },
    )
    for table in templates[stack].find_resources("AWS::EC2::Route").values():
        raise AssertionError(
            f"isolated subnets must have no routes besides local and gateway endpoints: {table}"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_cloudwatch_may_publish_alarms_to_the_topic(stack, templates):
    templates[stack].has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Effect": "Allow",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": Match.object_like(
                                    {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize("stack", STACKS)
def test_endpoint_waits_for_the_vpc_endpoints(stack, catalog_templates):
    resources = catalog_templates[stack]["Resources"]
    (endpoint,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Endpoint"]
    vpc_endpoints = {k for k, r in resources.items() if r["Type"] == "AWS::EC2::VPCEndpoint"}
    assert vpc_endpoints <= set(endpoint["DependsOn"])

"""HyperPodCluster: every rejection, and what the template promises (Slurm, storage, lifecycle, network, health)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from mlblueprints.constructs.hyperpod.cluster import (
    LIFECYCLE_DIR,
    InstanceGroup,
    LifecycleScripts,
    LifecycleStage,
    SlurmNodeType,
    hyperpod_problems,
)

CONTROLLER = InstanceGroup("controller", "ml.m5.xlarge", 1, SlurmNodeType.CONTROLLER)
WORKERS = InstanceGroup("compute", "ml.trn1.32xlarge", 2, SlurmNodeType.COMPUTE, "train")


def _messages(groups, **kwargs) -> str:
    return " | ".join(p.message for p in hyperpod_problems(groups, **kwargs))


def test_a_valid_cluster_has_no_problem():
    assert hyperpod_problems([CONTROLLER, WORKERS], region="us-east-1", lifecycle=LifecycleScripts()) == []


@pytest.mark.parametrize(
    ("groups", "kwargs", "expected"),
    [
        ([WORKERS], {}, "0 Controller groups"),
        ([CONTROLLER, CONTROLLER, WORKERS], {}, "named twice"),
        ([InstanceGroup("controller", "ml.m5.xlarge", 2, SlurmNodeType.CONTROLLER), WORKERS], {}, "set its count to 1"),
        ([CONTROLLER, InstanceGroup("a", "ml.m5.xlarge", 1, SlurmNodeType.LOGIN),
          InstanceGroup("b", "ml.m5.xlarge", 1, SlurmNodeType.LOGIN), WORKERS], {}, "more than one Login group"),
        ([CONTROLLER, InstanceGroup("compute", "ml.trn1.32xlarge", 2)], {}, "needs its Slurm partition"),
        ([InstanceGroup("controller", "ml.m5.xlarge", 1, SlurmNodeType.CONTROLLER, "p"), WORKERS], {}, "has no partition"),
        ([CONTROLLER, InstanceGroup("compute", "ml.trn1.32xlarg", 2, partition="t")], {}, "closest: ml.trn1.32xlarge"),
        ([CONTROLLER, InstanceGroup("compute", "ml.trn1.32xlarge", 7000, partition="t")], {}, "count 7000: use 0 to 6758"),
        ([CONTROLLER, InstanceGroup("compute", "ml.trn1.32xlarge", 2, partition="t", threads_per_core=3)], {}, "threads_per_core 3"),
        ([CONTROLLER, InstanceGroup("compute", "ml.trn1.32xlarge", 2, partition="t", ebs_volume_gb=0)], {}, "ebs_volume_gb 0"),
        ([CONTROLLER, InstanceGroup("bad_name", "ml.trn1.32xlarge", 2, partition="t")], {}, "letters, digits and single hyphens"),
        ([CONTROLLER, WORKERS], {"region": "sa-east-2"}, None),  # a region cfn-lint does not list: nothing to say
        ([CONTROLLER, WORKERS], {"region": "eu-west-3"}, "not offered for HyperPod in eu-west-3"),
        ([CONTROLLER, WORKERS], {"fsx_storage_gib": 1000}, "1200 GiB or a multiple of 2400"),
    ],
)  # fmt: skip
def test_rejections(groups, kwargs, expected):
    messages = _messages(groups, **kwargs)
    if expected is None:
        assert messages == "" or "not offered" not in messages
    else:
        assert expected in messages, messages


def test_lifecycle_entry_point_must_exist_be_executable_and_have_an_interpreter(tmp_path):
    assert "is not a folder" in _messages(
        [CONTROLLER, WORKERS], lifecycle=LifecycleScripts(tmp_path / "none")
    )
    (tmp_path / "setup.sh").write_text("echo hi\n")
    missing = _messages([CONTROLLER, WORKERS], lifecycle=LifecycleScripts(tmp_path, "on_create.sh"))
    assert "on_create.sh is not in" in missing and "setup.sh" in missing
    plain = _messages(
        [CONTROLLER, WORKERS], lifecycle=LifecycleScripts(tmp_path, "setup.sh", LifecycleStage.ON_CREATE)
    )
    assert "no interpreter line" in plain and "is not executable" in plain
    # The catalog's own script is executable in git too, so a clone keeps it so.
    assert os.access(LIFECYCLE_DIR / "on_create.sh", os.X_OK)
    (tmp_path / "on_create.sh").write_text("#!/bin/bash\n")
    (tmp_path / "on_create.sh").chmod(0o755)
    (tmp_path / "provisioning_parameters.json").write_text("{}")
    assert "HyperPod fails a cluster with both" in _messages(
        [CONTROLLER, WORKERS], lifecycle=LifecycleScripts(tmp_path)
    )


@pytest.fixture(scope="module")
def trainium(contract_templates) -> Template:
    return Template.from_json(contract_templates["TrainiumCluster-agnostic"])


def _cluster(template: Template) -> dict:
    (cluster,) = template.find_resources("AWS::SageMaker::Cluster").values()
    return cluster["Properties"]


def test_slurm_managed_by_hyperpod_with_node_recovery(trainium):
    cluster = _cluster(trainium)
    assert cluster["Orchestrator"] == {"Slurm": {"SlurmConfigStrategy": "Managed"}}
    assert cluster["NodeRecovery"] == "Automatic"
    groups = {g["InstanceGroupName"]: g for g in cluster["InstanceGroups"]}
    assert groups["controller"]["SlurmConfig"] == {"NodeType": "Controller"}
    assert (
        groups["controller"]["InstanceCount"] == 1 and "OnStartDeepHealthChecks" not in groups["controller"]
    )
    compute = groups["compute"]
    assert compute["SlurmConfig"] == {"NodeType": "Compute", "PartitionNames": ["train"]}
    assert compute["InstanceType"] == "ml.trn1.32xlarge" and compute["ThreadsPerCore"] == 1
    # AWS documents Slurm deep health checks for GPU instances (g5, p4, p5): none on Trainium.
    assert "OnStartDeepHealthChecks" not in compute


def test_storage_is_encrypted_and_lustre_is_mounted_everywhere(trainium):
    groups = _cluster(trainium)["InstanceGroups"]
    for group in groups:
        ebs, lustre = (c for c in group["InstanceStorageConfigs"])
        # HyperPod's own key: a customer-managed one needs continuous provisioning (not with Slurm's strategy).
        assert "VolumeKmsKeyId" not in ebs["EbsVolumeConfig"]
        assert lustre["FsxLustreConfig"]["MountPath"] == "/fsx"
    (file_system,) = trainium.find_resources("AWS::FSx::FileSystem").values()
    properties = file_system["Properties"]
    assert properties["LustreConfiguration"]["DeploymentType"] == "PERSISTENT_2"
    assert properties["KmsKeyId"] and properties["StorageCapacity"] == 1200
    assert file_system["DeletionPolicy"] == "Retain"


def test_lifecycle_scripts_come_from_a_sagemaker_bucket(trainium):
    for group in _cluster(trainium)["InstanceGroups"]:
        config = group["LifeCycleConfig"]
        assert config["OnCreate"] == "on_create.sh" and "OnInitComplete" not in config
        assert "s3://" in json.dumps(config["SourceS3Uri"]) and "/lifecycle/" in json.dumps(
            config["SourceS3Uri"]
        )
    buckets = trainium.find_resources("AWS::S3::Bucket")
    names = [b["Properties"].get("BucketName") for b in buckets.values() if b["Properties"].get("BucketName")]
    assert any(json.dumps(name).startswith('{"Fn::Join": ["-", ["sagemaker-hyperpod"') for name in names)
    (deployment,) = trainium.find_resources("Custom::CDKBucketDeployment").values()
    assert deployment["Properties"]["DestinationBucketKeyPrefix"] == "lifecycle/"
    assert deployment["Properties"]["SystemMetadata"]["sse"] == "aws:kms"


def test_network_and_role(trainium):
    groups = trainium.find_resources("AWS::EC2::SecurityGroup")
    (nodes,) = [g for g in groups.values() if "HyperPod nodes" in g["Properties"]["GroupDescription"]]
    egress = nodes["Properties"].get("SecurityGroupEgress", [])
    assert all(
        rule.get("IpProtocol") != "-1" or "CidrIp" not in rule for rule in egress
    )  # no all-traffic to 0.0.0.0/0
    (logical_id,) = [k for k, g in groups.items() if g is nodes]
    own_group = {"Fn::GetAtt": [logical_id, "GroupId"]}
    ingress = [r["Properties"] for r in trainium.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    own = [r for r in ingress if r["GroupId"] == own_group]
    # Open only to itself: every inbound rule's source is the group (all traffic for EFA and Slurm, and
    # FSx's own Lustre ports); nothing comes from an address range.
    assert own and all(r["SourceSecurityGroupId"] == own_group and "CidrIp" not in r for r in own)
    assert "-1" in {r["IpProtocol"] for r in own}
    roles = trainium.find_resources("AWS::IAM::Role")
    (role,) = [r for r in roles.values() if r["Properties"].get("Description") == "HyperPod cluster nodes"]
    assert "AmazonSageMakerClusterInstanceRolePolicy" in json.dumps(role["Properties"]["ManagedPolicyArns"])
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }


def test_node_health_events_reach_the_topic(trainium):
    rules = trainium.find_resources("AWS::Events::Rule")
    (rule,) = [r for r in rules.values() if "HyperPod" in r["Properties"]["Description"]]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["SageMaker HyperPod Cluster Node Health Event"]
    assert "ClusterArn" in pattern["detail"]
    assert rule["Properties"]["Targets"][0]["DeadLetterConfig"]
    assert any(name.startswith("HyperPodRegion") for name in trainium.to_json().get("Rules", {}))


def test_gpu_example_has_a_login_node_and_bigger_lustre(contract_templates):
    gpu = Template.from_json(contract_templates["GpuCluster-us-east-1"])
    groups = {g["InstanceGroupName"]: g for g in _cluster(gpu)["InstanceGroups"]}
    assert groups["login"]["SlurmConfig"] == {"NodeType": "Login"}
    assert groups["compute"]["InstanceType"] == "ml.p5.48xlarge"
    assert groups["compute"]["OnStartDeepHealthChecks"] == ["InstanceStress", "InstanceConnectivity"]
    assert "OnStartDeepHealthChecks" not in groups["login"]
    (file_system,) = gpu.find_resources("AWS::FSx::FileSystem").values()
    assert file_system["Properties"]["StorageCapacity"] == 2400
    assert not any(
        name.startswith("HyperPodRegion") for name in gpu.to_json().get("Rules", {})
    )  # pinned: checked at synth


def test_blueprint_refusals_are_reported_at_once():
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app
    from mlblueprints.apps.config import CatalogConfigError

    stacks = {
        "Bad": {
            "blueprint": "hyperpod-cluster",
            "instance_type": "ml.trn1.32xlarge",
            "instance_count": 7000,
            "fsx_storage_gib": 100,
            "lifecycle_scripts": str(Path("/nonexistent")),
            "notification_email": "nobody",
            "env": {"account": "123456789012", "region": "cn-north-1"},
        }
    }
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("count 7000", "fsx_storage_gib=100", "is not a folder", "notification_email='nobody'",
                     "not offered for HyperPod in cn-north-1"):  # fmt: skip
        assert expected in message, expected


EKS_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/training"


def test_eks_orchestration_on_an_existing_cluster():
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app

    stacks = {
        "OnEks": {"blueprint": "hyperpod-cluster", "instance_type": "ml.p5.48xlarge", "instance_count": 4,
                  "eks_cluster_arn": EKS_ARN}
    }  # fmt: skip
    app = build_app(App(context={"stacks": json.dumps(stacks)}), gates=False)
    template = Template.from_json(app.synth().get_stack_by_name("OnEks").template)
    cluster = _cluster(template)
    assert cluster["Orchestrator"] == {"Eks": {"ClusterArn": EKS_ARN}}
    (group,) = cluster["InstanceGroups"]
    assert (
        group["InstanceGroupName"] == "workers" and "SlurmConfig" not in group and group["InstanceCount"] == 4
    )


@pytest.mark.parametrize(
    ("groups", "arn", "expected"),
    [
        ([WORKERS], "arn:aws:eks:us-east-1:123:cluster/x", "is not an EKS cluster ARN"),
        (
            [CONTROLLER, InstanceGroup("w", "ml.p5.48xlarge", 2)],
            EKS_ARN,
            "Slurm node types and partitions are for Slurm",
        ),
        ([InstanceGroup("w", "ml.p5.48xlarge", 2)], EKS_ARN, None),
    ],
)
def test_eks_rejections(groups, arn, expected):
    messages = _messages(groups, eks_cluster_arn=arn)
    assert (expected in messages) if expected else messages == ""


def test_eks_has_no_login_node():
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app
    from mlblueprints.apps.config import CatalogConfigError

    stacks = {"OnEks": {"blueprint": "hyperpod-cluster", "instance_type": "ml.p5.48xlarge", "eks_cluster_arn": EKS_ARN,
                        "login_instance_type": "ml.m5.xlarge"}}  # fmt: skip
    with pytest.raises(CatalogConfigError, match="an EKS cluster has none"):
        build_app(App(context={"stacks": json.dumps(stacks)}))


def test_the_nodes_reach_their_scripts_and_services_through_endpoints(trainium):
    endpoints = trainium.find_resources("AWS::EC2::VPCEndpoint")
    services = json.dumps([e["Properties"]["ServiceName"] for e in endpoints.values()])
    for service in (".ssmmessages", ".monitoring", ".logs", ".s3"):
        assert service in services, service
    assert "sagemaker" not in services  # the nodes call no SageMaker API
    (gateway,) = [e for e in endpoints.values() if e["Properties"].get("VpcEndpointType") == "Gateway"]
    statements = gateway["Properties"]["PolicyDocument"]["Statement"]
    granted = json.dumps(statements)
    assert "ClusterLifecycleBucket" in granted and "lifecycle/*" in granted
    assert any(
        s["Action"] == "s3:ListBucket" and "ClusterLifecycleBucket" in json.dumps(s["Resource"])
        for s in statements
    )


def test_the_execution_role_holds_the_vpc_and_key_actions_only(trainium):
    roles = trainium.find_resources("AWS::IAM::Role")
    (role_id,) = [
        k for k, r in roles.items() if r["Properties"].get("Description") == "HyperPod cluster nodes"
    ]
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in trainium.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    (statements,) = policies
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in statements}
    network = next(json.loads(a) for a in by_action if "ec2:CreateNetworkInterface" in a)
    assert "ec2:CreateNetworkInterfacePermission" in network and by_action[json.dumps(network)] == "*"
    assert "network-interface/*" in json.dumps(by_action['"ec2:CreateTags"'])
    assert by_action['"kms:Decrypt"']["Fn::GetAtt"][1] == "Arn"  # the scripts bucket's key, nothing broader
    assert len(statements) == 3


def _synth(stacks: dict, name: str, *, gates: bool = False) -> Template:
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app

    app = build_app(App(context={"stacks": json.dumps(stacks)}), gates=gates)
    return Template.from_json(app.synth().get_stack_by_name(name).template)


def _subnet_zones(template: Template) -> dict[str, str]:
    return {
        logical_id: r["Properties"]["AvailabilityZone"]
        for logical_id, r in template.find_resources("AWS::EC2::Subnet").items()
    }


@pytest.mark.parametrize("env", [None, {"account": "123456789012", "region": "us-east-1"}])
def test_compute_nodes_go_where_their_capacity_is(env):
    stacks = {"TwoZones": {"blueprint": "hyperpod-cluster", "instance_type": "ml.p5.48xlarge",
                           "availability_zone": "us-east-1a", "compute_availability_zone": "us-east-1d",
                           **({"env": env} if env else {})}}  # fmt: skip
    template = _synth(stacks, "TwoZones", gates=env is not None)  # pinned: every gate passes too
    zones = _subnet_zones(template)
    assert sorted(zones.values()) == ["us-east-1a", "us-east-1d"]
    cluster = _cluster(template)
    (default_subnet,) = cluster["VpcConfig"]["Subnets"]
    assert zones[default_subnet["Ref"]] == "us-east-1a"
    groups = {g["InstanceGroupName"]: g for g in cluster["InstanceGroups"]}
    assert "OverrideVpcConfig" not in groups["controller"]
    override = groups["compute"]["OverrideVpcConfig"]
    (compute_subnet,) = override["Subnets"]
    assert zones[compute_subnet["Ref"]] == "us-east-1d"
    assert override["SecurityGroupIds"] == cluster["VpcConfig"]["SecurityGroupIds"]
    # The file system stays with the controller, in the cluster's subnet.
    (fsx,) = template.find_resources("AWS::FSx::FileSystem").values()
    assert fsx["Properties"]["SubnetIds"] == [default_subnet]
    rules = template.to_json().get("Rules", {})
    zone_rules = [r for name, r in rules.items() if name.startswith("Zone")]
    if env is None:
        # Agnostic: deploying outside us-east-1 fails at once, naming the zone.
        (rule,) = zone_rules
        assert "us-east-1d" in rule["Assertions"][0]["AssertDescription"]
    else:
        assert zone_rules == []


def test_one_zone_keeps_one_subnet_and_no_override():
    stacks = {"OneZone": {"blueprint": "hyperpod-cluster", "instance_type": "ml.p5.48xlarge",
                          "availability_zone": "us-east-1d", "compute_availability_zone": "us-east-1d"}}  # fmt: skip
    template = _synth(stacks, "OneZone")
    assert list(_subnet_zones(template).values()) == ["us-east-1d"]
    assert all("OverrideVpcConfig" not in g for g in _cluster(template)["InstanceGroups"])


def test_zone_settings_are_checked():
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app
    from mlblueprints.apps.config import CatalogConfigError

    stacks = {
        "BadZones": {"blueprint": "hyperpod-cluster", "instance_type": "ml.p5.48xlarge",
                     "compute_availability_zone": "use1-az4", "env": {"account": "123456789012", "region": "us-east-1"}},
        "OtherRegion": {"blueprint": "hyperpod-cluster", "instance_type": "ml.p5.48xlarge",
                        "availability_zone": "us-west-2a", "env": {"account": "123456789012", "region": "us-east-1"}},
    }  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in ("compute_availability_zone='use1-az4' is not an availability zone name",
                     "compute_availability_zone needs availability_zone too",
                     "availability_zone us-west-2a is in us-west-2, not in the stack's region us-east-1"):  # fmt: skip
        assert expected in message, message


def test_a_group_zone_without_a_subnet_is_refused():
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    from mlblueprints.constructs.hyperpod.cluster import HyperPodCluster, HyperPodError

    stack = Stack(App(), "S", env={"account": "123456789012", "region": "us-east-1"})
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["us-east-1a"], isolated_subnet_ids=["subnet-1"]
    )
    with pytest.raises(
        HyperPodError, match=r"'compute': the VPC has no private subnet in us-east-1f .*us-east-1a"
    ):
        HyperPodCluster(
            stack, "Cluster", vpc=vpc, subnet=vpc.isolated_subnets[0], encryption_key=kms.Key(stack, "Key"),
            alarm_topic=sns.Topic(stack, "Topic"), fsx_storage_gib=None,
            instance_groups=[CONTROLLER, InstanceGroup("compute", "ml.trn1.32xlarge", 2, partition="t",
                                                       availability_zone="us-east-1f")],
        )  # fmt: skip


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://sagemaker-lifecycle-123/scripts/", None),
        ("s3://my-scripts/hyperpod/", "only from buckets whose name starts with sagemaker-"),
        ("https://example.com/x", "is not an S3 URI"),
    ],
)
def test_scripts_in_s3_must_be_in_a_sagemaker_bucket(uri, expected):
    messages = _messages([CONTROLLER, WORKERS], lifecycle=LifecycleScripts(source_s3_uri=uri))
    assert (expected in messages) if expected else messages == "", messages


def test_scripts_in_s3_are_used_as_they_are():
    uri = "s3://sagemaker-lifecycle-123/scripts/"
    stacks = {"InS3": {"blueprint": "hyperpod-cluster", "instance_type": "ml.trn1.32xlarge",
                       "lifecycle_scripts_s3_uri": uri}}  # fmt: skip
    template = _synth(stacks, "InS3")
    for group in _cluster(template)["InstanceGroups"]:
        assert group["LifeCycleConfig"] == {"SourceS3Uri": uri, "OnCreate": "on_create.sh"}
    # Nothing is uploaded, and the S3 endpoint lets the nodes read that prefix.
    assert template.find_resources("Custom::CDKBucketDeployment") == {}
    (endpoint,) = [
        r for r in template.find_resources("AWS::EC2::VPCEndpoint").values()
        if "PolicyDocument" in r["Properties"]
    ]  # fmt: skip
    assert ":s3:::sagemaker-lifecycle-123/scripts/*" in json.dumps(endpoint["Properties"]["PolicyDocument"])


def test_a_folder_and_an_s3_uri_are_not_both_taken():
    from aws_cdk import App

    from mlblueprints.apps.catalog import build_app
    from mlblueprints.apps.config import CatalogConfigError

    stacks = {"Both": {"blueprint": "hyperpod-cluster", "instance_type": "ml.trn1.32xlarge",
                       "lifecycle_scripts": str(LIFECYCLE_DIR), "lifecycle_scripts_s3_uri": "s3://sagemaker-x/y/"}}  # fmt: skip
    with pytest.raises(CatalogConfigError, match="give one"):
        build_app(App(context={"stacks": json.dumps(stacks)}))


def _eks_stack(**cluster_kwargs):
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_eks_v2 as eks
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    from mlblueprints.constructs.hyperpod.cluster import HyperPodCluster

    stack = Stack(App(), "S", env={"account": "123456789012", "region": "us-east-1"})
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0,
                  subnet_configuration=[ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])  # fmt: skip
    kubernetes = eks.Cluster(
        stack, "Eks", version=eks.KubernetesVersion.V1_33, vpc=vpc, endpoint_access=eks.EndpointAccess.PRIVATE,
        vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP, default_capacity=0,
    )  # fmt: skip
    for key, value in cluster_kwargs.items():
        setattr(kubernetes.node.default_child, key, value)
    cluster = HyperPodCluster(
        stack, "Cluster", vpc=vpc, subnet=vpc.isolated_subnets[0], encryption_key=kms.Key(stack, "Key"),
        alarm_topic=sns.Topic(stack, "Topic"), fsx_storage_gib=None, eks_cluster=kubernetes,
        instance_groups=[InstanceGroup("workers", "ml.p5.48xlarge", 2)],
    )  # fmt: skip
    return stack, kubernetes, cluster


def test_an_eks_cluster_from_aws_cdk_lib_orchestrates_and_is_reachable():
    stack, kubernetes, _ = _eks_stack()
    template = Template.from_stack(stack)
    cluster = _cluster(template)
    assert json.dumps(cluster["Orchestrator"]["Eks"]["ClusterArn"]).count("Eks") > 0
    (eks_resource,) = template.find_resources("AWS::EKS::Cluster").values()
    assert eks_resource["Properties"]["AccessConfig"]["AuthenticationMode"] == "API"
    nodes_group = cluster["VpcConfig"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    control_plane = stack.resolve(kubernetes.cluster_security_group_id)
    ingress = template.find_resources("AWS::EC2::SecurityGroupIngress")
    rules = {(r["Properties"]["GroupId"]["Fn::GetAtt"][0], json.dumps(r["Properties"]["SourceSecurityGroupId"]),
              r["Properties"].get("FromPort"), r["Properties"].get("ToPort")) for r in ingress.values()}  # fmt: skip
    control_plane_id = control_plane["Fn::GetAtt"][0]
    nodes_ref = json.dumps({"Fn::GetAtt": [nodes_group, "GroupId"]})
    control_ref = json.dumps(control_plane)
    assert (control_plane_id, nodes_ref, 443, 443) in rules  # nodes to the API server
    assert (nodes_group, control_ref, 443, 443) in rules
    assert (nodes_group, control_ref, 1025, 65535) in rules  # kubelets and webhooks


def test_an_eks_cluster_in_config_map_mode_is_refused():
    from aws_cdk import aws_eks_v2 as eks

    from mlblueprints.constructs.hyperpod.cluster import HyperPodError

    with pytest.raises(HyperPodError, match="authentication mode CONFIG_MAP; HyperPod needs API"):
        _eks_stack(access_config=eks.CfnCluster.AccessConfigProperty(authentication_mode="CONFIG_MAP"))

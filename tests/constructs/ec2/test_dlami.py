"""DeepLearningAmi: the SSM parameter per family, resolved at deploy time, and every refusal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2

from mlblueprints.constructs.compute.ec2_instance_types import (
    describe_ec2_instance_type,
    ec2_instance_type_problems,
)
from mlblueprints.constructs.ec2.dlami import DeepLearningAmi, DlamiFlavor, DlamiOs, dlami_problems
from mlblueprints.constructs.errors import InstanceTypeError


@pytest.mark.parametrize(
    ("instance", "os", "flavor", "path"),
    [
        ("g6e.12xlarge", DlamiOs.UBUNTU_24_04, DlamiFlavor.BASE,
         "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"),
        ("p5.48xlarge", DlamiOs.AMAZON_LINUX_2023, DlamiFlavor.BASE,
         "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"),
        ("g5g.xlarge", DlamiOs.UBUNTU_22_04, DlamiFlavor.BASE,
         "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"),
        ("trn1.32xlarge", DlamiOs.UBUNTU_24_04, DlamiFlavor.MULTI_FRAMEWORK,
         "/aws/service/neuron/dlami/multi-framework/ubuntu-24.04/latest/image_id"),
        ("inf2.xlarge", DlamiOs.AMAZON_LINUX_2023, DlamiFlavor.BASE,
         "/aws/service/neuron/dlami/base/amazon-linux-2023/latest/image_id"),
    ],
)  # fmt: skip
def test_ssm_parameter_per_family_and_architecture(instance, os, flavor, path):
    ami = DeepLearningAmi.for_instance(describe_ec2_instance_type(instance), os=os, flavor=flavor)
    assert ami.ssm_parameter == path


def test_pytorch_flavor_names_its_version():
    ami = DeepLearningAmi.for_instance(
        describe_ec2_instance_type("p5e.48xlarge"), flavor=DlamiFlavor.PYTORCH, pytorch_version="2.9"
    )
    assert ami.ssm_parameter.endswith("/x86_64/oss-nvidia-driver-gpu-pytorch-2.9-ubuntu-24.04/latest/ami-id")


def test_image_is_resolved_by_cloudformation_at_deploy_time_not_looked_up():
    app = App()
    stack = Stack(app, "Ami")
    ami = DeepLearningAmi.for_instance(describe_ec2_instance_type("g6.xlarge"))
    image_id = stack.resolve(ami.machine_image().get_image(stack).image_id)
    assembly = app.synth()
    template = assembly.get_stack_by_name("Ami").template
    parameter = template["Parameters"][image_id["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
        "Default": ami.ssm_parameter,
    }
    assert not re.search(r"ami-[0-9a-f]{8,}", json.dumps(template))
    assert "missing" not in json.loads(Path(assembly.directory, "manifest.json").read_text())  # no lookups


@pytest.mark.parametrize(
    ("instance", "os", "flavor", "expected"),
    [
        ("inf1.xlarge", DlamiOs.UBUNTU_24_04, DlamiFlavor.BASE, "no longer support Inf1"),
        ("trn1.2xlarge", DlamiOs.UBUNTU_24_04, DlamiFlavor.PYTORCH, "is a GPU DLAMI and would not run on"),
        (
            "g5.xlarge",
            DlamiOs.UBUNTU_24_04,
            DlamiFlavor.MULTI_FRAMEWORK,
            "is a Neuron DLAMI and would not run",
        ),
        ("trn2.48xlarge", DlamiOs.UBUNTU_22_04, DlamiFlavor.BASE, "for ubuntu-24.04, amazon-linux-2023 only"),
        ("trn2.48xlarge", DlamiOs.AMAZON_LINUX_2023, DlamiFlavor.MULTI_FRAMEWORK, "for ubuntu-24.04 only"),
        ("m7i.large", DlamiOs.UBUNTU_24_04, DlamiFlavor.BASE, "has no NVIDIA GPU, Inferentia or Trainium"),
        ("p3.2xlarge", DlamiOs.UBUNTU_24_04, DlamiFlavor.BASE, "do not list the p3 family"),
        ("g5.xlarge", DlamiOs.UBUNTU_24_04, DlamiFlavor.PYTORCH, "needs pytorch_version"),
    ],
)
def test_refusals(instance, os, flavor, expected):
    (problem,) = dlami_problems(describe_ec2_instance_type(instance), os=os, flavor=flavor)
    assert expected in problem.message
    with pytest.raises(InstanceTypeError, match=expected):
        DeepLearningAmi.for_instance(describe_ec2_instance_type(instance), os=os, flavor=flavor)


def test_arm_image_never_lands_on_x86_nor_the_reverse():
    arm = DeepLearningAmi.for_instance(describe_ec2_instance_type("g5g.2xlarge"))
    x86 = DeepLearningAmi.for_instance(describe_ec2_instance_type("g5.2xlarge"))
    assert "/arm64/" in arm.ssm_parameter and "/x86_64/" in x86.ssm_parameter


def test_instance_type_names_come_from_botocore():
    assert ec2_instance_type_problems("p5.48xlarge") == []
    (problem,) = ec2_instance_type_problems("ml.g5.xlarge")
    assert "no 'ml.' prefix" in problem.message and "g5.xlarge" in problem.message
    assert describe_ec2_instance_type("p5.48xlarge").efa_interfaces == 32
    assert describe_ec2_instance_type("p5en.48xlarge").efa_interfaces is None  # not confirmed: unknown
    assert ec2.InstanceType("p5.48xlarge").to_string() == "p5.48xlarge"

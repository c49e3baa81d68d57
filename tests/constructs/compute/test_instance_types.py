"""Instance-type truth: botocore's lists, the accelerator facts, and the errors users see."""

import re

import botocore.session
import pytest
from aws_cdk import Token

from mlblueprints.constructs.compute._private.accelerator_facts import (
    EBS_ONLY_FAMILIES,
    FAMILY_FACTS,
    INSTANCE_STORAGE_FAMILIES,
)
from mlblueprints.constructs.compute.instance_types import (
    AcceleratorKind,
    NeuronSdk,
    SageMakerUse,
    check_instance_type,
    instance_types_for,
)
from mlblueprints.constructs.errors import InstanceTypeError, MlBlueprintsError

REALTIME = SageMakerUse.REALTIME_INFERENCE
TRAINING = SageMakerUse.TRAINING


def test_lists_come_from_botocore_service_model():
    model = botocore.session.get_session().get_service_model("sagemaker")
    for use in SageMakerUse:
        assert instance_types_for(use) == tuple(model.shape_for(use.value).enum)
    assert "ml.trn1.32xlarge" in instance_types_for(TRAINING)
    assert "ml.inf2.xlarge" in instance_types_for(REALTIME)


def test_every_accelerated_family_botocore_lists_has_facts():
    # A botocore upgrade that brings a new GPU/Neuron family fails here until its facts are written down.
    families = {
        name.split(".")[1]
        for use in SageMakerUse
        for name in instance_types_for(use)
        if name.startswith("ml.")
    }
    accelerated = re.compile(r"^(g|gr|p|inf|trn|dl)\d")
    missing = sorted(f for f in families if accelerated.match(f) and f not in FAMILY_FACTS)
    assert missing == []


@pytest.mark.parametrize(
    ("name", "kind", "count", "memory", "sdk"),
    [
        ("ml.g5.xlarge", AcceleratorKind.NVIDIA_GPU, 1, 24, None),
        ("ml.g5.48xlarge", AcceleratorKind.NVIDIA_GPU, 8, 24, None),
        ("ml.g6.12xlarge", AcceleratorKind.NVIDIA_GPU, 4, 24, None),
        ("ml.p4d.24xlarge", AcceleratorKind.NVIDIA_GPU, 8, 40, None),
        ("ml.p5.48xlarge", AcceleratorKind.NVIDIA_GPU, 8, 80, None),
        ("ml.inf1.6xlarge", AcceleratorKind.AWS_INFERENTIA, 4, 8, NeuronSdk.NEURON),
        ("ml.inf2.48xlarge", AcceleratorKind.AWS_INFERENTIA, 12, 32, NeuronSdk.NEURONX),
        ("ml.trn1.32xlarge", AcceleratorKind.AWS_TRAINIUM, 16, 32, NeuronSdk.NEURONX),
        ("ml.m5.xlarge", AcceleratorKind.NONE, None, None, None),
    ],
)
def test_accelerator_facts(name, kind, count, memory, sdk):
    facts = check_instance_type(name, use=REALTIME)
    assert (facts.accelerator, facts.accelerator_count, facts.accelerator_memory_gib) == (kind, count, memory)
    assert facts.neuron_sdk is sdk


def test_total_accelerator_memory():
    assert check_instance_type("ml.p4d.24xlarge", use=TRAINING).total_accelerator_memory_gib == 320


def test_inferentia_rejected_for_training_pointing_to_trainium():
    with pytest.raises(
        InstanceTypeError,
        match=r"'ml.inf2.xlarge' cannot be used for training.*inference only.*ml.trn1.2xlarge",
    ):
        check_instance_type("ml.inf2.xlarge", use=TRAINING)


def test_elastic_inference_rejected_pointing_to_inferentia():
    with pytest.raises(
        InstanceTypeError, match=r"'ml.eia2.medium' is an Elastic Inference.*retired.*ml.inf2.xlarge"
    ):
        check_instance_type("ml.eia2.medium", use=REALTIME)


def test_typo_rejected_with_closest_valid_names():
    with pytest.raises(
        InstanceTypeError,
        match=r"'ml.inf2.xlarg' is not a SageMaker instance type.*Closest valid names: ml.inf2.xlarge",
    ):
        check_instance_type("ml.inf2.xlarg", use=REALTIME)


def test_typo_suggestions_ignore_case():
    with pytest.raises(
        InstanceTypeError, match=r"'ML.INF2.XLARG' is not a SageMaker.*Closest valid names: ml.inf2.xlarge"
    ):
        check_instance_type("ML.INF2.XLARG", use=REALTIME)


def test_upper_case_name_rejected_saying_names_are_lower_case():
    with pytest.raises(
        InstanceTypeError,
        match=r"^'ML.G5.XLARGE' is not a SageMaker instance type: names are lower case. Use 'ml.g5.xlarge'.$",
    ):
        check_instance_type("ML.G5.XLARGE", use=REALTIME)


def test_error_names_the_setting_and_value():
    with pytest.raises(InstanceTypeError) as error:
        check_instance_type("ml.inf2.xlarg", use=REALTIME)
    assert isinstance(error.value, MlBlueprintsError) and isinstance(error.value, ValueError)
    ((problem),) = error.value.problems
    assert (problem.setting, problem.value) == ("instance_type", "ml.inf2.xlarg")


@pytest.mark.parametrize(("name", "burstable"), [("ml.t2.medium", True), ("ml.m5.large", False)])
def test_burstable_families(name, burstable):
    assert check_instance_type(name, use=REALTIME).is_burstable is burstable


@pytest.mark.parametrize(("name", "arch"), [("ml.c7g.xlarge", "arm64"), ("ml.c7i.xlarge", "x86_64")])
def test_cpu_architecture(name, arch):
    assert check_instance_type(name, use=REALTIME).cpu_architecture == arch


def test_ec2_name_rejected_with_sagemaker_name():
    with pytest.raises(InstanceTypeError, match=r"'g5.xlarge' is an EC2 instance type name.*'ml.g5.xlarge'"):
        check_instance_type("g5.xlarge", use=REALTIME)


def test_type_not_offered_for_use_is_rejected():
    # ml.p3dn is a training-only type in botocore's lists: not a production variant type.
    assert "ml.p3dn.24xlarge" not in instance_types_for(REALTIME)
    with pytest.raises(
        InstanceTypeError, match=r"cannot be used for realtime-inference: SageMaker does not offer it"
    ):
        check_instance_type("ml.p3dn.24xlarge", use=REALTIME)


def test_unlisted_type_needs_the_escape_hatch():
    # Worded for both audiences: JSON config users and construct users.
    with pytest.raises(
        InstanceTypeError,
        match=r'set "allow_unlisted_instance_types": true in the stack\'s config \(allow_unlisted_instance_types=True',
    ):
        check_instance_type("ml.g9.xlarge", use=REALTIME)
    facts = check_instance_type("ml.g9.xlarge", use=REALTIME, allow_unlisted=True)
    assert facts.listed_by_botocore is False
    assert facts.family == "g9"
    assert facts.accelerator is AcceleratorKind.UNKNOWN
    assert facts.is_accelerated is None


def test_escape_hatch_still_rejects_malformed_names():
    with pytest.raises(InstanceTypeError, match="not a SageMaker instance type"):
        check_instance_type("ml.g9", use=REALTIME, allow_unlisted=True)


def test_unresolved_token_is_left_to_deploy_time():
    assert check_instance_type(Token.as_string({"Ref": "InstanceType"}), use=REALTIME) is None


def test_every_hosting_family_has_a_known_storage_kind():
    # A KmsKeyId on an NVMe-backed type makes CreateEndpointConfig fail: a botocore upgrade that
    # brings a new hosting family fails here until the family is classified.
    families = {name.split(".")[1] for name in instance_types_for(REALTIME)}
    unclassified = sorted(families - INSTANCE_STORAGE_FAMILIES - EBS_ONLY_FAMILIES)
    assert unclassified == []
    assert not INSTANCE_STORAGE_FAMILIES & EBS_ONLY_FAMILIES


@pytest.mark.parametrize(
    ("name", "nvme"),
    [
        ("ml.g5.xlarge", True),
        ("ml.m6gd.large", True),
        ("ml.r7gd.large", True),
        ("ml.p6-b200.48xlarge", True),
        ("ml.trn2.48xlarge", True),
        ("ml.inf2.xlarge", False),
        ("ml.m5.xlarge", False),
    ],
)
def test_storage_kind(name, nvme):
    assert check_instance_type(name, use=REALTIME).has_instance_storage is nvme


def test_storage_kind_of_an_unlisted_type_is_unknown():
    assert check_instance_type("ml.g9.xlarge", use=REALTIME, allow_unlisted=True).has_instance_storage is None


def test_accelerated_type_not_offered_for_a_use_points_to_an_accelerated_one():
    with pytest.raises(
        InstanceTypeError, match=r"'ml.dl1.24xlarge' cannot be used for training.*'ml.g5.xlarge'"
    ):
        check_instance_type("ml.dl1.24xlarge", use=TRAINING)


def test_service_model_reader_matches_botocore_without_importing_it():
    # The catalog reads botocore's data files itself (no session, no ~/.aws); it must see exactly
    # what botocore's own loader sees, and synth must not import botocore at all.
    import subprocess
    import sys

    from botocore.loaders import create_loader

    from mlblueprints.constructs._private import service_models

    reference = create_loader().load_service_model("sagemaker", "service-2")
    ours = service_models.service_model()
    assert ours.api_version == reference["metadata"]["apiVersion"]
    assert ours.shapes == reference["shapes"]
    assert set(service_models.partitions()) == {
        p["id"] for p in create_loader().load_data("partitions")["partitions"]
    }
    probe = (
        "import sys; from mlblueprints.constructs.compute.instance_types import instance_types_for, SageMakerUse; "
        "assert instance_types_for(SageMakerUse.TRAINING); print('botocore' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"

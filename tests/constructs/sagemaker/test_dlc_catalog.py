"""The DLC catalog: generated tables in step with the pinned SageMaker SDK; the facts blueprints rely on."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlblueprints.constructs.sagemaker._private import dlc_tables, neuron_dlc_tables
from mlblueprints.constructs.sagemaker._private.dlc_catalog import (
    dlc_registry_accounts,
    find_repository,
    is_ec2_tag,
    repository_names,
)

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / "tools" / "generate_dlc_tables.py"

NEURONX_TAG = "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04"
GPU_TAG = "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_dlc_tables", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sagemaker_core_wheel(tmp_path_factory) -> Path:
    """The pinned sagemaker-core wheel, downloaded once a session (skipped only if MLBLUEPRINTS_OFFLINE=1)."""
    if os.environ.get("MLBLUEPRINTS_OFFLINE") == "1":
        pytest.skip("MLBLUEPRINTS_OFFLINE=1: the drift check needs the sagemaker-core wheel from PyPI")
    gen = _generator()
    dest = tmp_path_factory.mktemp("sagemaker-core-wheel")
    try:
        return gen.download_wheel(dest)
    except (subprocess.CalledProcessError, FileNotFoundError) as err:
        pytest.fail(f"could not download {gen.SOURCE} (set MLBLUEPRINTS_OFFLINE=1 to skip): {err}")


def test_generated_tables_match_the_pinned_sdk(sagemaker_core_wheel):
    gen = _generator()
    configs, digest = gen.read_wheel(sagemaker_core_wheel)
    expected = gen.render(configs, digest)
    committed = (REPO / "constructs" / "sagemaker" / "_private" / "dlc_tables.py").read_text()
    assert committed == expected, f"dlc_tables.py drifted from {gen.SOURCE}: run `{gen.COMMAND}`"


def test_generator_check_mode_flags_drift(sagemaker_core_wheel, tmp_path):
    stale = tmp_path / "dlc_tables.py"
    stale.write_text('SOURCE = "sagemaker-core==0.0.0"\n')
    cmd = [sys.executable, str(GENERATOR), "--wheel", str(sagemaker_core_wheel), "--check", "--output"]
    result = subprocess.run([*cmd, str(stale)], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "differs from sagemaker-core==2.27.0" in result.stdout


def test_tables_are_stamped_with_the_pinned_sdk():
    assert dlc_tables.SOURCE == "sagemaker-core==2.27.0"
    assert _generator().SOURCE == dlc_tables.SOURCE
    assert find_repository("pytorch-inference").source == "sagemaker-core==2.27.0"


def test_af_south_1_registry_is_the_dlc_account_cdk_lacks():
    repo = find_repository("pytorch-inference")
    assert repo.registry_account("af-south-1") == "626614931356"
    assert repo.registry_account("us-east-1") == "763104351884"
    assert dlc_registry_accounts()["af-south-1"] == "626614931356"


def test_china_regions_have_a_registry():
    accounts = dlc_registry_accounts()
    assert accounts["cn-north-1"] == "727897471807"
    assert find_repository("pytorch-inference").registry_account("cn-north-1") == "727897471807"


def test_no_neuron_images_in_eu_west_2():
    neuronx = find_repository("pytorch-inference-neuronx")
    assert neuronx is not None
    assert neuronx.registry_account("eu-west-2") is None
    assert "eu-west-2" not in neuronx.regions_for_tag(NEURONX_TAG)
    assert not neuronx.is_published(NEURONX_TAG, "eu-west-2")
    assert neuronx.is_published(NEURONX_TAG, "us-east-1")
    # ... while the general-purpose images are there.
    assert find_repository("pytorch-inference").is_published(GPU_TAG, "eu-west-2")


def test_sdk_neuron_tags_are_limited_to_published_neuron_regions():
    training = find_repository("pytorch-training-neuronx")
    assert "sagemaker-core==2.27.0" in training.source  # one tag comes from the SDK's HyperPod table
    assert training.registry_account("eu-west-2") is None
    assert set(training.registries) <= set(neuron_dlc_tables.NEURON_REGISTRIES)


def test_example_tags_are_known():
    assert find_repository("pytorch-inference-neuronx").is_known_tag(NEURONX_TAG)
    pytorch = find_repository("pytorch-inference")
    assert pytorch.is_known_tag(GPU_TAG)
    assert pytorch.is_known_tag("2.6.0-gpu-py312")  # the tag image_uris.retrieve returns
    assert pytorch.is_known_tag("2.6-gpu-py312-cu124-ubuntu22.04-sagemaker-v1")


def test_unknown_and_malformed_tags_are_not_known():
    pytorch = find_repository("pytorch-inference")
    assert not pytorch.is_known_tag("latest")
    assert not pytorch.is_known_tag("9.9.9-gpu-py312-cu124-ubuntu22.04-sagemaker")
    assert not pytorch.is_known_tag("2.6.0-cpu-py312-cu124-ubuntu22.04-sagemaker")  # CUDA on a CPU tag
    assert not pytorch.is_known_tag("2.6.0-gpu-py312-cu124-cu124")
    assert not pytorch.is_known_tag("2.6.0-gpu-py312-nightly")
    assert not pytorch.regions_for_tag("latest")
    neuronx = find_repository("pytorch-inference-neuronx")
    assert not neuronx.is_known_tag("2.9.0-neuronx-py312-sdk2.99.0-ubuntu24.04")
    assert not neuronx.is_known_tag("latest")


def test_ec2_tags_are_flagged():
    assert is_ec2_tag("2.6.0-gpu-py312-cu124-ubuntu22.04-ec2")
    assert is_ec2_tag("2.6-gpu-py312-cu124-ubuntu22.04-ec2-v1")
    assert not is_ec2_tag(GPU_TAG)
    assert find_repository("pytorch-inference").is_known_tag("2.6.0-gpu-py312-cu124-ubuntu22.04-ec2")


def test_graviton_repositories_are_arm64():
    for name in ("pytorch-inference-graviton", "pytorch-inference-arm64", "tensorflow-inference-graviton"):
        repo = find_repository(name)
        assert repo.arch == "arm64", name
        assert "inference_graviton" in repo.scopes
    assert find_repository("pytorch-inference").arch == "x86_64"


def test_repository_shape():
    names = repository_names()
    assert names == tuple(sorted(names))
    assert {"pytorch-inference", "pytorch-training", "pytorch-inference-neuronx", "djl-inference"} <= set(
        names
    )
    assert find_repository("no-such-repository") is None
    training = find_repository("pytorch-training")
    assert training.purpose == "training"
    assert training.processors == {"cpu", "gpu"}
    assert find_repository("pytorch-inference").purpose == "inference"
    assert find_repository("pytorch-inference-neuronx").processors == {"neuronx"}
    tags = find_repository("pytorch-inference-neuronx").tags()
    assert tags[0] == NEURONX_TAG


def test_regions_vary_per_tag():
    """Availability is per tag, not per repository: regions were added and dropped over the versions."""
    repo = find_repository("pytorch-inference")
    newest, oldest = repo.tags()[0], repo.tags()[-1]
    assert "me-west-1" in repo.regions_for_tag(newest) - repo.regions_for_tag(oldest)
    assert set(repo.registries) == set().union(*(repo.regions_for_tag(t) for t in repo.tags()))


def test_neuron_accounts_agree_with_the_sdk_tables():
    for region, account in neuron_dlc_tables.NEURON_REGISTRIES.items():
        assert dlc_tables.DLC_ACCOUNTS[region] == account, region

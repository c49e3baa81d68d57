"""Regional SageMaker hosting offerings: refused when pinned, asserted at deploy when agnostic."""

from __future__ import annotations

import subprocess
import sys

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template
from conftest import REPO

from mlblueprints.constructs.compute.regional_offerings import hosting_regions, regional_hosting_problems
from mlblueprints.constructs.errors import MlBlueprintsError
from mlblueprints.constructs.sagemaker.container_image import ContainerImage
from mlblueprints.constructs.sagemaker.endpoint import RealtimeEndpoint, Variant
from mlblueprints.constructs.sagemaker.model_data import ModelData

GPU_IMAGE = ContainerImage.from_dlc("pytorch-inference", "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker")
MODEL = ModelData.from_s3_url("s3://models/m/model.tar.gz")


def _endpoint(region: str | None, **props) -> Stack:
    env = Environment(account="123456789012", region=region) if region else None
    stack = Stack(App(), "Test", env=env)
    RealtimeEndpoint(
        stack,
        "Endpoint",
        **{"instance_type": "ml.p5.48xlarge", "image": GPU_IMAGE, "model_data": MODEL, **props},
    )
    return stack


def test_pinned_region_without_the_type_is_refused_naming_where_it_is():
    with pytest.raises(
        MlBlueprintsError,
        match=r"ml.p5.48xlarge is not offered for SageMaker hosting in af-south-1.*us-east-1",
    ):
        _endpoint("af-south-1")


def test_pinned_region_with_the_type_is_accepted():
    assert "us-east-1" in hosting_regions("ml.p5.48xlarge")
    _endpoint("us-east-1")


def test_agnostic_stack_asserts_the_region_at_deploy():
    rules = Template.from_stack(_endpoint(None)).to_json()["Rules"]
    (rule,) = [r for name, r in rules.items() if name.startswith("HostingRegion")]
    regions = rule["Assertions"][0]["Assert"]["Fn::Contains"][0]
    assert regions == sorted(hosting_regions("ml.p5.48xlarge")) and "af-south-1" not in regions


def test_allow_unlisted_instance_types_skips_the_regional_check():
    _endpoint("af-south-1", allow_unlisted_instance_types=True)


def test_variants_are_checked_too():
    variant = Variant(name="B", image=GPU_IMAGE, model_data=MODEL, instance_type="ml.p5.48xlarge")
    with pytest.raises(MlBlueprintsError, match=r"variant 'B': ml.p5.48xlarge is not offered"):
        _endpoint("af-south-1", instance_type="ml.g4dn.xlarge", variants=[variant])


def test_unknown_regions_and_types_are_left_to_other_checks():
    assert regional_hosting_problems("ml.p5.48xlarge", "xx-nowhere-1") == []
    assert regional_hosting_problems("ml.zz9.xlarge", "us-east-1") == []


def test_blueprint_refuses_before_building():
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings
    from mlblueprints.constructs.errors import BlueprintConfigError

    config = {
        "instance_type": "ml.p5.48xlarge",
        "dlc_repository": "pytorch-inference",
        "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
    }
    with pytest.raises(BlueprintConfigError, match=r"not offered for SageMaker hosting in af-south-1"):
        RealtimeEndpointSettings.parse("S", config, region="af-south-1")


def test_table_matches_the_installed_cfn_lint():
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "generate_hosting_regions.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr

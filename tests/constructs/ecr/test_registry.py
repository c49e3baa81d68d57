"""RegistrySettings: the public DLC pull-through cache, enhanced scanning, replication, refusals."""

from __future__ import annotations

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template

from mlblueprints.constructs.ecr.registry import RegistrySettings
from mlblueprints.constructs.ecr.repository import RepositoryError


def _template(**props) -> tuple[RegistrySettings, Template]:
    stack = Stack(App(), "Test", env=Environment(account="123456789012", region="us-east-1"))
    registry = RegistrySettings(stack, "Registry", **props)
    return registry, Template.from_stack(stack)


def test_public_dlc_cache_by_default_and_nothing_else():
    registry, template = _template()
    template.has_resource_properties(
        "AWS::ECR::PullThroughCacheRule",
        {
            "EcrRepositoryPrefix": "ecr-public",
            "UpstreamRegistry": "ecr-public",
            "UpstreamRegistryUrl": "public.ecr.aws",
        },
    )
    template.resource_count_is("AWS::ECR::RegistryScanningConfiguration", 0)
    template.resource_count_is("AWS::ECR::ReplicationConfiguration", 0)
    uri = Stack.of(registry).resolve(
        registry.cached_image_uri("deep-learning-containers/pytorch-inference", "2.6.0-gpu-py312")
    )
    assert "/ecr-public/deep-learning-containers/pytorch-inference:2.6.0-gpu-py312" in str(uri)


def test_enhanced_scanning_and_replication_on_request():
    _, template = _template(enhanced_scanning=True, replicate_to=["us-west-2", "eu-west-1"])
    template.has_resource_properties("AWS::ECR::RegistryScanningConfiguration", {"ScanType": "ENHANCED"})
    (replication,) = template.find_resources("AWS::ECR::ReplicationConfiguration").values()
    destinations = replication["Properties"]["ReplicationConfiguration"]["Rules"][0]["Destinations"]
    assert [d["Region"] for d in destinations] == ["us-west-2", "eu-west-1"]


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"pull_through_prefix": "X"}, r"pull_through_prefix='X'"),
        ({"pull_through_prefix": "a" * 31}, r"2 to 30"),
        ({"replicate_to": ["us-east-1"]}, r"this stack's own region"),
        ({"replicate_to": ["mars-east-1"]}, r"not a region botocore knows"),
        ({"replicate_to": ["us-west-2", "us-west-2"]}, r"names a region twice"),
    ],
)
def test_refused_with_the_reason(props, message):
    with pytest.raises(RepositoryError, match=message):
        _template(**props)


def test_no_cache_means_no_cached_uri():
    registry, _ = _template(pull_through_prefix=None)
    with pytest.raises(RepositoryError, match=r"no pull-through cache"):
        registry.cached_image_uri("deep-learning-containers/pytorch-inference", "2.6.0-gpu-py312")


def test_registry_stack_passes_every_gate_even_with_no_control_tower_rule_applying(tmp_path):
    # No Control Tower rule names an ECR registry resource; cfn-guard refuses to run without rules.
    from conftest import cdk_json_context

    from mlblueprints.constructs.compliance.gates import add_compliance_gates

    app = App(context=cdk_json_context(), outdir=str(tmp_path))
    RegistrySettings(Stack(app, "Registry"), "Registry", enhanced_scanning=True, replicate_to=["us-west-2"])
    add_compliance_gates(app)
    app.synth()
    assert (tmp_path / "Registry.template.json").exists()

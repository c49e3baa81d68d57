"""The README's promises: its construct example runs, and its commands are the ones CI uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk.assertions import Match, Template

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_construct_example_synthesizes_under_all_gates():
    (example,) = [b for b in _blocks("python") if "RealtimeEndpoint(" in b]
    assert "add_compliance_gates(app)" in example
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # app.synth() raises on any finding
    assembly = namespace["app"].synth()
    template = Template.from_json(assembly.get_stack_by_name("MyInferenceStack").template)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.inf2.xlarge"})]},
    )
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {"MaxCapacity": 8})
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 40})},
    )


def test_readme_config_examples_are_the_shipped_example_files():
    first, images = [b for b in _blocks("json") if '"stacks"' in b]
    (path,) = re.findall(r"this one is `([^`]+\.json)`", README)
    assert path == "blueprints/realtime_endpoint/example.json"
    assert json.loads(first) == json.loads((REPO / path).read_text())
    assert f"-c config={path} " in README
    images_path = "blueprints/container_image/example.json"
    assert json.loads(images) == json.loads((REPO / images_path).read_text())
    assert f"-c config={images_path}`" in README


def test_readme_commands_are_make_synth_and_make_test_and_ci_runs_make_test():
    (commands,) = [b for b in _blocks("sh") if "make synth" in b]
    assert "make test" in commands
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_every_setting_is_documented():
    from mlblueprints.blueprints.realtime_endpoint.settings import RealtimeEndpointSettings

    undocumented = [
        name
        for name in RealtimeEndpointSettings.model_fields
        if name != "description" and f"`{name}`" not in README
    ]
    assert undocumented == [], f"settings missing from the README table: {undocumented}"

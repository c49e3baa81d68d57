"""The contract every registered blueprint keeps, checked over the registry: a new blueprint gets it free.

- its example config synthesizes under all six gates, environment-agnostic and pinned to an account
  and several regions (as ``cdk deploy`` pins it), the GPU example also in ``aws-cn``;
- its settings refuse unknown keys, are documented in the README and exported as a JSON Schema that
  matches the settings model.
"""

from __future__ import annotations

import json

import pytest
from conftest import ACCOUNT, CHINA_STACK, PINNED_REGIONS, REPO, contract_stacks, pinned_regions

from mlblueprints.blueprints.registry import BLUEPRINTS
from mlblueprints.constructs.errors import BlueprintConfigError

BLUEPRINT_NAMES = sorted(BLUEPRINTS)


def test_every_contract_stack_synthesized(contract_templates):
    assert set(contract_templates) == set(contract_stacks())


@pytest.mark.parametrize("blueprint", BLUEPRINT_NAMES)
def test_example_synthesizes_agnostic_and_pinned(blueprint, contract_assembly):
    manifest = json.loads((contract_assembly / "manifest.json").read_text())
    environments = {
        name: artifact.get("environment")
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    for name in json.loads(BLUEPRINTS[blueprint].example.read_text())["stacks"]:
        assert environments[f"{name}-agnostic"] == "aws://unknown-account/unknown-region"
        for region in pinned_regions(BLUEPRINTS[blueprint]):
            assert environments[f"{name}-{region}"] == f"aws://{ACCOUNT}/{region}"


@pytest.mark.parametrize(
    "blueprint", [name for name in BLUEPRINT_NAMES if BLUEPRINTS[name].settings.offered_regions() is not None]
)
def test_a_region_without_the_blueprints_services_is_refused(blueprint):
    entry = BLUEPRINTS[blueprint]
    offered = entry.settings.offered_regions()
    pinned = pinned_regions(entry)
    assert len(pinned) == min(len(PINNED_REGIONS), len(offered)) and set(pinned) <= offered
    outside = next(region for region in (*PINNED_REGIONS, "af-south-1", "sa-east-1") if region not in offered)
    (name, config), *_ = json.loads(entry.example.read_text())["stacks"].items()
    with pytest.raises(BlueprintConfigError, match=rf"{outside}.*deploy to one of"):
        entry.settings.parse(name, {k: v for k, v in config.items() if k != "blueprint"}, region=outside)


def test_china_partition_is_covered(contract_templates):
    name, region = CHINA_STACK
    template = json.dumps(contract_templates[f"{name}-{region}"])
    assert "arn:aws-cn:" in template, "pinned to cn-north-1, ARNs carry the aws-cn partition"
    assert "727897471807.dkr.ecr." in template, "the China DLC registry account from the image tables"


def test_pinned_stacks_resolve_no_availability_zones_at_synth(contract_assembly):
    # A lookup would leave "missing" context for the CLI to fetch with credentials.
    manifest = json.loads((contract_assembly / "manifest.json").read_text())
    assert "missing" not in manifest
    assert not list(contract_assembly.parent.glob("cdk.context.json"))


@pytest.mark.parametrize("blueprint", BLUEPRINT_NAMES)
def test_settings_refuse_unknown_keys(blueprint):
    with pytest.raises(BlueprintConfigError, match=r"unknown setting 'no_such_setting'"):
        BLUEPRINTS[blueprint].settings.parse("S", {"no_such_setting": 1})


@pytest.mark.parametrize("blueprint", BLUEPRINT_NAMES)
def test_settings_are_documented_in_the_readme(blueprint):
    readme = (REPO / "README.md").read_text()
    for field in BLUEPRINTS[blueprint].settings.model_fields:
        assert f"| `{field}` |" in readme, f"{blueprint}: setting {field!r} is not in the README table"


@pytest.mark.parametrize("blueprint", BLUEPRINT_NAMES)
def test_exported_schema_matches_the_settings(blueprint):
    from mlblueprints.blueprints.docs import stack_schema

    entry = BLUEPRINTS[blueprint]
    assert entry.schema_path.is_file(), "run: .venv/bin/python -m mlblueprints.blueprints.docs"
    assert json.loads(entry.schema_path.read_text()) == stack_schema(entry)


@pytest.mark.parametrize("blueprint", BLUEPRINT_NAMES)
def test_example_names_its_schema(blueprint):
    document = json.loads(BLUEPRINTS[blueprint].example.read_text())
    assert document["$schema"].endswith("config.schema.json")
    for entry in document["stacks"].values():
        assert entry["blueprint"] == blueprint, "a config names its blueprint: there is no default"


def test_readme_settings_tables_are_current():
    from mlblueprints.blueprints.docs import render_readme

    readme = (REPO / "README.md").read_text()
    assert render_readme(readme) == readme, "run: .venv/bin/python -m mlblueprints.blueprints.docs"


def test_config_schema_is_current():
    from mlblueprints.blueprints.docs import CONFIG_SCHEMA, config_schema

    assert json.loads(CONFIG_SCHEMA.read_text()) == config_schema()


@pytest.mark.parametrize("blueprint", BLUEPRINT_NAMES)
def test_registry_name_is_the_settings_blueprint_name(blueprint):
    # Lazily loaded settings are named in the registry by hand: the name must be the settings' own.
    assert BLUEPRINTS[blueprint].settings.blueprint_name == blueprint

"""The catalog app: ``cdk synth`` / ``cdk deploy`` entry point (see cdk.json).

Without configuration it synthesizes the example stacks below: one real-time endpoint each on an
NVIDIA GPU, AWS Inferentia2 and AWS Trainium. With ``-c config=path/to/stacks.json`` (or a
``stacks`` object in CDK context) it synthesizes your stacks instead; see README.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

from aws_cdk import App, Environment  # noqa: E402

from mlblueprints.blueprints.realtime_endpoint import (  # noqa: E402
    BlueprintConfigError,
    RealtimeEndpointSettings,
    RealtimeEndpointStack,
)
from mlblueprints.constructs.compliance import add_compliance_packs  # noqa: E402

# Image tags checked against the AWS Deep Learning Containers release list (2026-11).
EXAMPLE_STACKS: dict[str, dict[str, Any]] = {
    "GpuEndpoint": {
        "blueprint": "realtime-endpoint",
        "instance_type": "ml.g5.xlarge",
        "dlc_repository": "pytorch-inference",
        "dlc_tag": "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker",
    },
    "Inferentia2Endpoint": {
        "blueprint": "realtime-endpoint",
        "instance_type": "ml.inf2.xlarge",
        "dlc_repository": "pytorch-inference-neuronx",
        "dlc_tag": "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
    },
    "TrainiumEndpoint": {
        "blueprint": "realtime-endpoint",
        "instance_type": "ml.trn1.2xlarge",
        "dlc_repository": "pytorch-inference-neuronx",
        "dlc_tag": "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
    },
}

BLUEPRINTS = {"realtime-endpoint": (RealtimeEndpointSettings, RealtimeEndpointStack)}


def load_stack_config(app: App) -> dict[str, dict[str, Any]]:
    """The stacks to synthesize: ``-c config=<file>``, else context ``stacks``, else the examples."""
    config_path = app.node.try_get_context("config")
    if config_path:
        path = Path(config_path)
        if not path.is_file():
            raise BlueprintConfigError(f"Config file {config_path!r} (context 'config') does not exist.")
        document = _parse_json(path.read_text(), f"Config file {config_path!r}")
        stacks = document.get("stacks") if isinstance(document, dict) else None
    else:
        stacks = app.node.try_get_context("stacks")
        if stacks is None:
            return EXAMPLE_STACKS
        if isinstance(stacks, str):  # -c stacks='{...}' arrives as a string
            stacks = _parse_json(stacks, "Context 'stacks'")
    if not isinstance(stacks, dict) or not stacks:
        raise BlueprintConfigError(
            'The config must hold a non-empty \'stacks\' object: {"stacks": {"MyEndpoint": '
            '{"blueprint": "realtime-endpoint", "instance_type": "ml.g5.xlarge", ...}}}.'
        )
    return stacks


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BlueprintConfigError(f"{source} is not valid JSON: {error}") from error


def build_app(app: App) -> App:
    """Add every configured blueprint stack to ``app`` and put the compliance gate on it."""
    for stack_name, raw in load_stack_config(app).items():
        settings_config = dict(raw)
        blueprint = settings_config.pop("blueprint", "realtime-endpoint")
        env_config = settings_config.pop("env", None)
        if blueprint not in BLUEPRINTS:
            raise BlueprintConfigError(
                f"Stack {stack_name!r}: unknown blueprint {blueprint!r}. Available: {', '.join(BLUEPRINTS)}."
            )
        settings_type, stack_type = BLUEPRINTS[blueprint]
        settings = settings_type.from_config(stack_name, settings_config)
        env = _env_from_config(stack_name, env_config) if env_config else _env_from_cli()
        stack_type(app, stack_name, settings=settings, env=env)
    add_compliance_packs(app)
    return app


def _env_from_config(stack_name: str, env_config: Any) -> Environment:
    if (
        not isinstance(env_config, dict)
        or set(env_config) - {"account", "region"}
        or not all(isinstance(v, str) for v in env_config.values())
    ):
        raise BlueprintConfigError(
            f"Stack {stack_name!r}: 'env' is {env_config!r}; expected an object with string 'account' "
            'and/or \'region\', e.g. {"account": "123456789012", "region": "us-east-1"}.'
        )
    return Environment(**env_config)


def _env_from_cli() -> Environment | None:
    """Deploy to the CLI's account/region when it knows them; stay environment-agnostic otherwise."""
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    if account and region:
        return Environment(account=account, region=region)
    return None


def main() -> None:
    build_app(App()).synth()


if __name__ == "__main__":
    main()

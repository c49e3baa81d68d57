"""The catalog app: ``cdk synth`` / ``cdk deploy`` entry point (see cdk.json).

Without configuration it synthesizes the example stacks below: one real-time endpoint each on an
NVIDIA GPU, AWS Inferentia2 and AWS Trainium. With ``-c config=path/to/stacks.json`` (or a
``stacks`` object in CDK context) it synthesizes your stacks instead; see README.md. A configuration
mistake prints one block naming every problem in every stack, and exits with status 1.
"""

from __future__ import annotations

import sys
from typing import Any

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

from aws_cdk import App  # noqa: E402

from mlblueprints.apps.config import CatalogConfigError, load_stack_configs  # noqa: E402
from mlblueprints.constructs.compliance.gates import add_compliance_gates  # noqa: E402
from mlblueprints.constructs.errors import MlBlueprintsError, Problem  # noqa: E402

# Image tags checked against the catalog's image tables (SageMaker SDK and AWS's Neuron image list).
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


def build_app(app: App, *, gates: bool = True) -> App:
    """Add every configured blueprint stack to ``app`` and put the six compliance gates on it.

    ``gates=False`` leaves the gates to the caller (``mlblueprints scan --gates`` picks some).
    Raises :class:`CatalogConfigError` with every problem of every stack: settings are validated
    before anything is built, and each stack's construct errors are collected, not stopped at.
    """
    configs, errors = load_stack_configs(app, EXAMPLE_STACKS)
    if errors and _uses_examples(app) and len(errors) < len(EXAMPLE_STACKS):
        # `cdk deploy` pins the built-in examples to the CLI's region; an example that region cannot
        # host (Trainium is hosted in two regions) is left out, with the reason, instead of failing
        # the stacks that fit. A config of your own keeps every problem an error.
        for error in errors:
            reasons = " ".join(problem.message for problem in error.problems)
            print(f"Example stack {error.stack!r} is not built in this region: {reasons}", file=sys.stderr)
        errors = []
    for config in configs:
        try:
            config.blueprint.build(app, config.name, settings=config.settings, env=config.env)
        except MlBlueprintsError as error:
            errors.append(error.in_stack(config.name))
        except RuntimeError as error:  # a CDK (jsii) error our validation did not foresee
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            errors.append(
                MlBlueprintsError(Problem(f"AWS CDK refused the stack: {first_line}"), stack=config.name)
            )
    if errors:
        raise CatalogConfigError(errors)
    if gates:
        add_compliance_gates(app)
    return app


def _uses_examples(app: App) -> bool:
    return app.node.try_get_context("config") is None and app.node.try_get_context("stacks") is None


def main() -> int:
    try:
        app = build_app(App())
    except CatalogConfigError as error:
        print(error, file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``mlblueprints``: the catalog's command line.

Discover the blueprints (``list``, ``show``, ``init``), look up instance types (``instance``), size a
model (``fit``), price a config (``cost``), scan it under the compliance gates (``scan``), explain a
rule (``explain``), draw a blueprint (``diagram``) and check the machine (``doctor``). Heavy modules
(aws_cdk, jsii) load only in the commands that synthesize, so ``--help`` answers at once.
"""

from __future__ import annotations

import sys

from mlblueprints.apps.runtime import use_pinned_node

# jsii starts a Node.js process on the first aws_cdk import: the pinned one, not the machine's.
use_pinned_node()

import typer  # noqa: E402

from mlblueprints.apps.cli import (  # noqa: E402
    catalog_commands,
    cost,
    diagram,
    doctor,
    explain,
    fit,
    instance,
    scan,
)
from mlblueprints.apps.cli.output import print_error  # noqa: E402
from mlblueprints.constructs.errors import MlBlueprintsError  # noqa: E402

__all__ = ["app", "main"]

app = typer.Typer(
    name="mlblueprints",
    help="AWS CDK blueprints for accelerated ML: discover, size, cost, scan, explain and draw the catalog.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
for module in (catalog_commands, instance, fit, cost, scan, explain, diagram, doctor):
    module.register(app)


def main() -> None:
    """The console script: a catalog error is one clean block on stderr and exit status 1."""
    try:
        app()
    except MlBlueprintsError as error:
        print_error(error)
        sys.exit(1)

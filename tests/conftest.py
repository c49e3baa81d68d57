"""Shared fixtures. jsii starts Node.js on the first aws_cdk import, so pin it before anything else."""

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

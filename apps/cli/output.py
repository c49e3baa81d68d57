"""How the command line prints: rich tables for people, ``--json`` for machines, errors as one block."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from mlblueprints.constructs.errors import MlBlueprintsError

__all__ = ["console", "print_error", "print_json"]

console = Console(highlight=False, soft_wrap=False)
_errors = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """``data`` as JSON on stdout, nothing else (for ``--json``)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def print_error(error: MlBlueprintsError) -> None:
    """Every problem of ``error``, one per line, with the setting and value it is about."""
    header = f"Stack {error.stack!r}: " if error.stack else ""
    _errors.print(f"[bold red]error:[/] {header}{len(error.problems)} problem(s)", markup=True)
    for problem in error.problems:
        where = f"[{problem.setting}] " if problem.setting else ""
        _errors.print(f"  - {where}{problem.message}", markup=False)

"""Check a Dockerfile, statically, against what SageMaker asks of serving and training containers.

    python -m mlblueprints.apps.dockerfile_lint containers/serving/Dockerfile --kind serving

From "Custom Inference Code with Hosting Services" and "Adapting your own training container"
(SageMaker Developer Guide): SageMaker runs ``docker run <image> serve`` (or ``train``), so the
image must handle that argument; it stops containers with SIGTERM, which only an exec-form
``ENTRYPOINT`` (no ``/bin/sh`` in between) receives; serving containers answer on port 8080; and
"SageMaker AI expects all containers to run with root users". Each finding names the line, the
rule and the fix. Exits 0 when there is none, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finding", "lint_dockerfile", "main"]

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")


@dataclass(frozen=True)
class Finding:
    line: int | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "Dockerfile"
        return f"{where}: [{self.rule}] {self.message}"


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments), with continuation lines joined; comments skipped."""
    result, buffer, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        match = _INSTRUCTION.match(buffer)
        if match:
            result.append((start, match[1].upper(), match[2].strip()))
        buffer = ""
    return result


_SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash"}


def _last_stage(instructions: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    starts = [index for index, (_, op, _) in enumerate(instructions) if op == "FROM"]
    return instructions[starts[-1] :] if starts else instructions


def lint_dockerfile(text: str, *, kind: str = "serving") -> list[Finding]:
    """Every finding of ``text`` for a ``"serving"`` or ``"training"`` container."""
    command = "serve" if kind == "serving" else "train"
    # ENTRYPOINT, EXPOSE and USER of earlier build stages do not reach the image: only the last
    # stage's (and its base image's) do.
    instructions = _last_stage(_instructions(text))
    findings = []
    entrypoints = [(n, args) for n, op, args in instructions if op == "ENTRYPOINT"]
    if entrypoints:
        line, args = entrypoints[-1]
        try:
            argv = json.loads(args)
        except json.JSONDecodeError:
            argv = None
        exec_form = isinstance(argv, list)
        if exec_form and len(argv) >= 2 and argv[0] in _SHELLS and argv[1] == "-c":
            findings.append(
                Finding(
                    line,
                    "exec-form-entrypoint",
                    f"ENTRYPOINT {args} runs a shell in exec form: the shell, not your server, receives the SIGTERM "
                    'SageMaker stops containers with. Run the program directly, e.g. ENTRYPOINT ["python", '
                    '"/opt/program/serve.py"].',
                )
            )
        if not exec_form:
            findings.append(
                Finding(
                    line,
                    "exec-form-entrypoint",
                    f"ENTRYPOINT {args} is in shell form: it runs under /bin/sh, which does not pass on the "
                    'SIGTERM SageMaker stops containers with. Write it as a JSON array, e.g. ENTRYPOINT ["python", '
                    '"/opt/program/serve.py"].',
                )
            )
    elif not any(
        re.search(rf"(^|[/\s]){command}(\s|$)", args)
        for _, op, args in instructions
        if op in ("COPY", "ADD", "RUN")
    ):
        findings.append(
            Finding(
                None,
                f"{command}-handled",
                f"SageMaker runs the image as 'docker run <image> {command}': give it an exec-form ENTRYPOINT that "
                f"accepts '{command}', or install an executable named '{command}' on the PATH.",
            )
        )
    if kind == "serving":
        exposed = [args for _, op, args in instructions if op == "EXPOSE"]
        if not any(re.search(r"(^|\s)8080(/tcp)?(\s|$)", args) for args in exposed):
            findings.append(
                Finding(
                    None,
                    "port-8080",
                    "no EXPOSE 8080: SageMaker sends /ping and /invocations to port 8080 of a serving container.",
                )
            )
    users = [(n, args) for n, op, args in instructions if op == "USER"]
    if users and users[-1][1].split(":")[0] not in ("root", "0"):
        line, user = users[-1]
        findings.append(
            Finding(
                line,
                "runs-as-root",
                f"USER {user}: SageMaker expects containers to run as root (other users hit permission problems "
                "on /opt/ml). Drop the USER line, or end with USER root.",
            )
        )
    return findings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlblueprints.apps.dockerfile_lint",
        description="Check a Dockerfile against SageMaker's container contract.",
    )
    parser.add_argument("dockerfile", type=Path)
    parser.add_argument("--kind", choices=("serving", "training"), default="serving")
    args = parser.parse_args(argv)
    try:
        text = args.dockerfile.read_text()
    except OSError as error:
        print(f"error: {args.dockerfile}: {error.strerror or error}", file=sys.stderr)
        return 2
    findings = lint_dockerfile(text, kind=args.kind)
    for finding in findings:
        print(finding)
    if not findings:
        print(f"{args.dockerfile}: no findings ({args.kind})")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

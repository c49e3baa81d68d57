"""Synthesis speed and memory of the catalog, against a plain-L1 reference with the same gates.

Every case runs in a fresh process (jsii's Node.js start-up included, as a user pays it), with all
six compliance gates, into a temporary cloud assembly:

- ``catalog``: the default app (three real-time endpoint stacks), built from the catalog's constructs;
- ``L1 reference``: the same stacks written by hand with aws-cdk-lib's L1 classes, with the same
  acknowledgements and gates (``benchmarks/l1_hand_written.py``); the catalog must stay within 1.10x;
- ``1 stack`` / ``6 stacks``: the catalog with one and with six endpoint stacks; each extra stack must
  cost under 0.3 s. The same stacks as plain L1 (``... L1``) show the floor the gates set;
- ``docs site``: ``make docs``' build (every example synthesized under the gates, cfn-lint and checkov,
  the pages, mkdocs), once: it must stay under a minute on 2 cores.

Peak memory is the largest resident set among a case's processes (Python or jsii's Node.js).

    make bench                       # or: .venv/bin/python benchmarks/synth_benchmark.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RATIO_TARGET = 1.10
PER_STACK_TARGET_SECONDS = 0.3
SCALING_STACKS = (1, 6)
DOCS_TARGET_SECONDS = 60.0

# Synthesizes the catalog app with the given stacks (None: the default app) into argv[2].
WORKER = """
import json, sys
from mlblueprints.apps.runtime import use_pinned_node
use_pinned_node()
from aws_cdk import App
from mlblueprints.apps.catalog import build_app
stacks = json.loads(sys.argv[1])
context = json.loads(open(sys.argv[3]).read())["context"]
context["aws:cdk:enable-path-metadata"] = True  # as the CDK CLI sets it
if stacks is not None:
    context["stacks"] = json.dumps(stacks)
build_app(App(context=context, outdir=sys.argv[2])).synth()
"""

# Builds the documentation site as make docs does (without opening it in Chromium) under argv[1].
DOCS_WORKER = """
import sys
from pathlib import Path
from mlblueprints.apps.docs_site import build
build(Path(sys.argv[1]) / "docs", Path(sys.argv[1]) / "site")
"""

# Runs one case and reports the largest RSS among its processes (Linux reports it in KiB).
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measure(command: list[str]) -> tuple[float, float]:
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env = {k: v for k, v in env.items() if not k.startswith("CDK_DEFAULT_")}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[-2]), float(out[-1]) / 1024


def catalog_command(stacks: dict | None, outdir: str) -> list[str]:
    return [sys.executable, "-c", WORKER, json.dumps(stacks), outdir, str(REPO / "cdk.json")]


def scaled_stacks(count: int) -> dict:
    from mlblueprints.apps.catalog import EXAMPLE_STACKS

    examples = list(EXAMPLE_STACKS.values())
    return {f"Endpoint{i}": examples[i % len(examples)] for i in range(count)}


def best(command_for, repeat: int) -> dict:
    runs = [measure(command_for()) for _ in range(repeat)]
    return {"seconds": round(min(r[0] for r in runs), 2), "peak_rss_mib": round(max(r[1] for r in runs), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is reported")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))

    reference = str(REPO / "benchmarks" / "l1_hand_written.py")
    results = {"catalog": best(lambda: catalog_command(None, tempfile.mkdtemp()), args.repeat)}
    results["L1 reference"] = best(lambda: [sys.executable, reference, tempfile.mkdtemp()], args.repeat)
    for count in SCALING_STACKS:
        stacks = scaled_stacks(count)
        results[f"{count} stack(s)"] = best(
            lambda stacks=stacks: catalog_command(stacks, tempfile.mkdtemp()), args.repeat
        )
        # The floor: the same stacks as plain L1 with the same gates.
        results[f"{count} stack(s) L1"] = best(
            lambda count=count: [sys.executable, reference, tempfile.mkdtemp(), str(count)], args.repeat
        )
    results["docs site"] = best(lambda: [sys.executable, "-c", DOCS_WORKER, tempfile.mkdtemp()], 1)

    ratio = results["catalog"]["seconds"] / results["L1 reference"]["seconds"]
    low, high = SCALING_STACKS
    per_stack = (results[f"{high} stack(s)"]["seconds"] - results[f"{low} stack(s)"]["seconds"]) / (
        high - low
    )
    per_stack_l1 = (results[f"{high} stack(s) L1"]["seconds"] - results[f"{low} stack(s) L1"]["seconds"]) / (
        high - low
    )
    docs = results["docs site"]["seconds"]
    ok = ratio <= RATIO_TARGET and per_stack < PER_STACK_TARGET_SECONDS and docs < DOCS_TARGET_SECONDS
    summary = {
        "ratio_to_l1": round(ratio, 3),
        "seconds_per_extra_stack": round(per_stack, 3),
        "seconds_per_extra_stack_l1": round(per_stack_l1, 3),
        "docs_site_seconds": docs,
        "meets_targets": ok,
    }
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "results": results, **summary}, indent=2))
    else:
        print(f"Synthesis with all six compliance gates, {os.cpu_count()} CPUs, best of {args.repeat}:")
        print(f"{'case':<20} {'seconds':>8} {'peak RSS MiB':>13}")
        for label, result in results.items():
            print(f"{label:<20} {result['seconds']:>8.2f} {result['peak_rss_mib']:>13.1f}")
        print(f"catalog / L1 reference: {ratio:.2f}x (target <= {RATIO_TARGET:.2f}x)")
        print(
            f"each extra stack: {per_stack:.2f} s (target < {PER_STACK_TARGET_SECONDS} s; "
            f"plain L1 with the same gates: {per_stack_l1:.2f} s)"
        )
        print(f"documentation site build: {docs:.1f} s (target < {DOCS_TARGET_SECONDS:.0f} s)")
        print("meets every target" if ok else "MISSES a target")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

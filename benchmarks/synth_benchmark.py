"""Seconds and peak memory to synthesize each blueprint, and the whole default catalog app.

Each case runs in a fresh process (jsii's Node.js start-up included, as a user pays it), with all
five compliance packs applied, into a temporary cloud assembly. Peak memory is the largest
resident set among the processes of the case (the Python process or jsii's Node.js process).

    make bench                       # or: .venv/bin/python benchmarks/synth_benchmark.py --repeat 3

Targets on the 2-core reference machine: the default app under 10 s; the test suite under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP_TARGET_SECONDS = 10.0

WORKER = """
import json, sys, tempfile
from mlblueprints.apps.runtime import use_pinned_node
use_pinned_node()
from aws_cdk import App
from mlblueprints.apps.catalog import EXAMPLE_STACKS, build_app
names = json.loads(sys.argv[1])
context = {} if names is None else {"stacks": json.dumps({n: EXAMPLE_STACKS[n] for n in names})}
build_app(App(context=context, outdir=tempfile.mkdtemp())).synth()
"""

# Runs one case and reports the largest RSS among its processes (Linux reports it in KiB).
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_case(names: list[str] | None) -> tuple[float, float]:
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-c", WORKER, json.dumps(names)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    seconds, max_rss_kib = float(out[-2]), float(out[-1])
    return seconds, max_rss_kib / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest is reported")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from mlblueprints.apps.catalog import EXAMPLE_STACKS

    cases: dict[str, list[str] | None] = {name: [name] for name in EXAMPLE_STACKS}
    cases["default app (all stacks)"] = None
    results = {}
    for label, names in cases.items():
        runs = [run_case(names) for _ in range(args.repeat)]
        seconds = min(r[0] for r in runs)
        peak_mib = max(r[1] for r in runs)
        results[label] = {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1)}

    app_seconds = results["default app (all stacks)"]["seconds"]
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2))
    else:
        print(f"Synthesis with all five compliance packs, {os.cpu_count()} CPUs, best of {args.repeat}:")
        print(f"{'case':<28} {'seconds':>8} {'peak RSS MiB':>13}")
        for label, result in results.items():
            print(f"{label:<28} {result['seconds']:>8.2f} {result['peak_rss_mib']:>13.1f}")
        verdict = "meets" if app_seconds < APP_TARGET_SECONDS else "MISSES"
        print(f"default app: {app_seconds:.2f} s, {verdict} the {APP_TARGET_SECONDS:.0f} s target")
    return 0 if app_seconds < APP_TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())

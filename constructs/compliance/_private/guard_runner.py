"""Run cdk-validator-cfnguard's own validator over several templates at once, one Node.js process per core.

The plugin runs cfn-guard once over every template, one after another, about 0.2 s per template
with the Control Tower rules. Its JavaScript (``lib/plugin.js``) needs nothing but Node.js, so this
module unpacks the installed plugin package once into the user's cache and runs that same code on
a share of the templates in each process: the same rules, the same binary, the same parsing of
cfn-guard's output, in parallel.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["plugin_dir", "validate_in_parallel"]

_SCRIPT = r"""
const [pluginDir, optionsJson, ...templatePaths] = process.argv.slice(1);
const { CfnGuardValidator } = require(require("path").join(pluginDir, "lib", "plugin.js"));
const report = new CfnGuardValidator(JSON.parse(optionsJson)).validate({ templatePaths });
process.stdout.write(JSON.stringify(report));
"""

# The plugin's own names for the platform and architecture of its bundled cfn-guard binaries.
_PLATFORMS = {"Linux": "ubuntu", "Darwin": "macos"}
_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


@functools.cache
def plugin_dir() -> Path | None:
    """The plugin package, unpacked once per version into the cache; ``None`` where it cannot run."""
    try:
        return _unpacked_plugin()
    except OSError:  # a read-only or full cache directory: the caller uses the plugin through jsii
        return None


def _unpacked_plugin() -> Path | None:
    guard_platform = _PLATFORMS.get(platform.system())
    architecture = _ARCHITECTURES.get(platform.machine().lower())
    if guard_platform is None or architecture is None:
        return None
    distribution = metadata.distribution("cdklabs.cdk-validator-cfnguard")
    (tarball,) = [
        Path(distribution.locate_file(f)) for f in distribution.files or [] if f.name.endswith(".jsii.tgz")
    ]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlblueprints"
    target = cache / f"cdk-validator-cfnguard-{distribution.version}-{tarball.stat().st_size}"
    if (target / "lib" / "plugin.js").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=cache))
    binaries = f"package/bin/{guard_platform}/{architecture}/"
    with tarfile.open(tarball) as archive:
        members = [
            m
            for m in archive.getmembers()
            if m.name.startswith("package/")
            and (not m.name.startswith("package/bin/") or m.name.startswith(binaries))
        ]
        archive.extractall(staging, members=members, filter="data")
    try:
        (staging / "package").rename(target)
    except OSError:  # another process unpacked it first
        shutil.rmtree(staging, ignore_errors=True)
    else:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _node() -> str | None:
    return os.environ.get("JSII_NODE") or shutil.which("node")


def validate_in_parallel(
    template_paths: list[str], options: dict[str, Any], workers: int
) -> dict[str, Any] | None:
    """The plugin's report over ``template_paths``, split over ``workers`` processes.

    ``None`` when it cannot run here (no Node.js, an unsupported platform): the caller then uses the
    plugin through jsii.
    """
    node, package = _node(), plugin_dir()
    if node is None or package is None:
        return None
    shares = [template_paths[i::workers] for i in range(workers) if template_paths[i::workers]]

    def run(share: list[str]) -> dict[str, Any]:
        result = subprocess.run(
            [node, "-e", _SCRIPT, str(package), json.dumps(options), *share],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cdk-validator-cfnguard failed: {result.stderr.strip()[-2000:]}")
        return json.loads(result.stdout)

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        reports = list(pool.map(run, shares))
    return {
        "success": all(report.get("success", True) for report in reports),
        "violations": [violation for report in reports for violation in report.get("violations", [])],
    }

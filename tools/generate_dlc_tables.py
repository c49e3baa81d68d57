"""Generate ``constructs/sagemaker/_private/dlc_tables.py`` from the SageMaker SDK's own image tables.

The AWS Deep Learning Containers facts (registry account per region, repositories, tags, per-region
availability, CPU architecture) come from the ``image_uri_config/*.json`` files that ship inside the
pinned ``sagemaker-core`` wheel. The SDK is never imported (it is heavy and pins its own boto3): the
wheel is opened as a zip file and only its JSON tables are read.

Usage::

    .venv/bin/python tools/generate_dlc_tables.py            # download the pinned wheel, write the module
    .venv/bin/python tools/generate_dlc_tables.py --check    # exit 1 (with a diff) if the module drifted
    .venv/bin/python tools/generate_dlc_tables.py --wheel path/to/sagemaker_core-2.27.0-py3-none-any.whl
    .venv/bin/python tools/generate_dlc_tables.py --package-dir path/to/site-packages

How the tags are reproduced (mirrors ``sagemaker/core/image_uris.py`` of the pinned version):

* ``tag = "-".join(x for x in (tag_prefix, processor, py_version, container_version) if x)``
* ``tag_prefix`` is the version's ``tag_prefix`` or else the requested version (a concrete version or
  one of its ``version_aliases``, which the SDK puts in the tag unchanged).
* ``container_version`` is ``version_config["container_version"][processor]`` when present; for the
  Trainium/Neuron repositories it is prefixed by each of the version's ``sdk_versions``; graviton/arm64
  repositories of a framework get ``-sagemaker`` appended; ``processor_in_tag: false`` drops the processor.
* Hugging Face configs: ``{pt_or_tf_version}-transformers{version}`` prefix, one tag per base framework
  (and, where the SDK keeps the caller's spelling, per base-framework alias).
* The processor token is replaced by the SDK callers' ``inference_tool`` for the configs that are only
  reached through one (``pytorch-neuron``, ``huggingface-neuron(x)``, ``huggingface-llm-neuronx``).
* Triton GPU tags drop their trailing ``-gpu`` (the SDK's ``rstrip("-gpu")``).

Not reproduced (documented limits, covered by the catalog's suffix rule instead): container versions a
caller passes explicitly (e.g. the p4d/smdistributed ``cu110-ubuntu18.04-v3`` auto-selection of old
TensorFlow/MXNet/PyTorch 1.6 images) and the full "build" tags DLC also publishes
(``2.6.0-gpu-py312`` is what the SDK returns; ``2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker`` is its
pinned twin), which ``dlc_catalog.DlcRepository.is_known_tag`` accepts through a strict suffix rule.

Only the Deep Learning Containers registry is kept: repositories whose ``us-east-1`` registry is the
DLC account ``763104351884`` (first-party algorithm, Neo, XGBoost, scikit-learn, TEI ... images live in
other per-region accounts and are out of scope).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

PACKAGE = "sagemaker-core"
VERSION = "2.27.0"
SOURCE = f"{PACKAGE}=={VERSION}"
CONFIG_DIR = "sagemaker/core/image_uri_config/"
DLC_ACCOUNT_US_EAST_1 = "763104351884"

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "constructs" / "sagemaker" / "_private" / "dlc_tables.py"
COMMAND = "python tools/generate_dlc_tables.py"

# Repositories for which the SDK prefixes the container version with the Neuron SDK version.
_SDK_VERSIONED_REPOS = frozenset(
    {"pytorch-training-neuron", "pytorch-training-neuronx", "huggingface-vllm-inference-neuronx"}
)
_HF_SDK_VERSIONED_REPOS = frozenset(
    {"huggingface-pytorch-inference-neuron", "huggingface-pytorch-inference-neuronx"}
)
_HF_NATIVE_TRAINING_REPOS = frozenset({"huggingface-pytorch-training", "huggingface-tensorflow-training"})
_HF_TRCOMP_REPOS = frozenset(
    {"huggingface-pytorch-trcomp-training", "huggingface-tensorflow-trcomp-training"}
)
# Config file -> (framework the SDK is called with, inference_tool that replaces the processor in the tag).
_TOOL_CONFIGS: Mapping[str, tuple[str, str | None]] = {
    "pytorch-neuron": ("pytorch", "neuron"),
    "huggingface-neuron": ("huggingface", "neuron"),
    "huggingface-neuronx": ("huggingface", "neuronx"),
    "huggingface-llm-neuronx": ("huggingface-llm-neuronx", "neuronx"),
    "huggingface-training-compiler": ("huggingface", None),
    "pytorch-training-compiler": ("pytorch", None),
}
_HF_FRAMEWORK_CONFIGS = frozenset(
    {"huggingface", "huggingface-neuron", "huggingface-neuronx", "huggingface-training-compiler"}
)
_NOT_FRAMEWORK_CONFIGS = frozenset({"instance_gpu_info"})


# --------------------------------------------------------------------------------------------- input


def download_wheel(dest: Path) -> Path:
    """``pip download --no-deps`` the pinned wheel into ``dest`` and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    cmd += [f"{PACKAGE}=={VERSION}", "-d", str(dest)]
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob(f"sagemaker_core-{VERSION}-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download left no sagemaker_core-{VERSION} wheel in {dest}")
    return wheels[0]


def read_wheel(wheel: Path) -> tuple[dict[str, dict], str]:
    """The image_uri_config tables of a wheel, keyed by config name, and the wheel's sha256."""
    with zipfile.ZipFile(wheel) as zf:
        _check_version(
            next(
                (zf.read(n).decode() for n in zf.namelist() if n.endswith(".dist-info/METADATA")),
                "",
            ),
            str(wheel),
        )
        configs = {
            name[len(CONFIG_DIR) : -len(".json")]: json.loads(zf.read(name))
            for name in zf.namelist()
            if name.startswith(CONFIG_DIR) and name.endswith(".json") and "/" not in name[len(CONFIG_DIR) :]
        }
    return configs, hashlib.sha256(wheel.read_bytes()).hexdigest()


def read_package_dir(site: Path) -> tuple[dict[str, dict], str]:
    """The tables of an installed package (a site-packages directory holding ``sagemaker/core``)."""
    metadata = sorted(site.glob(f"sagemaker_core-{VERSION}.dist-info/METADATA"))
    if not metadata:
        raise FileNotFoundError(f"no sagemaker_core-{VERSION}.dist-info in {site}")
    _check_version(metadata[0].read_text(), str(site))
    configs = {p.stem: json.loads(p.read_text()) for p in sorted((site / CONFIG_DIR).glob("*.json"))}
    return configs, "installed-package"


def _check_version(metadata: str, where: str) -> None:
    found = re.search(r"^Version:\s*(\S+)", metadata, re.MULTILINE)
    if not found or found.group(1) != VERSION:
        raise ValueError(f"{where} is not {SOURCE} (METADATA Version: {found and found.group(1)})")


# ------------------------------------------------------------------------------------------ tag logic


def _scopes(config: dict) -> Iterator[tuple[tuple[str, ...], dict]]:
    """(scopes, subtree-with-versions) pairs, like ``_config_for_framework_and_scope``."""
    if "versions" in config:
        yield tuple(config.get("scope") or ("inference",)), config
        return
    for scope, sub in config.items():
        if isinstance(sub, dict) and "versions" in sub:
            yield (scope,), sub


def _join(*parts: str | None) -> str:
    return "-".join(p for p in parts if p)


def _version_entries(
    name: str, config: dict, sub: dict
) -> Iterator[tuple[str, tuple[str, ...], Mapping[str, str], str | None]]:
    """(repository, processors-in-tag, registries, tag) for every tag the SDK can produce."""
    framework, tool = _TOOL_CONFIGS.get(name, (name, None))
    aliases_by_target: dict[str, list[str]] = defaultdict(list)
    for alias, target in (sub.get("version_aliases") or {}).items():
        aliases_by_target[target].append(alias)
    for version, vc in sub["versions"].items():
        requested = [version, *aliases_by_target.get(version, ())]
        if name in _HF_FRAMEWORK_CONFIGS:
            yield from _hf_entries(name, sub, version, requested, vc, tool)
            continue
        if "repository" in vc:
            nested = [(py, vc) for py in (vc.get("py_versions") or [None])]
        else:  # py_version-keyed sub-configs (old MXNet/TensorFlow)
            nested = [(py, c) for py, c in vc.items() if isinstance(c, dict) and "repository" in c]
        for py, c in nested:
            repo = c["repository"]
            processors = sub.get("processors") or c.get("processors") or [None]
            for processor in processors:
                cvs: list[str | None] = [None]
                if c.get("container_version"):
                    if processor not in c["container_version"]:
                        continue
                    cvs = [c["container_version"][processor]]
                if repo in _SDK_VERSIONED_REPOS:
                    cvs = [f"{sdk}-{cv}" for sdk in c["sdk_versions"] for cv in cvs]
                if repo in (f"{framework}-inference-graviton", f"{framework}-inference-arm64"):
                    cvs = [f"{cv}-sagemaker" for cv in cvs]
                token = tool or processor
                if not c.get("processor_in_tag", True):
                    token = None
                for req in requested:
                    prefix = c.get("tag_prefix", req)
                    for cv in cvs:
                        tag = _join(prefix, token, py, cv)
                        if name == "sagemaker-tritonserver" and processor == "gpu":
                            tag = tag.rstrip("-gpu")  # the SDK's own (character-set) rstrip
                        yield repo, (token or processor or "",), c["registries"], tag


def _hf_entries(
    name: str, sub: dict, version: str, requested: list[str], vc: dict, tool: str | None
) -> Iterator[tuple[str, tuple[str, ...], Mapping[str, str], str | None]]:
    base_aliases: dict[str, list[str]] = defaultdict(list)
    for alias, target in (vc.get("version_aliases") or {}).items():
        base_aliases[target].append(alias)
    for base, c in vc.items():
        if not isinstance(c, dict) or "repository" not in c:
            continue
        repo = c["repository"]
        neuron = repo in _HF_SDK_VERSIONED_REPOS
        # Neuron repos resolve a base-framework alias before building the tag; the others keep
        # the caller's spelling ("pytorch1.9" -> "1.9-transformers...").
        bases = [base] if neuron else [base, *base_aliases.get(base, ())]
        versions = requested if repo in _HF_TRCOMP_REPOS else [version]
        for processor in sub.get("processors") or c.get("processors") or [None]:
            cvs: list[str | None] = [None]
            if c.get("container_version"):
                if processor not in c["container_version"]:
                    continue
                cvs = [c["container_version"][processor]]
            elif processor == "gpu" and repo in _HF_NATIVE_TRAINING_REPOS:
                cvs = ["cu110-ubuntu18.04"]  # get_training_image_uri's native Hugging Face GPU default
            if neuron:
                cvs = [f"{sdk}-{cv}" for sdk in c["sdk_versions"] for cv in cvs]
            token = tool or processor
            for b in bases:
                pt_or_tf = re.match(r"^(pytorch|tensorflow)(.*)$", b).group(2)
                for v in versions:
                    for py in c.get("py_versions") or [None]:
                        for cv in cvs:
                            tag = _join(f"{pt_or_tf}-transformers{v}", token, py, cv)
                            yield repo, (token or processor or "",), c["registries"], tag


# ------------------------------------------------------------------------------------------- tables


def _natural_key(text: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text))


def build_tables(configs: Mapping[str, dict]) -> dict:
    """Repository -> facts, restricted to the Deep Learning Containers registry."""
    repos: dict[str, dict] = {}
    accounts: dict[str, set[str]] = defaultdict(set)
    for name in sorted(configs):
        if name in _NOT_FRAMEWORK_CONFIGS:
            continue
        for scopes, sub in _scopes(configs[name]):
            for repo, tokens, registries, tag in _version_entries(name, configs[name], sub):
                if registries.get("us-east-1") != DLC_ACCOUNT_US_EAST_1:
                    continue
                entry = repos.setdefault(
                    repo,
                    {"frameworks": set(), "scopes": set(), "processors": set(), "tags": defaultdict(set)},
                )
                entry["frameworks"].add(name)
                entry["scopes"].update(scopes)
                entry["processors"].update(t for t in tokens if t)
                if tag:
                    entry["tags"][tag].update(registries)
                for region, account in registries.items():
                    accounts[region].add(account)
    clashes = {r: sorted(a) for r, a in accounts.items() if len(a) > 1}
    if clashes:
        raise ValueError(f"DLC registry account differs between repositories in {clashes}")
    for repo, entry in repos.items():
        if not entry["processors"]:
            entry["processors"] = {_processor_from_tag(t) for t in entry["tags"]} - {None}
        graviton = "inference_graviton" in entry["scopes"] or repo.endswith(("-arm64", "-graviton"))
        entry["arch"] = "arm64" if graviton else "x86_64"
    return {"accounts": {r: next(iter(a)) for r, a in accounts.items()}, "repositories": repos}


def _processor_from_tag(tag: str) -> str | None:
    """For configs without a processors list (DJL, ...): what the tag itself names."""
    for token, processor in (("neuronx", "neuronx"), ("neuron", "neuron"), ("gpu", "gpu"), ("cpu", "cpu")):
        if re.search(rf"(^|-){token}(-|$)", tag):
            return processor
    return "gpu" if re.search(r"(^|-)cu\d+(-|$)", tag) else None


# ------------------------------------------------------------------------------------------- output


def render(configs: Mapping[str, dict], digest: str) -> str:
    tables = build_tables(configs)
    accounts = tables["accounts"]
    region_sets: list[tuple[str, ...]] = sorted(
        {tuple(sorted(regions)) for e in tables["repositories"].values() for regions in e["tags"].values()},
        key=lambda s: (-len(s), s),
    )
    index = {s: i for i, s in enumerate(region_sets)}
    out = [
        f'"""AWS Deep Learning Containers facts generated from {SOURCE}\'s image_uri_config tables.',
        "",
        f"GENERATED FILE, DO NOT EDIT. Regenerate with ``{COMMAND}``;",
        f"``{COMMAND} --check`` (and tests/constructs/sagemaker/test_dlc_catalog.py) fail on drift.",
        "Read it through ``dlc_catalog``; tags are the SDK's ``image_uris.retrieve`` tags, newest first.",
        '"""',
        "",
        f'SOURCE = "{SOURCE}"',
        f'SOURCE_SHA256 = "{digest}"',
        "",
        "# Region -> DLC registry account (the same account for a region in every repository's table).",
        "DLC_ACCOUNTS: dict[str, str] = {",
        *(f'    "{r}": "{accounts[r]}",' for r in sorted(accounts)),
        "}",
        "",
        "# Distinct region sets (space-separated region codes); a repository's tags point into this tuple.",
        "REGION_SETS: tuple[str, ...] = (",
        *(f'    "{" ".join(s)}",  # {i}' for i, s in enumerate(region_sets)),
        ")",
        "",
        "# repository -> frameworks (SDK config names), scopes, processors, arch, {tag: REGION_SETS index}",
        "REPOSITORIES: dict[str, dict] = {",
    ]
    for repo in sorted(tables["repositories"]):
        e = tables["repositories"][repo]
        out += [
            f'    "{repo}": {{',
            f'        "frameworks": {_tuple(e["frameworks"])},',
            f'        "scopes": {_tuple(e["scopes"])},',
            f'        "processors": {_tuple(e["processors"])},',
            f'        "arch": "{e["arch"]}",',
            '        "tags": {',
            *(
                f'            "{tag}": {index[tuple(sorted(e["tags"][tag]))]},'
                for tag in sorted(e["tags"], key=_natural_key, reverse=True)
            ),
            "        },",
            "    },",
        ]
    out += ["}", ""]
    return "\n".join(out)


def _tuple(items) -> str:
    items = [f'"{i}"' for i in sorted(items)]
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--wheel", type=Path, help=f"an already-downloaded {SOURCE} wheel")
    source.add_argument("--package-dir", type=Path, help=f"a site-packages directory with {SOURCE}")
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed module, write nothing"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    if args.package_dir:
        configs, digest = read_package_dir(args.package_dir)
    elif args.wheel:
        configs, digest = read_wheel(args.wheel)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            configs, digest = read_wheel(download_wheel(Path(tmp)))
    text = render(configs, digest)

    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current == text:
            print(f"{args.output} is up to date with {SOURCE}")
            return 0
        diff = list(
            difflib.unified_diff(
                current.splitlines(),
                text.splitlines(),
                "committed",
                f"regenerated from {SOURCE}",
                lineterm="",
            )
        )
        added = sum(1 for d in diff if d.startswith("+") and not d.startswith("+++"))
        removed = sum(1 for d in diff if d.startswith("-") and not d.startswith("---"))
        print(f"{args.output} differs from {SOURCE}: +{added} -{removed} lines; run `{COMMAND}`")
        print("\n".join(diff[:60]) + ("\n..." if len(diff) > 60 else ""))
        return 1
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text.splitlines())} lines) from {SOURCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

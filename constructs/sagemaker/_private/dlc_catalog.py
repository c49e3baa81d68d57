"""Lookups over the AWS Deep Learning Containers facts: which repository:tag exists, where, and whose.

Two data modules feed it, neither hand-copied from CDK's region facts:

* ``dlc_tables`` is generated from the pinned SageMaker SDK's ``image_uri_config`` tables
  (``tools/generate_dlc_tables.py``);
* ``neuron_dlc_tables`` is hand-written, with citations, for the Neuron repositories the SDK's tables do
  not cover (``pytorch-inference-neuronx``, ``pytorch-training-neuronx``, ``pytorch-inference-neuron``).

Merging rules:

* A repository the SDK references from several frameworks/scopes (``djl-inference`` from five DJL
  configs, ``huggingface-pytorch-tgi-inference`` from GPU and NeuronX configs, ...) is one
  ``DlcRepository``: the union of their scopes, processors and tags. Each tag keeps the regions of the
  table entries that produce it, so ``regions_for_tag`` is per tag, and ``registries`` (the repository
  level) is the union over all its tags.
* A repository in both modules (``pytorch-training-neuronx``: the SDK's HyperPod recipes table has one
  tag of it) takes the published Neuron tags with the published Neuron regions; the SDK's tags are kept
  too, but restricted to the published Neuron regions, since AWS lists no Neuron images elsewhere
  (the SDK table claims eu-west-2 and others for that tag).

Tags: ``is_known_tag`` accepts a tag the SDK produces (``2.6.0-gpu-py312``, ``2.6-gpu-py312``) and the
pinned build tags DLC publishes beside it: the same tag followed by a CUDA token (GPU tags only), an OS
token, the platform (``-sagemaker`` or ``-ec2``) and a ``-vX[.Y]`` release, each optional and never
repeating a token the SDK tag already has (``2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker``). The SDK's
tables do not record CUDA/OS builds for every framework, so that suffix is checked by shape, not by
value. Mutable tags (``latest``) are never known. Tags ending in ``-ec2`` (or ``-ec2-vX``) are EC2/ECS/EKS
images, not tested on SageMaker: see ``is_ec2_tag``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from . import dlc_tables, neuron_dlc_tables

_MUTABLE_TAGS = frozenset({"latest"})
_EC2_TAG = re.compile(r"-ec2(?:-v\d+(?:\.\d+)*)?$")
_BUILD_SUFFIX = re.compile(
    r"^(?P<cuda>-cu\d+)?(?P<os>-(?:ubuntu\d+\.\d+|amzn2023|al2023))?"
    r"(?P<platform>-(?:sagemaker|ec2))?(?P<release>-v\d+(?:\.\d+)*)?$"
)
_CUDA_TOKEN = re.compile(r"(?:^|-)cu\d+(?:-|$)")
_OS_TOKEN = re.compile(r"(?:^|-)(?:ubuntu\d+\.\d+|amzn2023|al2023)(?:-|$)")
_PLATFORM_TOKEN = re.compile(r"(?:^|-)(?:sagemaker|ec2)(?:-|$)")
_RELEASE_TOKEN = re.compile(r"-v\d+(?:\.\d+)*$")


def is_ec2_tag(tag: str) -> bool:
    """True for an EC2/ECS/EKS-only image tag (``...-ec2``, ``...-ec2-v1``): not for SageMaker."""
    return bool(_EC2_TAG.search(tag))


@dataclass(frozen=True)
class DlcRepository:
    """One ECR repository of the Deep Learning Containers registry."""

    name: str
    scopes: frozenset[str]
    purpose: str
    arch: str
    processors: frozenset[str]
    registries: Mapping[str, str]
    source: str
    _tag_regions: Mapping[str, frozenset[str]] = field(repr=False, compare=False, default_factory=dict)

    def registry_account(self, region: str) -> str | None:
        """The 12-digit registry account of this repository in ``region``, or None if not published there."""
        return self.registries.get(region)

    def tags(self) -> tuple[str, ...]:
        """The tags the tables list (SDK tags, then for Neuron the published ones), newest first."""
        return tuple(self._tag_regions)

    def base_tag(self, tag: str) -> str | None:
        """The listed tag that ``tag`` is or extends with a published build suffix; None if unknown."""
        if tag in _MUTABLE_TAGS:
            return None
        if tag in self._tag_regions:
            return tag
        for at in (m.start() for m in re.finditer("-", tag)):
            base, suffix = tag[:at], tag[at:]
            if base in self._tag_regions and _valid_suffix(base, suffix):
                return base
        return None

    def is_known_tag(self, tag: str) -> bool:
        """True if ``tag`` is a tag the tables list, or one of its pinned build twins (module doc)."""
        return self.base_tag(tag) is not None

    def regions_for_tag(self, tag: str) -> frozenset[str]:
        """The regions where ``repository:tag`` is published (empty if the tag is unknown)."""
        base = self.base_tag(tag)
        return self._tag_regions[base] if base else frozenset()

    def is_published(self, tag: str, region: str) -> bool:
        """Is ``repository:tag`` published in ``region``?"""
        return region in self.regions_for_tag(tag)


def _valid_suffix(base: str, suffix: str) -> bool:
    match = _BUILD_SUFFIX.match(suffix)
    if not match or not suffix:
        return False
    if match["cuda"] and (_CUDA_TOKEN.search(base) or re.search(r"(?:^|-)(?:cpu|neuronx?|inf)(?:-|$)", base)):
        return False
    if match["os"] and _OS_TOKEN.search(base):
        return False
    if match["platform"] and _PLATFORM_TOKEN.search(base):
        return False
    return not (match["release"] and _RELEASE_TOKEN.search(base))


def _purpose(name: str, scopes: frozenset[str]) -> str:
    if scopes == {"training"}:
        return "training"
    if "training" not in scopes:
        return "inference"
    return "training" if "training" in name else "inference"


def _repository(name: str, scopes, processors, arch, tag_regions: dict[str, frozenset[str]], source: str):
    accounts = _accounts()
    regions = frozenset().union(*tag_regions.values())
    scopes = frozenset(scopes)
    return DlcRepository(
        name=name,
        scopes=scopes,
        purpose=_purpose(name, scopes),
        arch=arch,
        processors=frozenset(processors),
        registries=MappingProxyType({r: accounts[r] for r in sorted(regions) if r in accounts}),
        source=source,
        _tag_regions=MappingProxyType(tag_regions),
    )


@cache
def _accounts() -> Mapping[str, str]:
    """Region -> account over both modules; a region whose account disagrees between them is dropped."""
    merged = dict(dlc_tables.DLC_ACCOUNTS)
    for region, account in neuron_dlc_tables.NEURON_REGISTRIES.items():
        if merged.setdefault(region, account) != account:
            merged[region] = ""
    return MappingProxyType({r: a for r, a in sorted(merged.items()) if a})


@cache
def _repositories() -> Mapping[str, DlcRepository]:
    repos: dict[str, DlcRepository] = {}
    region_sets = [frozenset(s.split()) for s in dlc_tables.REGION_SETS]
    neuron_regions = frozenset(neuron_dlc_tables.NEURON_REGISTRIES)
    for name, data in dlc_tables.REPOSITORIES.items():
        if name in neuron_dlc_tables.REPOSITORIES:
            continue
        tag_regions = {tag: region_sets[i] for tag, i in data["tags"].items()}
        repos[name] = _repository(
            name, data["scopes"], data["processors"], data["arch"], tag_regions, dlc_tables.SOURCE
        )
    for name, data in neuron_dlc_tables.REPOSITORIES.items():
        tag_regions = dict.fromkeys(data["tags"], neuron_regions)
        scopes, processors, source = set(data["scopes"]), set(data["processors"]), neuron_dlc_tables.SOURCE
        sdk = dlc_tables.REPOSITORIES.get(name)
        if sdk:
            for tag, i in sdk["tags"].items():
                tag_regions.setdefault(tag, region_sets[i] & neuron_regions)
            scopes |= set(sdk["scopes"])
            processors |= set(sdk["processors"])
            source = f"{dlc_tables.SOURCE}; {source}"
        repos[name] = _repository(name, scopes, processors, data["arch"], tag_regions, source)
    return MappingProxyType(dict(sorted(repos.items())))


def find_repository(name: str) -> DlcRepository | None:
    """The repository called ``name`` (``"pytorch-inference"``), or None if the tables do not list it."""
    return _repositories().get(name)


def repository_names() -> tuple[str, ...]:
    """Every repository the tables list, sorted."""
    return tuple(_repositories())


def dlc_registry_accounts() -> dict[str, str]:
    """Region -> DLC registry account over every repository (regions whose accounts disagree are left out)."""
    return dict(_accounts())

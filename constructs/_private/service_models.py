"""AWS API facts read from botocore's data files: enums, name patterns, size limits, partitions.

botocore ships the same models the AWS APIs validate requests against, so limits read from them stay
right when AWS changes them and botocore is upgraded. They are read straight from the files of the
installed botocore package (``botocore/data/<service>/<newest api version>/service-2.json[.gz]``, the
version botocore's own loader picks), never through a session: a session reads ``~/.aws/config`` and
dies with ``ProfileNotFound`` when ``AWS_PROFILE`` names a profile the machine lacks (a CI runner's
common case), and botocore's loader also searches ``~/.aws/models``. Synth reads no AWS configuration,
no credentials, and does not import botocore at all (its import alone costs a tenth of a second).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@functools.cache
def botocore_data_dir() -> Path:
    """``botocore/data`` of the installed botocore, found without importing it."""
    spec = importlib.util.find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "botocore is not installed; install the mlblueprints package's dependencies"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_json(path: Path) -> Any:
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        with gzip.open(gz, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ServiceModel:
    """The shapes of one service model, as botocore's ``service-2.json`` defines them."""

    service_name: str
    api_version: str
    shapes: dict[str, dict[str, Any]]
    operations: dict[str, dict[str, Any]]

    def input_shape(self, operation: str) -> str | None:
        """The name of ``operation``'s request shape (``CreateModelPackageInput``, ``DeleteItemInput``)."""
        found = self.operations.get(operation, {}).get("input")
        return found["shape"] if found else None

    def shape(self, name: str) -> dict[str, Any]:
        return self.shapes[name]

    def member_shape(self, structure: str, member: str) -> dict[str, Any]:
        """The shape a structure's member refers to (its constraints: min, max, pattern, enum)."""
        return self.shapes[self.shapes[structure]["members"][member]["shape"]]


@functools.cache
def service_model(service: str = "sagemaker") -> ServiceModel:
    directory = botocore_data_dir() / service
    api_version = max(p.name for p in directory.iterdir() if p.is_dir())  # ISO dates: newest last
    document = _read_json(directory / api_version / "service-2.json")
    return ServiceModel(
        service_name=service,
        api_version=api_version,
        shapes=document["shapes"],
        operations=document["operations"],
    )


@functools.cache
def service_endpoint_regions() -> dict[str, frozenset[str]]:
    """Each service's regions in botocore's endpoint data (``endpoints.json``), FIPS and deprecated ones aside."""
    found: dict[str, set[str]] = {}
    for partition in _read_json(botocore_data_dir() / "endpoints.json")["partitions"]:
        for service, entry in partition["services"].items():
            found.setdefault(service, set()).update(
                name
                for name, endpoint in entry.get("endpoints", {}).items()
                if "fips" not in name and not endpoint.get("deprecated")
            )
    return {service: frozenset(regions) for service, regions in found.items()}


@functools.cache
def partitions() -> dict[str, dict]:
    """botocore's partition table: partition ID -> its regions and DNS suffix."""
    return {p["id"]: p for p in _read_json(botocore_data_dir() / "partitions.json")["partitions"]}


@functools.cache
def known_regions() -> dict[str, str]:
    """Every region botocore knows, mapped to its partition (``cn-north-1`` -> ``aws-cn``)."""
    return {
        region: pid
        for pid, p in partitions().items()
        for region in p.get("regions", {})
        if not region.startswith("aws-")  # "aws-global", "aws-cn-global": endpoints, not regions
    }


def partition_of(region: str) -> str | None:
    return known_regions().get(region)


@functools.cache
def enum_values(shape_name: str, *, service: str = "sagemaker") -> tuple[str, ...]:
    return tuple(service_model(service).shape(shape_name)["enum"])


@dataclass(frozen=True)
class StringRule:
    """Length and pattern constraints of a string shape."""

    min_length: int
    max_length: int | None
    pattern: re.Pattern[str] | None

    def violation(self, value: str) -> str | None:
        """Why ``value`` breaks the rule, or ``None``."""
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            return f"must be {self.min_length} to {self.max_length} characters long (is {len(value)})"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"must match {self.pattern.pattern}"
        return None


def _rule(metadata: dict) -> StringRule:
    pattern = metadata.get("pattern")
    return StringRule(
        min_length=max(metadata.get("min", 0), 1),
        max_length=metadata.get("max"),
        pattern=re.compile(pattern) if pattern else None,
    )


@functools.cache
def member_rule(structure: str, member: str, *, service: str = "sagemaker") -> StringRule:
    return _rule(service_model(service).member_shape(structure, member))


@dataclass(frozen=True)
class MapRule:
    max_entries: int | None
    key: StringRule
    value: StringRule


@functools.cache
def map_member_rule(structure: str, member: str) -> MapRule:
    model = service_model()
    shape = model.member_shape(structure, member)
    value_rule = _rule(model.shape(shape["value"]["shape"]))
    return MapRule(
        max_entries=shape.get("max"),
        key=_rule(model.shape(shape["key"]["shape"])),
        value=StringRule(0, value_rule.max_length, None),  # an empty value is allowed
    )


@dataclass(frozen=True)
class NumberRule:
    """The range of an integer shape: ``minimum`` and ``maximum`` (``None`` where unbounded)."""

    minimum: float | None
    maximum: float | None

    def contains(self, value: float) -> bool:
        return (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum
        )

    def describe(self) -> str:
        if self.maximum is None:
            return f"{self.minimum:g} or more"
        return f"{self.minimum:g} to {self.maximum:g}"


@functools.cache
def number_rule(structure: str, member: str, *, service: str = "sagemaker") -> NumberRule:
    shape = service_model(service).member_shape(structure, member)
    return NumberRule(minimum=shape.get("min"), maximum=shape.get("max"))

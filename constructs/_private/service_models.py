"""AWS API facts read from botocore's data files: enums, name patterns, size limits, partitions.

botocore ships the same models the AWS APIs validate requests against, so limits read from them stay
right when AWS changes them and botocore is upgraded. They are read with botocore's loader alone,
never through a session: a session reads ``~/.aws/config`` and dies with ``ProfileNotFound`` when
``AWS_PROFILE`` names a profile the machine lacks (a CI runner's common case). Synth reads no AWS
configuration and no credentials.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from botocore.loaders import create_loader
from botocore.model import ServiceModel


@functools.cache
def _loader():
    return create_loader()


@functools.cache
def service_model(service: str = "sagemaker") -> ServiceModel:
    return ServiceModel(_loader().load_service_model(service, "service-2"), service_name=service)


@functools.cache
def partitions() -> dict[str, dict]:
    """botocore's partition table: partition ID -> its regions and DNS suffix."""
    return {p["id"]: p for p in _loader().load_data("partitions")["partitions"]}


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
def enum_values(shape_name: str) -> tuple[str, ...]:
    return tuple(service_model().shape_for(shape_name).enum)


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
def member_rule(structure: str, member: str) -> StringRule:
    return _rule(service_model().shape_for(structure).members[member].metadata)


@dataclass(frozen=True)
class MapRule:
    max_entries: int | None
    key: StringRule
    value: StringRule


@functools.cache
def map_member_rule(structure: str, member: str) -> MapRule:
    shape = service_model().shape_for(structure).members[member]
    value_rule = _rule(shape.value.metadata)
    return MapRule(
        max_entries=shape.metadata.get("max"),
        key=_rule(shape.key.metadata),
        value=StringRule(0, value_rule.max_length, None),  # an empty value is allowed
    )

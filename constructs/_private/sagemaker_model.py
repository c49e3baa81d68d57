"""SageMaker API facts read from botocore's service model: enums, name patterns, size limits.

botocore ships the same model the SageMaker API validates requests against, so limits read from it
stay right when AWS changes them and botocore is upgraded.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import botocore.session
from botocore.model import ServiceModel


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("sagemaker")


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

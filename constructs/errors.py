"""Every error the catalog raises, in one hierarchy.

Catch :class:`MlBlueprintsError` to handle any of them. Each carries a list of :class:`Problem` s, so
that one synth reports everything there is to fix, and the catalog app prints them as one block
(stack, setting, value, why, fix) instead of a traceback.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AcknowledgementError",
    "BlueprintConfigError",
    "EndpointConfigError",
    "ImageCompatibilityError",
    "InstanceTypeError",
    "MlBlueprintsError",
    "ModelDataError",
    "NetworkConfigError",
    "Problem",
    "RegionError",
    "TrainingJobError",
    "raise_if_any",
]

_UNSET: Any = object()


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (``setting``), with what (``value``), why, and what to do instead.

    ``message`` is the whole sentence; ``setting`` and ``value`` let the app say which setting of
    which stack it is about.
    """

    message: str
    setting: str | None = None
    value: Any = _UNSET

    @property
    def has_value(self) -> bool:
        return self.value is not _UNSET


class MlBlueprintsError(ValueError):
    """Base of every error the catalog raises on input it cannot deploy.

    Subclasses ``ValueError`` so that code written against the earlier bare ``ValueError`` s keeps
    working.
    """

    def __init__(self, problems: str | Problem | list[Problem], *, stack: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        self.stack = stack
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0].message
        return "\n".join(["Invalid settings:", *(f"- {p.message}" for p in self.problems)])

    def in_stack(self, stack: str) -> MlBlueprintsError:
        """The same problems, attributed to ``stack`` (the app adds it; constructs do not know it)."""
        error = copy.copy(self)
        error.stack = stack
        return error


class BlueprintConfigError(MlBlueprintsError):
    """A blueprint setting (from context or a config file) that is missing, unknown or out of range."""


class InstanceTypeError(MlBlueprintsError):
    """An instance type that SageMaker or EC2 would refuse for the requested use."""


class ImageCompatibilityError(MlBlueprintsError):
    """A container image that cannot run on its instance, its service or in its region."""


class ModelDataError(MlBlueprintsError):
    """A model artifact location SageMaker would not load."""


class EndpointConfigError(MlBlueprintsError):
    """Endpoint settings that SageMaker or Application Auto Scaling would refuse at deploy time."""


class NetworkConfigError(MlBlueprintsError):
    """A VPC layout that CloudFormation or EC2 would refuse."""


class AcknowledgementError(MlBlueprintsError):
    """A compliance acknowledgement without a finding, a reason, or a value cdk-nag can name."""


class TrainingJobError(MlBlueprintsError):
    """A training job SageMaker would refuse, or a request that does not match the API."""


class RegionError(MlBlueprintsError):
    """A region or account that does not exist, or a service not offered there."""


def raise_if_any(errors: list[MlBlueprintsError], combined: type[MlBlueprintsError]) -> None:
    """Raise the one error, or all problems of several as one ``combined`` error; nothing if empty."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise combined([problem for error in errors for problem in error.problems])

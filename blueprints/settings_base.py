"""What every blueprint's settings share: strict pydantic models and one owner for each default.

Settings describe a config entry; they never re-state a default the construct owns. A field that
stays unset (``None``) is not passed to the construct, which applies its own default; the schema
and README show that default, read from the construct's signature with :func:`construct_default`.
"""

from __future__ import annotations

import difflib
import enum
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mlblueprints.constructs.errors import BlueprintConfigError, Problem

# The shape of a config file's names, for its validation and its JSON Schema alike.
# CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters.
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")

__all__ = ["ACCOUNT_ID", "STACK_NAME", "BlueprintSettings", "construct_default", "settings_problems"]


def construct_default(owner: Callable, parameter: str) -> dict[str, Any]:
    """JSON-schema extras that document ``owner``'s own default for ``parameter``."""
    function = owner.__init__ if isinstance(owner, type) else owner
    default = inspect.signature(function).parameters[parameter].default
    if default is inspect.Parameter.empty:
        raise TypeError(f"{owner.__qualname__}({parameter}) has no default to document")
    return {"default": _jsonable(default), "x-default-owner": owner.__qualname__}


def documented_default(owner: type, parameter: str) -> dict[str, Any]:
    """JSON-schema extras quoting the default ``owner``'s docstring gives for ``parameter``.

    For defaults the construct computes (``max_capacity``: "twice ``min_capacity``"), written once,
    in the ``:param parameter: default: ...`` line of the construct's docstring.
    """
    match = re.search(rf":param {parameter}: default: (.+?)\.?\n", inspect.getdoc(owner) or "")
    if match is None:
        raise TypeError(f"{owner.__qualname__} documents no default for {parameter}")
    return {"x-default": match[1].replace("``", ""), "x-default-owner": owner.__qualname__}


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class BlueprintSettings(BaseModel):
    """Base of each blueprint's settings: strict types, unknown keys refused, frozen."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    blueprint_name: ClassVar[str]
    # Settings of other blueprints this one refuses for a reason worth telling (a serving mode
    # that SageMaker does not offer them in): setting -> why, and what to do instead.
    not_applicable: ClassVar[dict[str, str]] = {}

    def explicit(self, *names: str) -> dict[str, Any]:
        """The named settings the user set (not ``None``), to pass on as keyword arguments."""
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    @classmethod
    def parse(cls, stack: str, config: dict[str, Any], *, region: str | None = None) -> BlueprintSettings:
        """Validated settings of ``stack``, or one error naming every problem of its config.

        ``region`` is the stack's region when it is pinned, for the region-dependent checks.
        """
        problems: list[Problem] = []
        settings = None
        try:
            settings = cls.model_validate(config)
        except ValidationError as error:
            problems += settings_problems(error, cls)
        problems += cls.preflight(config, region=region)
        if problems:
            raise BlueprintConfigError(_unique(problems), stack=stack)
        return settings

    @classmethod
    def offered_regions(cls) -> frozenset[str] | None:
        """The regions the blueprint deploys to, when some region lacks a service it needs; ``None``: any.

        The contract test pins the example to regions from this set, and checks a region outside it is refused.
        """
        return None

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """Problems the blueprint's constructs would raise, found on the raw config before building.

        A blueprint runs its constructs' own checks here (never a second copy of them), so that one
        run reports a stack's type errors and its construct-level problems together.
        """
        return []


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, unique = set(), []
    for problem in problems:
        if problem.message not in seen:
            seen.add(problem.message)
            unique.append(problem)
    return unique


_PYDANTIC_NOISE = re.compile(r"^(Value error|Assertion failed), ")


def _model_at(model: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """The settings model that holds the key at ``path`` (a nested list or object of settings)."""
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        nested = _nested_model(field.annotation)
        if nested is None:
            return None
        model = nested
    return model


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _nested_model(argument)
        if found is not None:
            return found
    return None


def settings_problems(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """One :class:`Problem` per pydantic error, worded for someone editing a JSON file.

    Each names the setting and the value, says why, and repeats the setting's description, which
    says what it takes.
    """
    valid = sorted(model.model_fields)
    problems = []
    for item in error.errors(include_url=False):
        setting = ".".join(str(part) for part in item["loc"]) or "(the stack entry)"
        if item["type"] == "extra_forbidden" and not str(item["loc"][-1]).strip():
            problems.append(Problem("the stack entry has an empty key; remove it", setting=""))
            continue
        message = _PYDANTIC_NOISE.sub("", item["msg"])
        if item["type"] == "extra_forbidden" and setting in getattr(model, "not_applicable", {}):
            problems.append(
                Problem(
                    f"setting {setting!r} does not apply to {model.blueprint_name}: {model.not_applicable[setting]}",
                    setting=setting,
                )
            )
            continue
        if item["type"] == "extra_forbidden":
            owner = _model_at(model, item["loc"][:-1])
            keys = sorted(owner.model_fields) if owner is not None else valid
            key = str(item["loc"][-1])
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            where = (
                "Valid settings"
                if owner is model
                else f"Valid keys of {'.'.join(map(str, item['loc'][:-1]))}"
            )
            problems.append(
                Problem(f"unknown setting {setting!r}: {hint}{where}: {', '.join(keys)}.", setting=setting)
            )
            continue
        if item["type"] == "missing":
            problems.append(Problem(f"setting {setting!r} is required", setting=setting))
            continue
        value = item.get("input")
        owner = _model_at(model, item["loc"][:-1]) if item["loc"] else None
        field = owner.model_fields.get(str(item["loc"][-1])) if owner is not None else None
        hint = f" ({field.description})" if field is not None and field.description else ""
        subject = f"setting {setting!r} is {value!r}" if item["loc"] else "the settings"
        if item["type"] == "string_pattern_mismatch":
            message = "it does not have the expected form"
        problems.append(Problem(f"{subject}: {message}{hint}", setting=setting, value=value))
    return problems

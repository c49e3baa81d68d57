"""Human loop activation conditions: when A2I sends a built-in task type's result to people, checked at synth.

SageMaker takes the conditions as a JSON string of at most 10,240 characters (the
``HumanLoopActivationConditions`` shape of its API model, read from botocore). Their schema depends on
the task type ("JSON Schema for Human Loop Activation Conditions in Amazon Augmented AI" and its
Textract and Rekognition examples, Amazon SageMaker Developer Guide): a ``Conditions`` list whose
entries are a condition (``ConditionType`` and ``ConditionParameters``) or an ``And`` / ``Or`` list of
at least two, nested two levels at most. Custom task types take no activation conditions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mlblueprints.constructs._private.service_models import service_model
from mlblueprints.constructs.errors import Problem

__all__ = ["A2iTaskType", "activation_conditions_problems", "conditions_json"]


class A2iTaskType(Enum):
    """The built-in (AWS-managed) task types, as SageMaker's API model lists them."""

    TEXTRACT_FORMS = "AWS/Textract/AnalyzeDocument/Forms/V1"
    REKOGNITION_MODERATION = "AWS/Rekognition/DetectModerationLabels/Image/V3"


@dataclass(frozen=True)
class _Condition:
    required: frozenset[str]
    text: frozenset[str] = frozenset()
    text_lists: frozenset[str] = frozenset()
    percentages: frozenset[str] = frozenset()


def _bounds(prefix: str) -> frozenset[str]:
    return frozenset(
        f"{prefix}{bound}"
        for bound in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")
    )


# "RandomSamplingPercentage must be real number between 0.01 and 100."
_SAMPLING = _Condition(
    required=frozenset({"RandomSamplingPercentage"}), percentages=frozenset({"RandomSamplingPercentage"})
)
_MAX_NESTING = 2
_FORM_KEY = frozenset({"ImportantFormKey"})
_CONDITIONS: dict[A2iTaskType, dict[str, _Condition]] = {
    A2iTaskType.TEXTRACT_FORMS: {
        "ImportantFormKeyConfidenceCheck": _Condition(
            required=_FORM_KEY,
            text=_FORM_KEY,
            text_lists=frozenset({"ImportantFormKeyAliases"}),
            percentages=_bounds("KeyValueBlockConfidence") | _bounds("WordBlockConfidence"),
        ),
        "MissingImportantFormKey": _Condition(
            required=_FORM_KEY, text=_FORM_KEY, text_lists=frozenset({"ImportantFormKeyAliases"})
        ),
        "Sampling": _SAMPLING,
    },
    A2iTaskType.REKOGNITION_MODERATION: {
        "ModerationLabelConfidenceCheck": _Condition(
            required=frozenset({"ModerationLabelName"}),
            text=frozenset({"ModerationLabelName"}),
            percentages=_bounds("Confidence"),
        ),
        "Sampling": _SAMPLING,
    },
}


def _max_length() -> int:
    return service_model().shape("HumanLoopActivationConditions")["max"]


def conditions_json(conditions: dict[str, Any]) -> str:
    """The JSON string SageMaker takes (compact: the limit counts characters)."""
    return json.dumps(conditions, separators=(",", ":"))


def activation_conditions_problems(
    task_type: A2iTaskType, conditions: Any, *, setting: str = "activation_conditions"
) -> list[Problem]:
    """Why SageMaker or A2I would refuse ``conditions`` for ``task_type``: every problem at once."""
    if not isinstance(conditions, dict) or set(conditions) != {"Conditions"}:
        return [
            Problem(
                'activation conditions must be an object with one key, "Conditions" (a list).',
                setting=setting,
            )
        ]
    problems: list[Problem] = []
    text = conditions_json(conditions)
    if len(text) > _max_length():
        problems.append(
            Problem(
                f"activation conditions are {len(text):,} characters as JSON; SageMaker takes at most {_max_length():,}.",
                setting=setting,
            )
        )
    _check_list(task_type, conditions["Conditions"], "Conditions", problems, setting)
    return problems


def _check_list(
    task_type: A2iTaskType, entries: Any, where: str, problems: list[Problem], setting: str, depth: int = 0
) -> None:
    least = 2 if depth else 1
    if not isinstance(entries, list) or len(entries) < least:
        problems.append(
            Problem(
                f"activation conditions: {where} must be a list of at least {least} condition(s).",
                setting=setting,
            )
        )
        return
    for index, entry in enumerate(entries):
        _check_entry(task_type, entry, f"{where}[{index}]", problems, setting, depth)


def _check_entry(
    task_type: A2iTaskType, entry: Any, where: str, problems: list[Problem], setting: str, depth: int
) -> None:
    known = _CONDITIONS[task_type]
    if isinstance(entry, dict) and len(entry) == 1 and next(iter(entry)) in ("And", "Or"):
        operator = next(iter(entry))
        if depth >= _MAX_NESTING:
            problems.append(
                Problem(
                    f"activation conditions: {where} nests And / Or more than two levels deep.",
                    setting=setting,
                )
            )
            return
        _check_list(task_type, entry[operator], f"{where}.{operator}", problems, setting, depth + 1)
        return
    if not isinstance(entry, dict) or set(entry) != {"ConditionType", "ConditionParameters"}:
        problems.append(
            Problem(
                f"activation conditions: {where} must be a condition (ConditionType and ConditionParameters) or an "
                "And / Or list of conditions.",
                setting=setting,
            )
        )
        return
    kind = entry["ConditionType"]
    if not isinstance(kind, str) or kind not in known:
        problems.append(
            Problem(
                f"activation conditions: {where} has ConditionType {kind!r}, which {task_type.value} does not take; "
                f"use one of {', '.join(sorted(known))}.",
                setting=setting,
                value=kind,
            )
        )
        return
    rule, parameters = known[kind], entry["ConditionParameters"]
    if not isinstance(parameters, dict):
        problems.append(
            Problem(f"activation conditions: {where}.ConditionParameters must be an object.", setting=setting)
        )
        return
    allowed = rule.required | rule.text | rule.text_lists | rule.percentages
    for name in sorted(set(parameters) - allowed):
        problems.append(
            Problem(
                f"activation conditions: {where} ({kind}) has no parameter {name!r}; it takes {', '.join(sorted(allowed))}.",
                setting=setting,
                value=name,
            )
        )
    for name in sorted(rule.required - set(parameters)):
        problems.append(Problem(f"activation conditions: {where} ({kind}) needs {name}.", setting=setting))
    for name in rule.text & set(parameters):
        if not isinstance(parameters[name], str) or not parameters[name]:
            problems.append(
                Problem(f"activation conditions: {where}.{name} must be a non-empty string.", setting=setting)
            )
    for name in rule.text_lists & set(parameters):
        value = parameters[name]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(
                Problem(f"activation conditions: {where}.{name} must be a list of strings.", setting=setting)
            )
    for name in rule.percentages & set(parameters):
        value = parameters[name]
        low = 0.01 if name == "RandomSamplingPercentage" else 0
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= 100:
            problems.append(
                Problem(
                    f"activation conditions: {where}.{name}={value!r}: use a number from {low:g} to 100.",
                    setting=setting,
                )
            )
    if kind != "Sampling" and not rule.percentages & set(parameters) and rule.percentages:
        problems.append(
            Problem(
                f"activation conditions: {where} ({kind}) needs a confidence bound ({', '.join(sorted(rule.percentages))}).",
                setting=setting,
            )
        )

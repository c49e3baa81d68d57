"""Check an API request written by hand against botocore's shape for it, at synth.

Where CDK has no typed task (or its typed task lacks fields), the catalog writes the request itself,
with the API's own member names. This walks such a request through botocore's service model the way
botocore's client-side validation does: unknown members, missing required members, types, enums,
lengths and numeric ranges. Values only known at run time are skipped: CDK tokens, and Step
Functions ``"Key.$"`` JsonPath members (the ``.$`` suffix is stripped to find the member).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Token

from mlblueprints.constructs._private.service_models import service_model

__all__ = ["request_problems"]


def request_problems(shape_name: str, request: Any, *, service: str = "sagemaker") -> list[str]:
    """Every way ``request`` breaks botocore's ``shape_name`` shape, as ``"Path.To.Member: why"``."""
    model = service_model(service)
    return _check(model.shapes, model.shapes[shape_name], request, shape_name)


def _check(shapes: dict, shape: dict, value: Any, path: str) -> list[str]:
    if isinstance(value, str) and Token.is_unresolved(value):
        return []
    kind = shape["type"]
    if kind == "structure":
        return _structure(shapes, shape, value, path)
    if kind == "list":
        if not isinstance(value, list | tuple):
            return [f"{path}: must be a list, not {type(value).__name__}"]
        problems = _size(shape, len(value), path, "items")
        for index, item in enumerate(value):
            problems += _check(shapes, shapes[shape["member"]["shape"]], item, f"{path}[{index}]")
        return problems
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: must be a map, not {type(value).__name__}"]
        problems = _size(shape, len(value), path, "entries")
        for key, item in value.items():
            problems += _check(shapes, shapes[shape["key"]["shape"]], key, f"{path} key")
            problems += _check(shapes, shapes[shape["value"]["shape"]], item, f"{path}[{key!r}]")
        return problems
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: must be a string, not {value!r}"]
        if "enum" in shape and value not in shape["enum"]:
            return [f"{path}: {value!r} is not one of {', '.join(shape['enum'])}"]
        return _size(shape, len(value), path, "characters")
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: must be an integer, not {value!r}"]
        return _range(shape, value, path)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [f"{path}: must be a number, not {value!r}"]
        return _range(shape, value, path)
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: must be true or false, not {value!r}"]
    return []


def _structure(shapes: dict, shape: dict, value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: must be an object, not {type(value).__name__}"]
    members = shape.get("members", {})
    problems = []
    present = set()
    for key, item in value.items():
        name = key[:-2] if key.endswith(".$") else key
        present.add(name)
        if name not in members:
            problems.append(
                f"{path}.{name}: not a member of the API's {path.split('.')[-1]} (members: {', '.join(members)})"
            )
            continue
        if key.endswith(".$"):
            continue  # a JsonPath, resolved by Step Functions at run time
        problems += _check(shapes, shapes[members[name]["shape"]], item, f"{path}.{name}")
    for required in shape.get("required", []):
        if required not in present:
            problems.append(f"{path}.{required}: required by the API, missing")
    return problems


def _size(shape: dict, size: int, path: str, unit: str) -> list[str]:
    low, high = shape.get("min"), shape.get("max")
    if (low is not None and size < low) or (high is not None and size > high):
        return [
            f"{path}: {size} {unit}; the API takes {low or 0} to {high if high is not None else 'any number'}"
        ]
    return []


def _range(shape: dict, value: float, path: str) -> list[str]:
    low, high = shape.get("min"), shape.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        return [
            f"{path}: {value}; the API takes {low if low is not None else 'any'} to {high if high is not None else 'any'}"
        ]
    return []

"""Reading the catalog's configuration: which stacks, which blueprint, which environment.

Every problem in every stack is collected before anything is built, and reported as one
:class:`CatalogConfigError`; nothing here raises a traceback at the user.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from mlblueprints.blueprints.registry import BLUEPRINTS, Blueprint, retired_blueprint
from mlblueprints.blueprints.settings_base import ACCOUNT_ID, STACK_NAME, BlueprintSettings
from mlblueprints.constructs._private.service_models import known_regions
from mlblueprints.constructs.errors import BlueprintConfigError, MlBlueprintsError, Problem

__all__ = ["CatalogConfigError", "StackConfig", "load_stack_configs", "read_stacks"]


class CatalogConfigError(MlBlueprintsError):
    """Every problem of a configuration, each attributed to its stack."""

    def __init__(self, errors: list[MlBlueprintsError]) -> None:
        self.errors = errors
        super().__init__([problem for error in errors for problem in error.problems])

    def _render(self) -> str:
        errors = getattr(self, "errors", [])
        lines = [f"{len(self.problems)} problem(s) in the catalog configuration:"]
        for error in errors:
            where = f"Stack {error.stack!r}" if error.stack else "Configuration"
            for problem in error.problems:
                lines.append(f"  {where}: {problem.message}")
        return "\n".join(lines)


@dataclass(frozen=True)
class StackConfig:
    name: str
    blueprint: Blueprint
    settings: BlueprintSettings
    env: Environment | None


def read_stacks(app: App, default: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The raw stacks: ``-c config=<file>``, else context ``stacks``, else ``default``."""
    config_path = app.node.try_get_context("config")
    if config_path is not None:
        if not isinstance(config_path, str) or not config_path.strip():
            what = "empty" if not str(config_path).strip() else f"{config_path!r}, not a path"
            raise CatalogConfigError(
                [
                    BlueprintConfigError(
                        f"context 'config' is {what}; pass the path of a config file: -c config=my.json"
                    )
                ]
            )
        path = Path(config_path)
        if not path.is_file():
            why = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise CatalogConfigError(
                [BlueprintConfigError(f"config file {config_path!r} (context 'config') {why}")]
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CatalogConfigError(
                [BlueprintConfigError(f"config file {config_path!r} cannot be read as UTF-8 text: {error}")]
            ) from None
        document = _parse_json(text, f"config file {config_path!r}")
        if not isinstance(document, dict) or set(document) - {"$schema", "stacks"}:
            raise CatalogConfigError(
                [
                    BlueprintConfigError(
                        f'config file {config_path!r} must be an object with "stacks" (and optionally "$schema")'
                    )
                ]
            )
        stacks = document.get("stacks")
    else:
        stacks = app.node.try_get_context("stacks")
        if stacks is None:
            return default
        if isinstance(stacks, str):  # -c stacks='{...}' arrives as a string
            stacks = _parse_json(stacks, "context 'stacks'")
    if not isinstance(stacks, dict) or not stacks:
        raise CatalogConfigError(
            [
                BlueprintConfigError(
                    'the config must hold a non-empty "stacks" object: {"stacks": {"MyEndpoint": '
                    '{"blueprint": "realtime-endpoint", "instance_type": "ml.g5.xlarge", ...}}}'
                )
            ]
        )
    return stacks


def _parse_json(text: str, source: str) -> Any:
    duplicates: list[str] = []

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        duplicates.extend(sorted({key for key in keys if keys.count(key) > 1}))
        return dict(pairs)

    try:
        document = json.loads(text, object_pairs_hook=unique_keys)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, over-long integers, deep nesting
        raise CatalogConfigError([BlueprintConfigError(f"{source} is not valid JSON: {error}")]) from None
    if duplicates:
        raise CatalogConfigError(
            [
                BlueprintConfigError(
                    f"{source} repeats the key(s) {', '.join(map(repr, duplicates))}; JSON keeps only the last "
                    "one, so an earlier value would be silently ignored. Keep one of each."
                )
            ]
        )
    return document


def load_stack_configs(
    app: App, default: dict[str, dict[str, Any]]
) -> tuple[list[StackConfig], list[MlBlueprintsError]]:
    """Every valid stack entry, and the errors of the others (each attributed to its stack)."""
    stacks = read_stacks(app, default)
    configs, errors = [], []
    for name, raw in stacks.items():
        try:
            configs.append(_stack_config(name, raw))
        except MlBlueprintsError as error:
            errors.append(error if error.stack else error.in_stack(name))
    errors += _name_clashes(configs)
    return configs, errors


def stage_stack_configs(
    stacks: Any, *, account: str, region: str
) -> tuple[list[StackConfig], list[MlBlueprintsError]]:
    """The stacks of a pipeline stage's config, pinned to the stage's account and region (which their own
    ``env`` may not change), and the errors of the others."""
    if not isinstance(stacks, dict):
        return [], [
            BlueprintConfigError(
                f"the stage's config is {type(stacks).__name__}; expected an object of stacks"
            )
        ]
    configs, errors = [], []
    for name, raw in stacks.items():
        if isinstance(raw, dict) and "env" in raw:
            errors.append(BlueprintConfigError("env: a pipeline stage sets the account and region; leave env out",
                                               stack=name))  # fmt: skip
            continue
        pinned = {**raw, "env": {"account": account, "region": region}} if isinstance(raw, dict) else raw
        try:
            configs.append(_stack_config(name, pinned))
        except MlBlueprintsError as error:
            errors.append(error if error.stack else error.in_stack(name))
    errors += _name_clashes(configs)
    return configs, errors


def _name_clashes(configs: list[StackConfig]) -> list[MlBlueprintsError]:
    """Fixed endpoint names that two stacks would create in one account and region."""
    by_name: dict[str, list[StackConfig]] = {}
    for config in configs:
        name = getattr(config.settings, "endpoint_name", None)
        if name:
            by_name.setdefault(name, []).append(config)
    errors = []
    for name, owners in by_name.items():
        if len(owners) > 1 and len({(c.env.account, c.env.region) if c.env else None for c in owners}) < len(
            owners
        ):
            others = ", ".join(c.name for c in owners)
            for config in owners:
                errors.append(
                    BlueprintConfigError(
                        Problem(
                            f"endpoint_name {name!r} is also set by another stack ({others}); SageMaker endpoint "
                            "names are unique per account and region, so the second stack would fail to create. "
                            "Give each stack its own name, or leave endpoint_name unset.",
                            setting="endpoint_name",
                            value=name,
                        ),
                        stack=config.name,
                    )
                )
    return errors


def _stack_config(name: str, raw: Any) -> StackConfig:
    problems: list[Problem] = []
    if not STACK_NAME.match(name):
        problems.append(
            Problem(
                "the stack name must start with a letter and hold only letters, digits and hyphens "
                "(at most 128 characters), as CloudFormation requires",
                setting="stack name",
                value=name,
            )
        )
    if not isinstance(raw, dict):
        problems.append(
            Problem(
                f'the stack entry is {raw!r}; expected an object such as {{"blueprint": "realtime-endpoint", ...}}'
            )
        )
        raise BlueprintConfigError(problems, stack=name)
    settings_config = dict(raw)
    blueprint_name = settings_config.pop("blueprint", None)
    env_config = settings_config.pop("env", None)
    blueprint = BLUEPRINTS.get(blueprint_name) if isinstance(blueprint_name, str) else None
    if blueprint is None and retired_blueprint(blueprint_name):
        problems.append(Problem(retired_blueprint(blueprint_name), setting="blueprint", value=blueprint_name))
    elif blueprint is None:
        problems.append(
            Problem(
                f'"blueprint" is {"missing" if blueprint_name is None else repr(blueprint_name)}; '
                f"set it to one of: {', '.join(BLUEPRINTS)}",
                setting="blueprint",
                value=blueprint_name,
            )
        )
    env, env_problems = _environment(env_config)
    problems += env_problems
    problems += _token_problems(settings_config)
    settings = None
    if blueprint is not None:
        try:
            settings = blueprint.settings.parse(name, settings_config, region=env.region if env else None)
        except MlBlueprintsError as error:
            problems += error.problems
    if problems:
        raise BlueprintConfigError(problems, stack=name)
    return StackConfig(name=name, blueprint=blueprint, settings=settings, env=env)


# How CDK renders an unresolved token in a string ("${Token[TOKEN.12]}", "#{Token[...]}" in lists).
_TOKEN = re.compile(r"[$#]\{Token\[")


def _token_problems(value: Any, setting: str = "") -> list[Problem]:
    """A config is literal JSON: a CDK token string in it would resolve to nothing at synth."""
    if isinstance(value, str) and _TOKEN.search(value):
        return [
            Problem(
                f"setting {setting!r} holds a CDK token string ({value!r}); a config takes literal values",
                setting=setting,
                value=value,
            )
        ]
    if isinstance(value, dict):
        return [
            p for key, item in value.items() for p in _token_problems(item, f"{setting}.{key}".strip("."))
        ]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _token_problems(item, f"{setting}[{i}]")]
    return []


def _environment(env_config: Any) -> tuple[Environment | None, list[Problem]]:
    """``env`` of a stack entry, else the CLI's account and region (as ``cdk deploy`` sets them)."""
    if env_config is None:
        account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
        return (Environment(account=account, region=region) if account and region else None), []
    if not isinstance(env_config, dict) or set(env_config) - {"account", "region"} or not env_config:
        return None, [
            Problem(
                f'"env" is {env_config!r}; expected an object with "account" and/or "region", e.g. '
                '{"account": "123456789012", "region": "us-east-1"}',
                setting="env",
                value=env_config,
            )
        ]
    problems = []
    account, region = env_config.get("account"), env_config.get("region")
    if account is not None and not (isinstance(account, str) and ACCOUNT_ID.match(account)):
        problems.append(
            Problem(
                f'"env.account" is {account!r}; an AWS account ID is a string of 12 digits, e.g. "123456789012"',
                setting="env.account",
                value=account,
            )
        )
    if region is not None and not (isinstance(region, str) and region in known_regions()):
        problems.append(
            Problem(
                f'"env.region" is {region!r}, which is not a region the installed botocore knows; use one '
                'such as "us-east-1", "eu-west-1" or "cn-north-1"',
                setting="env.region",
                value=region,
            )
        )
    return (None if problems else Environment(account=account, region=region)), problems

"""The delivery pipeline app: the catalog rolled out to several accounts and regions by CDK Pipelines.

    cdk deploy -a ".venv/bin/python -m mlblueprints.apps.pipeline" -c pipeline=pipeline.json

``pipeline.json`` names the pipeline's account and region, its source (a CodeConnections connection, or a
CodeCommit repository), and the rollout's stages in order, each an account, its regions and the catalog config
it deploys there (the same file ``cdk deploy -c config=...`` takes). The pipeline then updates itself from the
repository. Bad input is one block naming every problem, as for the catalog app.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

from aws_cdk import (  # noqa: E402
    App,
    Environment,
    RemovalPolicy,
    Stack,
    Stage,
    pipelines,
)
from aws_cdk import aws_codecommit as codecommit  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator  # noqa: E402

from constructs import Construct  # noqa: E402
from mlblueprints.apps.config import CatalogConfigError, stage_stack_configs  # noqa: E402
from mlblueprints.constructs.compliance.gates import add_compliance_gates  # noqa: E402
from mlblueprints.constructs.delivery.pipeline import CatalogPipeline, PipelineRegionSupport, RolloutStage  # noqa: E402
from mlblueprints.constructs.delivery.stack_sets import BaselineStackSet  # noqa: E402
from mlblueprints.constructs.errors import MlBlueprintsError, Problem  # noqa: E402
from mlblueprints.constructs.security.encryption_key import EncryptionKey  # noqa: E402

__all__ = ["BaselineStage", "CatalogStage", "PipelineConfig", "PipelineStack", "build_pipeline_app"]

ACCOUNT = re.compile(r"^\d{12}$")
STAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SourceConfig(_Strict):
    """Where the pipeline reads the repo: a CodeConnections connection (GitHub, GitLab, Bitbucket), or CodeCommit."""

    repository: str = Field(description="owner/name for a connection; the repository's name for CodeCommit.")
    branch: str = Field("main", description="The branch the pipeline follows.")
    connection_arn: str | None = Field(None, description="The CodeConnections connection's ARN.")
    codecommit: bool = Field(
        False, description="Read a CodeCommit repository of the pipeline's account instead."
    )


class StageConfig(_Strict):
    """One step of the rollout: an account, its regions (deployed in parallel) and the catalog config it gets."""

    name: str = Field(description="Letters and digits: Dev, Staging, Prod.")
    account: str = Field(description="The 12-digit account, bootstrapped with --trust <pipeline account>.")
    regions: list[str] = Field(description="Regions deployed in parallel.", min_length=1)
    config: str = Field(description="The catalog config file this stage deploys (as -c config=... takes).")
    approval: bool = Field(False, description="Show cdk diff and wait for a manual approval first.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not STAGE_NAME.match(value):
            raise ValueError("letters and digits, starting with a letter, at most 40")
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not ACCOUNT.match(value):
            raise ValueError("12 digits")
        return value


class BaselineConfig(_Strict):
    """A service-managed StackSet of the organisation baseline (alarm topic, ECR pull-through cache)."""

    organizational_units: list[str] = Field(
        description="OU IDs (ou-xxxx-xxxxxxxx); new accounts in them get it too."
    )
    regions: list[str] = Field(description="The regions of each account that get the baseline.", min_length=1)
    call_as: str = Field(
        "DELEGATED_ADMIN", description="SELF in the management account, else DELEGATED_ADMIN."
    )
    pull_through_prefix: str | None = Field(
        "ecr-public", description="The ECR pull-through cache's prefix; null: none."
    )


class PipelineConfig(_Strict):
    """The pipeline's home, its source and the rollout."""

    account: str = Field(description="The pipeline's 12-digit account.")
    region: str = Field(description="The pipeline's region.")
    source: SourceConfig
    stages: list[StageConfig] = Field(min_length=1)
    baseline: BaselineConfig | None = Field(
        None, description="Deployed first, from the pipeline account: the organisation baseline StackSet."
    )
    name: str = Field("CatalogPipeline", description="The pipeline stack's name.")
    pipeline_file: str = Field(
        "pipeline.json", description="This file's path in the repository, for self-mutation."
    )

    @field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        if not ACCOUNT.match(value):
            raise ValueError("12 digits")
        return value


def config_problems(config: PipelineConfig) -> list[Problem]:
    """What Pydantic cannot see: the source's shape, unique stage names, regions the catalog knows."""
    from mlblueprints.constructs._private.service_models import known_regions

    problems = []
    source = config.source
    if source.codecommit == (source.connection_arn is not None):
        problems.append(Problem("source: set connection_arn (CodeConnections) or codecommit true, one of them.",
                                setting="source"))  # fmt: skip
    if source.connection_arn is not None and not CONNECTION_ARN.match(source.connection_arn):
        problems.append(Problem(f"source.connection_arn {source.connection_arn!r} is not a connection ARN.",
                                setting="source.connection_arn"))  # fmt: skip
    if source.connection_arn is not None and "/" not in source.repository:
        problems.append(Problem(f"source.repository {source.repository!r}: owner/name for a connection.",
                                setting="source.repository"))  # fmt: skip
    names = [stage.name for stage in config.stages]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(f"stage {name!r} appears twice; stage names are unique.", setting="stages"))
    regions = known_regions()
    for place, region in [("region", config.region)] + [
        (f"stages.{stage.name}.regions", r) for stage in config.stages for r in stage.regions
    ]:
        if region not in regions:
            problems.append(
                Problem(f"{place}: {region!r} is not an AWS region botocore knows.", setting=place)
            )
    if config.baseline is not None:
        for region in config.baseline.regions:
            if region not in regions:
                problems.append(Problem(f"baseline.regions: {region!r} is not an AWS region botocore knows.",
                                        setting="baseline.regions"))  # fmt: skip
        if "Baseline" in names:
            problems.append(Problem("stage name 'Baseline' is the baseline's; name the stage otherwise.",
                                    setting="stages"))  # fmt: skip
    for stage in config.stages:
        if (
            config.baseline is not None
            and config.baseline.pull_through_prefix
            and Path(stage.config).is_file()
        ):
            # The baseline creates the account's pull-through cache rule; a second one of the same prefix fails.
            try:
                stacks = json.loads(Path(stage.config).read_text())
            except (OSError, json.JSONDecodeError):
                stacks = {}
            stacks = stacks.get("stacks", stacks) if isinstance(stacks, dict) else {}
            for name, raw in stacks.items() if isinstance(stacks, dict) else ():
                registry = raw.get("registry") if isinstance(raw, dict) else None
                if (
                    isinstance(registry, dict)
                    and registry.get("pull_through_prefix", "ecr-public") is not None
                ):
                    problems.append(Problem(
                        f"stages.{stage.name}: stack {name!r} sets the registry's pull-through cache, which the "
                        "baseline already creates in every account; set its registry pull_through_prefix to null.",
                        setting="stages"))  # fmt: skip
        if len(set(stage.regions)) != len(stage.regions):
            problems.append(Problem(f"stages.{stage.name}.regions lists a region twice.", setting="stages"))
        if not Path(stage.config).is_file():
            problems.append(
                Problem(f"stages.{stage.name}.config: {stage.config} is not a file.", setting="stages")
            )
    return problems


class CatalogStage(Stage):
    """The catalog stacks of one config file, in one account and region."""

    def __init__(self, scope: Construct, id: str, *, stacks: dict[str, Any], env: Environment) -> None:
        super().__init__(scope, id, env=env)
        configs, errors = stage_stack_configs(stacks, account=env.account, region=env.region)
        for config in configs:
            try:
                config.blueprint.build(self, config.name, settings=config.settings, env=config.env)
            except MlBlueprintsError as error:
                errors.append(error.in_stack(f"{id}/{config.name}"))
        if errors:
            raise CatalogConfigError(errors)


class BaselineStage(Stage):
    """The organisation baseline's stack set, deployed by the pipeline into its own account and region."""

    def __init__(self, scope: Construct, id: str, *, config: BaselineConfig, env: Environment) -> None:
        super().__init__(scope, id, env=env)
        stack = Stack(self, "OrganizationBaseline", description="mlblueprints organisation baseline StackSet")
        BaselineStackSet(
            stack,
            "StackSet",
            organizational_units=config.organizational_units,
            regions=config.regions,
            call_as=config.call_as,
            pull_through_prefix=config.pull_through_prefix,
        )


class PipelineStack(Stack):
    """The pipeline's key, artifact bucket, build logs and pipeline, in the pipeline account and region."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PipelineConfig,
        stages: list[RolloutStage],
        region_support: dict[str, PipelineRegionSupport],
    ) -> None:
        super().__init__(
            scope,
            id,
            env=Environment(account=config.account, region=config.region),
            description="mlblueprints delivery pipeline (CDK Pipelines)",
        )
        key = EncryptionKey(
            self,
            "Key",
            description="mlblueprints delivery pipeline: artifacts and build logs",
            removal_policy=RemovalPolicy.RETAIN,
        ).key
        source_config = config.source
        if source_config.codecommit:
            repository = codecommit.Repository.from_repository_name(
                self, "Repository", source_config.repository
            )
            source = pipelines.CodePipelineSource.code_commit(repository, source_config.branch)
        else:
            source = pipelines.CodePipelineSource.connection(
                source_config.repository, source_config.branch, connection_arn=source_config.connection_arn
            )
        self.pipeline = CatalogPipeline(
            self,
            "Delivery",
            source=source,
            synth_commands=[f"make pipeline-synth PIPELINE={config.pipeline_file}"],
            encryption_key=key,
            region_support=region_support,
        )
        for stage in stages:
            self.pipeline.add_rollout_stage(stage)
        self.pipeline.build()


def _read(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CatalogConfigError([MlBlueprintsError(Problem(f"{path}: {error}"))]) from None


def build_pipeline_app(app: App, *, gates: bool = True) -> App:
    """The pipeline stack and the stages it deploys, from ``-c pipeline=<file>``."""
    path = app.node.try_get_context("pipeline")
    if not isinstance(path, str) or not path.strip():
        raise CatalogConfigError(
            [MlBlueprintsError(Problem("pass the pipeline config: -c pipeline=pipeline.json"))]
        )
    raw = _read(path)
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as error:
        problems = [
            Problem(f"{'.'.join(map(str, e['loc'])) or 'pipeline'}: {e['msg']}") for e in error.errors()
        ]
        raise CatalogConfigError([MlBlueprintsError(problems)]) from None
    problems = config_problems(config)
    if problems:
        raise CatalogConfigError([MlBlueprintsError(problems)])
    rollout, errors = [], []
    if config.baseline is not None:
        home = Environment(account=config.account, region=config.region)
        try:
            baseline = BaselineStage(app, "Baseline", config=config.baseline, env=home)
        except MlBlueprintsError as error:
            raise CatalogConfigError([error.in_stack("Baseline")]) from None
        rollout.append(RolloutStage("Baseline", config.account, [baseline]))
    for stage in config.stages:
        stacks = _read(stage.config)
        stacks = stacks.get("stacks", stacks) if isinstance(stacks, dict) else stacks
        regional = []
        for region in stage.regions:
            try:
                regional.append(CatalogStage(app, f"{stage.name}-{region}", stacks=stacks,
                                             env=Environment(account=stage.account, region=region)))  # fmt: skip
            except CatalogConfigError as error:
                errors += error.errors
        rollout.append(RolloutStage(stage.name, stage.account, regional, approval=stage.approval))
    if errors:
        raise CatalogConfigError(errors)
    regions = sorted({r for stage in config.stages for r in stage.regions} - {config.region})
    support = {
        region: PipelineRegionSupport(
            app,
            f"{config.name}-{region}",
            env=Environment(account=config.account, region=region),
            alias_name=f"alias/{config.name}-artifacts-{region}",
        )
        for region in regions
    }
    PipelineStack(app, config.name, config=config, stages=rollout, region_support=support)
    if gates:
        add_compliance_gates(app)
    return app


def main() -> int:
    try:
        app = build_pipeline_app(App())
    except CatalogConfigError as error:
        print(error, file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

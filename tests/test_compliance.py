"""The compliance gates: cdk-nag packs, Control Tower, justified acknowledgements, cfn-lint, checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from mlblueprints.constructs.compliance.gates import (
    COMPLIANCE_PACKS,
    add_compliance_gates,
    compliance_gates,
)
from mlblueprints.constructs.compliance.scanners import CFN_LINT_IGNORED, CFN_LINT_REGIONS, lint_regions

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
PACK_PREFIXES = (
    "AwsSolutions-",
    "HIPAA.Security-",
    "NIST.800.53.R5-",
    "PCI.DSS.321-",
    "Serverless-",
    "cdk-validator-cfnguard::",
)

# The gates the catalog promises: five cdk-nag packs and AWS Control Tower's proactive controls.
SIX_GATES = (
    "AwsSolutions",
    "HIPAA.Security",
    "NIST.800.53.R5",
    "PCI.DSS.321",
    "Serverless",
    "cdk-validator-cfnguard",
)

# Reasons that explain nothing. A reason must say why the finding is safe for that resource.
BOILERPLATE = {
    "",
    "ok",
    "n/a",
    "na",
    "todo",
    "tbd",
    "suppressed",
    "acknowledged",
    "false positive",
    "not needed",
}


def acknowledgements(assembly: Path) -> list[tuple[str, str, str]]:
    """Every (construct path, rule id, reason) recorded in a cloud assembly's metadata."""
    found = []
    for metadata_file in sorted(assembly.glob("*.metadata.json")):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == ACKNOWLEDGED:
                    found.extend((path, rule, reason) for rule, reason in entry["data"].items())
    return found


def nag_acknowledgements(assembly: Path) -> list[tuple[str, str, str]]:
    return [
        (path, rule.removeprefix("Annotation::"), reason)
        for path, rule, reason in acknowledgements(assembly)
        if rule.removeprefix("Annotation::").startswith(PACK_PREFIXES)
    ]


def test_the_gates_are_the_promised_six():
    names = sorted(gate.name for gate in compliance_gates(App()))
    assert names == sorted(SIX_GATES)
    assert len(COMPLIANCE_PACKS) == 5


def test_catalog_app_carries_all_six_gates():
    # The catalog's own app (not a test double) registers the gate; the next test proves that a
    # registered gate fails synth, and the real `cdk synth` in conftest proves the catalog passes it.
    # Checked on the construct tree, so the catalog is synthesized only once per session.
    from mlblueprints.apps.catalog import build_app

    app = build_app(App())
    # Validations.of(app).plugins is not in aws-cdk-lib 2.275's Python binding; the Stage property
    # it supersedes still lists what Validations.add_plugins registered.
    names = sorted(plugin.name for plugin in app.policy_validation_beta1)
    assert names == sorted(SIX_GATES)
    assert "cdk-validator-cfnguard" in names


def test_gate_fails_synth_on_an_unacknowledged_finding(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Insecure")
    s3.Bucket(stack, "PlainBucket")  # no KMS, no logging, no SSL policy
    add_compliance_gates(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    failing = {
        plugin["pluginName"] for plugin in report["pluginReports"] if plugin["conclusion"] == "failure"
    }
    assert {
        "AwsSolutions",
        "HIPAA.Security",
        "NIST.800.53.R5",
        "PCI.DSS.321",
        "cdk-validator-cfnguard",
    } <= failing


def _failing_paths(tmp_path: Path, app: App, rule: str) -> set[str]:
    """Synthesize ``app``, which must fail its gates, and return the construct paths ``rule`` names."""
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    return {
        c["constructPath"]
        for p in report["pluginReports"]
        for v in p["violations"]
        for c in v["violatingConstructs"]
        if v["ruleName"] == rule
    }


def _control_tower_gate_only(app: App) -> None:
    Validations.of(app).add_plugins(*[g for g in compliance_gates(app) if g.name == "cdk-validator-cfnguard"])


def _acknowledge_control_tower(construct, *rules: str) -> None:
    from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge

    for rule in rules:
        acknowledge(
            construct,
            rule,
            topic="test",
            reason="acknowledged here only, to see what the gate does with the others",
            packs=(Pack.CONTROL_TOWER,),
        )


def test_one_acknowledged_control_tower_finding_does_not_wave_the_others_through(tmp_path):
    # cdk-validator-cfnguard leaves severities unset; without ControlTowerChecks, acknowledging one
    # finding made aws-cdk-lib pass every other finding of the plugin.
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Partly")
    first = s3.Bucket(stack, "First")
    s3.Bucket(stack, "Second")
    _acknowledge_control_tower(first, "s3_bucket_logging_enabled_check", "s3_bucket_versioning_enabled_check")
    _control_tower_gate_only(app)
    failing = {
        path.split("/")[1] for path in _failing_paths(tmp_path, app, "s3_bucket_logging_enabled_check")
    }
    assert "Second" in failing, failing


def test_key_without_the_create_grant_statement_fails_the_control_tower_gate(tmp_path):
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "PlainKey")
    kms.Key(stack, "Key", enable_key_rotation=True)
    Validations.of(app).add_plugins(*[g for g in compliance_gates(app) if g.name == "cdk-validator-cfnguard"])
    with pytest.raises(RuntimeError, match=r"ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    failing = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert failing == {"kms_create_grant_aws_service_check"}, "CT.KMS.PR.3 and nothing else"


def test_every_acknowledgement_names_one_finding_with_a_specific_reason(catalog_assembly):
    acks = nag_acknowledgements(catalog_assembly)
    assert acks, "the catalog records its acknowledgements in the cloud assembly"
    for path, rule, reason in acks:
        assert "," not in rule and " " not in rule, f"{path}: {rule!r} must name exactly one finding"
        topic, _, why = reason.partition(": ")
        assert why.strip().lower().rstrip(".") not in BOILERPLATE, (
            f"{path} {rule}: boilerplate reason {reason!r}"
        )
        assert len(why) >= 60, f"{path} {rule}: reason too short to explain anything: {reason!r}"
        assert topic, f"{path} {rule}: reason must say what it accepts"


def test_acknowledgements_sit_on_the_resource_they_cover(catalog_assembly, catalog_templates):
    # On a resource's own construct (its L2 or L1), never on a stack or a whole blueprint: a blanket
    # acknowledgement would hide findings on resources added later.
    for path, rule, _ in nag_acknowledgements(catalog_assembly):
        stack, _, construct = path.lstrip("/").partition("/")
        covered = [
            logical_id
            for logical_id, resource in catalog_templates[stack]["Resources"].items()
            if resource.get("Metadata", {}).get("aws:cdk:path", "").startswith(f"{stack}/{construct}/")
            or resource.get("Metadata", {}).get("aws:cdk:path", "") == f"{stack}/{construct}"
        ]
        assert 1 <= len(covered) <= 2, f"{rule} acknowledged at {path}, which covers {covered}"


def test_acknowledgement_inventory(catalog_assembly):
    # The complete list, so that a new acknowledgement is a reviewed change of this test.
    per_stack = {}
    for path, rule, _ in nag_acknowledgements(catalog_assembly):
        stack, _, construct = path.lstrip("/").partition("/")
        per_stack.setdefault(stack, set()).add((construct, rule))
    gpu = per_stack["GpuEndpoint"]
    assert gpu == {
        ("Endpoint/Role/Default", "AwsSolutions-IAM5[Resource::*]"),
        (
            "Endpoint/Role/Default",
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
        ),
        ("Endpoint/Role/Default", "HIPAA.Security-IAMNoInlinePolicy"),
        ("Endpoint/Role/Default", "NIST.800.53.R5-IAMNoInlinePolicy"),
        ("Endpoint/Role/Default", "PCI.DSS.321-IAMNoInlinePolicy"),
        (
            "Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler",
            "cdk-validator-cfnguard::lambda_inside_vpc_check",
        ),
        ("Network/Resource/FlowLog/IAMRole", "HIPAA.Security-IAMNoInlinePolicy"),
        ("Network/Resource/FlowLog/IAMRole", "NIST.800.53.R5-IAMNoInlinePolicy"),
        ("Network/Resource/FlowLog/IAMRole", "PCI.DSS.321-IAMNoInlinePolicy"),
        ("Endpoint/Config", "HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured"),
        ("Endpoint/Config", "NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured"),
        ("Endpoint/Config", "PCI.DSS.321-SageMakerEndpointConfigurationKMSKeyConfigured"),
    }
    # Inferentia2 serves from EBS volumes, so its endpoint config takes the KMS key: nothing to accept.
    assert not any(construct == "Endpoint/Config" for construct, _ in per_stack["Inferentia2Endpoint"])


def test_every_blueprint_example_is_scanned(scanned_templates):
    from mlblueprints.blueprints.registry import BLUEPRINTS

    for blueprint in BLUEPRINTS.values():
        for name in json.loads(blueprint.example.read_text())["stacks"]:
            assert f"{name}-agnostic" in scanned_templates


def test_cfn_lint_has_no_errors_and_only_listed_warnings(scanned_templates, scanner_findings):
    # run_cfn_lint lints a stack whose Rules limit its regions there (a medical or translation stack).
    linted = [f for f in scanner_findings if f.tool == "cfn-lint"]
    unexpected = [f"{f.stack}: {f.rule} {f.message}" for f in linted if not f.acknowledged]
    assert unexpected == []
    assert not [f for f in linted if f.rule.startswith("E")]
    assert all(f.rule in CFN_LINT_IGNORED and f.reason == CFN_LINT_IGNORED[f.rule] for f in linted)
    assert {f.stack for f in linted} <= set(scanned_templates) and linted, "cfn-lint reported nothing at all"


def test_cfn_lint_exceptions_have_reasons():
    for rule, reason in CFN_LINT_IGNORED.items():
        assert rule.startswith("W"), f"{rule}: errors are never ignored"
        assert len(reason) >= 60


CHECKOV = Path(__file__).resolve().parents[1] / ".venv-scan" / "bin" / "checkov"


def test_checkov_passes_every_template(scanned_directory):
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(scanned_directory),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert sum(report["summary"]["passed"] for report in reports) > 100
    assert result.returncode == 0


# The deploy-time functions (accept_deploy_time_function): construct libraries' handlers and the
# catalog's own, which only CloudFormation invokes.
DEPLOY_TIME_FUNCTIONS = (
    "DeployTimeBuildCustomResourceHandler",
    "CustomCDKECRDeployment",
    "FlowDefinitionHandler",  # the A2I flow definition's custom resource
    "FlowDefinitionProviderframeworkonEvent",
    "CustomCDKBucketDeployment",  # HyperPod's lifecycle scripts copy
    "AWS679f53fac002430cb0da5b7982bd2287",  # aws-cdk-lib's AwsCustomResource (starts a training)
)
# Runtime functions a state machine invokes synchronously (accept_synchronous_function), and the runtime
# functions that call AWS APIs only, outside a VPC.
SYNCHRONOUS_FUNCTIONS = ("TranscriptionAnalyser", "BotCodeHook")
OUTSIDE_VPC_FUNCTIONS = (*SYNCHRONOUS_FUNCTIONS, "AnalysisJobCompletion")
# Each checkov skip, and the resources it may sit on (logical ID prefixes, or a resource type).
CHECKOV_SKIPS = {
    "CKV_AWS_115": ("CustomVpcRestrictDefaultSG", *DEPLOY_TIME_FUNCTIONS),
    "CKV_AWS_116": ("CustomVpcRestrictDefaultSG", *DEPLOY_TIME_FUNCTIONS, *SYNCHRONOUS_FUNCTIONS),
    "CKV_AWS_117": ("CustomVpcRestrictDefaultSG", *DEPLOY_TIME_FUNCTIONS, *OUTSIDE_VPC_FUNCTIONS),
    "CKV_AWS_173": DEPLOY_TIME_FUNCTIONS,
    "CKV_AWS_51": ("AWS::ECR::Repository",),
    "CKV_AWS_316": ("AWS::CodeBuild::Project",),
    "CKV_AWS_18": ("AWS::S3::Bucket",),  # the access-log buckets, which cannot log into themselves
    "CKV_AWS_370": ("AWS::SageMaker::Model",),  # serverless endpoints: no network isolation
    "CKV_AWS_33": ("AWS::KMS::Key",),  # AWS's aws/ebs statement, for Auto Scaling's encrypted volumes
    # Session Manager's agent actions (fleet); the network interfaces of HyperPod nodes (cluster); the job
    # starts of Translate and Polly, and Rekognition's image analyses, which take no resource ARNs.
    "CKV_AWS_111": (
        "FleetRoleDefaultPolicy",
        "ClusterExecutionRoleDefaultPolicy",
        "TranslationStateMachineRoleDefaultPolicy",
        "SpeechStateMachineRoleDefaultPolicy",
        "ClassifierDataAccessRoleDefaultPolicy",
        "AnalysisStateMachineRoleDefaultPolicy",
        "CustomCDKBucketDeployment",
    ),
    "CKV_AWS_109": ("ClusterExecutionRoleDefaultPolicy", "ClassifierDataAccessRoleDefaultPolicy"),
    # docs-site: standard logging (v2) instead of the legacy Logging property; the default CloudFront certificate
    # without a domain; the bucket deployment's cache invalidation, which aws-cdk-lib grants on all resources.
    "CKV_AWS_86": ("AWS::CloudFront::Distribution",),
    "CKV_AWS_174": ("AWS::CloudFront::Distribution",),
    "CKV_AWS_67": ("AWS::CloudTrail::Trail",),  # a trail of one stack's bucket data events, in its region
}


def test_checkov_skips_are_on_their_resource_with_a_reason(scanned_templates):
    skips = [
        (stack, logical_id, resource["Type"], skip)
        for stack, template in scanned_templates.items()
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert {skip["id"] for *_, skip in skips} == set(CHECKOV_SKIPS)
    for stack, logical_id, kind, skip in skips:
        allowed = CHECKOV_SKIPS[skip["id"]]
        assert kind in allowed or logical_id.startswith(allowed), (stack, logical_id, skip["id"])
        assert len(skip["comment"]) >= 60, (stack, logical_id, skip)


def test_control_tower_rule_types_match_the_installed_plugin():
    # The gate skips the rules that name none of a template's resource types; which types a rule
    # names is generated from the plugin's own rule files and must not drift from them.
    from mlblueprints.constructs.compliance._private import control_tower_rule_source as source
    from mlblueprints.constructs.compliance._private.control_tower_rule_types import RULE_TYPES, SOURCE

    assert f"cdklabs.cdk-validator-cfnguard=={source.plugin_version()}" == SOURCE
    assert source.read_rule_types() == RULE_TYPES
    assert source.TARGET.read_text() == source.render(RULE_TYPES)
    assert RULE_TYPES["ct-kms-pr-3"] == ("AWS::KMS::Key",)


def test_skipping_rules_keeps_the_findings(tmp_path):
    # A template with a bucket lacking what CT.S3 controls want still fails: skipping rules for absent
    # types never skips the rules for the types that are there.
    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Bucket"), "Plain")
    Validations.of(app).add_plugins(*[g for g in compliance_gates(app) if g.name == "cdk-validator-cfnguard"])
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"s3_bucket_logging_enabled_check", "s3_bucket_versioning_enabled_check"} <= rules


def _normalized(violations: list[dict]) -> list[tuple]:
    return sorted(
        (
            v["ruleName"],
            v.get("description"),
            v.get("fix"),
            tuple(
                sorted(
                    (r["resourceLogicalId"], Path(r["templatePath"]).name, tuple(r.get("locations", [])))
                    for r in v["violatingResources"]
                )
            ),
        )
        for v in violations
    )


def test_parallel_control_tower_run_reports_exactly_what_the_plugin_does(tmp_path):
    # The gate runs the plugin's own JavaScript on a share of the templates per core; its findings
    # must be the plugin's, finding for finding, on templates that fail several rules.
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    from mlblueprints.constructs.compliance._private.guard_runner import validate_in_parallel
    from mlblueprints.constructs.compliance.control_tower import _as_dict

    app = App(outdir=str(tmp_path))
    for name in ("First", "Second", "Third"):
        stack = Stack(app, name)
        s3.Bucket(stack, "Plain")
        kms.Key(stack, "Key")
    assembly = app.synth()
    paths = [str(tmp_path / f"{s.stack_name}.template.json") for s in assembly.stacks]

    import jsii
    from aws_cdk import IPolicyValidationContextBeta1

    @jsii.implements(IPolicyValidationContextBeta1)
    class Context:
        @property
        def template_paths(self) -> list[str]:
            return paths

    options = {"controlTowerRulesEnabled": True, "disabledRules": []}
    parallel = validate_in_parallel(paths, options, workers=2)
    reference = _as_dict(CfnGuardValidator(control_tower_rules_enabled=True).validate(Context()))
    assert parallel is not None
    assert parallel["success"] is reference["success"] is False
    assert _normalized(parallel["violations"]) == _normalized(reference["violations"])
    assert {v["ruleName"] for v in parallel["violations"]} >= {
        "kms_create_grant_aws_service_check",
        "s3_bucket_logging_enabled_check",
    }


def test_several_stacks_still_fail_on_one_unacknowledged_finding(tmp_path):

    app = App(outdir=str(tmp_path))
    for name in ("Acked", "NotAcked"):
        bucket = s3.Bucket(Stack(app, name), "Plain")
        if name == "Acked":
            _acknowledge_control_tower(
                bucket, "s3_bucket_logging_enabled_check", "s3_bucket_versioning_enabled_check"
            )
    _control_tower_gate_only(app)
    failing = _failing_paths(tmp_path, app, "s3_bucket_logging_enabled_check")
    assert {path.split("/")[0] for path in failing} == {"NotAcked"}


def test_gate_falls_back_to_jsii_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    from mlblueprints.constructs.compliance._private import guard_runner

    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(read_only))
    monkeypatch.setattr(
        guard_runner, "_unpacked_plugin", lambda: (_ for _ in ()).throw(PermissionError("ro"))
    )
    guard_runner.plugin_dir.cache_clear()
    try:
        assert guard_runner.plugin_dir() is None
        assert guard_runner.validate_in_parallel(["a.json", "b.json"], {}, 2) is None
    finally:
        guard_runner.plugin_dir.cache_clear()


def test_lint_regions_follow_a_templates_region_rules():
    template = {"Rules": {"Services": {"Assertions": [{"Assert": {"Fn::Contains": [["us-east-1", "us-west-2"],
                                                                                 {"Ref": "AWS::Region"}]}}]}}}  # fmt: skip
    assert lint_regions(template) == ("us-east-1", "us-west-2")
    assert lint_regions({}) == CFN_LINT_REGIONS
    zone = {
        "Rules": {"Zone": {"Assertions": [{"Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}}]}}
    }
    assert lint_regions(zone) == ("eu-west-1",)

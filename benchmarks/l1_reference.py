"""The benchmark's reference: the catalog's default app rebuilt from plain L1 constructs.

Each stack is the same CloudFormation template, imported with ``cloudformation_include.CfnInclude``
(typed L1 classes: ``CfnBucket``, ``CfnKey``, ... so every cdk-nag rule and the Control Tower rules
inspect them as they inspect the catalog's), with the same acknowledgements on the same resources and
the same six gates. What remains between the two timings is the cost of the catalog's constructs,
validation and image tables: the overhead ``make bench`` holds to 1.10x.

    python benchmarks/l1_reference.py <catalog cloud assembly> <outdir>
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from pathlib import Path

from mlblueprints.apps.runtime import use_pinned_node

use_pinned_node()

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations  # noqa: E402
from aws_cdk import cloudformation_include as cfn_inc  # noqa: E402

from mlblueprints.constructs.compliance.acknowledge import acknowledge  # noqa: E402
from mlblueprints.constructs.compliance.gates import add_compliance_gates  # noqa: E402

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
REPO = Path(__file__).resolve().parents[1]


# aws-cdk-lib writes its default-security-group provider and custom resource as raw CfnResources;
# the reference writes them the same way, so that each side has the same typed L1s for the gates.
_RAW_PREFIXES = ("CustomVpcRestrictDefaultSGCustomResourceProvider",)


def _is_raw(logical_id: str, resource: dict) -> bool:
    return logical_id.startswith(_RAW_PREFIXES) or resource["Type"].startswith("Custom::")


def _plain_template(template: dict) -> dict:
    """Drop what the stack synthesizer adds again (bootstrap check, CDK metadata) and the raw resources."""
    template = json.loads(json.dumps(template))
    raw = {k for k, v in template["Resources"].items() if _is_raw(k, v)}
    template["Resources"] = {k: v for k, v in template["Resources"].items() if k not in raw}
    for resource in template["Resources"].values():
        depends = resource.get("DependsOn")
        if depends:
            kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in raw]
            if kept:
                resource["DependsOn"] = kept
            else:
                del resource["DependsOn"]
    template.get("Parameters", {}).pop("BootstrapVersion", None)
    template.get("Rules", {}).pop("CheckBootstrapVersion", None)
    template["Resources"].pop("CDKMetadata", None)
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    for section in ("Parameters", "Rules", "Conditions"):
        if section in template and not template[section]:
            del template[section]
    return template


def _acknowledgements(assembly: Path, stack: str) -> list[tuple[str, dict[str, str]]]:
    metadata = json.loads((assembly / f"{stack}.metadata.json").read_text())
    return [
        (path.lstrip("/"), entry["data"])
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == ACKNOWLEDGED
    ]


def import_l1_modules(resource_types: set[str]) -> None:
    """Import the module of every L1 class the templates use, as a hand-written L1 app does.

    ``CfnInclude`` builds ``CfnVPC``, ``CfnKey``, ... on the jsii side without importing their Python
    modules (``aws_cdk.aws_ec2``, ``aws_cdk.aws_kms``, ...); an app that writes those L1s by hand
    imports them, and the reference pays that as it would.
    """
    for resource_type in sorted(resource_types):
        if resource_type.startswith("AWS::") and not resource_type.startswith("AWS::CDK::"):
            importlib.import_module(f"aws_cdk.aws_{resource_type.split('::')[1].lower()}")


def build_reference(app: App, assembly: Path) -> App:
    import_l1_modules(
        {
            resource["Type"]
            for template_file in assembly.glob("*.template.json")
            for resource in json.loads(template_file.read_text())["Resources"].values()
        }
    )
    workdir = Path(tempfile.mkdtemp(prefix="l1-reference-"))
    for template_file in sorted(assembly.glob("*.template.json")):
        name = template_file.name.removesuffix(".template.json")
        template = json.loads(template_file.read_text())
        plain = workdir / template_file.name
        plain.write_text(json.dumps(_plain_template(template)))
        stack = Stack(app, name, description=template.get("Description"))
        included = cfn_inc.CfnInclude(stack, "Template", template_file=str(plain))
        constructs = {}
        for logical_id, resource in template["Resources"].items():
            if _is_raw(logical_id, resource):
                raw = CfnResource(
                    stack, logical_id, type=resource["Type"], properties=resource.get("Properties")
                )
                raw.override_logical_id(logical_id)
                for key in ("DependsOn", "DeletionPolicy", "UpdateReplacePolicy"):
                    if key in resource:
                        raw.add_override(key, resource[key])
                constructs[logical_id] = raw
            elif logical_id != "CDKMetadata":
                constructs[logical_id] = included.get_resource(logical_id)
        for logical_id, resource in template["Resources"].items():  # dependencies on raw resources
            depends = resource.get("DependsOn", [])
            for target in [depends] if isinstance(depends, str) else depends:
                if (
                    logical_id in constructs
                    and not _is_raw(logical_id, resource)
                    and _is_raw(target, template["Resources"][target])
                ):
                    constructs[logical_id].add_resource_dependency(constructs[target])
            if resource["Type"] == "AWS::EC2::VPC":
                acknowledge(
                    constructs[logical_id],
                    "VPCDefaultSecurityGroupClosed",
                    topic="default security group of the included VPC",
                    reason="The template's Custom::VpcRestrictDefaultSG resource strips its rules; cdk-nag "
                    "recognises that resource only as the child of an L2 Vpc, which this reference has not.",
                )
        paths = {
            logical_id: resource.get("Metadata", {}).get("aws:cdk:path", "")
            for logical_id, resource in template["Resources"].items()
            if logical_id in constructs
        }
        for path, rules in _acknowledgements(assembly, name):
            for logical_id, resource_path in paths.items():
                if resource_path == path or resource_path.startswith(f"{path}/"):
                    Validations.of(constructs[logical_id]).acknowledge(
                        *(
                            Acknowledgment(id=rule.removeprefix("Annotation::"), reason=reason)
                            for rule, reason in rules.items()
                        )
                    )
    add_compliance_gates(app)
    return app


def main() -> int:
    assembly, outdir = Path(sys.argv[1]), sys.argv[2]
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    build_reference(App(context=context, outdir=outdir), assembly).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

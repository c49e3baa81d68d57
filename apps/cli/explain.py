"""``explain RULE-ID``: what a rule checks (from the rule's own source), and where the catalog accepts it.

Rule texts come from what is installed: cdk-nag's packs (their ``info`` and ``explanation``), the
Control Tower guard rules bundled with cdk-validator-cfnguard, cfn-lint's rule registry, and
checkov's (in its own virtualenv). The catalog's stance comes from its source: each acknowledgement
is a call that names the rule, next to the resource, with its reason.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlblueprints.apps.cli.output import console, print_json
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["explain_rule", "nag_rules", "register"]

PACK_FILES = {
    "aws-solutions.js": "AwsSolutions",
    "hipaa-security.js": "HIPAA.Security",
    "nist-800-53-r5.js": "NIST.800.53.R5",
    "pci-dss-321.js": "PCI.DSS.321",
    "serverless.js": "Serverless",
}
_BLOCK = re.compile(r"this\.applyRule\(\{(?P<body>.*?)\n\s*\}\);", re.S)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")
REPO = Path(__file__).resolve().parents[2]
SOURCES = ("constructs", "blueprints")


def _field(body: str, name: str) -> str:
    match = re.search(
        rf"\b{name}:\s*(?P<value>(?:(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*\+?\s*)+)", body
    )
    if not match:
        return ""
    return "".join(a or b for a, b in _QUOTED.findall(match["value"])).replace("\\'", "'")


@functools.cache
def nag_rules() -> dict[str, dict[str, str]]:
    """Every rule of the five cdk-nag packs the catalog runs: ``Pack-Rule`` -> info, explanation."""
    import cdk_nag

    bundle = next((Path(cdk_nag.__file__).parent / "_jsii").glob("cdk-nag@*.jsii.tgz"))
    rules = {}
    with tarfile.open(bundle) as archive:
        for file, pack in PACK_FILES.items():
            source = archive.extractfile(f"package/lib/packs/{file}").read().decode()
            for block in _BLOCK.finditer(source):
                body = block["body"]
                suffix = _field(body, "ruleSuffixOverride")
                if not suffix:
                    name = re.search(r"\brule:\s*[\w$]+\.(\w+)", body)
                    suffix = name.group(1) if name else ""
                rules[f"{pack}-{suffix}"] = {
                    "info": _field(body, "info"),
                    "explanation": _field(body, "explanation"),
                }
    return rules


# Rules the catalog acknowledges through a helper, whose call sites are the acknowledgements.
_HELPERS = {"IAM5": "acknowledge_wildcard_resource(", "IAMNoInlinePolicy": "acknowledge_inline_policy("}


# The helpers' own definitions and the gate's plumbing name rules without acknowledging them.
_NOT_ACKNOWLEDGEMENTS = ("constructs/compliance/acknowledge.py", "constructs/compliance/control_tower.py")
_REASON = re.compile(r"""(?:reason|CKV\w*)=\s*(?P<value>(?:f?(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*)+)""")


def _catalog_uses(rule: str) -> list[dict[str, str]]:
    """Where the catalog's source acknowledges ``rule`` (an acknowledgement or a checkov skip): file:line and
    the reason written there (its literal part; ``{...}`` are values filled in at synth)."""
    found = []
    helper = _HELPERS.get(rule)
    pattern = re.compile(rf"[\"'](?:[\w.]+-)?{re.escape(rule)}(?:\[|[\"'])")
    for top in SOURCES:
        for path in sorted((REPO / top).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative in _NOT_ACKNOWLEDGEMENTS:
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            for number, line in enumerate(lines, start=1):
                called = bool(helper) and helper in line and not line.lstrip().startswith("def ")
                if pattern.search(line) or f"{rule}=" in line or called:
                    window = " ".join(part.strip() for part in lines[number - 1 : number + 12])
                    reason = _REASON.search(window)
                    pieces = (
                        re.findall(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'', reason["value"])
                        if reason
                        else []
                    )
                    text = "".join(a or b for a, b in pieces)
                    found.append({"where": f"{relative}:{number}", "reason": text})
    return found


def normalize(rule_id: str) -> str:
    """A rule ID as ``scan`` prints it, reduced to the rule: ``cdk-validator-cfnguard::x`` -> ``x``,
    ``AwsSolutions-IAM5[Resource::*]`` -> ``AwsSolutions-IAM5``, ``Annotation::`` dropped."""
    text = rule_id.strip().removeprefix("Annotation::").removeprefix("cdk-validator-cfnguard::")
    return re.sub(r"\[.*\]$", "", text)


def explain_rule(rule_id: str) -> dict:
    """What ``rule_id`` checks and where the catalog accepts it (an empty list: it complies)."""
    text = normalize(rule_id)
    nag = nag_rules()
    if text in nag or any(key.split("-", 1)[1] == text for key in nag):
        names = [text] if text in nag else [key for key in nag if key.split("-", 1)[1] == text]
        suffix = names[0].split("-", 1)[1]
        return {"rule": text, "tool": "cdk-nag", "packs": {name: nag[name] for name in names},
                "catalog": _catalog_uses(suffix)}  # fmt: skip
    control = control_tower_rules().get(text) or control_tower_rules().get(text.lower().replace(".", "-"))
    if control:
        identifier, description = control
        return {"rule": identifier, "tool": "Control Tower (cfn-guard)", "text": description,
                "catalog": _catalog_uses(identifier)}  # fmt: skip
    lint = _cfn_lint(text)
    if lint:
        return {
            "rule": text.upper(),
            "tool": "cfn-lint",
            "text": lint,
            "catalog": _catalog_uses(text.upper()),
        }
    checkov = _checkov(text)
    if checkov:
        return {
            "rule": text.upper(),
            "tool": "checkov",
            "text": checkov,
            "catalog": _catalog_uses(text.upper()),
        }
    raise MlBlueprintsError(
        Problem(
            f"{rule_id!r} is not a rule of the catalog's gates{_suggest(text)}: give a cdk-nag rule (AwsSolutions-IAM5, IAM5, "
            "HIPAA.Security-IAMNoInlinePolicy), a Control Tower rule (ec2_launch_template_imdsv2_check, "
            "ct-ec2-pr-15), a cfn-lint rule (E3019) or a checkov check (CKV_AWS_116).",
            setting="rule",
            value=rule_id,
        )
    )


def _suggest(text: str) -> str:
    import difflib

    known = [*nag_rules(), *(key.split("-", 1)[1] for key in nag_rules()), *control_tower_rules()]
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.75)
    return f" (did you mean {', '.join(close)}?)" if close else ""


@functools.cache
def control_tower_rules() -> dict[str, tuple[str, str]]:
    """The bundled Control Tower guard rules, by file name (``ct-ec2-pr-15``) and by rule identifier
    (``ec2_launch_template_nitro_instance_type_check``): (identifier, description)."""
    from importlib import metadata

    distribution = metadata.distribution("cdklabs.cdk-validator-cfnguard")
    (tarball,) = [
        Path(distribution.locate_file(f)) for f in distribution.files if f.name.endswith(".jsii.tgz")
    ]
    rules = {}
    with tarfile.open(tarball) as archive:
        for member in archive:
            match = re.search(r"/(ct-[a-z0-9-]+)\.guard$", member.name)
            if not match:
                continue
            text = archive.extractfile(member).read().decode()
            identifier = re.search(r"Rule Identifier:\s*\n#\s*(\S+)", text)
            description = re.search(r"Description:\s*\n((?:#.*\S.*\n)+)", text)
            ident = identifier.group(1) if identifier else match.group(1)
            lines = description.group(1).splitlines() if description else []
            summary = " ".join(line.lstrip("#").strip() for line in lines)
            rules[match.group(1)] = rules[ident] = (ident, f"{match.group(1).upper()}: {summary}")
    return rules


def _cfn_lint(text: str) -> str:
    if not re.fullmatch(r"[EWI]\d{4}", text.upper()):
        return ""
    try:
        from cfnlint.core import get_rules
    except ImportError:
        return ""
    for rule in get_rules([], [], ["I", "W", "E"]):
        if rule.id == text.upper():
            return f"{rule.shortdesc}: {rule.description} ({rule.source_url})"
    return ""


def _checkov(text: str) -> str:
    if not re.fullmatch(r"CKV2?_[A-Z]+_\d+", text.upper()):
        return ""
    from mlblueprints.constructs.compliance.scanners import checkov_path

    checkov = checkov_path()
    if checkov is None:
        return ""
    python = Path(checkov).parent / "python"
    script = (
        "import json,sys\n"
        "from checkov.cloudformation.checks.resource.registry import cfn_registry\n"
        "for checks in cfn_registry.checks.values():\n"
        "    for c in checks:\n"
        "        if c.id == sys.argv[1]: print(json.dumps({'name': c.name, 'resources': list(c.supported_resources)})); raise SystemExit\n"
    )
    done = subprocess.run(
        [str(python), "-c", script, text.upper()], capture_output=True, text=True, timeout=120, check=False
    )
    if not done.stdout.strip():
        return ""
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return f"{found['name']} (on {', '.join(found['resources'])})"


def explain(
    rule_id: Annotated[
        str, typer.Argument(help="e.g. AwsSolutions-IAM5, IAM5, ct-ec2-pr-15, E3019, CKV_AWS_116.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What a cdk-nag, Control Tower, cfn-lint or checkov rule checks, and where the catalog accepts it."""
    found = explain_rule(rule_id)
    if as_json:
        print_json(found)
        return
    console.print(f"[bold]{escape(found['rule'])}[/] ({found['tool']})")
    for name, texts in found.get("packs", {}).items():
        console.print(f"\n[bold]{escape(name)}[/]: {escape(texts['info'])}\n{escape(texts['explanation'])}")
    if found.get("text"):
        console.print(escape(found["text"]))
    if found["catalog"]:
        console.print("\nThe catalog acknowledges it, each time with its reason, at:")
        for place in found["catalog"]:
            console.print(f"  {place['where']}: {escape(place['reason']) or '(reason built at synth)'}")
    else:
        console.print("\nThe catalog complies: no acknowledgement names it.")


def register(app: typer.Typer) -> None:
    app.command()(explain)

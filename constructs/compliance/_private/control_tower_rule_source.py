"""Which resource types each Control Tower guard rule of cdk-validator-cfnguard inspects.

Read from the rule files inside the installed plugin's jsii package, so the facts never drift from
the rules that run. ``python -m mlblueprints.constructs.compliance._private.control_tower_rule_source``
rewrites ``control_tower_rule_types.py`` from it; a test fails when the two differ.
"""

from __future__ import annotations

import functools
import re
import sys
import tarfile
from importlib import metadata
from pathlib import Path

_RULE = re.compile(r"^package/rules/control-tower/cfn-guard/[^/]+/(?P<name>[^/]+)\.guard$")
_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
TARGET = Path(__file__).with_name("control_tower_rule_types.py")


def plugin_version() -> str:
    return metadata.version("cdklabs.cdk-validator-cfnguard")


def read_rule_types() -> dict[str, tuple[str, ...]]:
    """Guard rule file name (``ct-kms-pr-3``) -> the ``AWS::*`` resource types it names."""
    # Found through the distribution's file list: importing the package would start jsii.
    distribution = metadata.distribution("cdklabs.cdk-validator-cfnguard")
    (tarball,) = [
        Path(distribution.locate_file(f)) for f in distribution.files if f.name.endswith(".jsii.tgz")
    ]
    rule_types = {}
    with tarfile.open(tarball) as archive:
        for member in archive:
            match = _RULE.match(member.name)
            if match:
                text = archive.extractfile(member).read().decode()
                rule_types[match["name"]] = tuple(sorted(set(_TYPE.findall(text))))
    return dict(sorted(rule_types.items()))


def render(rule_types: dict[str, tuple[str, ...]]) -> str:
    lines = [
        '"""Resource types named by each Control Tower guard rule. GENERATED, DO NOT EDIT.',
        "",
        "Regenerate with ``python -m mlblueprints.constructs.compliance._private.control_tower_rule_source``.",
        '"""',
        "",
        f'SOURCE = "cdklabs.cdk-validator-cfnguard=={plugin_version()}"',
        "",
        "RULE_TYPES: dict[str, tuple[str, ...]] = {",
    ]
    for name, types in rule_types.items():
        if len(types) == 1:
            lines.append(f'    "{name}": ("{types[0]}",),')
        else:
            lines += [f'    "{name}": (', *(f'        "{t}",' for t in types), "    ),"]
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(read_rule_types()))
    sys.exit(0)


@functools.cache
def rule_text(name: str) -> str:
    """The text of one guard rule file (``ct-ec2-pr-15``) of the installed plugin."""
    distribution = metadata.distribution("cdklabs.cdk-validator-cfnguard")
    (tarball,) = [
        Path(distribution.locate_file(f)) for f in distribution.files if f.name.endswith(".jsii.tgz")
    ]
    with tarfile.open(tarball) as archive:
        for member in archive:
            match = _RULE.match(member.name)
            if match and match["name"] == name:
                return archive.extractfile(member).read().decode()
    raise KeyError(f"the installed cdk-validator-cfnguard has no rule {name}")


def instance_type_patterns(name: str) -> tuple[re.Pattern, ...]:
    """The instance-type regular expressions a guard rule lists (its Nitro types, say)."""
    return tuple(re.compile(pattern) for pattern in re.findall(r"/(\^[^/]+\$)/", rule_text(name)))

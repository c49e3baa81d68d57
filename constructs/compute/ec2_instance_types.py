"""EC2 instance types for accelerated fleets: which accelerator, CPU architecture and EFA interfaces.

Which names are EC2 instance types comes from botocore's EC2 model (its ``InstanceType`` enum); the
accelerator behind each family is the catalog's one table of accelerator facts (shared with the
SageMaker instance types); EFA interface counts come from ``_private/efa_facts.py``, cited there.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from mlblueprints.constructs._private.service_models import service_model
from mlblueprints.constructs.compute._private.accelerator_facts import (
    FAMILY_FACTS,
    AcceleratorKind,
    NeuronSdk,
)
from mlblueprints.constructs.compute._private.efa_facts import EFA_INTERFACES
from mlblueprints.constructs.errors import Problem

__all__ = ["Ec2InstanceType", "describe_ec2_instance_type", "ec2_instance_type_problems", "efa_sizes"]

_NAME = re.compile(r"^(?P<family>[a-z0-9-]+)\.(?P<size>[a-z0-9-]+)$")
# arm64 families: AWS Graviton ("g" after the generation digit: g5g) and NVIDIA Grace (p6e-gb200).
_ARM = re.compile(r"^[a-z]+\d+g|-g[bh]\d+")


@functools.cache
def _ec2_instance_types() -> frozenset[str]:
    return frozenset(service_model("ec2").shape("InstanceType")["enum"])


@dataclass(frozen=True)
class Ec2InstanceType:
    """An EC2 instance type and what a fleet needs to know of it."""

    name: str
    family: str
    size: str
    accelerator: AcceleratorKind
    accelerator_name: str | None
    accelerator_count: int | None
    neuron_sdk: NeuronSdk | None
    efa_interfaces: int | None

    @property
    def cpu_architecture(self) -> str:
        """``arm64`` for Graviton (g5g) and Grace (p6e-gb200) families, else ``x86_64``."""
        return "arm64" if _ARM.search(self.family) else "x86_64"

    @property
    def is_neuron(self) -> bool:
        return self.accelerator in (AcceleratorKind.AWS_INFERENTIA, AcceleratorKind.AWS_TRAINIUM)


def describe_ec2_instance_type(name: str) -> Ec2InstanceType:
    """The facts for ``name`` (assumed valid: check :func:`ec2_instance_type_problems` first)."""
    match = _NAME.match(name)
    assert match, name
    family, size = match["family"], match["size"]
    facts = FAMILY_FACTS.get(family)
    return Ec2InstanceType(
        name=name,
        family=family,
        size=size,
        accelerator=facts.kind if facts else AcceleratorKind.NONE,
        accelerator_name=facts.accelerator_name if facts else None,
        accelerator_count=facts.count_by_size.get(size) if facts else None,
        neuron_sdk=facts.neuron_sdk if facts else None,
        efa_interfaces=EFA_INTERFACES.get(name),
    )


def ec2_instance_type_problems(name: str, *, setting: str = "instance_type") -> list[Problem]:
    """Why ``name`` is not an EC2 instance type the installed botocore knows, with the closest names."""
    known = _ec2_instance_types()
    if name in known:
        return []
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    hint = f" Closest: {', '.join(close)}." if close else ""
    sagemaker = " EC2 names have no 'ml.' prefix (that is SageMaker's)." if name.startswith("ml.") else ""
    return [
        Problem(
            f"{name!r} is not an EC2 instance type the installed botocore knows.{sagemaker}{hint}",
            setting=setting,
            value=name,
        )
    ]


def efa_sizes(family: str) -> list[str]:
    """The sizes of ``family`` whose EFA interface count AWS documents (see ``_private/efa_facts.py``)."""
    return [name for name in EFA_INTERFACES if name.split(".")[0] == family]

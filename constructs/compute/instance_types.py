"""One source of truth for SageMaker instance types and their accelerators.

Which instance types SageMaker accepts for each use (real-time endpoints, training, batch transform,
processing) comes from botocore's SageMaker service model, the same enums the SageMaker API validates
against, so a new botocore release brings new types without an edit here. What botocore does not know,
the accelerator behind each family, how many each size carries and how much memory each has, is
written down once in ``_private/accelerator_facts.py`` from the EC2 and SageMaker documentation.

Constructs call :func:`check_instance_type` at synth time; every error names the value, the reason
and what to use instead.
"""

from __future__ import annotations

import difflib
import enum
import functools
import re
from dataclasses import dataclass

from aws_cdk import Token

from mlblueprints.constructs._private.service_models import enum_values
from mlblueprints.constructs.compute._private.accelerator_facts import (
    EBS_ONLY_FAMILIES,
    FAMILY_FACTS,
    INSTANCE_STORAGE_FAMILIES,
    AcceleratorKind,
    NeuronSdk,
)
from mlblueprints.constructs.errors import InstanceTypeError, Problem

__all__ = [
    "AcceleratorKind",
    "InstanceType",
    "InstanceTypeError",
    "NeuronSdk",
    "SageMakerUse",
    "check_instance_type",
    "instance_type_problem",
    "instance_types_for",
]


class SageMakerUse(enum.Enum):
    """What the instance runs; each value is the botocore shape that lists the types SageMaker accepts."""

    REALTIME_INFERENCE = "ProductionVariantInstanceType"
    TRAINING = "TrainingInstanceType"
    BATCH_TRANSFORM = "TransformInstanceType"
    PROCESSING = "ProcessingInstanceType"
    NOTEBOOK = "InstanceType"

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


_NAME = re.compile(r"^ml\.(?P<family>[a-z0-9-]+)\.(?P<size>[a-z0-9]+)$")

# Retired by AWS; SageMaker no longer attaches them (botocore still lists them as accelerator types).
_ELASTIC_INFERENCE = re.compile(r"^ml\.eia\d\.")

# arm64 families: EC2's naming puts a "g" right after the generation digit for AWS Graviton
# (c7g, m6g, r8g, g5g); NVIDIA Grace superchips (GB200, GB300) name themselves after the generation
# ("p6e-gb200"): Grace is an Arm Neoverse V2 CPU.
_GRAVITON = re.compile(r"^[a-z]+\d+g|-g[bh]\d+")
_BURSTABLE = re.compile(r"^t\d")

_EXAMPLE_BY_KIND = {
    AcceleratorKind.NVIDIA_GPU: "ml.g5.xlarge",
    AcceleratorKind.AWS_INFERENTIA: "ml.inf2.xlarge",
    AcceleratorKind.AWS_TRAINIUM: "ml.trn1.2xlarge",
}


@dataclass(frozen=True)
class InstanceType:
    """A SageMaker instance type and the accelerator facts known for it.

    ``accelerator_count`` and ``accelerator_memory_gib`` (per accelerator) are ``None`` where AWS does
    not document them for that size, or for a type newer than the installed botocore;
    ``has_instance_storage`` is ``None`` when it is not known whether the type serves from NVMe.
    """

    name: str
    family: str
    size: str
    accelerator: AcceleratorKind
    accelerator_name: str | None
    accelerator_count: int | None
    accelerator_memory_gib: int | None
    neuron_sdk: NeuronSdk | None
    has_instance_storage: bool | None
    listed_by_botocore: bool

    @property
    def is_accelerated(self) -> bool | None:
        """``None`` when unknown (a type newer than the installed botocore)."""
        if self.accelerator is AcceleratorKind.UNKNOWN:
            return None
        return self.accelerator is not AcceleratorKind.NONE

    @property
    def is_burstable(self) -> bool:
        """T-family instances run on CPU credits; SageMaker does not auto scale them."""
        return bool(_BURSTABLE.match(self.family))

    @property
    def cpu_architecture(self) -> str:
        """``arm64`` for AWS Graviton (``c7g``, ``m6g``, ``r8g``, ``g5g``) and NVIDIA Grace (``p6e-gb200``)."""
        return "arm64" if _GRAVITON.search(self.family) else "x86_64"

    @property
    def total_accelerator_memory_gib(self) -> int | None:
        if self.accelerator_count is None or self.accelerator_memory_gib is None:
            return None
        return self.accelerator_count * self.accelerator_memory_gib


def instance_types_for(use: SageMakerUse) -> tuple[str, ...]:
    """Every instance type SageMaker accepts for ``use``, as the installed botocore lists them."""
    return enum_values(use.value)


@functools.cache
def _all_listed() -> frozenset[str]:
    return frozenset(name for use in SageMakerUse for name in instance_types_for(use))


def _describe(name: str, *, listed: bool) -> InstanceType:
    match = _NAME.match(name)
    assert match, name
    family, size = match["family"], match["size"]
    facts = FAMILY_FACTS.get(family)
    if facts:
        kind = facts.kind
    else:
        # A listed family without facts has no accelerator (a test keeps that true); an unlisted one
        # may be anything.
        kind = AcceleratorKind.NONE if listed else AcceleratorKind.UNKNOWN
    return InstanceType(
        name=name,
        family=family,
        size=size,
        accelerator=kind,
        accelerator_name=facts.accelerator_name if facts else None,
        accelerator_count=facts.count_by_size.get(size) if facts else None,
        accelerator_memory_gib=facts.memory_gib if facts else None,
        neuron_sdk=facts.neuron_sdk if facts else None,
        has_instance_storage=_storage(family),
        listed_by_botocore=listed,
    )


def _storage(family: str) -> bool | None:
    """True for local NVMe storage, False for an EBS ML storage volume, None when not known."""
    if family in INSTANCE_STORAGE_FAMILIES:
        return True
    if family in EBS_ONLY_FAMILIES:
        return False
    return None


def _closest(name: str, candidates: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name.lower(), candidates, n=3, cutoff=0.6)
    return ", ".join(close) if close else ", ".join(candidates[:3])


def _alternative_for(use: SageMakerUse, wanted: AcceleratorKind) -> str:
    """A type valid for ``use`` that serves the same purpose, for the "use X instead" part of an error."""
    if use is SageMakerUse.TRAINING and wanted is AcceleratorKind.AWS_INFERENTIA:
        return _EXAMPLE_BY_KIND[AcceleratorKind.AWS_TRAINIUM]
    for kind in (wanted, AcceleratorKind.NVIDIA_GPU):
        example = _EXAMPLE_BY_KIND.get(kind)
        if example and example in instance_types_for(use):
            return example
    return instance_types_for(use)[0]


def check_instance_type(name: str, *, use: SageMakerUse, allow_unlisted: bool = False) -> InstanceType | None:
    """Return the facts for ``name`` or raise :class:`InstanceTypeError` saying why and what to use.

    Returns ``None`` for an unresolved token: its value is only known at deploy time.

    ``allow_unlisted`` is the escape hatch for a type that AWS launched after the installed botocore
    release: a well-formed ``ml.<family>.<size>`` name that botocore does not list is then accepted
    (the calling construct warns about it) instead of rejected as a typo.
    """
    if Token.is_unresolved(name):
        return None
    problem = instance_type_problem(name, use=use, allow_unlisted=allow_unlisted)
    if problem is not None:
        raise InstanceTypeError(Problem(problem, setting="instance_type", value=name))
    return _describe(name, listed=name in instance_types_for(use))


def instance_type_problem(name: str, *, use: SageMakerUse, allow_unlisted: bool = False) -> str | None:
    """Why SageMaker would refuse ``name`` for ``use``, and what to use instead; ``None`` if it is fine."""
    valid = instance_types_for(use)
    if name in valid:
        return None
    if name.lower() in valid:
        return f"{name!r} is not a SageMaker instance type: names are lower case. Use {name.lower()!r}."
    if _ELASTIC_INFERENCE.match(name):
        return (
            f"{name!r} is an Elastic Inference accelerator, which AWS retired: SageMaker no longer "
            "attaches it to endpoints. Use an AWS Inferentia instance type such as 'ml.inf2.xlarge' "
            "with a Neuron (neuronx) container image instead."
        )
    if not name.startswith("ml.") and f"ml.{name.lower()}" in valid:
        return (
            f"{name!r} is an EC2 instance type name; SageMaker names it {f'ml.{name.lower()}'!r}. Use that."
        )
    if name in _all_listed():
        described = _describe(name, listed=True)
        if use is SageMakerUse.TRAINING and described.accelerator is AcceleratorKind.AWS_INFERENTIA:
            reason = "AWS Inferentia serves inference only and SageMaker does not run training jobs on it"
        else:
            reason = f"SageMaker does not offer it for {use.label}"
        return (
            f"{name!r} cannot be used for {use.label}: {reason}. "
            f"Use {_alternative_for(use, described.accelerator)!r} or another type from "
            f"botocore's {use.value} list instead."
        )
    if allow_unlisted and _NAME.match(name):
        return None
    return (
        f"{name!r} is not a SageMaker instance type for {use.label} known to the installed botocore. "
        f"Closest valid names: {_closest(name, valid)}. If AWS launched this type after your botocore "
        'release, upgrade botocore, or set "allow_unlisted_instance_types": true in the stack\'s config '
        "(allow_unlisted_instance_types=True on a construct; context key "
        "'mlblueprints:allowUnlistedInstanceTypes' for a whole app)."
    )

"""``instance TYPE``: what an instance type is for and where it runs, from the catalog's sources of truth.

SageMaker's uses of a type come from botocore's SageMaker model; accelerators, memory and the Neuron
generation from the catalog's accelerator facts; storage (local NVMe, hence no KMS key on the volume,
or an EBS volume) from its storage facts; regions from cfn-lint's per-region lists (SageMaker hosting,
HyperPod clusters, EC2). cfn-lint has no list for training jobs, so none is shown.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mlblueprints.apps.cli.output import console, print_json
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["describe_instance", "register"]


def describe_instance(name: str) -> dict[str, Any]:
    """The facts about ``name`` (``ml.g5.xlarge`` or ``g5.xlarge``, any case) as one dictionary."""
    from mlblueprints.constructs.compute import instance_types as sagemaker_types
    from mlblueprints.constructs.compute.ec2_instance_types import (
        describe_ec2_instance_type,
        ec2_instance_type_problems,
    )
    from mlblueprints.constructs.compute.regional_offerings import (
        ec2_regions,
        hosting_regions,
        hyperpod_regions,
    )

    lowered = name.strip().lower()
    ec2_name = lowered.removeprefix("ml.")
    sagemaker_name = f"ml.{ec2_name}"
    uses = [
        use.label
        for use in sagemaker_types.SageMakerUse
        if sagemaker_name in sagemaker_types.instance_types_for(use)
    ]
    ec2_known = not ec2_instance_type_problems(ec2_name)
    if not uses and not ec2_known:
        import difflib

        from mlblueprints.constructs._private.service_models import service_model

        candidates = sorted(
            {*service_model("ec2").shape("InstanceType")["enum"], *sagemaker_types._all_listed()}
        )
        close = difflib.get_close_matches(lowered, candidates, n=4, cutoff=0.6)
        hint = f" Closest: {', '.join(close)}." if close else ""
        raise MlBlueprintsError(
            Problem(f"{name!r} is neither a SageMaker nor an EC2 instance type the installed botocore knows.{hint}",
                    setting="instance_type", value=name)
        )  # fmt: skip
    facts = sagemaker_types._describe(sagemaker_name, listed=bool(uses))
    ec2 = describe_ec2_instance_type(ec2_name) if ec2_known else None
    storage = {True: "local NVMe instance storage (encrypted by the hardware; SageMaker takes no KMS key for it)",
               False: "an EBS ML storage volume (encrypted with the KMS key you give)", None: "not known"}  # fmt: skip
    return {
        "name": sagemaker_name if uses else ec2_name,
        "sagemaker_name": sagemaker_name if uses else None,
        "ec2_name": ec2_name if ec2_known else None,
        "sagemaker_uses": uses,
        "accelerator": facts.accelerator.value,
        "accelerator_name": facts.accelerator_name,
        "accelerator_count": facts.accelerator_count,
        "accelerator_memory_gib": facts.accelerator_memory_gib,
        "total_accelerator_memory_gib": facts.total_accelerator_memory_gib,
        "neuron_sdk": facts.neuron_sdk.value if facts.neuron_sdk else None,
        "cpu_architecture": facts.cpu_architecture,
        "sagemaker_storage": storage[facts.has_instance_storage] if uses else None,
        "efa_interfaces": ec2.efa_interfaces if ec2 else None,
        "regions": {
            "sagemaker_hosting": sorted(hosting_regions(sagemaker_name)),
            "hyperpod": sorted(hyperpod_regions(sagemaker_name)),
            "ec2": sorted(ec2_regions(ec2_name)),
        },
    }


def instance(
    instance_type: Annotated[str, typer.Argument(help="e.g. ml.g5.xlarge, g6e.12xlarge, TRN1.32XLARGE.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """What an instance type is: SageMaker uses, accelerators and memory, Neuron generation, storage, regions.

    Regions come from cfn-lint's per-region lists (hosting, HyperPod, EC2); an empty list means the
    type is newer than that data, or not offered there.
    """
    facts = describe_instance(instance_type)
    if as_json:
        print_json(facts)
        return
    table = Table(title=facts["name"], show_header=False)
    table.add_column("fact", style="bold")
    table.add_column("value", overflow="fold")
    accelerator = facts["accelerator"]
    if facts["accelerator_name"]:
        count = facts["accelerator_count"] or "?"
        memory = f", {facts['accelerator_memory_gib']} GiB each" if facts["accelerator_memory_gib"] else ""
        accelerator = f"{count} x {facts['accelerator_name']}{memory}"
    rows = [
        ("SageMaker uses", ", ".join(facts["sagemaker_uses"]) or "none (EC2 only)"),
        ("EC2 name", facts["ec2_name"] or "not an EC2 type"),
        ("accelerators", accelerator),
        ("total accelerator memory", f"{facts['total_accelerator_memory_gib']} GiB" if facts["total_accelerator_memory_gib"] else "-"),
        ("Neuron SDK", facts["neuron_sdk"] or "-"),
        ("CPU architecture", facts["cpu_architecture"]),
        ("SageMaker storage", facts["sagemaker_storage"] or "-"),
        ("EFA interfaces (documented)", str(facts["efa_interfaces"]) if facts["efa_interfaces"] else "-"),
    ]  # fmt: skip
    for label, regions in facts["regions"].items():
        rows.append((f"regions: {label.replace('_', ' ')}", ", ".join(regions) or "none in cfn-lint's data"))
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(instance)

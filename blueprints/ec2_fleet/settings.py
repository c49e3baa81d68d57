"""Settings of the ``ec2-fleet`` blueprint, as a config file or CDK context gives them."""

from __future__ import annotations

import datetime
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from mlblueprints.blueprints.model_settings import typed
from mlblueprints.blueprints.settings_base import BlueprintSettings, construct_default
from mlblueprints.constructs.ec2.dlami import DlamiFlavor, DlamiOs
from mlblueprints.constructs.ec2.fleet import (
    AcceleratedFleet,
    CapacityReservation,
    ScheduledCapacity,
    fleet_defaults,
    fleet_problems,
)
from mlblueprints.constructs.errors import Problem
from mlblueprints.constructs.sagemaker.endpoint_base import alarm_email_problems
from mlblueprints.constructs.security.private_network import network_problems

__all__ = ["Ec2FleetSettings", "ScheduleSettings"]


class ScheduleSettings(BaseModel):
    """One scheduled change of the fleet's capacity."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$", description="A name, e.g. Night.")
    cron: str = Field(
        description="A Unix cron expression of 5 fields, e.g. '0 20 * * *' (every day at 20:00)."
    )
    min_capacity: int = Field(ge=0)
    max_capacity: int = Field(ge=0)
    desired_capacity: int | None = Field(None, ge=0)
    time_zone: str = Field("UTC", description="An IANA time zone, e.g. Europe/Paris.")


class Ec2FleetSettings(BlueprintSettings):
    """An auto-scaling fleet of GPU, Trainium or Inferentia instances on the AWS Deep Learning AMIs."""

    blueprint_name: ClassVar[str] = "ec2-fleet"

    instance_type: str = Field(
        description="An EC2 instance type (no ml. prefix), e.g. g6e.12xlarge, p5.48xlarge, trn1.32xlarge, inf2.xlarge."
    )
    dlami_os: Literal["ubuntu-22.04", "ubuntu-24.04", "amazon-linux-2023"] | None = Field(
        None,
        description="The DLAMI's operating system.",
        json_schema_extra=construct_default(AcceleratedFleet, "dlami_os"),
    )
    dlami_flavor: Literal["base", "pytorch", "multi-framework"] | None = Field(
        None,
        description="base (driver, CUDA or Neuron runtime, EFA); pytorch (GPU, with pytorch_version); multi-framework "
        "(Neuron, PyTorch and JAX environments).",
        json_schema_extra=construct_default(AcceleratedFleet, "dlami_flavor"),
    )
    pytorch_version: str | None = Field(
        None,
        pattern=r"^\d+\.\d+$",
        description="With dlami_flavor pytorch: the DLAMI's PyTorch version, e.g. 2.9.",
    )
    min_capacity: int | None = Field(
        None,
        description="Fewest instances; 0 lets the fleet sit empty.",
        json_schema_extra=construct_default(AcceleratedFleet, "min_capacity"),
    )
    max_capacity: int | None = Field(
        None,
        description="Most instances.",
        json_schema_extra=construct_default(AcceleratedFleet, "max_capacity"),
    )
    desired_capacity: int | None = Field(
        None, description="Instances at deploy time. Default: Auto Scaling's (min)."
    )
    spot_instance_types: list[str] | None = Field(
        None, description="More instance types for spot capacity: same accelerator and architecture."
    )
    on_demand_base_capacity: int | None = Field(
        None,
        description="Instances that are always on-demand.",
        json_schema_extra=construct_default(AcceleratedFleet, "on_demand_base_capacity"),
    )
    on_demand_percentage_above_base: int | None = Field(
        None,
        description="Share of on-demand above the base, 0 to 100 (the rest is spot).",
        json_schema_extra=construct_default(AcceleratedFleet, "on_demand_percentage_above_base"),
    )
    efa: bool | None = Field(
        None,
        description="EFA interfaces (one per network card), a cluster placement group and a self-only security group, "
        "for distributed training.",
        json_schema_extra=construct_default(AcceleratedFleet, "efa"),
    )
    efa_interfaces: int | None = Field(
        None,
        description="With efa, for a type whose EFA count the catalog does not know (p5e, p5en, trn2, g6e...): "
        "NetworkInfo.EfaInfo.MaximumEfaInterfaces from aws ec2 describe-instance-types.",
    )
    capacity_reservation_id: str | None = Field(
        None, description="An On-Demand Capacity Reservation or Capacity Block ID (cr-...) to launch into."
    )
    capacity_block: bool = Field(False, description="capacity_reservation_id is a Capacity Block for ML.")
    capacity_block_start: AwareDatetime | None = Field(
        None,
        strict=False,
        description="With capacity_block: when the block starts, e.g. 2026-12-01T11:30:00Z; the fleet scales to "
        "max_capacity then.",
    )
    capacity_block_end: AwareDatetime | None = Field(
        None,
        strict=False,
        description="With capacity_block: when the block ends; the fleet scales to zero 35 minutes before (EC2 "
        "terminates the block's instances 30 minutes before its end).",
    )
    availability_zone: str | None = Field(
        None,
        description="Run the fleet (and its VPC) in this zone, e.g. us-east-1a: required with a capacity "
        "reservation or Capacity Block (the reservation's zone); useful for EFA types offered in some zones only. "
        "Default: the region's first zone.",
    )
    schedules: list[ScheduleSettings] | None = Field(None, description="Scheduled capacity changes.")
    root_volume_gb: int | None = Field(
        None,
        description="The encrypted root volume, in GiB.",
        json_schema_extra=construct_default(AcceleratedFleet, "root_volume_gb"),
    )
    data_volume_gb: int | None = Field(
        None,
        description="An encrypted gp3 data volume in GiB, mounted at /data (ext4) and deleted with the instance. "
        "Default: none.",
    )
    placement_group_name: str | None = Field(
        None,
        description="With efa and an On-Demand Capacity Reservation made in a cluster placement group: that group.",
    )
    imds_hop_limit: int | None = Field(
        None,
        description="1: only the host reads instance metadata; 2: containers on the host too.",
        json_schema_extra=construct_default(AcceleratedFleet, "imds_hop_limit"),
    )
    scale_to_zero_after_idle_minutes: int | None = Field(
        None,
        description="Scale the fleet to zero once no instance has used its GPUs or Neuron cores (above 1%) for "
        "this many minutes: a multiple of 5, up to 1440; needs min_capacity 0. Default: never.",
    )
    notification_email: str | None = Field(
        None, description="Subscribe this address to the fleet's scaling events and health alarms."
    )
    vpc_cidr: str | None = Field(
        None, description="The fleet's isolated VPC, a /16 to /19 block, e.g. 10.80.0.0/16."
    )
    retain_data: bool = Field(
        True,
        description="Keep the KMS key and log groups when the stack is deleted; false deletes them with it.",
    )
    description: str | None = Field(
        None, max_length=1024, description="The CloudFormation stack description."
    )

    def fleet_options(self) -> dict[str, Any]:
        """The construct's keyword arguments for the settings that are set."""
        options = self.explicit(
            "pytorch_version",
            "min_capacity",
            "max_capacity",
            "desired_capacity",
            "spot_instance_types",
            "on_demand_base_capacity",
            "on_demand_percentage_above_base",
            "efa",
            "efa_interfaces",
            "root_volume_gb",
            "data_volume_gb",
            "placement_group_name",
            "imds_hop_limit",
            "scale_to_zero_after_idle_minutes",
            "notification_email",
        )
        if self.dlami_os:
            options["dlami_os"] = DlamiOs(self.dlami_os)
        if self.dlami_flavor:
            options["dlami_flavor"] = DlamiFlavor(self.dlami_flavor)
        if self.capacity_reservation_id:
            options["capacity_reservation"] = CapacityReservation(
                self.capacity_reservation_id,
                self.capacity_block,
                starts_at=self.capacity_block_start,
                ends_at=self.capacity_block_end,
            )
        if self.availability_zone:
            options["availability_zone"] = self.availability_zone
        if self.schedules:
            options["schedules"] = [
                ScheduledCapacity(
                    s.name, s.cron, s.min_capacity, s.max_capacity, s.desired_capacity, s.time_zone
                )
                for s in self.schedules
            ]
        return options

    @classmethod
    def preflight(cls, config: dict[str, Any], *, region: str | None = None) -> list[Problem]:
        """The fleet's own checks on the raw config: one run names every problem."""
        problems: list[Problem] = []
        if isinstance(config.get("vpc_cidr"), str):
            problems += network_problems(config["vpc_cidr"], max_azs=2)
        if isinstance(config.get("notification_email"), str):
            problems += alarm_email_problems(config["notification_email"], setting="notification_email")
        if config.get("capacity_block") is True and not config.get("capacity_reservation_id"):
            problems.append(
                Problem(
                    "capacity_block needs capacity_reservation_id (the block's cr-... ID).",
                    setting="capacity_reservation_id",
                )
            )
        if not config.get("capacity_block") and any(
            config.get(name) is not None for name in ("capacity_block_start", "capacity_block_end")
        ):
            problems.append(
                Problem(
                    "capacity_block_start and capacity_block_end are for a Capacity Block: set capacity_block "
                    "and capacity_reservation_id, or drop them.",
                    setting="capacity_block",
                )
            )
        instance_type = typed(config, "instance_type", str)
        if instance_type is None:
            return problems
        schedules = [
            ScheduledCapacity(
                str(entry.get("name")),
                entry["cron"],
                entry["min_capacity"],
                entry["max_capacity"],
                entry.get("desired_capacity") if type(entry.get("desired_capacity")) is int else None,
                entry["time_zone"] if isinstance(entry.get("time_zone"), str) else "UTC",
            )
            for entry in (config.get("schedules") if isinstance(config.get("schedules"), list) else [])
            if isinstance(entry, dict)
            and isinstance(entry.get("cron"), str)
            and type(entry.get("min_capacity")) is int
            and type(entry.get("max_capacity")) is int
        ]
        kwargs: dict[str, Any] = {"instance_type": instance_type, "schedules": schedules, "region": region}
        for name, kind in (
            ("min_capacity", int), ("max_capacity", int), ("desired_capacity", int), ("on_demand_base_capacity", int),
            ("on_demand_percentage_above_base", int), ("efa_interfaces", int), ("root_volume_gb", int),
            ("imds_hop_limit", int), ("pytorch_version", str), ("scale_to_zero_after_idle_minutes", int),
            ("data_volume_gb", int), ("placement_group_name", str),
        ):  # fmt: skip
            value = typed(config, name, kind)
            if value is not None:
                kwargs[name] = value
        if config.get("efa") is True:
            kwargs["efa"] = True
        spot = config.get("spot_instance_types")
        if isinstance(spot, list) and all(isinstance(t, str) for t in spot):
            kwargs["spot_instance_types"] = spot
        if config.get("dlami_os") in {o.value for o in DlamiOs}:
            kwargs["dlami_os"] = DlamiOs(config["dlami_os"])
        if config.get("dlami_flavor") in {f.value for f in DlamiFlavor}:
            kwargs["dlami_flavor"] = DlamiFlavor(config["dlami_flavor"])
        if isinstance(config.get("capacity_reservation_id"), str):
            kwargs["capacity_reservation"] = CapacityReservation(
                config["capacity_reservation_id"],
                config.get("capacity_block") is True,
                starts_at=_moment(config.get("capacity_block_start")),
                ends_at=_moment(config.get("capacity_block_end")),
            )
        if isinstance(config.get("availability_zone"), str):
            kwargs["availability_zone"] = config["availability_zone"]
        return problems + fleet_problems(**(fleet_defaults() | kwargs))


def _moment(value: Any) -> datetime.datetime | None:
    """A block time as the settings parse it; None if unset or malformed (pydantic names that problem)."""
    try:
        return None if value is None else TypeAdapter(AwareDatetime).validate_python(value, strict=False)
    except ValidationError:
        return None

"""``cost``: what a config (or a blueprint's example) costs per hour and per month, at its defaults and at
its maximum capacity, and what the same accelerator memory costs on the other accelerators.

The items are read from the synthesized templates (no gates: pricing needs no scan): SageMaker endpoint
instances (initial count; the auto scaling maximum), EC2 Auto Scaling groups (desired or minimum; the
maximum), interface VPC endpoints (per zone), KMS keys, CloudWatch alarms and WAF web ACLs with their rules.
Items billed by the hour whose price is not bundled (HyperPod instances, a Kendra index, a Comprehend endpoint,
FSx capacity, Kinesis shards, a Personalize campaign) are listed as such. Usage-priced items
(serverless inference, training jobs, requests, data) are listed without a price. Prices: the AWS
Price List API when credentials are present, else the bundled snapshot (us-east-1), each with its source.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mlblueprints.apps.cli.output import console, print_json
from mlblueprints.apps.cli.prices import PriceBook, snapshot_date

__all__ = ["CostLine", "cost_lines", "register", "unpriced_hourly"]

HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class CostLine:
    stack: str
    item: str
    # hosting, ec2, endpoint-az, kms-key, alarm, waf, usage; billed by the hour without a bundled price:
    # hyperpod, kendra, comprehend, fsx, kinesis, personalize
    kind: str
    name: str
    count_default: float
    count_max: float
    unit_hourly: float | None
    source: str = ""
    confirmed: bool = True

    @property
    def hourly_default(self) -> float | None:
        return None if self.unit_hourly is None else self.unit_hourly * self.count_default

    @property
    def hourly_max(self) -> float | None:
        return None if self.unit_hourly is None else self.unit_hourly * self.count_max


def _number(value: Any, default: float = 0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _variant_max(resources: dict, variant: str) -> float | None:
    for resource in resources.values():
        if resource["Type"] != "AWS::ApplicationAutoScaling::ScalableTarget":
            continue
        properties = resource["Properties"]
        if properties.get("ServiceNamespace") == "sagemaker" and f"/variant/{variant}" in json.dumps(
            properties.get("ResourceId")
        ):
            return _number(properties.get("MaxCapacity"))
    return None


def cost_lines(stack: str, template: dict, book: PriceBook) -> list[CostLine]:
    resources = template.get("Resources", {})
    lines: list[CostLine] = []
    for logical_id, resource in resources.items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::SageMaker::EndpointConfig":
            for variant in properties.get("ProductionVariants", []):
                if "ServerlessConfig" in variant:
                    lines.append(
                        CostLine(
                            stack,
                            f"{logical_id} (serverless)",
                            "usage",
                            "per GB-second of inference",
                            0,
                            0,
                            None,
                        )
                    )
                    continue
                name = variant.get("InstanceType")
                if not isinstance(name, str):
                    continue
                initial = _number(variant.get("InitialInstanceCount"), 1)
                managed = variant.get("ManagedInstanceScaling", {})
                most = (
                    _number(managed.get("MaxInstanceCount"))
                    or _variant_max(resources, variant.get("VariantName", ""))
                    or initial
                )
                price = book.instance("hosting", name)
                lines.append(
                    _line(
                        stack,
                        f"endpoint variant {variant.get('VariantName', '')}",
                        "hosting",
                        name,
                        initial,
                        most,
                        price,
                    )
                )
        elif kind == "AWS::AutoScaling::AutoScalingGroup":
            name = _group_instance_type(properties, resources)
            if name is None:
                continue
            count = _number(properties.get("DesiredCapacity"), _number(properties.get("MinSize")))
            lines.append(_line(stack, f"Auto Scaling group {logical_id}", "ec2", name, count, _number(properties.get("MaxSize")),
                               book.instance("ec2", name)))  # fmt: skip
        elif kind == "AWS::EC2::VPCEndpoint" and properties.get("VpcEndpointType") == "Interface":
            zones = len(properties.get("SubnetIds", [])) or 1
            price = book.fixed("vpc_interface_endpoint_az_hour")
            lines.append(
                _line(
                    stack,
                    "interface VPC endpoints (per zone)",
                    "endpoint-az",
                    "PrivateLink",
                    zones,
                    zones,
                    price,
                )
            )
        elif kind == "AWS::KMS::Key":
            price = book.fixed("kms_key_month")
            hourly = price and type(price)(
                price.hourly / HOURS_PER_MONTH, price.source, price.as_of, price.confirmed
            )
            lines.append(_line(stack, "KMS keys", "kms-key", "customer managed key", 1, 1, hourly))
        elif kind == "AWS::CloudWatch::Alarm":
            price = book.fixed("cloudwatch_standard_alarm_month")
            hourly = price and type(price)(
                price.hourly / HOURS_PER_MONTH, price.source, price.as_of, price.confirmed
            )
            lines.append(_line(stack, "CloudWatch alarms", "alarm", "standard alarm", 1, 1, hourly))
        elif kind == "AWS::SageMaker::Cluster":
            # HyperPod bills its own instance-hour prices, which the bundled snapshot does not carry.
            for group in properties.get("InstanceGroups", []):
                count = _number(group.get("InstanceCount"))
                lines.append(CostLine(stack, f"HyperPod group {group.get('InstanceGroupName', '')}", "hyperpod",
                                      str(group.get("InstanceType")), count, count, None, "no HyperPod price bundled"))  # fmt: skip
        elif kind == "AWS::WAFv2::WebACL":
            # A web ACL and each of its rules are billed by the month; requests inspected are usage.
            for item, name, count, fixed in (
                ("WAF web ACL", "web ACL", 1, "waf_web_acl_month"),
                (
                    "WAF rules",
                    "rule or managed rule group",
                    len(properties.get("Rules", [])),
                    "waf_rule_month",
                ),
            ):
                price = book.fixed(fixed)
                hourly = price and type(price)(
                    price.hourly / HOURS_PER_MONTH, price.source, price.as_of, price.confirmed
                )
                lines.append(_line(stack, item, "waf", name, count, count, hourly))
        elif kind == "AWS::Comprehend::DocumentClassifierEndpoint":
            units = _number(properties.get("DesiredInferenceUnits"), 1)
            lines.append(CostLine(stack, f"{logical_id} (Comprehend endpoint)", "comprehend", "inference unit", units,
                                  units, None, "billed per inference unit per second; no Comprehend price bundled"))  # fmt: skip
        elif kind == "AWS::FSx::FileSystem":
            capacity = _number(properties.get("StorageCapacity"))
            lines.append(CostLine(stack, f"{logical_id} (FSx for {properties.get('FileSystemType', '')})", "fsx",
                                  "GiB of storage capacity", capacity, capacity, None,
                                  "billed per GiB-month of capacity from creation; no FSx price bundled"))  # fmt: skip
        elif (
            kind == "AWS::Kinesis::Stream"
            and properties.get("StreamModeDetails", {}).get("StreamMode") != "ON_DEMAND"
        ):
            shards = _number(properties.get("ShardCount"), 1)
            lines.append(CostLine(stack, f"{logical_id} (Kinesis data stream)", "kinesis", "shard", shards, shards,
                                  None, "billed per shard hour; no Kinesis price bundled"))  # fmt: skip
        elif kind == "AWS::Personalize::Campaign":
            tps = _number(properties.get("MinProvisionedTPS"), 1)
            lines.append(CostLine(stack, f"{logical_id} (Personalize campaign)", "personalize",
                                  "provisioned transactions per second", tps, tps, None,
                                  "billed per TPS-hour from creation; no Personalize price bundled"))  # fmt: skip
        elif kind == "AWS::Kendra::Index":
            # An index is billed by the hour from its creation, queried or not (its edition sets the rate).
            lines.append(CostLine(stack, "Kendra index", "kendra", str(properties.get("Edition")), 1, 1, None,
                                  "billed by the hour; no Kendra price bundled"))  # fmt: skip
        elif kind == "AWS::SageMaker::Pipeline":
            lines.append(
                CostLine(
                    stack, f"{logical_id} (training pipeline)", "usage", "per training-job hour", 0, 0, None
                )
            )
    return _merge(lines)


def unpriced_hourly(lines: list[CostLine]) -> list[CostLine]:
    """Items billed for the time they exist (not per use) whose price is not bundled: a total leaves them out."""
    return [line for line in lines if line.unit_hourly is None and line.kind != "usage"]


def _line(stack, item, kind, name, count, most, price) -> CostLine:
    return CostLine(stack, item, kind, name, count, max(most, count), price.hourly if price else None,
                    price.source if price else "no price known", price.confirmed if price else True)  # fmt: skip


def _merge(lines: list[CostLine]) -> list[CostLine]:
    """Endpoints, keys and alarms of one stack added up into one line each."""
    merged: dict[tuple, CostLine] = {}
    for line in lines:
        key = (
            (line.stack, line.item, line.name)
            if line.kind in ("endpoint-az", "kms-key", "alarm")
            else (id(line),)
        )
        if key in merged:
            old = merged[key]
            merged[key] = CostLine(old.stack, old.item, old.kind, old.name, old.count_default + line.count_default,
                                   old.count_max + line.count_max, old.unit_hourly, old.source, old.confirmed)  # fmt: skip
        else:
            merged[key] = line
    return list(merged.values())


def _group_instance_type(properties: dict, resources: dict) -> str | None:
    policy = properties.get("MixedInstancesPolicy")
    template_ref = (policy or {}).get("LaunchTemplate", {}).get(
        "LaunchTemplateSpecification"
    ) or properties.get("LaunchTemplate")
    if policy:
        overrides = policy.get("LaunchTemplate", {}).get("Overrides", [])
        if overrides and isinstance(overrides[0].get("InstanceType"), str):
            return overrides[0]["InstanceType"]  # the on-demand type; spot types cost less
    launch_template_id = (template_ref or {}).get("LaunchTemplateId", {}).get("Ref")
    launch_template = (
        resources.get(launch_template_id, {}).get("Properties", {}).get("LaunchTemplateData", {})
    )
    name = launch_template.get("InstanceType")
    return name if isinstance(name, str) else None


def alternatives(lines: list[CostLine], book: PriceBook) -> list[dict]:
    """For each hosted type: the cheapest type of each other accelerator with at least its memory."""
    from mlblueprints.constructs.compute import instance_types as types

    rows = []
    hosted = sorted({line.name for line in lines if line.kind == "hosting"})
    for name in hosted:
        facts = types._describe(name, listed=True)
        memory = facts.total_accelerator_memory_gib
        if not memory:
            continue
        best: dict[str, tuple[float, str]] = {}
        for other in types.instance_types_for(types.SageMakerUse.REALTIME_INFERENCE):
            candidate = types._describe(other, listed=True)
            total = candidate.total_accelerator_memory_gib
            price = book.instance("hosting", other)
            if not total or total < memory or price is None or candidate.accelerator == facts.accelerator:
                continue
            kind = candidate.accelerator.value
            if kind not in best or price.hourly < best[kind][0]:
                best[kind] = (price.hourly, other)
        own = book.instance("hosting", name)
        rows.append({"instance_type": name, "accelerator": facts.accelerator.value, "memory_gib": memory,
                     "hourly": own.hourly if own else None,
                     "alternatives": {kind: {"instance_type": t, "hourly": p} for kind, (p, t) in sorted(best.items())}})  # fmt: skip
    return rows


def cost(
    target: Annotated[
        str | None,
        typer.Argument(
            help="A config file (stacks.json) or a blueprint name. Default: the catalog's examples."
        ),
    ] = None,
    region: Annotated[
        str, typer.Option(help="Region of the prices (the bundled ones are us-east-1).")
    ] = "us-east-1",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Hourly and monthly cost of what a config deploys, at its defaults and at maximum capacity.

    Counts endpoint instances, Auto Scaling group instances, interface VPC endpoints (per zone), KMS keys
    and alarms from the synthesized templates; usage-priced items are listed without a price. Then, for
    each hosted instance type, the cheapest GPU, Inferentia or Trainium type with at least as much
    accelerator memory.
    """
    from mlblueprints.apps.catalog import EXAMPLE_STACKS
    from mlblueprints.apps.cli.catalog_commands import (
        REPO,
        blueprint_named,
        load_stacks,
        synthesize_templates,
    )

    # The catalog's examples name their files relative to the repository; a config of yours, to here.
    directory = REPO
    if target is None:
        stacks = EXAMPLE_STACKS
    elif target.endswith(".json") or Path(target).is_file():
        stacks, directory = load_stacks(Path(target)), Path.cwd()
    else:
        stacks = json.loads(blueprint_named(target).example.read_text())["stacks"]
    book = PriceBook.best_available(region)
    book.require_prices()
    templates = synthesize_templates(stacks, directory)
    lines = [line for name, template in templates.items() for line in cost_lines(name, template, book)]
    compare = alternatives(lines, book)
    total_default = sum(line.hourly_default or 0 for line in lines)
    total_max = sum(line.hourly_max or 0 for line in lines)
    if as_json:
        print_json({
            "region": region, "prices": "AWS Price List API" if book.live else f"bundled snapshot ({snapshot_date()})",
            "lines": [asdict(line) | {"hourly_default": line.hourly_default, "hourly_max": line.hourly_max} for line in lines],
            "total": {"hourly_default": total_default, "monthly_default": total_default * HOURS_PER_MONTH,
                      "hourly_max": total_max, "monthly_max": total_max * HOURS_PER_MONTH},
            "alternatives": compare,
            # Billed for the time they exist, without a bundled price: not in the totals.
            "unpriced_hourly": [line.item for line in unpriced_hourly(lines)],
        })  # fmt: skip
        return
    table = Table(title=f"cost ({region}, on-demand)")
    for column in ("stack", "item", "type", "count", "max", "$/hour", "$/month", "$/month at max"):
        table.add_column(column, overflow="fold", no_wrap=column == "type")
    for line in lines:
        mark = "" if line.confirmed else "*"
        hourly = "usage" if line.unit_hourly is None and line.kind == "usage" else (
            "-" if line.hourly_default is None else f"{line.hourly_default:.2f}{mark}")  # fmt: skip
        monthly = "" if line.hourly_default is None else f"{line.hourly_default * HOURS_PER_MONTH:,.0f}{mark}"
        monthly_max = "" if line.hourly_max is None else f"{line.hourly_max * HOURS_PER_MONTH:,.0f}{mark}"
        table.add_row(
            line.stack,
            line.item,
            line.name,
            f"{line.count_default:g}",
            f"{line.count_max:g}",
            hourly,
            monthly,
            monthly_max,
        )
    console.print(table)
    console.print(f"Total: ${total_default:,.2f}/hour, ${total_default * HOURS_PER_MONTH:,.0f}/month at the defaults; "
                  f"${total_max * HOURS_PER_MONTH:,.0f}/month at maximum capacity.")  # fmt: skip
    unpriced = unpriced_hourly(lines)
    if unpriced:
        console.print("[bold]Not in the total[/], billed by the time they exist without a bundled price: "
                      + "; ".join(f"{line.item} ({line.count_default:g} x {line.name})" for line in unpriced) + ".")  # fmt: skip
    source = (
        "the AWS Price List API"
        if book.live
        else f"the bundled snapshot (as of {snapshot_date()}; --json gives each source)"
    )
    console.print(
        f"Prices from {source}; * marks a price whose source is not confirmed; usage-priced items are not counted."
    )
    if compare:
        other = Table(title="the same accelerator memory on other accelerators ($/hour)")
        for column in ("instance type", "memory", "$/hour", "alternatives"):
            other.add_column(column, overflow="fold")
        for row in compare:
            options = "; ".join(
                f"{kind}: {alt['instance_type']} {alt['hourly']:.3f}"
                for kind, alt in row["alternatives"].items()
            )
            other.add_row(
                row["instance_type"],
                f"{row['memory_gib']} GiB",
                f"{row['hourly']:.3f}" if row["hourly"] else "-",
                options or "-",
            )
        console.print(other)


def register(app: typer.Typer) -> None:
    app.command()(cost)

"""``fit``: which instance types hold a model, cheapest first, GPU and Neuron side by side."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from mlblueprints.apps.cli import sizing
from mlblueprints.apps.cli.output import console, print_json
from mlblueprints.apps.cli.prices import snapshot_date

__all__ = ["fit", "register"]


def fit_rows(need: sizing.MemoryNeed, *, training: bool, region: str, book=None) -> list[dict]:
    from mlblueprints.apps.cli.prices import PriceBook

    book = book or PriceBook.best_available(region)
    book.require_prices()
    rows = []
    for found in sizing.fitting_instances(need, training=training):
        price = book.instance("training" if training else "hosting", found.name)
        rows.append(
            asdict(found)
            | {
                "hourly_usd": price.hourly if price else None,
                "price_source": price.source if price else None,
                "price_as_of": price.as_of if price else None,
                "price_confirmed": price.confirmed if price else None,
            }
        )
    # Priced types cheapest first, then the types without a price by memory.
    rows.sort(key=lambda r: (r["hourly_usd"] is None, r["hourly_usd"] or 0, r["total_gib"]))
    return rows


def fit(
    params: Annotated[str, typer.Option("--params", help="Model size: 8B, 70B, 1.5B, 350M.")],
    dtype: Annotated[
        str, typer.Option(help="Weights' precision: fp32, bf16, fp16, fp8, int8, int4.")
    ] = "bf16",
    context: Annotated[int, typer.Option(help="Tokens per sequence (inference KV cache).")] = 4096,
    batch: Annotated[int, typer.Option(help="Sequences at once (inference KV cache).")] = 1,
    training: Annotated[
        bool, typer.Option("--training", help="Size for training (optimizer states).")
    ] = False,
    layers: Annotated[
        int | None, typer.Option(help="Transformer layers. Default: estimated from the size.")
    ] = None,
    hidden: Annotated[int | None, typer.Option(help="Hidden size. Default: estimated from the size.")] = None,
    gqa: Annotated[int, typer.Option(help="Attention heads per key-value head.")] = sizing.DEFAULT_GQA,
    region: Annotated[
        str, typer.Option(help="Region of the prices (the bundled ones are us-east-1).")
    ] = "us-east-1",
    limit: Annotated[int, typer.Option(help="Rows to show (0: all).", min=0)] = 15,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The SageMaker instance types whose accelerator memory holds a model, cheapest first.

    Memory = (weights + KV cache, or optimizer states when training) x 1.2, where weights =
    parameters x bytes per parameter; KV cache = 2 x layers x hidden / gqa x context x batch x bytes;
    training adds 16 bytes per parameter in all (mixed-precision Adam); the 1.2 covers activations,
    the runtime and fragmentation. Without --layers/--hidden the shape is estimated from the size
    (parameters ~= 12 x layers x hidden^2, hidden ~= 128 x layers). An instance fits when all its
    accelerators together hold it (tensor parallelism). An estimate to start from.
    """
    need = sizing.memory_need(
        sizing.parse_parameters(params), dtype=dtype.lower(), training=training, context=context, batch=batch,
        layers=layers, hidden=hidden, gqa=gqa,
    )  # fmt: skip
    rows = fit_rows(need, training=training, region=region)
    if as_json:
        print_json({"need": asdict(need), "fits": rows})
        return
    what = "training" if training else f"inference, context {context} x batch {batch}"
    console.print(
        f"{params} parameters in {dtype}, {what}: weights {need.weights_gib:.1f} GiB, KV cache {need.kv_cache_gib:.1f} "
        f"GiB, optimizer states {need.training_state_gib:.1f} GiB; with 20% overhead [bold]{need.total_gib:.1f} GiB[/] "
        f"(shape: {need.layers} layers x {need.hidden} hidden)."
    )
    table = Table(
        title=f"instance types that hold it ({'training' if training else 'hosting'}, prices {region})"
    )
    for column in ("instance type", "accelerator", "memory", "headroom", "$/hour"):
        table.add_column(column, overflow="fold")
    shown = rows if limit == 0 else rows[:limit]
    for row in shown:
        mark = "" if row["price_confirmed"] else "*"
        price = f"{row['hourly_usd']:.3f}{mark}" if row["hourly_usd"] is not None else "-"
        table.add_row(
            row["name"], f"{row['count']} x {row['accelerator_name']}", f"{row['total_gib']} GiB",
            f"{row['headroom_gib']:.0f} GiB", price,
        )  # fmt: skip
    console.print(table)
    if len(rows) > len(shown):
        console.print(f"{len(rows) - len(shown)} more: --limit 0 shows all.")
    if any(r["hourly_usd"] is not None for r in shown):
        console.print(
            "Prices: on-demand, from the AWS Price List API with credentials, else the bundled snapshot "
            f"(as of {snapshot_date()}); * marks a snapshot price whose source is not confirmed; --json gives each source."
        )
    if not rows:
        console.print(
            "No single instance holds it: shard it over several (HyperPod, training jobs with several instances)."
        )


def register(app: typer.Typer) -> None:
    app.command()(fit)

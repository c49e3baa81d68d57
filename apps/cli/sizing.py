"""How much accelerator memory a model needs, and which instance types hold it.

The estimate, stated so it can be checked (``mlblueprints fit --help`` and the README print it):

- weights = parameters x bytes per parameter (fp32 4, bf16/fp16 2, fp8/int8 1, int4 0.5);
- inference adds the KV cache = 2 (keys and values) x layers x hidden size / GQA factor x context x
  batch x bytes per value. Without ``layers`` and ``hidden``, a dense transformer's shape is estimated
  from its size: parameters ~= 12 x layers x hidden^2 with hidden ~= 128 x layers (Llama 3 8B:
  4096 x 32), and the GQA factor (attention heads per key-value head) defaults to 4;
- training needs 16 bytes per parameter for mixed-precision Adam (bf16 weights and gradients, fp32
  master weights, two fp32 moments) before activations;
- 20% on top for activations, the CUDA or Neuron runtime, and fragmentation.

An instance fits when the memory of all its accelerators together holds the total (the model sharded
with tensor parallelism across them). It is an estimate for choosing where to start, not a guarantee.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["BYTES_PER_PARAMETER", "MemoryNeed", "fitting_instances", "memory_need", "parse_parameters"]

BYTES_PER_PARAMETER = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
TRAINING_BYTES_PER_PARAMETER = 16.0
OVERHEAD = 1.2
ASPECT_RATIO = 128  # hidden size per layer of a typical dense transformer
DEFAULT_GQA = 4
GIB = 1024**3
_SIZE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kKmMbBtT]?)\s*$")
_UNITS = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def parse_parameters(text: str) -> float:
    """``8B``, ``70b``, ``1.5B``, ``350M`` (or a plain count of a million or more), as a count of parameters."""
    match = _SIZE.match(text)
    if match is None or float(match["number"]) <= 0 or (not match["unit"] and float(match["number"]) < 1e6):
        raise MlBlueprintsError(
            Problem(
                f"--params {text!r}: give a size such as 8B, 70B, 1.5B or 350M.", setting="params", value=text
            )
        )
    return float(match["number"]) * _UNITS[match["unit"].lower()]


@dataclass(frozen=True)
class MemoryNeed:
    weights_gib: float
    kv_cache_gib: float
    training_state_gib: float
    total_gib: float
    layers: int
    hidden: int


def memory_need(
    parameters: float,
    *,
    dtype: str = "bf16",
    training: bool = False,
    context: int = 4096,
    batch: int = 1,
    layers: int | None = None,
    hidden: int | None = None,
    gqa: int = DEFAULT_GQA,
) -> MemoryNeed:
    """The accelerator memory the estimate in this module's docstring gives."""
    problems = []
    if dtype not in BYTES_PER_PARAMETER:
        problems.append(
            Problem(
                f"--dtype {dtype!r}: use one of {', '.join(BYTES_PER_PARAMETER)}.",
                setting="dtype",
                value=dtype,
            )
        )
    if training and dtype not in ("bf16", "fp16", "fp32"):
        problems.append(
            Problem(f"--dtype {dtype} with --training: training runs in bf16, fp16 or fp32 (mixed-precision Adam keeps "
                    "16 bytes per parameter whatever the weights' precision).", setting="dtype", value=dtype)
        )  # fmt: skip
    for name, value in (("context", context), ("batch", batch), ("gqa", gqa)):
        if value < 1:
            problems.append(Problem(f"--{name} {value}: use 1 or more.", setting=name, value=value))
    if problems:
        raise MlBlueprintsError(problems)
    width = BYTES_PER_PARAMETER[dtype]
    if hidden is None:
        hidden = round((ASPECT_RATIO * parameters / 12) ** (1 / 3))
    if layers is None:
        layers = max(1, round(parameters / (12 * hidden * hidden)))
    weights = parameters * width
    # Quantized weights (int4, int8, fp8) still keep a bf16/fp16 KV cache; fp32 models keep fp32.
    kv_width = max(width, 2.0)
    kv = 0.0 if training else 2 * layers * hidden / gqa * context * batch * kv_width
    state = parameters * (TRAINING_BYTES_PER_PARAMETER - width) if training else 0.0
    total = (weights + kv + state) * OVERHEAD
    return MemoryNeed(weights / GIB, kv / GIB, state / GIB, total / GIB, layers, hidden)


@dataclass(frozen=True)
class Fit:
    name: str
    accelerator: str
    accelerator_name: str
    count: int
    memory_gib: int
    total_gib: int
    headroom_gib: float


def fitting_instances(need: MemoryNeed, *, training: bool) -> list[Fit]:
    """SageMaker instance types (hosting, or training) whose accelerators together hold ``need``."""
    from mlblueprints.constructs.compute import instance_types as types

    use = types.SageMakerUse.TRAINING if training else types.SageMakerUse.REALTIME_INFERENCE
    fits = []
    from mlblueprints.constructs.compute.regional_offerings import hosting_regions

    for name in types.instance_types_for(use):
        facts = types._describe(name, listed=True)
        total = facts.total_accelerator_memory_gib
        if not total or total < need.total_gib:
            continue
        if not training and not hosting_regions(name):
            continue  # no region hosts it (cfn-lint's regional data)
        fits.append(
            Fit(name, facts.accelerator.value, facts.accelerator_name or "", facts.accelerator_count,
                facts.accelerator_memory_gib, total, total - need.total_gib)
        )  # fmt: skip
    return fits

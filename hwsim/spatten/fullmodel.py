"""The whole transformer on one chip: the linear layers beside SpAtten's attention (``--full-model``).

SpAtten-e2e (SpAtten §6.4, docs/sources.md SpAtten §6.4) runs the FC layers (Q/K/V and output
projections, the FFN) on the same chip. ``design.linear`` says where
(:class:`hwsim.config.design.Linear`): on the attention's own multiplier arrays (``arrays``, the
paper's choice) or on one of the sparse engines of :mod:`hwsim.units.sparse` (a systolic array).

What is timed. The linear layers of each transformer layer come from the trace's op graph (every
``linear`` entry of a layer with a weight; the LM head and the pooler are not blocks' layers). Each
runs on ``m`` input rows:

* summarization: the tokens alive in that layer (cascade token pruning removes a pruned token's
  projections and FFN work too, SpAtten §3.1; head pruning is not applied to the FC layers, as in
  SpAtten-e2e, which disables it);
* generation: one row (the step's token) per layer and step, so every step streams every weight.

Per layer on the ``arrays`` engine: each cycle the Q x K and prob x V arrays form
``(qk.multipliers + pv.multipliers) / head_dim`` dot products of ``head_dim`` elements (their
adder trees), so ``compute = ceil(m * n * ceil(k / head_dim) / dots_per_cycle)`` cycles plus the Q x
K pipeline depth; the weights (``weight_bits``) and the input and output activations
(``datapath_bits``) cross the HBM once (on-chip buffers hold one layer's tile, double-buffered).
On a systolic engine: the golden cycles and SRAM tiling of :mod:`hwsim.units.sparse` (weights at
``weight_bits``, dense weights for ``dense``, a seeded Bernoulli mask at ``density`` for
``weight-sparse``, an N:M mask for ``nm``). Both: ``cycles = max(compute, HBM)`` through the
design's HBM (:func:`hwsim.units.sparse.timing.hbm_cycles`), and energy from
:func:`cost_models.sparse.layer_energy_pj` at the design's node.

When. The linear layers share the arrays and the HBM with the attention and sit between its
layers (a layer's projections need the previous layer's output; its attention needs them), so
nothing overlaps: the end-to-end latency is the attention latency of :func:`hwsim.simulate` plus
the linear cycles, per stage and per generated token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cost_models import sparse as sparse_cost
from workloads.linear_layers import LINEAR_SKIP

from ..config import Design
from ..errors import HwsimError
from ..units.qk import QK_LATENCY_CYCLES
from ..units.sparse import golden as sparse_golden
from ..units.sparse import masks
from ..units.sparse.params import MemoryParams, SparsityParams, SystolicParams
from ..units.sparse.timing import hbm_cycles, layer_timing

__all__ = ["LinearShape", "LinearCost", "linear_shapes", "linear_memory", "linear_engine", "linear_area_mm2", "linear_cost",
           "attach_full_model"]


@dataclass(frozen=True)
class LinearShape:
    """One linear layer of a transformer layer: ``k`` input and ``n`` output features."""

    name: str
    layer: int
    k: int
    n: int


@dataclass(frozen=True)
class LinearCost:
    """One linear layer on ``m`` rows: cycles, DRAM bytes, MACs and energy."""

    compute_cycles: int
    hbm_cycles: int
    dram_bytes: int
    macs: int
    energy_pj: float

    @property
    def cycles(self) -> int:
        """Compute overlapped with the HBM transfer (cycles)."""
        return max(self.compute_cycles, self.hbm_cycles)


def linear_shapes(trace) -> list[LinearShape]:
    """The blocks' linear layers from the trace's op graph; HwsimError when it has none."""
    graph = getattr(trace, "op_graph", None)
    out = []
    for e in graph or ():
        block = e.get("layer") is not None and not e["name"].startswith(LINEAR_SKIP)
        if e.get("op") != "linear" or not e.get("weight") or not block:
            continue
        out.append(LinearShape(e["name"], int(e["layer"]), int(e["inputs"][0][-1]), int(e["outputs"][0][-1])))
    if not out:
        raise HwsimError(f"--full-model: workload {getattr(trace, 'name', '?')!r} has no linear layers in its op graph "
                         f"(a SpAtten CSV or a trace without one); expected a traced transformer")
    return out


def linear_cost(design: Design, head_dim: int, k: int, n: int, m: int, *, seed: int = 0) -> LinearCost:
    """Cost of one ``k`` -> ``n`` linear layer on ``m`` rows on ``design.linear`` (module docstring)."""
    return _cost(design, head_dim, k, n, m, seed)


def linear_memory(design: Design) -> MemoryParams:
    """The HBM and buffers the linear engine reads through, weights at ``linear.weight_bits``."""
    return MemoryParams.from_design(design, value_bits=design.linear.weight_bits)


def linear_engine(design: Design) -> tuple[SystolicParams, SparsityParams, MemoryParams]:
    """The systolic engine ``design.linear`` names (array, sparsity, memory); not for ``arrays``."""
    lin = design.linear
    return (SystolicParams(rows=lin.rows, cols=lin.cols, dataflow=lin.dataflow),
            SparsityParams(engine=lin.engine, n=lin.nm_n, m=lin.nm_m), linear_memory(design))


def linear_area_mm2(design: Design) -> float:
    """Area of the linear engine beyond the attention arrays (mm^2): 0 for ``arrays``, else its PEs and SRAMs."""
    lin = design.linear
    if lin.engine == "arrays":
        return 0.0
    mem = linear_memory(design)
    return sparse_cost.engine_area_mm2(rows=lin.rows, cols=lin.cols, bits=lin.weight_bits,
                                       node_nm=float(design.technology_nm),
                                       sram_bytes=(mem.ifmap_bytes, mem.filter_bytes, mem.ofmap_bytes))["area_mm2"]


@lru_cache(maxsize=4096)
def _cost(design: Design, head_dim: int, k: int, n: int, m: int, seed: int) -> LinearCost:
    lin = design.linear
    node = float(design.technology_nm)
    if lin.engine == "arrays":
        dots = max(1, (design.qk.multipliers + design.pv.multipliers) // head_dim)
        compute = math.ceil(m * n * math.ceil(k / head_dim) / dots) + QK_LATENCY_CYCLES
        act = design.datapath_bits
        nbytes = math.ceil(n * k * lin.weight_bits / 8) + math.ceil(m * (k + n) * act / 8)
        macs = m * k * n
        e = sparse_cost.layer_energy_pj(effectual_macs=macs, dram_bytes=nbytes, sram_bytes=nbytes, bits=act,
                                        node_nm=node, sram_capacity_bytes=design.sram.key_bytes + design.sram.value_bytes)
        return LinearCost(compute, hbm_cycles(nbytes, linear_memory(design)), nbytes, macs, e["energy_pj"])
    array, sparsity, memory = linear_engine(design)
    if lin.engine == "weight-sparse":
        mask = masks.bernoulli_mask((n, k), lin.density, seed=seed)
    elif lin.engine == "nm":
        kk = -(-k // lin.nm_m) * lin.nm_m  # zero-padded along K to whole blocks, as hwsim sparse does
        mask = masks.nm_mask(np.random.default_rng(seed).standard_normal((n, kk)), lin.nm_n, lin.nm_m)
    else:
        mask = np.ones((n, k), np.bool_)
    eng = sparse_golden.engine_cycles(array, sparsity, m=m, w_mask=mask)
    t = layer_timing(eng, array, sparsity, memory, m=m, w_mask=mask)
    sram_bytes = math.ceil(eng.math_cycles * (array.rows + array.cols) * lin.weight_bits / 8)
    e = sparse_cost.layer_energy_pj(effectual_macs=eng.effectual_macs, dram_bytes=t.dram_bytes, sram_bytes=sram_bytes,
                                    bits=lin.weight_bits, node_nm=node,
                                    sram_capacity_bytes=memory.ifmap_bytes + memory.filter_bytes + memory.ofmap_bytes)
    return LinearCost(t.compute_cycles, t.hbm_cycles, t.dram_bytes, eng.effectual_macs, e["energy_pj"])


def attach_full_model(result, trace, design: Design, *, seed: int = 0) -> None:
    """Add the linear layers to ``result`` (a :class:`~hwsim.spatten.result.SimResult` of ``trace``).

    Adds per-layer ``linear_*`` columns (summarization and generation apart) and a summary block
    ``full_model``: linear and attention cycles, the end-to-end latency per stage and per generated
    token, FLOPs (the FC share), DRAM bytes and energy, the engine's area.
    """
    shapes = linear_shapes(trace)
    by_layer: dict[int, list[LinearShape]] = {}
    for s in shapes:
        by_layer.setdefault(s.layer, []).append(s)
    if max(by_layer) >= trace.layers:
        raise HwsimError(f"--full-model: the op graph names layer {max(by_layer)}; the trace has {trace.layers}")
    kept = result.decisions.get("summarization") or []
    prompt = trace.prompt_tokens if trace.mode == "decoder" else trace.tokens
    steps = trace.generated_tokens if trace.mode == "decoder" else 0
    d = trace.head_dim
    totals = {st: {"cycles": 0, "dram": 0, "macs": 0, "energy": 0.0} for st in ("summarization", "generation")}
    for row in result.layers:
        layer = row["layer"]
        m = int(kept[layer][0].size) if layer < len(kept) else prompt
        per = {}
        for st, rows, times in (("summarization", m, 1), ("generation", 1, steps)):
            costs = [linear_cost(design, d, s.k, s.n, rows, seed=seed + i) for i, s in enumerate(by_layer.get(layer, []))]
            c = {"cycles": times * sum(x.cycles for x in costs), "dram": times * sum(x.dram_bytes for x in costs),
                 "macs": times * sum(x.macs for x in costs), "energy": times * sum(x.energy_pj for x in costs)}
            per[st] = c
            for key in c:
                totals[st][key] += c[key]
        for st in ("summarization", "generation"):
            row[f"linear_{st}_cycles"] = per[st]["cycles"]
        row["linear_cycles"] = per["summarization"]["cycles"] + per["generation"]["cycles"]
        row["linear_dram_bytes"] = per["summarization"]["dram"] + per["generation"]["dram"]
        row["linear_flops"] = 2 * (per["summarization"]["macs"] + per["generation"]["macs"])
    s = result.summary
    stage = s["stage_cycles"]
    linear_cycles = sum(t["cycles"] for t in totals.values())
    attn_flops = s["flops"]
    lin_flops = 2 * sum(t["macs"] for t in totals.values())
    lin = design.linear
    gen_attention = stage.get("generation", 0)
    block = {
        "linear_engine": lin.engine,
        "linear_layers_count": len(shapes),
        "linear_cycles": linear_cycles,
        "attention_cycles": s["latency_cycles"],
        "end_to_end_latency_cycles": s["latency_cycles"] + linear_cycles,
        "end_to_end_latency_s": (s["latency_cycles"] + linear_cycles) / (design.clock_ghz * 1e9),
        "stage_cycles": {st: {"attention": stage.get(st, 0), "linear": totals[st]["cycles"],
                              "end_to_end": stage.get(st, 0) + totals[st]["cycles"]} for st in totals},
        "linear_flops": lin_flops,
        "linear_flops_fraction": _fraction(lin_flops, attn_flops),
        "linear_dram_bytes": sum(t["dram"] for t in totals.values()),
        "linear_energy_pj": sum(t["energy"] for t in totals.values()),
        "linear_area_mm2": linear_area_mm2(design),
    }
    if steps:
        gen_lin = totals["generation"]
        block["generation"] = {
            "attention_cycles_per_token": gen_attention / steps,
            "linear_cycles_per_token": gen_lin["cycles"] / steps,
            "end_to_end_cycles_per_token": (gen_attention + gen_lin["cycles"]) / steps,
            "linear_flops": 2 * gen_lin["macs"],
            "attention_flops": s["stage_flops"].get("generation", 0),
            "linear_flops_fraction": _fraction(2 * gen_lin["macs"], s["stage_flops"].get("generation", 0)),
        }
    s["full_model"] = block


def _fraction(a: float, b: float) -> float:
    return a / (a + b) if a + b else 0.0

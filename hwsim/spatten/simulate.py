"""``simulate(trace, design, policy)``: a SpAtten simulation of a traced workload.

Stages (SpAtten §3-§4, docs/sources.md SpAtten §2.1 and §4.1):

1. **Summarization** (encoders; the prompt of decoders): layer by layer. Before each layer the
   token and head selections run on the token/head top-k engine over the *cumulative* importance
   scores (token: probability mass received, summed over heads, queries and layers; head: sum of
   |attention output|, summed over layers), keeping ``keep(l) x`` the original count. Cascade: the
   candidates are the previous layer's survivors, so a pruned token (its Q, K and V) or head is
   never used again. Layer 0 cannot prune in summarization (no scores exist yet). Each alive K/V
   group fetches Q, K (MSB plane) and the V vectors its queries use once, then computes its heads'
   rows from SRAM.
2. **Generation** (decoders): one query per step and layer. The step's new token joins the
   candidates; layer l keeps ``keep(l) x`` the current length from the candidates that survived
   layer l - 1 of this step and layer l of the previous step (cascade across layers and steps),
   selected on the cumulative scores, which keep accumulating. K is streamed from DRAM every step
   (no reuse), the LSB plane is re-fetched for rows whose max probability is below the threshold,
   and V is fetched for the local-V selection only. Head selections are made in summarization and
   kept in generation.

Quantities are counted as they happen; energy comes from :mod:`cost_models.energy`, area from
:mod:`cost_models.area`; fidelity is measured on sampled rows against dense float attention of the
traced (unquantized) tensors. The traced activations of later layers are those of the unpruned
model: fidelity is per attention layer, not end to end.
"""

from __future__ import annotations

import numpy as np

from ..config import Design, Policy, check_pair
from ..errors import HwsimError
from ..units.hbm import vector_bytes
from .cascade import Cascade
from .functional import HeadRows, attend, quantize_layer
from .result import SimResult, Tally
from .timing import GroupWork, HeadWork, Machine, RowWork, Timeline
from .units import SpattenUnits

__all__ = ["simulate", "check_fits"]


def check_fits(trace, design: Design) -> None:
    """Raise HwsimError when the workload does not fit the design without tiling.

    A K/V group's keys and values each sit in one half of the double-buffered key and value SRAM
    at the datapath width; a row of scores must fit the top-k engine (``topk.max_n``) and the
    softmax FIFO (``softmax.fifo_depth`` rows of ``softmax.parallelism``).
    """
    d = trace.head_dim
    units = SpattenUnits.from_design(design, d)
    per_token = units.sram_vector_bytes
    n = trace.tokens
    for kind, size in (("key", units.key_sram_bytes), ("value", units.value_sram_bytes)):
        per_buffer = size // 2  # double-buffered
        if n * per_token > per_buffer:
            raise HwsimError(
                f"workload {trace.name!r}: {n} tokens x {d} dims at {units.datapath_bits} bits need "
                f"{n * per_token} bytes per {kind} SRAM buffer; design {design.name!r} has {per_buffer} "
                f"(sram.{kind}_bytes / 2, double-buffered); expected at most {per_buffer // per_token} tokens "
                f"(hwsim does not tile)"
            )
    if n > units.topk.max_n:
        raise HwsimError(
            f"workload {trace.name!r}: {n} tokens exceed the top-k engine's capacity of {units.topk.max_n} "
            f"scores (topk.max_n); expected at most {units.topk.max_n} tokens"
        )
    fifo = units.softmax.row_capacity
    if n > fifo:
        raise HwsimError(
            f"workload {trace.name!r}: rows of {n} scores exceed the softmax FIFO of {fifo} exponentials "
            f"(softmax.fifo_depth x softmax.parallelism); expected at most {fifo} tokens"
        )


def simulate(trace, design: Design, policy: Policy, *, seed: int = 0, fidelity_rows: int = 16,
             progress: bool = False, log_events: bool = False) -> SimResult:
    """Simulate ``trace`` on ``design`` under ``policy``; return a :class:`SimResult`.

    ``seed`` seeds the top-k pivots; ``fidelity_rows`` query rows per (layer, head[, step]) are
    compared with dense float attention; ``log_events`` keeps the whole event timeline.
    """
    check_pair(design, policy)
    check_fits(trace, design)
    d = trace.head_dim
    units = SpattenUnits.from_design(design, d, policy=policy, seed=seed)
    plan = units.quant
    plan.check_head_dim(d)
    machine = Machine(units)
    timeline = Timeline(machine, log_events=log_events)
    tally = Tally(trace, design, policy, plan)
    n_layers, n_heads, group = trace.layers, trace.heads, trace.heads // trace.kv_heads
    prompt = trace.prompt_tokens if trace.mode == "decoder" else trace.tokens
    causal = trace.mode == "decoder"
    cascade = Cascade(policy, units.topk, tokens=trace.tokens, heads=n_heads, layers=n_layers, prompt=prompt)
    local_v = policy.local_v.keep if policy.local_v.enabled else None
    qb = vector_bytes(d, plan.query_bits)
    kb = vector_bytes(d, plan.key_bits)
    lb = vector_bytes(d, plan.key_lsb_bits) if plan.progressive else 0
    vb = vector_bytes(d, plan.value_bits)
    decoder_layers = {}

    steps = trace.generated_tokens if causal else 0
    bar = _progress(progress, n_layers * (1 + steps), trace.name)

    # ---------------------------------------------------------------- summarization
    for layer in range(n_layers):
        for kind, cyc in cascade.summarize(layer):
            timeline.select(cyc, -1, layer, kind)
            tally.counts.selection(cyc)
        alive, heads_alive = cascade.alive, cascade.heads_alive
        raw = (trace.q(layer), np.asarray(trace.k(layer), np.float32), np.asarray(trace.v(layer), np.float32))
        ql = quantize_layer(np.asarray(raw[0], np.float32), raw[1], raw[2], plan)
        if steps:
            decoder_layers[layer] = (ql, raw)
        res = attend(ql, raw, q_pos=alive, k_pos=alive, heads_alive=heads_alive, group_size=group, causal=causal,
                     scale=trace.scale, units=units, local_v_keep=local_v, fidelity_rows=fidelity_rows)
        cascade.absorb(res)
        groups = []
        by_group: dict[int, list] = {}
        for hr in res.heads:
            by_group.setdefault(hr.head // group, []).append(hr)
        for g, members in by_group.items():
            q_fetch = machine.fetch(alive, qb)
            k_fetch = machine.fetch(alive, kb)
            v_fetch = machine.fetch(res.group_v_used[g], vb)
            lsb = machine.fetch(alive, lb) if (lb and res.group_requant[g]) else None
            lsb_pending = lsb.busy if lsb else 0
            heads = []
            for hr in members:
                service, latency, overlap = machine.row_services(hr, lsb_pending if hr.requant.any() else 0)
                if hr.requant.any():
                    lsb_pending = 0
                heads.append(HeadWork(layer, hr.head, service, latency, overlap))
                tally.counts.rows(layer, hr, service)
            fetch = q_fetch.busy * len(members) + k_fetch.busy + v_fetch.busy
            groups.append(GroupWork(layer, g, fetch, heads, alive.size))
            tally.counts.fetches(layer, members[0].head, q=(q_fetch, len(members)), k=k_fetch, v=v_fetch, lsb=lsb)
        timeline.summarize(groups)
        tally.clock.mark(layer, "summarization", timeline.now)
        tally.stats.layer(layer, res, alive.size, int(heads_alive.sum()), prompt, n_heads)
        bar.update(1)
    timeline.drain()
    tally.stage_end("summarization", timeline.now)

    # ---------------------------------------------------------------- generation
    for step in range(steps):
        pos = prompt + step
        length = pos + 1
        cascade.begin_step(pos)
        layer_done = None
        for layer in range(n_layers):
            cand, heads_alive, made = cascade.generate(layer)
            for kind, cyc in made:
                timeline.select(cyc, step, layer, kind)
                tally.counts.selection(cyc)
                layer_done = None
            ql, raw = decoder_layers[layer]
            res = attend(ql, raw, q_pos=np.array([pos]), k_pos=cand, heads_alive=heads_alive, group_size=group,
                         causal=True, scale=trace.scale, units=units, local_v_keep=local_v,
                         fidelity_rows=fidelity_rows)
            cascade.absorb(res)
            rows = []
            fetched_v: dict[int, np.ndarray] = {}  # kv group -> mask of the positions whose V it fetched
            lsb_done: set[int] = set()
            first_of_group: set[int] = set()
            # every (layer, head) tensor has the same layout, so one transfer describes each group's K,
            # LSB plane and every head's query (computed once per layer, charged per group or head)
            k_all, q_one = machine.fetch(cand, kb), machine.fetch(np.array([pos]), qb)
            lsb_all = machine.fetch(cand, lb) if plan.progressive else None
            heads = res.heads
            # the layer's rows (one per alive head) through the units' service times in one call
            stacked = HeadRows.stack(heads)
            service, _, _ = machine.row_services(stacked, 0)
            for i, hr in enumerate(heads):
                g = hr.head // group
                k_fetch = k_all if g not in first_of_group else None
                first_of_group.add(g)
                lsb = None
                if hr.requant[0] and g not in lsb_done:
                    lsb = lsb_all
                    lsb_done.add(g)
                # V vectors this row uses that its group has not fetched yet at this step and layer
                seen = fetched_v.setdefault(g, np.zeros(length, bool))
                new_v = hr.v_pos[~seen[hr.v_pos]]  # v_pos is sorted, so new_v is too
                seen[new_v] = True
                v_fetch = machine.fetch(new_v, vb)
                rows.append(RowWork.from_service(
                    step, layer, hr.head, (step, layer, g), service[:, i], requant=bool(hr.requant[0]),
                    fetch=(k_fetch.busy if k_fetch else 0) + q_one.busy, lsb_fetch=lsb.busy if lsb else 0,
                    topk_fill=hr.topk_fill[0], v_fetch=v_fetch.busy, keys=cand.size))
                tally.counts.fetches(layer, hr.head, q=(q_one, 1), k=k_fetch, v=v_fetch, lsb=lsb)
            tally.counts.rows_many(layer, heads, service, stacked)
            layer_done = timeline.generate(rows, after=layer_done)
            tally.clock.mark_when(layer_done, layer, "generation")
            tally.stats.layer(layer, res, cand.size, int(heads_alive.sum()), length, n_heads, generation=True)
            bar.update(1)
        timeline.drain()  # the next step's token comes out of this one
    timeline.drain()
    tally.stage_end("generation", timeline.now)
    bar.close()
    result = tally.result(timeline, seed=seed)
    result.decisions["summarization"] = cascade.kept
    return result


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(enabled: bool, total: int, name: str):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=f"simulating {name}", unit=" layer x step", leave=False)

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

import math

import numpy as np

from ..config import Design, Policy, check_pair
from ..errors import HwsimError
from ..units import qk as qk_unit
from ..units.hbm import NO_FETCH, Fetch, fetch_many, fetch_new, fetch_widths, first_line_cycles, vector_bytes
from ..units.quant import to_float32
from .cascade import Cascade
from .functional import HeadRows, attend, keep_count, quantize_layer, row_sample
from .result import SimResult, Tally
from .timing import STAGES, GroupWork, HeadWork, Machine, RowWork, Timeline
from .units import SpattenUnits

_PQ = STAGES.index("pq")  # the requant re-fetch stage of a row's services

__all__ = ["simulate", "check_fits"]


def check_fits(trace, design: Design, policy: Policy | None = None) -> None:
    """Raise HwsimError when the design cannot run the workload (before any expensive work).

    With ``design.sram.tiling = "two-pass"`` (:mod:`hwsim.units.tiling`) any length runs; what a
    design cannot do is a selection longer than ``topk.max_n`` that keeps ``k`` with both ``k`` and
    ``n - k`` at least ``max_n`` (:mod:`hwsim.units.topk.hierarchical`), checked for ``policy``'s
    local-V selection at the longest row and its summarization token selections. With
    ``tiling = "none"`` a K/V group's keys and values must each fit one half of the key and value
    SRAM at the datapath width, and a row of scores the top-k engine (``topk.max_n``) and the
    softmax FIFO (``softmax.fifo_depth`` rows of ``softmax.parallelism``).
    """
    d = trace.head_dim
    units = SpattenUnits.from_design(design, d)
    n = trace.tokens
    max_n = units.topk.max_n
    if units.tiling.mode == "none":
        _check_one_load(trace, design, units)
    if policy is None:
        return
    selections = []
    if policy.local_v.enabled and design.features.local_v_pruning:
        selections.append(("local-V", max(1, math.ceil(policy.local_v.keep * n - 1e-9)), n))
    prompt = trace.prompt_tokens if trace.mode == "decoder" else n
    tp = policy.token_pruning
    if tp.enabled and design.features.token_pruning:
        cand = prompt
        for layer in range(1, trace.layers):
            k = keep_count(tp.keep(layer, trace.layers), prompt)
            if k < cand:
                selections.append((f"layer {layer} token", k, cand))
                cand = k
    bad = [(what, k, m) for what, k, m in selections if m > max_n and min(k, m - k) >= max_n]
    if bad:
        what, k, m = bad[0]
        need = max(min(k, m - k) + 1 for _, k, m in selections if m > max_n)
        raise HwsimError(
            f"workload {trace.name!r}: the {what} selection keeps {k} of {m} scores; a hierarchical top-k on "
            f"design {design.name!r} needs k or n - k below topk.max_n = {max_n}; expected topk.max_n of at "
            f"least {need} (every selection of policy {policy.name!r})"
        )


def _check_one_load(trace, design: Design, units: SpattenUnits) -> None:
    """``design.sram.tiling = "none"``: every row must fit one SRAM load, the top-k engine and the FIFO."""
    d = trace.head_dim
    per_token = units.sram_vector_bytes
    n = trace.tokens
    for kind, size in (("key", units.key_sram_bytes), ("value", units.value_sram_bytes)):
        per_buffer = size // 2  # double-buffered
        if n * per_token > per_buffer:
            raise HwsimError(
                f"workload {trace.name!r}: {n} tokens x {d} dims at {units.datapath_bits} bits need "
                f"{n * per_token} bytes per {kind} SRAM buffer; design {design.name!r} has {per_buffer} "
                f"(sram.{kind}_bytes / 2, double-buffered); expected at most {per_buffer // per_token} tokens "
                f"with sram.tiling = 'none'"
            )
    if n > units.topk.max_n:
        raise HwsimError(
            f"workload {trace.name!r}: {n} tokens exceed the top-k engine's capacity of {units.topk.max_n} "
            f"scores (topk.max_n); expected at most {units.topk.max_n} tokens with sram.tiling = 'none'"
        )
    fifo = units.softmax.row_capacity
    if n > fifo:
        raise HwsimError(
            f"workload {trace.name!r}: rows of {n} scores exceed the softmax FIFO of {fifo} exponentials "
            f"(softmax.fifo_depth x softmax.parallelism); expected at most {fifo} tokens with sram.tiling = 'none'"
        )


def simulate(trace, design: Design, policy: Policy, *, seed: int = 0, fidelity_rows: int = 16,
             progress: bool = False, log_events: bool = False) -> SimResult:
    """Simulate ``trace`` on ``design`` under ``policy``; return a :class:`SimResult`.

    ``seed`` seeds the top-k pivots; up to ``fidelity_rows`` evenly spaced query rows per (layer,
    head) of the prompt, and every head's row at up to ``fidelity_rows`` evenly spaced generation
    steps per layer, are compared with dense float attention (the summary's
    ``fidelity_sampled_rows`` counts them); ``log_events`` keeps the whole event timeline.
    """
    check_pair(design, policy)
    check_fits(trace, design, policy)
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
    # generation: one row per (step, layer, head); its fidelity is sampled by step, as the prompt's by row
    fidelity_steps = set(row_sample(steps, fidelity_rows).tolist())
    bar = _progress(progress, n_layers * (1 + steps), trace.name)

    # ---------------------------------------------------------------- summarization
    for layer in range(n_layers):
        for kind, cyc in cascade.summarize(layer):
            timeline.select(cyc, -1, layer, kind)
            tally.counts.selection(cyc)
        alive, heads_alive = cascade.alive, cascade.heads_alive
        raw = (trace.q(layer), to_float32(trace.k(layer)), to_float32(trace.v(layer)))
        ql = quantize_layer(to_float32(raw[0]), raw[1], raw[2], plan, frozen=True)
        if steps:
            decoder_layers[layer] = (ql, raw)
        res = attend(ql, raw, q_pos=alive, k_pos=alive, heads_alive=heads_alive, group_size=group, causal=causal,
                     scale=trace.scale, units=units, local_v_keep=local_v, fidelity_rows=fidelity_rows)
        cascade.absorb(res)
        groups = []
        by_group: dict[int, list] = {}
        for hr in res.heads:
            by_group.setdefault(hr.head // group, []).append(hr)
        # every alive head's rows through the units' service times in one call, counted at once; every
        # group's transfers of the same alive positions (Q, K, LSB plane) computed once, its V in one call
        stacked = HeadRows.stack(res.heads)
        service_all, latency, overlap_all = machine.row_services(stacked, 0)
        bounds = np.cumsum([0] + [hr.n_keys.size for hr in res.heads])
        col = dict(zip((hr.head for hr in res.heads), bounds[:-1].tolist()))
        q_fetch, k_one = machine.fetch(alive, qb), machine.fetch(alive, kb)
        lsb_one = machine.fetch(alive, lb) if lb else None
        v_ones = dict(zip(by_group, fetch_many([res.group_v_used[g] for g in by_group], vb, units.hbm)))
        for g, members in by_group.items():
            q_all = q_fetch.busy * len(members)  # every alive head's queries
            k_fetch, v_fetch, lsb, extra, lead = _group_fetches(
                machine, res, g, alive, k_one, lsb_one, v_ones[g], q_busy=q_all, vb=vb)
            k_fetch, v_fetch = _fuse_pair(machine, res, g, by_group, alive, k_fetch, v_fetch, kv_heads=trace.kv_heads,
                                          kb=kb, vb=vb)
            lsb_pending = lsb.busy - extra.busy if lsb else 0  # the first LSB fetch; re-streams go with K
            heads = []
            for hr in members:
                a = col[hr.head]
                service = service_all[:, a:a + hr.n_keys.size]
                if lsb_pending and hr.requant.any():  # the group's first requant row waits for the LSB fetch
                    service[_PQ, int(np.argmax(hr.requant))] += lsb_pending + machine.hbm_latency
                    lsb_pending = 0
                heads.append(HeadWork(layer, hr.head, service, latency, overlap_all[:, a:a + hr.n_keys.size]))
            fetch = q_all + k_fetch.busy + v_fetch.busy + extra.busy
            k_done = None
            if lead is None and units.hbm.stream:  # Q x K starts on the first K line (Q, then K, then V)
                k_done = q_all + k_fetch.busy
                lines = int(qk_unit.service_cycles(alive.size, units.qk))  # key-buffer lines Q x K reads
                lead = q_all + first_line_cycles(k_fetch.busy, lines)
            groups.append(GroupWork(layer, g, fetch, heads, units.tiling.held_keys(alive.size), lead=lead,
                                    k_done=k_done))
            tally.counts.fetches(layer, members[0].head, q=(q_fetch, len(members)), k=k_fetch, v=v_fetch, lsb=lsb)
        tally.counts.rows_many(layer, res.heads, service_all, stacked)
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
        q_one = machine.fetch(np.array([pos]), qb)  # every head's query of this step (the same in every layer)
        for layer in range(n_layers):
            cand, heads_alive, made = cascade.generate(layer)
            for kind, cyc in made:
                timeline.select(cyc, step, layer, kind)
                tally.counts.selection(cyc)
                layer_done = None
            ql, raw = decoder_layers[layer]
            res = attend(ql, raw, q_pos=np.array([pos]), k_pos=cand, heads_alive=heads_alive, group_size=group,
                         causal=True, scale=trace.scale, units=units, local_v_keep=local_v,
                         fidelity_rows=fidelity_rows if step in fidelity_steps else 0)
            cascade.absorb(res)
            streams = units.tiling.streams_k(cand.size)  # K re-streamed for each later pass (hwsim.units.tiling)
            heads = res.heads
            # K/V head pairs stored fused (design.hbm.fuse_pairs): one fetch group, its K and V moved once
            fuse_k = units.hbm.fuses(plan.key_bits) and not streams
            fuse_v = units.hbm.fuses(plan.value_bits, "v") and not streams
            # every (layer, head) tensor has the same layout, so one transfer describes each group's K and
            # LSB plane (and a fused pair's K), computed once per layer, charged per group
            k_all, lsb_all, k_pair = fetch_widths(cand, [kb, lb, 2 * kb if fuse_k else 0], units.hbm)
            lsb_all, k_pair = (lsb_all if plan.progressive else None), (k_pair if fuse_k else None)
            head_ids = [hr.head for hr in heads]
            gs = [h // group for h in head_ids]
            alive_groups = set(gs)
            paired = {g for g in alive_groups if (fuse_k or fuse_v) and _partner(g, trace.kv_heads) is not None}
            fgs = [g & ~1 if g in paired else g for g in gs]
            # the layer's rows (one per alive head) through the units' service times in one call
            stacked = res.stacked if res.stacked is not None else HeadRows.stack(heads)
            service, _, _ = machine.row_services(stacked, 0, services_only=True)
            # one row per alive head: its services and flags as Python ints, converted once per layer
            columns, requant_rows = service.T.tolist(), stacked.requant.tolist()
            fill_rows, emit_rows, passes_rows = (stacked.topk_fill.tolist(), stacked.topk_filter.tolist(),
                                                 stacked.row_passes().tolist())
            # each row fetches the V vectors it uses that its group has not fetched yet at this step and layer
            # (fused V: that its pair has not moved, 2 x vb each; the payload stays what the row asked for)
            v_sets = [hr.v_pos for hr in heads]
            v_busy, v_bus, v_payload = fetch_new(v_sets, gs, vb, units.hbm, length=length)
            if fuse_v:
                v_busy, v_bus, _ = fetch_new(v_sets, fgs, 2 * vb, units.hbm, length=length)
            # a group's first row fetches its K (a fused pair's first row the pair's), its first requant row
            # the LSB plane; Q is every row's own
            n = len(heads)
            k_rows, lsb_rows = ([0] * n, [0] * n, [0] * n), ([0] * n, [0] * n, [0] * n)
            first_of_group: set[int] = set()
            first_of_fetch: set[int] = set()
            lsb_done: set[int] = set()
            held_keys = units.tiling.held_keys(cand.size)
            rows = []
            for i, (hr, g, fg) in enumerate(zip(heads, gs, fgs)):
                first = g not in first_of_group
                k_fetch = k_all if first else NO_FETCH
                if k_pair is not None and first:  # the pair's first row moves the fused K; its partner's none
                    k_fetch = (k_pair if fg not in first_of_fetch else NO_FETCH).asked(k_all.payload_bytes)
                first_of_group.add(g)
                first_of_fetch.add(fg)
                lsb = NO_FETCH
                if requant_rows[i] and g not in lsb_done:
                    lsb = lsb_all
                    lsb_done.add(g)
                for into, f in ((k_rows, k_fetch), (lsb_rows, lsb)):
                    into[0][i], into[1][i], into[2][i] = f.busy, f.bus_bytes, f.payload_bytes
                k_stream = 0
                if streams and first:  # this row carries its group's later K (and LSB) passes
                    msb, lsbs = units.tiling.k_streams(cand.size, res.group_requant[g])
                    k_more, lsb_more = k_all * (msb - 1), lsb_all * (lsbs - 1) if lsbs > 1 else None
                    k_stream = k_more.busy + (lsb_more.busy if lsb_more else 0)
                    tally.counts.fetches(layer, hr.head, q=(q_one, 0), k=k_more, v=None, lsb=lsb_more)
                groups_held = len({fg, fg + 1} & alive_groups) if g in paired else 1  # K held for the fetch group
                rows.append(RowWork.from_service(
                    step, layer, hr.head, (step, layer, fg), columns[i], requant=bool(requant_rows[i]),
                    fetch=k_fetch.busy + q_one.busy, lsb_fetch=lsb.busy, topk_fill=fill_rows[i], v_fetch=v_busy[i],
                    keys=held_keys * groups_held, passes=passes_rows[i], k_stream=k_stream, topk_emit=emit_rows[i],
                    lsb_group=g))
            q_rows = ([q_one.busy] * n, [q_one.bus_bytes] * n, [q_one.payload_bytes] * n)
            tally.counts.fetch_rows(layer, head_ids, {"q": q_rows, "k_msb": k_rows, "v": (v_busy, v_bus, v_payload),
                                                      "k_lsb": lsb_rows})
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


def _partner(g: int, kv_heads: int) -> int | None:
    """The K/V head stored fused with ``g`` (``design.hbm.fuse_pairs``: heads 2i and 2i+1), None for a lone last head."""
    p = g ^ 1
    return p if p < kv_heads else None


def _fuse_pair(machine: Machine, res, g: int, groups, alive: np.ndarray, k, v, *, kv_heads: int, kb: int, vb: int):
    """A summarization group's K and V transfers when its planes are stored fused with its partner's.

    The pair's first alive group fetches the fused K (every alive key, 2 x ``kb`` bytes each) and the
    fused V at the union of both groups' V positions; its partner's transfers move nothing. Each keeps
    its own payload (what its rows asked for). Tiled groups (``res.group_blocks``) are not fused.
    """
    hbm = machine.units.hbm
    partner = _partner(g, kv_heads)
    if partner is None or g in res.group_blocks or partner in res.group_blocks:
        return k, v
    plan = machine.units.quant
    first = partner not in groups or g < partner
    if hbm.fuses(plan.key_bits):
        k = machine.fetch(alive, 2 * kb).asked(k.payload_bytes) if first else NO_FETCH.asked(k.payload_bytes)
    if hbm.fuses(plan.value_bits, "v"):
        if first:
            pos = res.group_v_used[g] if partner not in groups else np.union1d(res.group_v_used[g],
                                                                             res.group_v_used[partner])
            v = machine.fetch(pos, 2 * vb).asked(v.payload_bytes)
        else:
            v = NO_FETCH.asked(v.payload_bytes)
    return k, v


def _group_fetches(machine: Machine, res, g: int, alive: np.ndarray, k_one: Fetch, lsb_all: Fetch | None,
                   v: Fetch, *, q_busy: int, vb: int):
    """A summarization group's K, V and LSB transfers under the tile plan (:mod:`hwsim.units.tiling`).

    ``k_one`` and ``lsb_all`` are one pass over every alive key of the K MSB and LSB planes (None:
    no LSB plane); ``v`` the group's used V vectors fetched once (the same for every group of a layer).

    Returns ``(k, v, lsb, extra, lead)``: ``k`` (every MSB pass of every query block), ``v`` (once,
    or per block when the used V exceed one buffer), ``lsb`` (all LSB passes, None without),
    ``extra`` (the LSB passes after the first, which stream with K), and ``lead``: HBM cycles
    before compute may start (None: the whole fetch, an untiled group; else the queries, ``q_busy``
    HBM cycles for all the group's heads, and the first K tile, the rest streaming behind).
    """
    tiling = machine.units.tiling
    n = alive.size
    rq = res.group_requant[g]
    lsb_one = lsb_all if rq else None
    v_used = res.group_v_used[g]
    blocks = res.group_blocks.get(g, [])
    if v_used.size > tiling.value_tile and blocks:
        v = NO_FETCH
        for pos, _ in blocks:
            v = v + machine.fetch(pos, vb)
    if not tiling.streams_k(n):
        return k_one, v, lsb_one, NO_FETCH, None
    reads = [tiling.k_streams(n, rq_b) for _, rq_b in blocks]
    k = k_one * sum(m for m, _ in reads)
    lsb_times = sum(ls for _, ls in reads)
    lsb = lsb_one * lsb_times if (lsb_one and lsb_times) else None
    extra = lsb_one * (lsb_times - 1) if lsb else NO_FETCH
    lead = q_busy + -(-k_one.busy * tiling.key_tile // n)
    return k, v, lsb, extra, lead


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

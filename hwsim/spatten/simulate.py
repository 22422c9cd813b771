"""``simulate(trace, design, policy)``: a SpAtten simulation of a traced workload.

Stages (SpAtten §3-§4, ``references/spatten.md`` §2.1 and §4.1):

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

from dataclasses import dataclass

import numpy as np

from ..config import Design, Policy, check_pair
from ..errors import HwsimError
from ..units.hbm import vector_bytes
from ..units.topk import golden as topk_golden
from .functional import QuantPlan, attend, keep_count, quantize_layer
from .result import SimResult, Tally
from .timing import TOPK_STAGES, GroupWork, HeadWork, Machine, RowWork, Timeline

__all__ = ["simulate", "check_fits"]


def check_fits(trace, design: Design) -> None:
    """Raise HwsimError when the workload does not fit the design without tiling."""
    d = trace.head_dim
    per_token = vector_bytes(d, design.datapath_bits)
    per_buffer = min(design.sram.key_bytes, design.sram.value_bytes) // 2  # double-buffered
    if trace.tokens * per_token > per_buffer:
        raise HwsimError(
            f"workload {trace.name!r}: {trace.tokens} tokens x {d} dims at {design.datapath_bits} bits need "
            f"{trace.tokens * per_token} bytes per K/V SRAM buffer; design {design.name!r} has {per_buffer} "
            f"(sram.key_bytes / 2, double-buffered); expected at most {per_buffer // per_token} tokens "
            f"(hwsim does not tile)"
        )
    top = design.topk.max_n
    if trace.tokens > top:
        raise HwsimError(
            f"workload {trace.name!r}: {trace.tokens} tokens exceed the top-k engine's capacity of {top} "
            f"(topk.lanes x topk.fifo_depth); expected at most {top} tokens"
        )


@dataclass
class _State:
    tok_score: np.ndarray  # cumulative token importance per position
    head_score: np.ndarray  # cumulative head importance per query head


def _select(scores: np.ndarray, candidates: np.ndarray, k: int, design: Design, seed: int) -> tuple[np.ndarray, int]:
    """Top-k of ``candidates`` by ``scores`` on the token/head engine; return (kept, cycles)."""
    codes = topk_golden.quantize_scores(scores[candidates], design.topk.width_bits)
    idx, cycles = topk_golden.select(codes, k, lanes=design.topk.lanes, seed=seed, in_lanes=design.topk.in_lanes)
    return candidates[idx], int(cycles)


def simulate(trace, design: Design, policy: Policy, *, seed: int = 0, fidelity_rows: int = 16,
             progress: bool = False, log_events: bool = False) -> SimResult:
    """Simulate ``trace`` on ``design`` under ``policy``; return a :class:`SimResult`.

    ``seed`` seeds the top-k pivots; ``fidelity_rows`` query rows per (layer, head[, step]) are
    compared with dense float attention; ``log_events`` keeps the whole event timeline.
    """
    check_pair(design, policy)
    check_fits(trace, design)
    plan = QuantPlan.of(design, policy)
    d = trace.head_dim
    for name, bits in (("query", plan.query_bits), ("key", plan.key_bits), ("value", plan.value_bits)):
        if (d * bits) % 8:
            raise HwsimError(f"head dimension {d} at {bits}-bit {name}s is not a whole number of bytes")
    machine = Machine.of(design, d)
    timeline = Timeline(machine, log_events=log_events)
    tally = Tally(trace, design, policy, plan)
    n_layers, n_heads, group = trace.layers, trace.heads, trace.heads // trace.kv_heads
    prompt = trace.prompt_tokens if trace.mode == "decoder" else trace.tokens
    causal = trace.mode == "decoder"
    state = _State(np.zeros(trace.tokens, np.float64), np.zeros(n_heads, np.float64))
    local_v = policy.local_v.keep if policy.local_v.enabled else None
    topk_args = dict(lanes=design.topk.lanes, width=design.topk.width_bits, seed=seed)
    qb = vector_bytes(d, plan.query_bits)
    kb = vector_bytes(d, plan.key_bits)
    lb = vector_bytes(d, plan.key_lsb_bits) if plan.progressive else 0
    vb = vector_bytes(d, plan.value_bits)
    decoder_layers = {}

    steps = trace.generated_tokens if causal else 0
    bar = _progress(progress, n_layers * (1 + steps), trace.name)

    # ---------------------------------------------------------------- summarization
    alive = np.arange(prompt)
    heads_alive = np.ones(n_heads, bool)
    kept_sets = []
    for layer in range(n_layers):
        if layer > 0:
            k_tok = keep_count(policy.token_pruning.keep(layer, n_layers), prompt)
            if policy.token_pruning.enabled and k_tok < alive.size:
                alive, cyc = _select(state.tok_score, alive, k_tok, design, seed)
                timeline.select(cyc, -1, layer, "token")
                tally.selection(cyc)
            k_head = keep_count(policy.head_pruning.keep(layer, n_layers), n_heads)
            if policy.head_pruning.enabled and k_head < heads_alive.sum():
                kept, cyc = _select(state.head_score, np.flatnonzero(heads_alive), k_head, design, seed)
                heads_alive = np.zeros(n_heads, bool)
                heads_alive[kept] = True
                timeline.select(cyc, -1, layer, "head")
                tally.selection(cyc)
        kept_sets.append((alive.copy(), heads_alive.copy()))
        raw = (trace.q(layer), np.asarray(trace.k(layer), np.float32), np.asarray(trace.v(layer), np.float32))
        ql = quantize_layer(np.asarray(raw[0], np.float32), raw[1], raw[2], plan)
        if steps:
            decoder_layers[layer] = (ql, raw)
        res = attend(ql, raw, q_pos=alive, k_pos=alive, heads_alive=heads_alive, group_size=group, causal=causal,
                     scale=trace.scale, plan=plan, local_v_keep=local_v, fidelity_rows=fidelity_rows, **topk_args)
        state.tok_score += res.token_importance
        groups = []
        by_group: dict[int, list] = {}
        for hr in res.heads:
            state.head_score[hr.head] += hr.abs_out_sum
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
                tally.rows(layer, hr, service, passes_k=True)
            fetch = q_fetch.busy * len(members) + k_fetch.busy + v_fetch.busy
            groups.append(GroupWork(layer, g, fetch, heads, alive.size))
            tally.fetches(layer, members[0].head, q=(q_fetch, len(members)), k=k_fetch, v=v_fetch, lsb=lsb)
        timeline.summarize(groups)
        tally.mark(layer, "summarization", timeline.now)
        tally.layer(layer, res, alive.size, int(heads_alive.sum()), prompt, n_heads)
        bar.update(1)
    timeline.drain()
    tally.stage_end("summarization", timeline.now)

    # ---------------------------------------------------------------- generation
    prev = [s[0] for s in kept_sets]
    for step in range(steps):
        pos = prompt + step
        length = pos + 1
        carry = None
        layer_done = None
        for layer in range(n_layers):
            heads_alive = kept_sets[layer][1]
            own = np.append(prev[layer], pos)
            cand = own if carry is None else np.intersect1d(carry, own)
            k_tok = keep_count(policy.token_pruning.keep(layer, n_layers), length)
            if policy.token_pruning.enabled and k_tok < cand.size:
                cand, cyc = _select(state.tok_score, cand, k_tok, design, seed)
                timeline.select(cyc, step, layer, "token")
                tally.selection(cyc)
                layer_done = None
            prev[layer] = cand[cand != pos]
            carry = cand
            ql, raw = decoder_layers[layer]
            res = attend(ql, raw, q_pos=np.array([pos]), k_pos=cand, heads_alive=heads_alive, group_size=group,
                         causal=True, scale=trace.scale, plan=plan, local_v_keep=local_v,
                         fidelity_rows=fidelity_rows, **topk_args)
            state.tok_score += res.token_importance
            rows = []
            fetched_v: dict[int, np.ndarray] = {}
            lsb_done: set[int] = set()
            first_of_group: set[int] = set()
            for hr in res.heads:
                g = hr.head // group
                state.head_score[hr.head] += hr.abs_out_sum
                k_fetch = machine.fetch(cand, kb) if g not in first_of_group else None
                q_fetch = machine.fetch(np.array([pos]), qb)
                first_of_group.add(g)
                lsb = None
                if hr.requant[0] and g not in lsb_done:
                    lsb = machine.fetch(cand, lb)
                    lsb_done.add(g)
                # V vectors this row uses that its group has not fetched yet at this step and layer
                new_v = np.setdiff1d(hr.v_pos, fetched_v.get(g, np.empty(0, np.int64)), assume_unique=True)
                fetched_v[g] = np.union1d(fetched_v.get(g, np.empty(0, np.int64)), new_v)
                v_fetch = machine.fetch(new_v, vb)
                service, _, _ = machine.row_services(hr, 0)
                rows.append(RowWork(step, layer, hr.head, (step, layer, g),
                                    (k_fetch.busy if k_fetch else 0) + q_fetch.busy,
                                    int(service[0, 0] // (2 if hr.requant[0] else 1)),
                                    int(service[1, 0] // (2 if hr.requant[0] else 1)),
                                    bool(hr.requant[0]), lsb.busy if lsb else 0,
                                    tuple(int(c) for c in service[TOPK_STAGES, 0]), int(hr.topk_fill[0]),
                                    v_fetch.busy, int(service[-1, 0]), cand.size))
                tally.rows(layer, hr, service, passes_k=True)
                tally.fetches(layer, hr.head, q=(q_fetch, 1), k=k_fetch, v=v_fetch, lsb=lsb)
            layer_done = timeline.generate(rows, after=layer_done)
            tally.mark_when(layer_done, layer, "generation")
            tally.layer(layer, res, cand.size, int(heads_alive.sum()), length, n_heads, generation=True)
            bar.update(1)
        timeline.drain()  # the next step's token comes out of this one
    timeline.drain()
    tally.stage_end("generation", timeline.now)
    bar.close()
    return tally.result(timeline, seed=seed)


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

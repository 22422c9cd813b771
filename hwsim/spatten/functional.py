"""Functional model of SpAtten attention: what the hardware computes, row by row.

For one layer at a time it quantizes Q, K and V as the policy stores them, computes scores and
probabilities, applies progressive quantization (MSB scores, max-probability check, LSB
recompute), local V pruning (top-k on the row's probabilities by the top-k golden model), the
prob x V product, and the token and head importance that drive cascade pruning (SpAtten §3,
docs/sources.md SpAtten §4.1 and §5). Alongside it measures fidelity against dense float
attention computed from the unquantized traced tensors.

It returns the per-row quantities the timing model needs (keys per row, re-fetch flags, kept V
per row, local-V top-k cycles) and per-group fetch sets; it never decides *when* anything happens.

Grouped-query attention: query heads ``h`` with ``h // group_size == g`` share K/V head ``g``. K
(and its LSB plane) is fetched once per group for all its alive heads; the V vectors fetched are
the union of the group's local-V selections. A pruned query head therefore never removes its
group's K/V fetch while another head of the group is alive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import HwsimError
from ..units import pv as pv_unit
from ..units import qk as qk_unit
from ..units.quant import QuantParams, dequantize, dequantize_msb, quantize_heads
from ..units.softmax import needs_lsb_from_max, softmax_rows
from ..units.topk import golden as topk_golden
from ..units.topk.hierarchical import select_rows
from .units import SpattenUnits

__all__ = ["QLayer", "quantize_layer", "HeadRows", "LayerResult", "attend", "keep_count", "row_sample"]


@dataclass
class QLayer:
    """One layer's quantized tensors: integer codes (int16, int32 beyond 16 bits) and one scale per head."""

    q: np.ndarray  # [heads, tokens, dim]
    q_scale: np.ndarray  # [heads]
    k: np.ndarray  # [kv_heads, tokens, dim], key_bits + key_lsb_bits wide
    k_scale: np.ndarray
    v: np.ndarray
    v_scale: np.ndarray
    #: the codes never change after quantization (a traced layer), so :meth:`dequantized` may keep the
    #: float K/V; False where codes are written position by position (hwsim.quality's generation)
    frozen: bool = False
    _deq: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def dequantized(self, lsb_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(K, K's MSB plane, V) dequantized at every position, float32 [kv_heads, tokens, dim], or None.

        For a ``frozen`` layer, computed once and kept, so a generation row gathers its keys' float
        values instead of converting their codes again (elementwise, so the gathered values are those
        ``dequantize`` gives the gathered codes, bit for bit). None for a layer that is not frozen, or
        when the three arrays would exceed :data:`_DEQ_CACHE_BYTES` (a long context): callers then
        dequantize what they gather.
        """
        if not self.frozen:
            return None
        if self._deq is None:
            if 3 * self.k.size * 4 > _DEQ_CACHE_BYTES:
                return None
            ks, vs = self.k_scale[:, None, None], self.v_scale[:, None, None]
            k_full = dequantize(self.k, ks)
            k_msb = dequantize_msb(self.k, ks, lsb_bits) if lsb_bits else k_full
            self._deq = (k_full, k_msb, dequantize(self.v, vs))
        return self._deq


#: the largest dequantized K/V a layer keeps for its generation rows (bytes; 3 x kv_heads x tokens x dim x 4):
#: smollm2 at 384 tokens keeps 0.9 MB a layer; a 32-layer decoder keeps at most 512 MB beside the traced
#: float32 K/V it already holds (a longer context converts the gathered codes each step instead)
_DEQ_CACHE_BYTES = 16 << 20


def quantize_layer(q: np.ndarray, k: np.ndarray, v: np.ndarray, quant: QuantParams,
                   amax: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, *, frozen: bool = False) -> QLayer:
    """Quantize one layer's float Q [heads, T, D], K and V [kv_heads, T, D] per head tensor.

    ``amax``: calibrated (Q, K, V) ranges per head (default: each head tensor's own max|x|).
    ``frozen``: the caller never writes the codes afterwards (:attr:`QLayer.frozen`).
    """
    qa, ka, va = amax if amax is not None else (None, None, None)
    qc, qs = quantize_heads(q, quant.query_bits, qa)
    kc, ks = quantize_heads(k, quant.key_total_bits, ka)
    vc, vs = quantize_heads(v, quant.value_bits, va)
    return QLayer(qc, qs, kc, ks, vc, vs, frozen=frozen)


@dataclass
class HeadRows:
    """Per-row results of one alive query head (one entry per query row processed)."""

    head: int
    n_keys: np.ndarray  # keys each row attends to (count)
    requant: np.ndarray  # row needed the K LSBs (bool)
    n_values: np.ndarray  # V vectors each row uses after local V pruning (count)
    topk_cycles: np.ndarray  # local-V top-k engine cycles of each row (0: no selection needed)
    topk_fill: np.ndarray  # of which fill cycles, overlapped with the softmax output stream
    topk_filter: np.ndarray  # of which filter cycles (the rest are quick-select rounds)
    abs_out_sum: float  # sum of |attention output| (head importance increment)
    v_pos: np.ndarray  # sorted positions whose V this head's rows use (union over its rows)
    passes: np.ndarray | None = None  # Q x K / softmax passes of each row; None: 1 + requant (untiled rows)

    def row_passes(self) -> np.ndarray:
        """Passes of Q x K and softmax per row (:mod:`hwsim.units.tiling`): ``1 + requant`` unless tiled."""
        return np.where(self.requant, 2, 1).astype(np.int64) if self.passes is None else self.passes

    @classmethod
    def stack(cls, heads: list["HeadRows"]) -> "HeadRows":
        """The rows of several heads as one (row arrays concatenated in order; head and V set of the first)."""
        cat = lambda name: np.concatenate([getattr(h, name) for h in heads])  # noqa: E731
        passes = None if all(h.passes is None for h in heads) else np.concatenate([h.row_passes() for h in heads])
        return cls(heads[0].head, cat("n_keys"), cat("requant"), cat("n_values"), cat("topk_cycles"),
                   cat("topk_fill"), cat("topk_filter"), sum(h.abs_out_sum for h in heads), heads[0].v_pos, passes)

    @classmethod
    def join(cls, parts: list["HeadRows"]) -> "HeadRows":
        """One head's rows computed in query chunks, in order (V set: the union)."""
        if len(parts) == 1:
            return parts[0]
        joined = cls.stack(parts)
        joined.v_pos = np.unique(np.concatenate([h.v_pos for h in parts]))
        return joined


@dataclass
class LayerResult:
    """What one :func:`attend` call computed for one layer and one set of query positions."""

    heads: list[HeadRows]
    token_importance: np.ndarray  # [tokens] probability mass received by each key position (all heads, rows)
    k_pos: np.ndarray  # alive key positions (sorted)
    group_v_used: dict[int, np.ndarray] = field(default_factory=dict)  # kv group -> sorted positions fetched for V
    group_requant: dict[int, bool] = field(default_factory=dict)  # kv group -> any row needed K LSBs
    #: kv group -> per query block (design.sram.query_block) the sorted positions its rows use for V
    #: and whether a row of the block needed K LSBs; only for groups whose keys exceed one V buffer
    group_blocks: dict[int, list[tuple[np.ndarray, bool]]] = field(default_factory=dict)
    err_sq: float = 0.0  # sum over sampled rows of |out - out_dense|^2
    ref_sq: float = 0.0  # sum over sampled rows of |out_dense|^2
    mass_kept: float = 0.0  # sum over sampled rows of dense probability mass on the keys used
    sampled_rows: int = 0
    #: ``HeadRows.stack(heads)``, built from the stack's arrays where one stack made every row (a generation
    #: layer whose groups have the same number of alive heads); None: the caller stacks ``heads``
    stacked: HeadRows | None = None


#: The top-k cycle breakdown a row's timing uses (:data:`hwsim.units.topk.golden.DETAIL_FIELDS`).
_TOPK_FIELDS = ("cycles", "fill_cycles", "filter_cycles")
#: Scores per stack of K/V groups in :func:`attend` (elements): generation rows stack every group,
#: long summarization rows run a group at a time. The result does not depend on it.
_STACK_ELEMENTS = 1 << 16
#: Scores of one group computed at once (elements): longer contexts run their queries in chunks of
#: whole query blocks, so memory stays bounded (float sums then add chunk by chunk; no workload that
#: fits one SRAM load comes near it).
_CHUNK_ELEMENTS = 1 << 24


def row_sample(n: int, limit: int) -> np.ndarray:
    """Up to ``limit`` evenly spaced indices of ``0 .. n - 1`` (all of them when ``n <= limit``), sorted."""
    if n <= limit:
        return np.arange(n)
    if limit <= 0:
        return np.arange(0)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def attend(
    ql: QLayer,
    raw: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    q_pos: np.ndarray,
    k_pos: np.ndarray,
    heads_alive: np.ndarray,
    group_size: int,
    causal: bool,
    scale: float,
    units: SpattenUnits,
    local_v_keep: float | None,
    fidelity_rows: int = 16,
    outputs: np.ndarray | None = None,
) -> LayerResult:
    """Run the attention of one layer for queries ``q_pos`` over alive keys ``k_pos``.

    ``raw`` holds the layer's unquantized (q, k, v) for the dense reference (k and v float32). ``heads_alive`` is a
    bool mask over query heads; pruned heads produce no output (and count as zero output in the
    fidelity). Positions are token indices; with ``causal`` a query sees keys at positions <= its
    own. Scores, probabilities, selections and outputs come from the golden view of each unit in
    ``units`` (local-V top-k on the row's probabilities on the engine ``units.topk``).
    ``outputs``, when given, is a float32 array [heads, len(q_pos), head_dim] that receives every
    alive head's attention output rows (what prob x V delivers); pruned heads' rows are untouched.
    """
    q_pos = np.asarray(q_pos, np.int64)
    k_pos = np.asarray(k_pos, np.int64)
    n_tokens = ql.q.shape[1]
    nq, nk = q_pos.size, k_pos.size
    if causal and nq == 1 and (not nk or k_pos[-1] <= q_pos[0]):  # one query after every (sorted) key: generation
        valid, n_keys = None, np.full(1, nk, np.int64)
    elif causal:
        valid = k_pos[None, :] <= q_pos[:, None]
        n_keys = valid.sum(axis=1).astype(np.int64)
        if nk and int(k_pos.max()) <= int(q_pos.min(initial=n_tokens)):  # every query sees every key
            valid = None
    else:
        valid = None
        n_keys = np.full(nq, nk, np.int64)
    if nq and n_keys.min() < 1:
        raise HwsimError("a query has no alive key to attend to (token pruning removed its whole context)")
    importance = np.zeros(n_tokens, np.float64)
    result = LayerResult(heads=[], token_importance=importance, k_pos=k_pos)
    sample = row_sample(nq, fidelity_rows)
    raw_q, raw_k, raw_v = raw
    groups: dict[int, list[int]] = {}
    for h in np.flatnonzero(heads_alive).tolist():
        groups.setdefault(h // group_size, []).append(h)

    sampled: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    # groups with the same number of alive heads run as one stack [groups, heads, rows, keys]
    stacks: dict[int, list[int]] = {}
    for g, members in groups.items():
        stacks.setdefault(len(members), []).append(g)
    sums: dict[int, np.ndarray] = {}
    block = units.tiling.query_block
    chunk = nq
    biggest = max((len(m) for m in groups.values()), default=1)
    if nq * nk * biggest > _CHUNK_ELEMENTS:  # whole query blocks per chunk
        chunk = max(block, _CHUNK_ELEMENTS // max(1, nk * biggest) // block * block)
    blocks_needed = nk > min(units.tiling.value_tile, units.tiling.key_tile)  # K streams or V spills
    calls = 0
    for c0 in range(0, max(nq, 1), max(chunk, 1)):
        rows = slice(c0, c0 + chunk)
        local = sample[(sample >= c0) & (sample < c0 + chunk)] - c0
        # causal: a chunk's queries see only the keys up to its last query (all of them without chunks)
        kc = nk
        if causal and nq and valid is not None:
            kc = int(np.searchsorted(k_pos, q_pos[rows].max(), side="right"))
        for size, gs in stacks.items():
            # stack only as many groups as keep the scores cache-sized (a long encoder row is big on its own)
            per = max(1, _STACK_ELEMENTS // max(1, size * min(nq, chunk) * kc))
            for i in range(0, len(gs), per):
                part = gs[i:i + per]
                calls += 1
                got = _attend_stack(result, sampled, ql, part, [groups[g] for g in part], q_pos=q_pos[rows],
                                    k_pos=k_pos[:kc], valid=None if valid is None else valid[rows, :kc],
                                    n_keys=n_keys[rows], scale=scale, units=units, local_v_keep=local_v_keep,
                                    outputs=None if outputs is None else outputs[:, rows], sample=local,
                                    blocks=block if blocks_needed else 0)
                for g, s in got.items():
                    if kc < nk:  # the keys no query of the chunk sees received nothing
                        s = np.pad(s, ((0, 0), (0, nk - kc)))
                    sums[g] = s if g not in sums else sums[g] + s
    if calls != 1:  # several stacks: the caller stacks the heads
        result.stacked = None
    by_head: dict[int, list[HeadRows]] = {}
    for hr in result.heads:
        by_head.setdefault(hr.head, []).append(hr)
    result.heads = [HeadRows.join(by_head[h]) for h in sorted(by_head)]
    for h, parts in list(sampled.items()):  # a head's sampled rows of every chunk, used-key masks widened to every key
        if len(parts) == 1 and parts[0][1].shape[1] == nk:  # one chunk over every key (generation rows): as it is
            sampled[h] = parts[0]
        else:
            sampled[h] = (np.concatenate([o for o, _ in parts]),
                          np.concatenate([np.pad(u, ((0, 0), (0, nk - u.shape[1]))) for _, u in parts]))
    if groups:  # token importance: group by group, head by head, in order (float sums are order-sensitive)
        _add_rows_at(importance, k_pos, np.concatenate([sums[g] for g in groups]))
    if sample.size:  # pruned heads (absent from ``sampled``) count as zero output
        n_heads, n_groups = np.asarray(heads_alive).size, ql.k.shape[0]
        qs = q_pos[sample]
        if n_heads == n_groups * group_size:  # every group at once
            batches = [np.arange(n_heads).reshape(n_groups, group_size)]
        else:
            batches = [np.arange(g * group_size, min(n_heads, (g + 1) * group_size))[None] for g in range(n_groups)]
        for hs in batches:
            gs = hs[:, 0] // group_size
            every = gs.size == n_groups  # every K/V group: the layer's arrays as they are, not a copy
            _fidelity(result, [[sampled.get(int(h)) for h in row] for row in hs], raw_q[hs[:, :, None], qs[None, None, :]],
                      raw_k if every else raw_k[gs], raw_v if every else raw_v[gs], qs, k_pos, causal, scale)
    return result


def _attend_stack(result: LayerResult, sampled: dict, ql: QLayer, gs: list[int], members: list[list[int]], *,
                  q_pos, k_pos, valid, n_keys, scale, units: SpattenUnits, local_v_keep, outputs,
                  sample, blocks: int = 0) -> dict[int, np.ndarray]:
    """:func:`attend` for K/V groups ``gs`` with the same number of alive heads, as one stack.

    Every array carries a leading group axis; each group's arithmetic is the per-group one (the
    same matrix products, reductions and top-k requests), so the result does not depend on how
    groups are stacked. Returns each group's probability mass per head and key [heads, keys], which
    the caller adds to the token importance in group order. ``q_pos`` may be one chunk of whole
    query blocks of a longer call (the caller joins the chunks); ``blocks`` (the query block, 0:
    none) records each block's V positions and requant flag in ``result.group_blocks``.
    """
    plan = units.quant
    lsb = plan.key_lsb_bits
    G, m, nq, nk = len(gs), len(members[0]), q_pos.size, k_pos.size
    ga = np.asarray(gs)
    heads = np.asarray(members)  # [G, m]
    kept = ql.dequantized(lsb) if nq == 1 else None  # a generation row: gather the layer's float K/V
    if kept is not None:
        if G == kept[0].shape[0] and list(gs) == list(range(G)):  # every K/V group, in order: one take
            pick = lambda a: np.take(a, k_pos, axis=1)  # noqa: E731
        else:
            pick = lambda a: a[ga[:, None], k_pos[None, :]]  # noqa: E731
        k_full, v_deq = pick(kept[0]), pick(kept[2])
        k_first = pick(kept[1]) if lsb else k_full
    else:
        k_codes = ql.k[ga[:, None], k_pos[None, :]]  # [G, nk, D]
        k_scale = ql.k_scale[ga][:, None, None]
        k_full = dequantize(k_codes, k_scale)
        k_first = dequantize_msb(k_codes, k_scale, lsb) if lsb else k_full
        v_deq = dequantize(ql.v[ga[:, None], k_pos[None, :]], ql.v_scale[ga][:, None, None])
    qd = dequantize(ql.q[heads[:, :, None], q_pos[None, None, :]], ql.q_scale[heads][:, :, None, None])
    probs = qk_unit.scores(qd, k_first[:, None], scale)  # [G, m, nq, nk]
    if valid is not None:
        probs[:, :, ~valid] = -np.inf
    probs, row_max = softmax_rows(probs, inplace=True, row_max=True)
    any_requant = np.zeros(G, bool)
    if plan.progressive:
        requant = needs_lsb_from_max(row_max, plan.threshold)  # [G, m, nq]
        for gi in np.flatnonzero(requant.any(axis=(1, 2))):
            rq = requant[gi]
            full = qk_unit.scores(qd[gi][rq], k_full[gi], scale)
            if valid is not None:
                full[~np.broadcast_to(valid, (m, nq, nk))[rq]] = -np.inf
            probs[gi][rq] = softmax_rows(full, inplace=True)
            any_requant[gi] = True
    else:
        requant = np.zeros((G, m, nq), bool)
    sums = _key_sums(probs)  # [G, m, nk]
    cycles = np.zeros((G, m, nq), np.int64)
    fill = np.zeros((G, m, nq), np.int64)
    filt = np.zeros((G, m, nq), np.int64)
    if local_v_keep is not None and nq:
        per_row = np.maximum(1, np.ceil(local_v_keep * n_keys - 1e-9)).astype(np.int64)
        select = per_row < n_keys
        every = bool(select.all())  # long rows: every row selects, so the stack is the request matrix as it is
        keep = None if every else np.broadcast_to(valid if valid is not None else True, (G, m, nq, nk)).copy()
        if select.any():
            rows = slice(None) if every else np.broadcast_to(select, (G, m, nq))
            codes = topk_golden.quantize_scores(probs.reshape(-1, nk) if every else probs[rows], units.topk.width)
            ks, n_valid = per_row[select], n_keys[select]
            ks, n_valid = np.concatenate([ks] * (G * m)), np.concatenate([n_valid] * (G * m))  # np.tile, in one call
            if nk <= units.topk.max_n:  # one batch on the engine: requests built here, checked by construction
                mask, det = topk_golden.select_batch_params(units.topk, codes, ks, n_valid)
                detail = {f: det[:, topk_golden.DETAIL_FIELDS.index(f)] for f in _TOPK_FIELDS}
            else:  # rows longer than the engine's max_n run hierarchically
                mask, detail = select_rows(codes, ks, lanes=units.topk.lanes, seed=units.topk.seed,
                                           in_lanes=units.topk.in_lanes, n_valid=n_valid, max_n=units.topk.max_n)
            del codes
            if every:  # a selection keeps only keys its row sees (the first n_valid)
                keep = mask.reshape(G, m, nq, nk)
            else:
                keep[rows] = mask
            for name, into in (("cycles", cycles), ("fill_cycles", fill), ("filter_cycles", filt)):
                into[rows] = detail[name].reshape(G, m, nq) if every else detail[name]
        n_values = np.where(select, per_row, n_keys)
        kept_probs = probs  # the sums are taken: zero the keys local V drops in place
        np.multiply(probs, keep, out=kept_probs)
    else:
        keep = None if valid is None else np.broadcast_to(valid, (G, m, nq, nk))
        n_values = n_keys
        kept_probs = probs  # masked (causal) keys already carry probability 0
    used_sampled = kept_probs[:, :, sample] > 0 if sample.size else None  # before the in-place quantization
    out = pv_unit.output(kept_probs, v_deq[:, None], units.pv, inplace=True)  # [G, m, nq, D]
    used = keep.any(axis=2) if keep is not None else np.full((G, m, nk), nq > 0)
    v_used = used.any(axis=1)
    tiling = units.tiling
    two_pass = bool(tiling.two_pass(n_keys).any())
    # each head's sum of |output| in float64: a generation row's in one call (the same sums, bit for bit)
    abs_sums = np.abs(out).sum(axis=(2, 3), dtype=np.float64).tolist() if nq == 1 else None
    first = len(result.heads)
    for gi, g in enumerate(gs):
        if outputs is not None:
            outputs[members[gi]] = out[gi]
        for i, h in enumerate(members[gi]):
            passes = tiling.passes(n_keys, requant[gi, i]) if two_pass else None
            abs_sum = abs_sums[gi][i] if abs_sums is not None else float(np.abs(out[gi, i]).sum(dtype=np.float64))
            result.heads.append(HeadRows(h, n_keys, requant[gi, i], n_values, cycles[gi, i], fill[gi, i],
                                         filt[gi, i], abs_sum, k_pos[used[gi, i]], passes))
            if sample.size:
                sampled.setdefault(h, []).append((out[gi, i][sample], used_sampled[gi, i]))
        prev = result.group_v_used.get(g)
        result.group_v_used[g] = k_pos[v_used[gi]] if prev is None else np.union1d(prev, k_pos[v_used[gi]])
        result.group_requant[g] = result.group_requant.get(g, False) or bool(any_requant[gi])
        if blocks:
            for b0 in range(0, nq, blocks):
                rows_b = slice(b0, b0 + blocks)
                mask_b = keep[gi, :, rows_b].any(axis=(0, 1)) if keep is not None else np.ones(nk, bool)
                result.group_blocks.setdefault(g, []).append((k_pos[mask_b], bool(requant[gi, :, rows_b].any())))
    if nq == 1 and not two_pass:  # the rows of the stack as HeadRows.stack gives them (heads in stack order)
        rows = G * m
        result.stacked = HeadRows(members[0][0], np.repeat(n_keys, rows), requant.reshape(rows),
                                  np.repeat(n_values, rows), cycles.reshape(rows), fill.reshape(rows),
                                  filt.reshape(rows), sum(a for per in abs_sums for a in per),
                                  result.heads[first].v_pos)
    return {g: sums[gi] for gi, g in enumerate(gs)}


def _key_sums(probs: np.ndarray) -> np.ndarray:
    """Each head's probability mass per key, summed over its rows: float64 [G, m, nk] of float32 [G, m, nq, nk].

    The rows are added in order in float64, as ``probs.sum(axis=2, dtype=np.float64)`` does (bit for
    bit), in one pass without the float64 copy of every row.
    """
    G, m, nq, nk = probs.shape
    out = np.empty((G * m, nk), np.float64)
    _key_sums_kernel(np.ascontiguousarray(probs).reshape(G * m, nq, nk), out)
    return out.reshape(G, m, nk)


@njit(cache=True)
def _add_rows_at(target, idx, rows):
    """``for row in rows: target[idx] += row`` (``idx`` unique), the rows added in order, in one call."""
    for r in range(rows.shape[0]):
        for k in range(rows.shape[1]):
            target[idx[k]] += rows[r, k]


@njit(cache=True)
def _key_sums_kernel(p, out):
    for b in range(p.shape[0]):
        acc = out[b]
        acc[:] = 0.0
        for q in range(p.shape[1]):
            row = p[b, q]
            for k in range(p.shape[2]):
                acc[k] += np.float64(row[k])


def _fidelity(res: LayerResult, outs, q, k, v, q_pos, k_pos, causal, scale) -> None:
    """Accumulate error and kept probability mass of sampled rows against dense float attention.

    ``q`` is [groups, heads, rows, dim], ``k`` and ``v`` [groups, tokens, dim] (a stack of K/V
    groups); ``outs[g][i]`` is (output rows, used-key mask) of head i of group g, or None for a
    pruned head. Sums are accumulated group by group, head by head.
    """
    groups, heads, rows, dim = q.shape
    ctx = int(q_pos.max()) + 1 if causal else k.shape[1]
    s = qk_unit.scores(np.asarray(q, np.float32).reshape(groups, heads * rows, dim), k[:, :ctx], scale)
    s = s.reshape(groups, heads, rows, ctx)
    if causal:
        s[:, :, np.arange(ctx)[None, :] > q_pos[:, None]] = -np.inf
    p = softmax_rows(s)
    ref = (p @ v[:, None, :ctx]).astype(np.float64)
    ref_sq = np.sum(ref**2, axis=(2, 3))
    # every alive head's error and kept mass at once: each (group, head) is reduced over its own
    # contiguous rows x dim (rows x keys) block, the same sum a head alone gives
    alive = [(g, i) for g in range(groups) for i, entry in enumerate(outs[g]) if entry is not None]
    if alive:
        ga, ha = np.array(alive).T
        err = np.sum((np.stack([outs[g][i][0] for g, i in alive]) - ref[ga, ha]) ** 2, axis=(1, 2))
        mass = np.sum(p[ga, ha][:, :, k_pos] * np.stack([outs[g][i][1] for g, i in alive]), axis=(1, 2))
    n = 0
    for g in range(groups):
        res.ref_sq += float(ref_sq[g].sum())
        res.sampled_rows += heads * rows
        for i, entry in enumerate(outs[g]):
            if entry is None:
                res.err_sq += float(ref_sq[g, i])
                continue
            res.err_sq += float(err[n])
            res.mass_kept += float(mass[n])
            n += 1


def keep_count(keep: float, total: int) -> int:
    """Tokens (or heads) kept of ``total`` at keep ratio ``keep``: ``max(1, round(keep * total))``."""
    return max(1, int(math.floor(keep * total + 0.5)))

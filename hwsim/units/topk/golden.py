"""Golden model of the quick-select top-k engine: the selection and its exact cycle count.

The engine is SpAtten's (Wang, Zhang, Han, HPCA 2021, §4 "Top-k engine", Algorithm 1;
docs/sources.md SpAtten §3) with the corrected termination of §3.2 and the two fixes of §3.3
(the pivot is re-sampled every round; the tie quota is k minus the count strictly greater).
This module is the reference for every other view: ``rtl/topk.py`` must produce the same indices
and the same cycle count, and ``hwsim.units.topk.timing`` takes its occupancy from here.

Behaviour
---------
Given ``n`` unsigned integer scores (a stream) and ``1 <= k <= n``, the engine outputs the indices
of the ``k`` largest in input order. Among the scores equal to the threshold (the k-th largest)
the earliest in the stream win.

Declared microarchitecture (the cycle count below is exact for it; ``P`` = ``lanes``,
``I`` = ``in_lanes``; a cycle is one clock of the engine)
-----------------------------------------------------------------------------------------------
Buffers: DATA (the original stream), FIFO_L and FIFO_R, each ``ceil(max_n / P)`` rows of ``P``
scores, one synchronous read port and one write port each.

1. **Fill** (``ceil(n / I)`` cycles: one input beat per cycle). Input beats of ``I`` scores (the
   last beat carries a count) are written to DATA and to FIFO_L at row 0, 1, ... When ``I <= P``
   beats are regrouped into rows of ``P`` (a row is written when full or at the last beat). When
   ``I > P`` the two buffers are ``I`` scores wide: a beat is one wide write (``I / P`` rows of
   ``P``), the rounds and the filter read one ``P``-wide slice of a wide row per cycle, and the
   rounds' writes to FIFO_L enable one slice (a byte-enable-style write port). So a narrow engine
   keeps the ``I``-wide input: the released ``TopK`` takes 8-score input rows and keeps the
   original stream in rows of that width (``data_fifo``, docs/sources.md SpAtten §3.3), and the
   paper's 1-lane baseline (Fig. "perfbreak") sits behind the same 8-score stream. The round that
   follows starts on the next cycle.
2. **Quick-select rounds** on the current set ``S`` of ``m`` scores, stored in stream order in
   rows ``0 .. R-1`` of one FIFO, ``R = ceil(m / P)``. Each round costs ``R + 4`` cycles:

   * 1 cycle *pivot address*: the pivot LFSR (16-bit Galois, taps 0xB400, reloaded with
     ``seed % 65535 + 1`` at the start of every request) advances 16 steps to a fresh word ``w``;
     the pivot is ``S[(w * m) >> 16]``, whose row is addressed now;
   * ``R`` cycles *read*: rows ``0 .. R-1`` of the FIFO, one per cycle (the pivot is latched
     from the read port in the first of them);
   * 2 cycles of pipeline drain: *compare* (two comparator arrays of ``P``: ``x > pivot`` and
     ``x < pivot``; equality count = popcount of neither; two zero eliminators compact each side,
     registered) and *write* (each side is appended to a row accumulator and a full row is
     written to FIFO_R (``>``) or FIFO_L (``<``) from row 0; a write never overtakes the read
     pointer because a side never holds more elements than were read);
   * 1 cycle *flush and decide*: partial rows are written; with ``G = |x > p|``, ``E = |x == p|``
     and ``k1`` the rank still sought (``k`` at the start): ``G >= k1`` keeps FIFO_R as the next
     set; ``G + E >= k1`` ends the search with threshold ``p`` and tie quota ``q = k1 - G``;
     otherwise ``k1 -= G + E`` and FIFO_L is the next set.
3. **Filter** (``r_last + 4 + corner`` cycles): DATA rows are read from row 0, one per cycle;
   a third comparator stage keeps ``x > p`` and the first ``q`` of ``x == p`` (an inclusive
   prefix sum of the equality flags plus the count carried from earlier rows); a zero
   eliminator compacts the kept (index, score) pairs (registered); a realign stage packs them
   into output beats of ``P`` pairs held in the output register (the last beat partial, with
   ``last``). ``r_last`` is the DATA row holding the k-th kept element; the last beat is accepted
   3 cycles after that row is read, plus ``corner`` = 1 when that row also completes the full
   beat before a partial last beat (two beats from one row need two cycles).

``cycles`` counts from the cycle the first input beat is accepted to the cycle the last output
beat is accepted, both included, with no source pauses and no sink back-pressure::

    cycles = ceil(n / I) + sum over rounds (ceil(m / P) + 4) + r_last + 4 + corner

With ``overlap = "none"`` the engine accepts the next request's first beat on the cycle after the
last output beat, so ``cycles`` is also its occupancy per request; the other overlap modes start
the next request earlier (:func:`hwsim.units.topk.timing.sequence_schedule`). Output beats: up to ``P`` (index, score) pairs, a
count and ``last``; every beat but the last is full.

Reproducibility: the LFSR is reloaded from the seed for every request, so a row's selection and
cycles depend only on (scores, k, lanes, in_lanes, seed); ``select_batch`` row ``r`` equals
``select`` of that row.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.typed import List

from ...errors import HwsimError
from .params import LFSR_BITS, LFSR_STEPS_PER_DRAW, LFSR_TAPS, TopKParams, check_power_of_two, lfsr_init

__all__ = [
    "select",
    "select_batch",
    "select_batch_detail",
    "select_batch_params",
    "select_rounds",
    "select_params",
    "select_detail",
    "quantize_scores",
    "zero_eliminate",
    "zero_eliminate_layers",
    "lfsr_draw",
    "ROUND_OVERHEAD_CYCLES",
    "FILTER_OVERHEAD_CYCLES",
    "DETAIL_FIELDS",
    "ROUND_FIELDS",
]

#: Cycles a round costs on top of its ``ceil(m / P)`` read cycles: pivot address, compare, write,
#: flush-and-decide (declared above; the authors' C++ model charges 3 + 1, spatten.md §3.4).
ROUND_OVERHEAD_CYCLES = 4
#: Cycles of the filter on top of ``r_last + 1`` read cycles: compare + ZE, realign, output beat.
FILTER_OVERHEAD_CYCLES = 3

#: Columns of the detail array of :func:`select_batch_detail` (all int64).
DETAIL_FIELDS = (
    "cycles", "fill_cycles", "quickselect_cycles", "filter_cycles", "rounds", "threshold", "ties_kept",
)
#: Columns of :func:`select_rounds` (one row per quick-select round).
ROUND_FIELDS = ("set_elements", "pivot_index", "pivot", "greater", "equal", "less", "cycles")

_LFSR_MASK = (1 << LFSR_BITS) - 1


# --------------------------------------------------------------------------------------------
# numba kernels (plain arrays in and out)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _lfsr_draw(state):
    for _ in range(LFSR_STEPS_PER_DRAW):
        lsb = state & 1
        state >>= 1
        if lsb:
            state ^= LFSR_TAPS
    return state


@njit(cache=True)
def _count_split(S, m, p):
    g = 0
    l = 0
    for i in range(m):
        v = S[i]
        g += v > p
        l += v < p
    return g, l


@njit(cache=True)
def _compact(S, m, p, out, greater):
    """Keep the elements of ``S[:m]`` above (``greater``) or below ``p`` in order (a FIFO write)."""
    j = 0
    for i in range(m):
        v = S[i]
        out[j] = v
        j += (v > p) if greater else (v < p)


@njit(cache=True)
def _select_row(x, n, k, P, I, s0, scratch, keep, detail, log):
    """Select the top ``k`` of ``x[:n]`` into ``keep[:n]`` (pre-zeroed); fill ``detail`` (7).

    Each round counts both sides (what the hardware's counters hold at the decision) and then
    keeps only the side the decision selects, in stream order (what the FIFO holds).
    """
    fill = (n + I - 1) // I
    S = x
    nxt = 0
    m = n
    k1 = k
    state = s0
    qs = 0
    rounds = 0
    theta = 0
    q = 0
    while True:
        state = _lfsr_draw(state)
        idx = (state * m) >> LFSR_BITS
        p = S[idx]
        g, l = _count_split(S, m, p)
        e = m - g - l
        rc = (m + P - 1) // P + 4
        if rounds < log.shape[0]:
            log[rounds, 0] = m
            log[rounds, 1] = idx
            log[rounds, 2] = p
            log[rounds, 3] = g
            log[rounds, 4] = e
            log[rounds, 5] = l
            log[rounds, 6] = rc
        qs += rc
        rounds += 1
        if g >= k1:
            T = scratch[nxt]
            _compact(S, m, p, T, True)
            m = g
        elif g + e >= k1:
            theta = p
            q = k1 - g
            break
        else:
            k1 -= g + e
            T = scratch[nxt]
            _compact(S, m, p, T, False)
            m = l
        S = T
        nxt = 1 - nxt
    # filter pass over the original stream: > theta, then the first q ties in stream order
    full_mark = (k // P) * P
    kept = 0
    eq_seen = 0
    pos_full = -1
    pos_last = n - 1
    for i in range(n):
        v = x[i]
        if v > theta or (v == theta and eq_seen < q):
            keep[i] = True
            kept += 1
            if kept == full_mark:
                pos_full = i
            if kept == k:
                pos_last = i
                break
        if v == theta:
            eq_seen += 1
    r_last = pos_last // P
    corner = 1 if (k % P != 0 and pos_full >= 0 and pos_full // P == r_last) else 0
    filt = r_last + 1 + 3 + corner
    detail[0] = fill + qs + filt
    detail[1] = fill
    detail[2] = qs
    detail[3] = filt
    detail[4] = rounds
    detail[5] = theta
    detail[6] = q


@njit(cache=True)
def _select_rows(x2d, ks, nv, P, I, s0, keep, detail):
    rows = x2d.shape[0]
    scratch = np.empty((2, max(x2d.shape[1], 1)), dtype=np.int64)
    log = np.empty((0, 7), dtype=np.int64)
    for r in range(rows):
        _select_row(x2d[r], nv[r], ks[r], P, I, s0, scratch, keep[r], detail[r], log)


@njit(cache=True)
def _select_one(x, k, P, I, s0, keep, detail, log):
    scratch = np.empty((2, max(x.shape[0], 1)), dtype=np.int64)
    _select_row(x, x.shape[0], k, P, I, s0, scratch, keep, detail, log)


@njit(cache=True)
def _ze_layers(values, keep, layers, valid):
    """Zero eliminator: exclusive prefix sum of drop flags, then log2(P) shift layers."""
    P = values.shape[0]
    cnt = np.zeros(P, dtype=np.int64)
    c = 0
    for i in range(P):
        cnt[i] = c
        c += 0 if keep[i] else 1
    cur = np.zeros(P, dtype=np.int64)
    cv = np.zeros(P, dtype=np.bool_)
    cc = np.zeros(P, dtype=np.int64)
    for i in range(P):
        if keep[i]:
            cur[i] = values[i]
            cv[i] = True
            cc[i] = cnt[i]
    layers[0] = cur
    valid[0] = cv
    s = 1
    j = 0
    while s < P:
        new = np.zeros(P, dtype=np.int64)
        nvv = np.zeros(P, dtype=np.bool_)
        nc = np.zeros(P, dtype=np.int64)
        for i in range(P):
            if i + s < P and cv[i + s] and (cc[i + s] >> j) & 1:
                new[i] = cur[i + s]
                nvv[i] = True
                nc[i] = cc[i + s]
            elif cv[i] and not (cc[i] >> j) & 1:
                new[i] = cur[i]
                nvv[i] = True
                nc[i] = cc[i]
        cur = new
        cv = nvv
        cc = nc
        j += 1
        s *= 2
        layers[j] = cur
        valid[j] = cv
    return P - c


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


def _int_array(scores, name: str, ndim: int) -> np.ndarray:
    a = np.asarray(scores)
    if a.ndim != ndim:
        raise HwsimError(f"{name} must be a {ndim}-D array of integers, got shape {a.shape}")
    if a.size == 0 and a.dtype.kind == "f":  # np.asarray([]) is float64
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise HwsimError(
            f"{name} must be integers, got dtype {a.dtype}; map real numbers with quantize_scores() first"
        )
    if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
        raise HwsimError(f"{name} must fit in 63 bits, found {int(a.max())}")
    return np.ascontiguousarray(a, dtype=np.int64)


def _check_range(a: np.ndarray, name: str, width: int | None, mask: np.ndarray | None = None) -> None:
    if width is None or a.size == 0:
        return
    hi = (1 << width) - 1
    bad = (a < 0) | (a > hi)
    if mask is not None:
        bad &= mask
    if bad.any():
        pos = np.unravel_index(int(np.argmax(bad)), a.shape)
        where = pos[0] if len(pos) == 1 else tuple(int(p) for p in pos)
        raise HwsimError(
            f"{name}[{where}] = {int(a[pos])} is outside the {width}-bit score range 0..{hi}"
        )


def _check_engine(lanes, in_lanes, seed, width, max_n) -> int:
    check_power_of_two("lanes", lanes)
    check_power_of_two("in_lanes", in_lanes)
    if type(seed) is not int or not 0 <= seed <= 2**32 - 1:
        raise HwsimError(f"seed must be an integer from 0 to 4294967295, not {seed!r}")
    if width is not None and (type(width) is not int or not 2 <= width <= 32):
        raise HwsimError(f"width must be an integer from 2 to 32, not {width!r}")
    if max_n is not None and (type(max_n) is not int or max_n < 1):
        raise HwsimError(f"max_n must be a positive integer, not {max_n!r}")
    return lfsr_init(seed)


def _as_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise HwsimError(f"{name} must be an integer, not {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def lfsr_draw(state: int) -> int:
    """Advance the 16-bit pivot LFSR by one draw (16 steps); return the new state = the word drawn."""
    return int(_lfsr_draw(np.int64(state)))


def _select_checked(scores, k, *, lanes, seed, in_lanes, width, max_n, log_rows):
    s0 = _check_engine(lanes, in_lanes, seed, width, max_n)
    x = _int_array(scores, "scores", 1)
    n = x.shape[0]
    if n == 0:
        raise HwsimError("scores must hold at least 1 element, got 0")
    if max_n is not None and n > max_n:
        raise HwsimError(f"n = {n} scores exceed the engine's max_n = {max_n}")
    k = _as_int("k", k)
    if not 1 <= k <= n:
        raise HwsimError(f"k must be an integer from 1 to n = {n}, not {k}")
    _check_range(x, "scores", width)
    keep = np.zeros(n, dtype=np.bool_)
    detail = np.zeros(len(DETAIL_FIELDS), dtype=np.int64)
    log = np.zeros((log_rows if log_rows else 0, len(ROUND_FIELDS)), dtype=np.int64)
    _select_one(x, k, lanes, in_lanes, s0, keep, detail, log)
    return keep, detail, log


def select(
    scores,
    k: int,
    *,
    lanes: int,
    seed: int = 0,
    in_lanes: int = 8,
    width: int | None = None,
    max_n: int | None = None,
) -> tuple[np.ndarray, int]:
    """Select the ``k`` largest of one row of integer scores, as the engine does.

    Parameters
    ----------
    scores : 1-D integer array-like, n >= 1 elements
        The score stream in input order (unsigned ``width``-bit in hardware).
    k : int
        How many to keep, ``1 <= k <= n``.
    lanes, in_lanes, seed : int
        The engine (see :class:`TopKParams`).
    width, max_n : int, optional
        When given, scores outside ``0 .. 2**width - 1`` and ``n > max_n`` are rejected.

    Returns
    -------
    indices : int64 ndarray (k,)
        Indices of the kept scores, ascending (= input order; ties: earliest first).
    cycles : int
        Exact cycles of the declared microarchitecture (module docstring), first input beat to
        last output beat.

    Raises
    ------
    HwsimError
        One line naming the bad value: non-integer scores, k out of range, n > max_n, a score
        outside ``width`` bits, bad lanes/in_lanes/seed.
    """
    idx, detail = select_detail(
        scores, k, lanes=lanes, seed=seed, in_lanes=in_lanes, width=width, max_n=max_n
    )
    return idx, detail["cycles"]


def select_detail(
    scores,
    k: int,
    *,
    lanes: int,
    seed: int = 0,
    in_lanes: int = 8,
    width: int | None = None,
    max_n: int | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """:func:`select` with the cycle breakdown: ``(indices, detail)``, ``detail`` keyed by :data:`DETAIL_FIELDS`."""
    keep, detail, _ = _select_checked(
        scores, k, lanes=lanes, seed=seed, in_lanes=in_lanes, width=width, max_n=max_n, log_rows=0
    )
    return np.flatnonzero(keep).astype(np.int64), {f: int(v) for f, v in zip(DETAIL_FIELDS, detail)}


def select_rounds(
    scores, k: int, *, lanes: int, seed: int = 0, in_lanes: int = 8
) -> tuple[np.ndarray, dict[str, int]]:
    """Trace one selection: one row per quick-select round and the cycle breakdown.

    Returns ``(rounds, detail)``: ``rounds`` is an int64 array ``[rounds, len(ROUND_FIELDS)]``
    (set size, pivot index in the set, pivot, greater, equal, less, round cycles);
    ``detail`` maps :data:`DETAIL_FIELDS` to ints.
    """
    x = np.asarray(scores)
    _, detail, log = _select_checked(
        x, k, lanes=lanes, seed=seed, in_lanes=in_lanes, width=None, max_n=None, log_rows=max(x.size, 1)
    )
    det = {f: int(v) for f, v in zip(DETAIL_FIELDS, detail)}
    return log[: det["rounds"]].copy(), det


def _rows_checked(scores_2d, ks, n_valid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check a batch of requests: ``(scores [rows, n], ks [rows], n_valid [rows])`` as int64 arrays."""
    x = _int_array(scores_2d, "scores_2d", 2)
    rows, n = x.shape
    ks_a = np.asarray(ks)
    if ks_a.shape != (rows,) or (rows and ks_a.dtype.kind not in "iu"):
        raise HwsimError(f"ks must be an integer array of shape ({rows},), got {ks_a.dtype} {ks_a.shape}")
    ks_a = ks_a.astype(np.int64)
    if n_valid is None:
        nv = np.full(rows, n, dtype=np.int64)
    else:
        nv = np.asarray(n_valid)
        if nv.shape != (rows,) or (rows and nv.dtype.kind not in "iu"):
            raise HwsimError(f"n_valid must be an integer array of shape ({rows},), got {nv.dtype} {nv.shape}")
        nv = nv.astype(np.int64)
        bad = (nv < 1) | (nv > n)
        if bad.any():
            r = int(np.argmax(bad))
            raise HwsimError(f"n_valid[{r}] = {int(nv[r])}: expected an integer from 1 to {n}")
    if n == 0 and rows:
        raise HwsimError("scores_2d rows must hold at least 1 element, got 0 columns")
    bad = (ks_a < 1) | (ks_a > nv)
    if bad.any():
        r = int(np.argmax(bad))
        raise HwsimError(f"ks[{r}] = {int(ks_a[r])}: expected an integer from 1 to n = {int(nv[r])}")
    return x, ks_a, nv


def _batch_checked(scores_2d, ks, *, lanes, seed, in_lanes, n_valid, width, max_n):
    s0 = _check_engine(lanes, in_lanes, seed, width, max_n)
    x, ks_a, nv = _rows_checked(scores_2d, ks, n_valid)
    rows, n = x.shape
    if max_n is not None and rows and int(nv.max()) > max_n:
        r = int(np.argmax(nv > max_n))
        raise HwsimError(f"row {r}: n = {int(nv[r])} scores exceed the engine's max_n = {max_n}")
    if width is not None:
        mask = None if n_valid is None else (np.arange(n)[None, :] < nv[:, None])
        _check_range(x, "scores_2d", width, mask)
    keep = np.zeros((rows, n), dtype=np.bool_)
    detail = np.zeros((rows, len(DETAIL_FIELDS)), dtype=np.int64)
    if rows:
        _select_rows(x, ks_a, nv, lanes, in_lanes, s0, keep, detail)
    return keep, detail


def select_batch(
    scores_2d,
    ks,
    *,
    lanes: int,
    seed: int = 0,
    in_lanes: int = 8,
    n_valid=None,
    width: int | None = None,
    max_n: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Select per row, as :func:`select` does for each row (same seed for every row).

    Parameters
    ----------
    scores_2d : integer array [rows, n]
    ks : integer array [rows]
        k per row, ``1 <= ks[r] <= n_valid[r]``.
    n_valid : integer array [rows], optional
        Length of each row (``1 .. n``); entries past it are ignored and never kept.
    lanes, seed, in_lanes, width, max_n
        As in :func:`select`.

    Returns
    -------
    keep : bool ndarray [rows, n]
        ``keep[r, i]`` is True when score ``i`` of row ``r`` is selected.
    cycles : int64 ndarray [rows]
        Exact engine cycles per row.
    """
    keep, detail = _batch_checked(
        scores_2d, ks, lanes=lanes, seed=seed, in_lanes=in_lanes, n_valid=n_valid, width=width, max_n=max_n
    )
    return keep, detail[:, 0].copy()


def select_batch_detail(
    scores_2d,
    ks,
    *,
    lanes: int,
    seed: int = 0,
    in_lanes: int = 8,
    n_valid=None,
    width: int | None = None,
    max_n: int | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Like :func:`select_batch`, with the cycle breakdown per row.

    Returns ``(keep, detail)`` where ``detail`` maps each of :data:`DETAIL_FIELDS` (``cycles``,
    ``fill_cycles``, ``quickselect_cycles``, ``filter_cycles``, ``rounds``, ``threshold``,
    ``ties_kept``) to an int64 array [rows].
    """
    keep, detail = _batch_checked(
        scores_2d, ks, lanes=lanes, seed=seed, in_lanes=in_lanes, n_valid=n_valid, width=width, max_n=max_n
    )
    return keep, {f: detail[:, i].copy() for i, f in enumerate(DETAIL_FIELDS)}


def select_batch_params(params: TopKParams, codes: np.ndarray, ks: np.ndarray,
                        n_valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`select_batch_detail` on the engine ``params`` with the per-request checks left to the caller.

    For requests built from validated parameters (a simulator's local-V selections, one call per layer
    of generation rows): ``codes`` int64 C-contiguous [rows, n] within ``params.width`` bits (what
    :func:`quantize_scores` returns), ``ks`` and ``n_valid`` int64 [rows] with
    ``1 <= ks <= n_valid <= min(n, params.max_n)``. Only the dtypes and shapes are checked.
    Returns ``(keep [rows, n] bool, detail [rows, len(DETAIL_FIELDS)] int64)``: the same selections and
    cycles as :func:`select_batch_detail` (whose ``detail[f]`` is column ``DETAIL_FIELDS.index(f)``).
    """
    rows = codes.shape[0] if codes.ndim == 2 else -1
    if (codes.dtype != np.int64 or not codes.flags.c_contiguous or ks.dtype != np.int64 or n_valid.dtype != np.int64
            or ks.shape != (rows,) or n_valid.shape != (rows,)):
        raise HwsimError(f"select_batch_params: expected int64 codes [rows, n] (C order) and int64 ks, n_valid [rows], "
                         f"got {codes.dtype} {codes.shape}, {ks.dtype} {ks.shape}, {n_valid.dtype} {n_valid.shape}")
    keep = np.zeros(codes.shape, dtype=np.bool_)
    detail = np.zeros((rows, len(DETAIL_FIELDS)), dtype=np.int64)
    if rows:
        _select_rows(codes, ks, n_valid, params.lanes, params.in_lanes, params.lfsr_init, keep, detail)
    return keep, detail


def select_params(params: TopKParams, scores, k: int) -> tuple[np.ndarray, dict[str, int]]:
    """:func:`select_detail` with every parameter (and the range checks) taken from ``params``."""
    return select_detail(
        scores, k, lanes=params.lanes, seed=params.seed, in_lanes=params.in_lanes,
        width=params.width, max_n=params.max_n,
    )


@njit(cache=True)
def _quantize_rows(a, top, out):
    """:func:`quantize_scores` of each row of a 2-D float array (lo, hi: the row's own), in float64.

    Returns -1, or the flat index of the first non-finite value (nothing else is then meaningful).
    """
    rows, n = a.shape
    for r in range(rows):
        lo = np.inf
        hi = -np.inf
        for j in range(n):
            v = np.float64(a[r, j])
            if not np.isfinite(v):
                return r * n + j
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        span = hi * 0.5 - lo * 0.5
        for j in range(n):
            t = 0.0
            if span > 0:
                t = (np.float64(a[r, j]) * 0.5 - lo * 0.5) / span
            t = min(max(t, 0.0), 1.0)
            out[r, j] = np.int64(np.floor(t * top + 0.5))
    return -1


def quantize_scores(values, width: int, *, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Map real scores to unsigned ``width``-bit integers, monotonically (the float front end).

    Each row (the last axis) is mapped affinely from ``[lo, hi]`` onto ``0 .. 2**width - 1``:
    ``q = floor((x - lo) / (hi - lo) * (2**width - 1) + 1/2)``, clipped. ``lo`` and ``hi`` default
    to the row's minimum and maximum (a constant row maps to 0). The map is non-decreasing, so
    the top-k of the integers is a top-k of the reals up to ties created by rounding.

    Raises :class:`HwsimError` for non-numeric input (strings, objects, booleans, complex), NaN
    or infinite values (naming the first such index), a bad width, or ``hi <= lo``.
    """
    if type(width) is not int or not 2 <= width <= 32:
        raise HwsimError(f"width must be an integer from 2 to 32, not {width!r}")
    try:
        a = np.asarray(values)
    except (ValueError, TypeError) as e:
        raise HwsimError(f"scores must be an array of real numbers ({e})") from None
    if a.dtype.kind not in "iuf":
        raise HwsimError(f"scores must be real numbers, got dtype {a.dtype}")
    if a.ndim == 0:
        raise HwsimError("scores must be an array of real numbers, got a scalar")
    if lo is None and hi is None and a.ndim in (1, 2) and a.dtype.kind == "f" and a.size:
        # one pass per row in numba, the same float64 operations as below (bit-identical codes)
        rows2d = np.ascontiguousarray(a.reshape(-1, a.shape[-1]))
        out = np.empty(rows2d.shape, dtype=np.int64)
        bad = _quantize_rows(rows2d, float((1 << width) - 1), out)
        if bad >= 0:
            pos = np.unravel_index(bad, a.shape)
            where = pos[0] if len(pos) == 1 else tuple(int(p) for p in pos)
            raise HwsimError(f"scores[{where}] = {a[pos]}: expected a finite real number")
        return out.reshape(a.shape)
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.all():
        pos = np.unravel_index(int(np.argmin(finite)), a.shape)
        where = pos[0] if len(pos) == 1 else tuple(int(p) for p in pos)
        raise HwsimError(f"scores[{where}] = {a[pos]}: expected a finite real number")
    for name, v in (("lo", lo), ("hi", hi)):
        if v is not None and not (isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v)):
            raise HwsimError(f"{name} must be a finite real number, not {v!r}")
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.int64)
    lo_a = a.min(axis=-1, keepdims=True) if lo is None else np.float64(lo)
    hi_a = a.max(axis=-1, keepdims=True) if hi is None else np.float64(hi)
    if lo is not None and hi is not None and not hi > lo:
        raise HwsimError(f"hi = {hi} must be greater than lo = {lo}")
    top = float((1 << width) - 1)
    # halves avoid overflow when hi - lo exceeds the float range; every step is monotone
    span = hi_a * 0.5 - lo_a * 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(span > 0, (a * 0.5 - lo_a * 0.5) / np.where(span > 0, span, 1.0), 0.0)
    q = np.floor(np.clip(t, 0.0, 1.0) * top + 0.5)
    return q.astype(np.int64)


def zero_eliminate(values, keep) -> tuple[np.ndarray, int]:
    """Compact the kept lanes of one row to the front, in order (the zero eliminator).

    The hardware of docs/sources.md SpAtten §3.3: an exclusive prefix sum of the drop flags
    gives each lane its zero count; then ``log2(P)`` shifter layers, layer ``j`` moving an element
    left by ``2**j`` when bit ``j`` of its count is set (an incoming element has priority).

    Parameters
    ----------
    values : integer array (P,), P a power of two 1..64
    keep : bool array (P,)

    Returns
    -------
    out : int64 ndarray (P,)
        The kept values in lanes ``0 .. count-1``, zeros after.
    count : int
        Number of kept lanes.
    """
    layers, _, count = zero_eliminate_layers(values, keep)
    return layers[-1].copy(), count


def zero_eliminate_layers(values, keep) -> tuple[np.ndarray, np.ndarray, int]:
    """The zero eliminator layer by layer: ``(layers, valid, count)``.

    ``layers[0]`` is the input with dropped lanes zeroed, ``layers[j + 1]`` the row after the
    shift-by-``2**j`` layer (``log2(P) + 1`` rows of ``P``); ``valid`` marks occupied lanes.
    """
    v = _int_array(values, "values", 1)
    kp = np.asarray(keep)
    if kp.dtype != np.bool_ or kp.shape != v.shape:
        raise HwsimError(f"keep must be a bool array of shape {v.shape}, got {kp.dtype} {kp.shape}")
    P = v.shape[0]
    check_power_of_two("zero eliminator width", P)
    nl = P.bit_length()
    layers = np.zeros((nl, P), dtype=np.int64)
    valid = np.zeros((nl, P), dtype=np.bool_)
    count = _ze_layers(v, np.ascontiguousarray(kp), layers, valid)
    return layers, valid, int(count)


# ---------------------------------------------------------------- hierarchical selection kernels
# The compiled kernels of :mod:`hwsim.units.topk.hierarchical` live here, next to ``_select_row``
# which they call: numba's on-disk cache is invalidated per source file, so a kernel cached in
# another file would keep an old ``_select_row`` compiled into it after this file changes.

#: Keys of the detail of :func:`select_hierarchical_detail` / :func:`select_hierarchical_batch`:
#: ``fill_cycles`` are the level-0 requests' fill cycles (the row's scores streaming in; a timing
#: model may overlap them with their producer), ``filter_cycles`` the final request's filter
#: cycles, ``drop`` 1 for a row selected in drop mode (module docstring).
HIERARCHICAL_FIELDS = ("cycles", "requests", "levels", "tile_cycles", "final_cycles", "fill_cycles", "filter_cycles",
                       "drop")

_F = {f: i for i, f in enumerate(HIERARCHICAL_FIELDS)}
_CYC, _REQ, _LEV, _TILE, _FIN, _FILL, _FILT = (_F[f] for f in ("cycles", "requests", "levels", "tile_cycles",
                                                                "final_cycles", "fill_cycles", "filter_cycles"))


@njit(cache=True)
def _hier_row(x, cnt, k, M, P, I, s0, keep, det, cand, nxt, vals, kept, scratch, d, nolog, log, want_log):
    """One row's levels (module docstring) into ``keep`` and ``det``; requests appended to ``log`` when asked."""
    for j in range(cnt):
        cand[j] = j
    level = 0
    while True:
        final = cnt <= M
        tiles = 1 if final else (cnt + M - 1) // M
        new_cnt = 0
        for t in range(tiles):
            s = t * M
            nt = cnt if final else min(M, cnt - s)
            kt = k if final else min(k, nt)
            for j in range(nt):
                vals[j] = x[cand[s + j]]
                kept[j] = False
            _select_row(vals, nt, kt, P, I, s0, scratch, kept, d, nolog)
            det[_CYC] += d[0]
            det[_REQ] += 1
            if level == 0:
                det[_FILL] += d[1]
            if want_log:
                log.append((level, t, nt, kt, d[0]))
            if final:
                det[_FIN] += d[0]
                det[_FILT] = d[3]
                det[_LEV] = level + 1
                for j in range(nt):
                    if kept[j]:
                        keep[cand[j]] = True
            else:
                det[_TILE] += d[0]
                for j in range(nt):
                    if kept[j]:
                        nxt[new_cnt] = cand[s + j]
                        new_cnt += 1
        if final:
            return
        for j in range(new_cnt):
            cand[j] = nxt[j]
        cnt = new_cnt
        level += 1


@njit(cache=True)
def _buffers(n):
    w = max(n, 1)
    return (np.empty(w, np.int64), np.empty(w, np.int64), np.empty(w, np.int64), np.zeros(w, np.bool_),
            np.empty((2, w), np.int64), np.zeros(7, np.int64), np.empty((0, 7), np.int64))


@njit(cache=True)
def _levels_logged(x2d, ks, nv, M, P, I, s0, keep, det):
    """Rows one after another, with every request logged (the single-row detail)."""
    cand, nxt, vals, kept, scratch, d, nolog = _buffers(x2d.shape[1])
    log = List()
    log.append((0, 0, 0, 0, 0))  # typed by its first entry; dropped below
    for r in range(x2d.shape[0]):
        _hier_row(x2d[r], nv[r], ks[r], M, P, I, s0, keep[r], det[r], cand, nxt, vals, kept, scratch, d, nolog, log,
                  True)
    return log[1:]


@njit(cache=True, parallel=True)
def _levels_parallel(x2d, ks, nv, M, P, I, s0, keep, det):
    """Rows in parallel (each row's requests depend on that row only: the result does not depend on threads)."""
    rows = x2d.shape[0]
    log = List()  # never appended to (want_log False): one for every thread
    log.append((0, 0, 0, 0, 0))
    for r in prange(rows):
        cand, nxt, vals, kept, scratch, d, nolog = _buffers(x2d.shape[1])
        _hier_row(x2d[r], nv[r], ks[r], M, P, I, s0, keep[r], det[r], cand, nxt, vals, kept, scratch, d, nolog, log,
                  False)

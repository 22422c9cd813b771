"""Golden model of a hierarchical top-k: selections longer than one engine request (``n > max_n``).

The quick-select engine (:mod:`hwsim.units.topk.golden`) takes at most ``max_n`` scores per request.
For a longer row the selection is split: the top-k of every tile of at most ``max_n`` scores, then
a top-k of the survivors. Every request is one call of the golden engine, so every request's
indices and cycles are exactly the engine's.

Declared microarchitecture (one engine; ``M`` = ``max_n``)
-----------------------------------------------------------
A *level* takes the current candidate set (at level 0, the row's ``n`` scores in stream order):

* if it holds at most ``M`` scores, one **final request** selects ``k`` of them and the selection
  ends;
* otherwise it is cut into **tiles** of ``M`` consecutive candidates (the last one shorter), and
  tile ``t`` of ``n_t`` candidates is one request selecting ``min(k, n_t)``. The kept candidates of
  all tiles, in stream order, are the next level's set (a *merge* level: the survivors' scores are
  streamed back into the engine from a survivor buffer at ``in_lanes`` per beat).

Requests run **in sequence on the one engine**, tiles in stream order, each level after the
previous one, with no gap: a request's first input beat is accepted on the cycle after the
previous request's last output beat, its input never pauses and its output is never held (the
golden engine's own conditions). The survivor buffer (``<= ceil(n / M) * k`` scores with their
row indices) is written as output beats leave and read as the next request's input beats enter;
it adds no cycles. Therefore::

    cycles = sum over every request (tile and final) of the golden engine's cycles for it

and a row with ``n <= M`` is exactly one golden request (the same indices and cycles as
:func:`hwsim.units.topk.golden.select`). Each request reloads the pivot LFSR from ``seed`` (the
engine's rule), so results depend only on (scores, k, lanes, in_lanes, max_n, seed).

Levels: a tile of ``M`` candidates shrinks to ``k``, so selecting ``k`` directly needs ``k < M``.
With ``k`` well below ``M`` there are two levels (tiles, then the final merge); as ``k`` approaches
``M`` the survivors of one level can exceed ``M`` again and the merge itself is tiled, level after
level, until at most ``M`` remain.

**Drop mode** (``n > M`` and ``k >= M``, but ``n - k < M``: a selection that keeps most of a long
row, such as a cascade's token selection). The engine selects the ``n - k`` scores to *drop*
instead: the same requests, levels and cycles as selecting ``n - k`` on the inverted scores
(``2**width - 1 - x``, or the row's maximum minus ``x`` without a width) written into the engine's
buffers from the last row up (the row read in reverse stream order), and the filter emits the
positions it does not select. Reversed order is what makes it exact: the inverted request keeps the
*latest* of the scores equal to the threshold, so the kept set keeps the earliest, as the flat
selection does. A row with both ``k >= M`` and ``n - k >= M`` is refused (no tile of ``M`` can
shrink either way; raise ``max_n``).

Equality with a flat top-k
--------------------------
The engine keeps the ``k`` first scores in the strict order (score descending, stream position
ascending): the larger score wins, among equal scores the earlier. A score among the flat top-k
has fewer than ``k`` scores ahead of it in that order in the whole row, so also in its tile: it
survives its tile. The survivors are streamed into the next request in stream order, so the next
request ranks equal scores by the same stream position. Hence the hierarchical selection is
**always exactly the flat selection**, as index sets, ties included (drop mode too, by the same
argument on the reversed, inverted row).

Ties are what would make it differ if the survivors were *not* merged in stream order: a merge
that streams tiles in another order (e.g. the most recent tile first) ranks equal scores by that
order, and then keeps the same multiset of scores but possibly other indices among those equal to
the k-th largest score (``tests/hwsim/units/topk/test_hierarchical.py`` shows both cases).
"""

from __future__ import annotations

import numpy as np

from ...errors import HwsimError
from . import golden
from .golden import HIERARCHICAL_FIELDS, _levels_logged, _levels_parallel
from .params import TopKParams, lfsr_init

__all__ = [
    "select_hierarchical",
    "select_hierarchical_detail",
    "select_hierarchical_batch",
    "select_hierarchical_params",
    "select_rows",
    "HIERARCHICAL_FIELDS",
    "REQUEST_FIELDS",
]

# HIERARCHICAL_FIELDS, the keys of the detail of select_hierarchical_detail / select_hierarchical_batch,
# is defined in .golden with the kernels that fill it.

#: Columns of the request log of :func:`select_hierarchical_detail` (one row per engine request, in order).
REQUEST_FIELDS = ("level", "tile", "n", "k", "cycles")


def _check(scores_2d, ks, n_valid, *, lanes, max_n, in_lanes, seed, width):
    golden._check_engine(lanes, in_lanes, seed, width, max_n)
    if max_n is None:
        raise HwsimError("max_n must be a positive integer, not None")
    x, ks_a, nv = golden._rows_checked(scores_2d, ks, n_valid)
    rows, n = x.shape
    bad = (nv > max_n) & (ks_a >= max_n) & (nv - ks_a >= max_n)
    if bad.any():
        r = int(np.argmax(bad))
        raise HwsimError(f"ks[{r}] = {int(ks_a[r])} of n = {int(nv[r])} scores: a hierarchical top-k needs k or "
                         f"n - k below max_n = {max_n} (a tile of max_n scores must shrink); raise topk.max_n to "
                         f"more than {int(min(ks_a[r], nv[r] - ks_a[r]))}")
    if width is not None:
        golden._check_range(x, "scores_2d", width, np.arange(n)[None, :] < nv[:, None])
    return x, ks_a, nv


def _hierarchical(x, ks, nv, *, lanes, max_n, in_lanes, seed, width=None, log: list | None = None):
    """Rows in drop mode are turned into their inverted, reversed selection, run, and turned back.

    A long row with ``k == n`` keeps everything without a request (nothing to select).
    """
    everything = (nv > max_n) & (ks == nv)
    if everything.any():
        rest = ~everything
        keep = np.zeros(x.shape, bool)
        keep[everything] = np.arange(x.shape[1])[None, :] < nv[everything][:, None]
        det = {f: np.zeros(x.shape[0], np.int64) for f in HIERARCHICAL_FIELDS}
        if rest.any():
            k_r, d_r = _hierarchical(x[rest], ks[rest], nv[rest], lanes=lanes, max_n=max_n, in_lanes=in_lanes,
                                     seed=seed, width=width, log=log)
            keep[rest] = k_r
            for f in det:
                det[f][rest] = d_r[f]
        return keep, det
    drop = (nv > max_n) & (ks >= max_n)
    r = np.flatnonzero(drop)
    if r.size:  # each dropped row: its first nv scores inverted, in reverse order
        cols = np.arange(x.shape[1])
        inside = cols[None, :] < nv[r][:, None]
        rev = np.clip(nv[r][:, None] - 1 - cols[None, :], 0, None)  # position j of the reversed row
        x = x.copy()
        ks = np.where(drop, nv - ks, ks)
        top = (np.full(r.size, (1 << width) - 1, np.int64) if width is not None
               else np.where(inside, x[r], 0).max(axis=1))
        x[r] = np.where(inside, top[:, None] - np.take_along_axis(x[r], rev, axis=1), 0)
    keep, det = _levels(x, ks, nv, lanes=lanes, max_n=max_n, in_lanes=in_lanes, seed=seed, log=log)
    if r.size:  # kept: what the reversed selection did not pick
        keep[r] = ~np.take_along_axis(keep[r], rev, axis=1) & inside
    det["drop"] = drop.astype(np.int64)
    return keep, det


def _levels(x, ks, nv, *, lanes, max_n, in_lanes, seed, log: list | None = None):
    """Every row's levels and requests (module docstring), each request one golden engine request."""
    rows, n = x.shape
    keep = np.zeros((rows, n), dtype=np.bool_)
    det = np.zeros((rows, len(HIERARCHICAL_FIELDS)), dtype=np.int64)
    s0 = lfsr_init(seed)
    want_log = log is not None
    args = (np.ascontiguousarray(x, dtype=np.int64), np.asarray(ks, np.int64), np.asarray(nv, np.int64), int(max_n),
            int(lanes), int(in_lanes), s0, keep, det)
    if want_log:
        log.extend((int(a), int(b), int(c), int(d), int(e)) for a, b, c, d, e in _levels_logged(*args))
    else:
        _levels_parallel(*args)
    return keep, {f: det[:, i].copy() for i, f in enumerate(HIERARCHICAL_FIELDS)}


def select_hierarchical_batch(
    scores_2d,
    ks,
    *,
    lanes: int,
    max_n: int,
    seed: int = 0,
    in_lanes: int = 8,
    n_valid=None,
    width: int | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Select the ``ks[r]`` largest of every row hierarchically (module docstring), rows of any length.

    Parameters
    ----------
    scores_2d : integer array [rows, n]
    ks : integer array [rows]
        k per row, ``1 <= ks[r] <= n_valid[r]``; when ``n_valid[r] > max_n``, ``ks[r] < max_n`` or
        (drop mode) ``n_valid[r] - ks[r] < max_n``.
    max_n : int
        Largest request of the engine (scores); longer rows are tiled.
    lanes, seed, in_lanes, n_valid, width
        As in :func:`hwsim.units.topk.golden.select_batch`.

    Returns
    -------
    keep : bool ndarray [rows, n]
        Equal to the flat selection's ``keep`` (module docstring).
    detail : dict of int64 ndarrays [rows]
        :data:`HIERARCHICAL_FIELDS`: ``cycles`` (all requests, exact), ``requests``, ``levels``,
        ``tile_cycles`` (the tile requests) and ``final_cycles`` (the last request).
    """
    x, k, nv = _check(scores_2d, ks, n_valid, lanes=lanes, max_n=max_n, in_lanes=in_lanes, seed=seed,
                      width=width)
    return _hierarchical(x, k, nv, lanes=lanes, max_n=max_n, in_lanes=in_lanes, seed=seed, width=width)


def select_hierarchical_detail(
    scores, k: int, *, lanes: int, max_n: int, seed: int = 0, in_lanes: int = 8, width: int | None = None,
) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """Select the ``k`` largest of one row hierarchically: ``(indices, detail, requests)``.

    ``indices`` ascending (input order); ``detail`` maps :data:`HIERARCHICAL_FIELDS` to ints;
    ``requests`` is an int64 array [requests, len(REQUEST_FIELDS)], one row per engine request in
    the order the engine serves them (level, tile within the level, scores in, k, cycles).
    """
    x = np.asarray(scores)
    if x.ndim != 1:
        raise HwsimError(f"scores must be a 1-D array of integers, got shape {x.shape}")
    if x.size == 0:
        raise HwsimError("scores must hold at least 1 element, got 0")
    kk = golden._as_int("k", k)
    if not 1 <= kk <= x.size:
        raise HwsimError(f"k must be an integer from 1 to n = {x.size}, not {kk}")
    x2, k2, nv = _check(x[None, :], np.array([kk]), None, lanes=lanes, max_n=max_n, in_lanes=in_lanes, seed=seed,
                        width=width)
    log: list = []
    keep, det = _hierarchical(x2, k2, nv, lanes=lanes, max_n=max_n, in_lanes=in_lanes, seed=seed, width=width, log=log)
    requests = np.array(log, dtype=np.int64).reshape(-1, len(REQUEST_FIELDS))
    return np.flatnonzero(keep[0]).astype(np.int64), {f: int(v[0]) for f, v in det.items()}, requests


def select_hierarchical(
    scores, k: int, *, lanes: int, max_n: int, seed: int = 0, in_lanes: int = 8, width: int | None = None,
) -> tuple[np.ndarray, int]:
    """Select the ``k`` largest of one row of any length: ``(indices ascending, exact cycles)``."""
    idx, det, _ = select_hierarchical_detail(scores, k, lanes=lanes, max_n=max_n, seed=seed, in_lanes=in_lanes,
                                             width=width)
    return idx, det["cycles"]


def select_hierarchical_params(params: TopKParams, scores, k: int) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """:func:`select_hierarchical_detail` with every parameter taken from ``params`` (its ``max_n`` tiles)."""
    return select_hierarchical_detail(scores, k, lanes=params.lanes, max_n=params.max_n, seed=params.seed,
                                      in_lanes=params.in_lanes, width=params.width)


def select_rows(codes, ks, *, lanes: int, max_n: int, seed: int = 0, in_lanes: int = 8, n_valid=None,
                width: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows of any length on one engine: ``(keep, detail)`` with ``cycles``, ``fill_cycles``, ``filter_cycles``.

    Rows of at most ``max_n`` scores are one golden request each (:func:`golden.select_batch_detail`,
    in one batch); longer rows are selected hierarchically (:func:`select_hierarchical_batch`).
    """
    fields = ("cycles", "fill_cycles", "filter_cycles")
    x = np.asarray(codes)
    nv = np.full(x.shape[0], x.shape[-1], np.int64) if n_valid is None else np.asarray(n_valid, np.int64)
    if int(nv.max(initial=0)) <= max_n:  # the common case: one batch of flat requests
        keep, det = _flat_rows(x, ks, lanes=lanes, max_n=max_n, seed=seed, in_lanes=in_lanes, n_valid=nv, width=width)
        return keep, {f: det[f] for f in fields}
    ks = np.asarray(ks, np.int64)
    long = nv > max_n
    if long.all():  # long rows only (a long context): no copies
        keep, det = select_hierarchical_batch(x, ks, lanes=lanes, max_n=max_n, seed=seed, in_lanes=in_lanes,
                                              n_valid=nv, width=width)
        return keep, {f: det[f] for f in fields}
    keep = np.zeros(x.shape, bool)
    out = {f: np.zeros(x.shape[0], np.int64) for f in fields}
    for rows, fn in ((~long, _flat_rows), (long, select_hierarchical_batch)):
        if rows.any():
            k_r, d_r = fn(x[rows], ks[rows], lanes=lanes, max_n=max_n, seed=seed, in_lanes=in_lanes,
                          n_valid=nv[rows], width=width)
            keep[rows] = k_r
            for f in out:
                out[f][rows] = d_r[f]
    return keep, out


def _flat_rows(x, ks, *, lanes, max_n, seed, in_lanes, n_valid, width):
    return golden.select_batch_detail(x, ks, lanes=lanes, seed=seed, in_lanes=in_lanes, n_valid=n_valid, width=width,
                                      max_n=max_n)

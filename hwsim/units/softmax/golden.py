"""Golden softmax (module 8) and progressive-quantization decision (module 9).

Function: probabilities ``softmax(scores)`` per row in float32 (SpAtten §4: exp, accumulation and
division are floating point); masked entries (``-inf``) get probability 0.

Timing: the unit takes ``parallelism`` scores per cycle, so a row of n scores occupies it
``ceil(n / parallelism)`` cycles; its pipeline depth is the design's
``dequant + exp + accumulate + divide + quant`` cycles (7 + 21 + 23 + 29 + 7 = 87 in the authors'
``bert.cpp``, docs/sources.md SpAtten §7.1).

Decision (SpAtten §3.4, released RTL ``RequantDecision.scala``): a row needs its K LSBs when its
maximum probability is below the threshold; the max is a reduction tree over the probabilities as
they stream, so the decision adds one cycle (``bert.cpp``: requant 1).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..common import ceil_div
from .params import PQ_DECISION_CYCLES, SoftmaxParams

__all__ = ["softmax_rows", "service_cycles", "needs_lsb", "needs_lsb_from_max", "PQ_DECISION_CYCLES"]


def softmax_rows(scores: np.ndarray, *, inplace: bool = False, row_max: bool = False):
    """Return row-wise softmax of float scores (``-inf`` = masked) as float32; all-masked rows give 0.

    With ``inplace`` a float32 ``scores`` array is overwritten with the result (no temporary of its size).
    With ``row_max`` return ``(probabilities, largest probability of each row)``: the largest is
    ``exp(0) / z = 1 / z`` exactly (the row's maximum score gives ``exp(0) = 1`` and float division is
    monotonic), 0 for an all-masked row, so it equals ``probabilities.max(-1)`` without reading them again.

    Arithmetic, in float32: ``e = exp(s - max(s))`` (a row without a finite maximum subtracts 0), ``z =
    sum(e)`` (numpy's pairwise sum), ``p = e / z`` (``z <= 0``, an all-masked row: ``z = 1``). The
    subtraction and the division are elementwise IEEE operations, done in one compiled pass each
    around numpy's row max, ``exp`` and ``sum``.
    """
    s = np.asarray(scores, np.float32)
    shape = s.shape
    work = s if (inplace and s.flags.c_contiguous) else np.array(s, np.float32, order="C")
    e = work.reshape(math.prod(shape[:-1]), shape[-1]) if s.ndim else work.reshape(1, 1)
    finite = np.empty(e.shape[0], np.bool_)
    _shift_rows(e, np.max(e, axis=-1), finite)
    np.exp(e, out=e)
    z = np.sum(e, axis=-1)
    largest = np.empty(e.shape[0], np.float32)
    _divide_rows(e, z, finite, largest)
    if inplace:
        if work is not s:
            s[...] = work  # a non-contiguous float32 array: the result written back
        p = s
    else:
        p = work.reshape(shape)
    if not row_max:
        return p
    return p, largest.reshape(shape[:-1])


@njit(cache=True)
def _shift_rows(e, top, finite):
    """Subtract each row's maximum ``top`` (numpy's) in place, 0 where it is not finite (an all-masked row, inf
    or NaN)."""
    for r in range(e.shape[0]):
        ok = np.isfinite(top[r])
        finite[r] = ok
        m = top[r] if ok else np.float32(0.0)
        row = e[r]
        for k in range(row.shape[0]):
            row[k] = row[k] - m


@njit(cache=True)
def _divide_rows(e, z, finite, largest):
    """``e /= z`` per row (``z <= 0``: 1), and each row's largest probability ``1 / z`` (0 unless ``finite``)."""
    one = np.float32(1.0)
    for r in range(e.shape[0]):
        zr = z[r]
        if zr <= 0:
            zr = one
        row = e[r]
        for k in range(row.shape[0]):
            row[k] = row[k] / zr
        largest[r] = one / zr if finite[r] else np.float32(0.0)


def service_cycles(n, params: SoftmaxParams) -> np.ndarray:
    """Cycles each row of ``n`` scores occupies the softmax unit: ``ceil(n / parallelism)``."""
    return ceil_div(n, params.parallelism)


def needs_lsb(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Return, per row, whether its max probability is below ``threshold`` (re-fetch the LSBs)."""
    return needs_lsb_from_max(np.max(probs, axis=-1), threshold)


def needs_lsb_from_max(row_max: np.ndarray, threshold: float) -> np.ndarray:
    """:func:`needs_lsb` from the rows' largest probabilities (``softmax_rows(..., row_max=True)``)."""
    return row_max < np.float32(threshold)

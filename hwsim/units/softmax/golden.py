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

import numpy as np

from ..common import ceil_div
from .params import PQ_DECISION_CYCLES, SoftmaxParams

__all__ = ["softmax_rows", "service_cycles", "needs_lsb", "needs_lsb_from_max", "PQ_DECISION_CYCLES"]


def softmax_rows(scores: np.ndarray, *, inplace: bool = False, row_max: bool = False):
    """Return row-wise softmax of float scores (``-inf`` = masked) as float32; all-masked rows give 0.

    With ``inplace`` a float32 ``scores`` array is overwritten with the result (no temporary of its size).
    With ``row_max`` return ``(probabilities, largest probability of each row)``: the largest is
    ``exp(0) / z = 1 / z`` exactly (the row's maximum score gives ``exp(0) = 1`` and float division is
    monotonic), 0 for an all-masked row, so it equals ``probabilities.max(-1)`` without reading them again.
    """
    s = np.asarray(scores, np.float32)
    m = np.max(s, axis=-1, keepdims=True)
    finite = np.isfinite(m)
    m = np.where(finite, m, np.float32(0.0)).astype(np.float32)
    e = np.subtract(s, m, out=s if inplace else None)
    np.exp(e, out=e)
    z = np.sum(e, axis=-1, keepdims=True)
    z[z <= 0] = 1  # an all-masked row: its exponentials are all 0 and stay 0
    p = np.divide(e, z, out=e)
    if not row_max:
        return p
    return p, np.where(finite, np.float32(1.0) / z, np.float32(0.0))[..., 0]


def service_cycles(n, params: SoftmaxParams) -> np.ndarray:
    """Cycles each row of ``n`` scores occupies the softmax unit: ``ceil(n / parallelism)``."""
    return ceil_div(n, params.parallelism)


def needs_lsb(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Return, per row, whether its max probability is below ``threshold`` (re-fetch the LSBs)."""
    return needs_lsb_from_max(np.max(probs, axis=-1), threshold)


def needs_lsb_from_max(row_max: np.ndarray, threshold: float) -> np.ndarray:
    """:func:`needs_lsb` from the rows' largest probabilities (``softmax_rows(..., row_max=True)``)."""
    return row_max < np.float32(threshold)

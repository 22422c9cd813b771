"""Golden softmax (module 8) and progressive-quantization decision (module 9).

Function: probabilities ``softmax(scores)`` per row in float32 (SpAtten §4: exp, accumulation and
division are floating point); masked entries (``-inf``) get probability 0.

Timing: the unit takes ``parallelism`` scores per cycle, so a row of n scores occupies it
``ceil(n / parallelism)`` cycles; its pipeline depth is the design's
``dequant + exp + accumulate + divide + quant`` cycles (7 + 21 + 23 + 29 + 7 = 87 in the authors'
``bert.cpp``, ``references/spatten.md`` §7.1).

Decision (SpAtten §3.4, released RTL ``RequantDecision.scala``): a row needs its K LSBs when its
maximum probability is below the threshold; the max is a reduction tree over the probabilities as
they stream, so the decision adds one cycle (``bert.cpp``: requant 1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax_rows", "softmax_service_cycles", "needs_lsb", "PQ_DECISION_CYCLES"]

#: Cycles the requantization decision adds after the last probability (bert.cpp "requant 1").
PQ_DECISION_CYCLES = 1


def softmax_rows(scores: np.ndarray) -> np.ndarray:
    """Return row-wise softmax of float scores (``-inf`` = masked) as float32; all-masked rows give 0."""
    s = np.asarray(scores, np.float32)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0).astype(np.float32)
    e = np.exp(s - m)
    z = np.sum(e, axis=-1, keepdims=True)
    return np.divide(e, z, out=np.zeros_like(e), where=z > 0)


def softmax_service_cycles(n: np.ndarray, parallelism: int) -> np.ndarray:
    """Cycles each row occupies the softmax unit: ``ceil(n / parallelism)``."""
    n = np.asarray(n, np.int64)
    return (n + parallelism - 1) // parallelism


def needs_lsb(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Return, per row, whether its max probability is below ``threshold`` (re-fetch the LSBs)."""
    return np.max(probs, axis=-1) < np.float32(threshold)

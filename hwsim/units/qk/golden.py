"""Golden Q x K array: the scores and the cycles (SpAtten §4, module 7).

Microarchitecture: each cycle one SRAM line of ``multipliers / head_dim`` keys x ``head_dim``
elements enters the array; the query is broadcast ``multipliers / head_dim`` times and a
reconfigurable adder tree forms ``multipliers / head_dim`` separate ``head_dim``-way dot products.
A row of n keys therefore occupies the array ``ceil(n / keys_per_cycle)`` cycles; results leave
after a fixed pipeline depth of 1 + 1 + 9 cycles (SRAM read, multiply, 9-level adder tree: the
authors' ``bert.cpp`` drain model). The scores are the dequantized dot products times the
softmax scale (``1 / sqrt(head_dim)``), in float32 (the paper's dequantization before softmax).
"""

from __future__ import annotations

import numpy as np

from ..common import ceil_div
from .params import QK_LATENCY_CYCLES, QKParams

__all__ = ["scores", "service_cycles", "QK_LATENCY_CYCLES"]


def scores(q: np.ndarray, k: np.ndarray, scale: float) -> np.ndarray:
    """Scores ``(q @ k^T) * scale`` of queries ``q`` [..., rows, dim] against keys ``k`` [..., keys, dim] (float32).

    Leading axes broadcast (a stack of K/V groups, each with its heads); each (rows x keys) slice is
    one matrix product, the same one a single head computes on its own.
    """
    s = np.asarray(q, np.float32) @ np.swapaxes(np.asarray(k, np.float32), -1, -2)
    s *= np.float32(scale)  # in place: the same values as ``(q @ k^T) * scale``, no second array
    return s


def service_cycles(n_keys, params: QKParams) -> np.ndarray:
    """Cycles each row occupies the array: ``ceil(n_keys / keys_per_cycle)`` (0 for an empty row)."""
    return ceil_div(n_keys, params.keys_per_cycle)

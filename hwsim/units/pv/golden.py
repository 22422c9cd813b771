"""Golden prob x V array: the attention output and the cycles (SpAtten §4, module 11).

Microarchitecture: probabilities are re-quantized to ``prob_bits`` unsigned fixed point (the
softmax output converter, :func:`hwsim.units.quant.quantize_probs`) and broadcast ``head_dim``
times; the adder tree forms ``head_dim`` separate ``multipliers / head_dim``-way sums, accumulated
across cycles. A row with k kept V vectors therefore occupies the array
``ceil(k / (multipliers / head_dim))`` cycles, and the result leaves 1 + 1 + 1 cycles later (the
authors' ``bert.cpp`` "V 1+1+1"). Pruned V vectors carry probability 0 and cost no cycle.
"""

from __future__ import annotations

import numpy as np

from ..common import ceil_div
from ..quant.golden import quantize_probs
from .params import PV_LATENCY_CYCLES, PVParams

__all__ = ["output", "service_cycles", "PV_LATENCY_CYCLES"]


def output(probs: np.ndarray, v: np.ndarray, params: PVParams, *, inplace: bool = False) -> np.ndarray:
    """Attention output ``quantize_probs(probs) @ v`` of rows ``probs`` [..., rows, keys], ``v`` [keys, dim].

    ``inplace``: ``probs`` (float32) may be overwritten by its quantized values (a long row's copy saved).
    """
    return quantize_probs(probs, params.prob_bits, inplace=inplace) @ np.asarray(v, np.float32)


def service_cycles(n_values, params: PVParams) -> np.ndarray:
    """Cycles each row occupies the array: ``ceil(n_values / values_per_cycle)``."""
    return ceil_div(n_values, params.values_per_cycle)

"""Golden model of the sparse linear/conv engines: the layer's function and its exact cycle count.

A layer is a GEMM ``Y = A W^T``: ``A`` is ``m`` x ``k`` (output pixels or tokens x window),
``W`` is ``n`` x ``k`` (filters x window, torch's ``Linear.weight`` layout). Masks are boolean
arrays of the same shapes (``True`` = non-zero kept). A cycle is one clock of the array.

Declared microarchitecture (``R`` = rows, ``C`` = cols of the PE array; folds are tiles of the
GEMM mapped onto the array, run one after another, no overlap between folds)
------------------------------------------------------------------------------------------------
**dense** (SCALE-Sim v3's systolic array, ``compute/systolic_compute_{os,ws,is}.py``): the mapping
``(Sr, Sc, T)`` is ``(m, n, k)`` for ``os``, ``(k, n, m)`` for ``ws``, ``(k, m, n)`` for ``is``;
``ceil(Sr/R) * ceil(Sc/C)`` folds, each of ``T + R + C - 2`` cycles (``os``: operands skewed in,
the last MAC of PE (R-1, C-1) at cycle ``T + R + C - 3``) or ``2R + C + T - 2`` cycles (``ws``,
``is``: ``R`` cycles to load the stationary operand, then the same skewed stream). This equals
SCALE-Sim's "Total Cycles" + 1 (it reports the index of the last cycle) whenever SCALE-Sim has
no stalls (its bandwidth-estimating ``CALC`` mode). A depthwise layer (``groups`` > 1) is
``groups`` GEMMs one after another, as SCALE-Sim runs its ``DP`` layers.

**weight-sparse** (one-sided, Cambricon-X-style indexing): weights are stored compressed (non-zeros
and their K indices); each PE column owns a filter and selects the activations its non-zeros
need. A column controller issues steps to the whole fold in lockstep, so a fold lasts as long as
its busiest PE (idle PEs take bubbles):

* ``os``: a fold of R outputs x C filters takes ``w + R + C - 2`` cycles, ``w`` = the largest
  non-zero count among its C filters;
* ``ws``: a column fold of C filters packs each filter's non-zeros into ``ceil(w / R)`` row folds
  of ``2R + C + m - 2`` cycles;
* ``is``: in a K-fold of R window positions, a filter with no non-zero there is skipped, so the
  fold streams ``t`` filters (those with any) in ``2R + C + t - 2`` cycles (none: 0 cycles).

At density 1 every formula is the dense one, cycle for cycle.

**dual-sparse** (SparTen-style inner product, output stationary only): weights and activations
carry bitmasks; PE (i, j) of a fold of R outputs x C filters intersects the masks of its
activation row and filter (AND + prefix sums) and does one matched MAC per cycle, so its work is
``popcount(mask_a[m_i] & mask_w[n_j])``; the fold takes the busiest PE's work + ``R + C - 2``.
With ``balance`` the filters are sorted by non-zero count (descending, stable) before they are
cut into column folds, so each fold holds filters of similar work (greedy filter balancing).

**nm** (N:M structured, NVIDIA 2:4 sparse-tensor-core style): the weights keep at most N of every M
consecutive K; the array runs the dense dataflow on ``k' = k * N / M`` (the index metadata steers
an activation multiplexer per PE), so ``cycles = dense(m, k * N / M, n)``.

``math_cycles`` is the K-proportional part of ``compute_cycles`` (the streaming steps, without
fill/drain and stationary loads): 2:4 halves it exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import HwsimError
from .params import GemmShape, SparsityParams, SystolicParams

__all__ = [
    "EngineCycles",
    "gemm",
    "dense_cycles",
    "engine_cycles",
    "weight_sparse_cycles",
    "dual_sparse_cycles",
    "nm_cycles",
    "nm_k",
    "bernoulli_max_work",
    "bernoulli_weight_sparse_cycles",
    "balance_order",
]


@dataclass(frozen=True, kw_only=True)
class EngineCycles:
    """Cycles of one layer on one engine (all counts; ``utilization_fraction`` = effectual MACs / (PEs x cycles))."""

    compute_cycles: int
    math_cycles: int
    folds: int
    effectual_macs: int
    dense_macs: int
    pes: int

    @property
    def utilization_fraction(self) -> float:
        """Fraction of PE-cycles doing an effectual MAC."""
        return self.effectual_macs / (self.pes * self.compute_cycles) if self.compute_cycles else 0.0

    @property
    def balance_fraction(self) -> float:
        """Effectual MACs / (PEs x ``math_cycles``): 1 when every PE is busy on every streaming step."""
        return self.effectual_macs / (self.pes * self.math_cycles) if self.math_cycles else 0.0


def gemm(a: np.ndarray, w: np.ndarray, *, a_mask: np.ndarray | None = None,
         w_mask: np.ndarray | None = None) -> np.ndarray:
    """The layer's function: ``(a * a_mask) @ (w * w_mask).T`` in float64 (masks default to all kept)."""
    a = np.asarray(a, np.float64)
    w = np.asarray(w, np.float64)
    if a_mask is not None:
        a = np.where(a_mask, a, 0.0)
    if w_mask is not None:
        w = np.where(w_mask, w, 0.0)
    return a @ w.T


def _mapping(shape: GemmShape, dataflow: str) -> tuple[int, int, int]:
    """SCALE-Sim's (Sr, Sc, T) of a GEMM for a dataflow."""
    if dataflow == "os":
        return shape.m, shape.n, shape.k
    if dataflow == "ws":
        return shape.k, shape.n, shape.m
    return shape.k, shape.m, shape.n


def _fold_overhead(array: SystolicParams) -> int:
    """Cycles of a fold beyond its T streaming steps (fill/drain, and the stationary load for ws/is)."""
    r, c = array.rows, array.cols
    return r + c - 2 if array.dataflow == "os" else 2 * r + c - 2


def dense_cycles(shape: GemmShape, array: SystolicParams) -> EngineCycles:
    """Cycles of a dense GEMM (or ``groups`` of them) on the systolic array; equals SCALE-Sim v3 (+1)."""
    sr, sc, t = _mapping(shape, array.dataflow)
    folds = math.ceil(sr / array.rows) * math.ceil(sc / array.cols)
    per_group = folds * (t + _fold_overhead(array))
    return EngineCycles(compute_cycles=per_group * shape.groups, math_cycles=folds * t * shape.groups,
                        folds=folds * shape.groups, effectual_macs=shape.macs, dense_macs=shape.macs, pes=array.pes)


def _fold_max(values: np.ndarray, size: int) -> np.ndarray:
    """Maximum of ``values`` over consecutive blocks of ``size`` (the last block may be short)."""
    n = values.shape[0]
    blocks = -(-n // size)
    padded = np.zeros(blocks * size, values.dtype)
    padded[:n] = values
    return padded.reshape(blocks, size).max(axis=1)


def _check_mask(name: str, mask: np.ndarray, rows: int, cols: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.shape != (rows, cols):
        raise HwsimError(f"{name} must be a bool array of shape ({rows}, {cols}), not {mask.dtype} {mask.shape}")
    return mask


def weight_sparse_cycles(w_mask: np.ndarray, m: int, array: SystolicParams) -> EngineCycles:
    """Cycles of the weight-sparse engine for weight mask ``w_mask`` (n x k) and ``m`` input rows."""
    n, k = np.shape(w_mask)
    w_mask = _check_mask("Weight mask", w_mask, n, k)
    shape = GemmShape(m=m, k=k, n=n)
    r, c = array.rows, array.cols
    nnz = w_mask.sum(axis=1, dtype=np.int64)
    eff = int(nnz.sum()) * m
    over = _fold_overhead(array)
    if array.dataflow == "os":
        work = _fold_max(nnz, c)
        row_folds = math.ceil(m / r)
        cycles = row_folds * int((work + over).sum())
        math_c = row_folds * int(work.sum())
        folds = row_folds * work.size
    elif array.dataflow == "ws":
        kfolds = -(-_fold_max(nnz, c) // r)
        cycles = int(kfolds.sum()) * (m + over)
        math_c = int(kfolds.sum()) * m
        folds = int(kfolds.sum())
    else:
        kf = math.ceil(k / r)
        padded = np.zeros((n, kf * r), np.bool_)
        padded[:, :k] = w_mask
        streamed = padded.reshape(n, kf, r).any(axis=2).sum(axis=0)
        col_folds = math.ceil(m / c)
        live = streamed[streamed > 0]
        cycles = col_folds * int((live + over).sum())
        math_c = col_folds * int(live.sum())
        folds = col_folds * live.size
    return EngineCycles(compute_cycles=cycles, math_cycles=math_c, folds=folds, effectual_macs=eff,
                        dense_macs=shape.macs, pes=array.pes)


def balance_order(w_mask: np.ndarray) -> np.ndarray:
    """Greedy filter balancing: filter indices sorted by non-zero count, descending (stable)."""
    nnz = np.asarray(w_mask).sum(axis=1)
    return np.argsort(-nnz, kind="stable")


def pair_work(a_mask: np.ndarray, w_mask: np.ndarray) -> np.ndarray:
    """Matched non-zero pairs of every (input row, filter): ``popcount(a_mask[i] & w_mask[j])`` (m x n, int64)."""
    # 0/1 products summed in float32 are exact up to 2**24 terms per dot product.
    return np.rint(a_mask.astype(np.float32) @ w_mask.T.astype(np.float32)).astype(np.int64)


def dual_sparse_cycles(a_mask: np.ndarray, w_mask: np.ndarray, array: SystolicParams, *,
                       balance: bool = False) -> EngineCycles:
    """Cycles of the dual-sparse inner-product engine for activation mask (m x k) and weight mask (n x k)."""
    if array.dataflow != "os":
        raise HwsimError(f"The dual-sparse engine is output stationary: dataflow must be os, not {array.dataflow!r}")
    m, k = np.shape(a_mask)
    n = np.shape(w_mask)[0]
    a_mask = _check_mask("Activation mask", a_mask, m, k)
    w_mask = _check_mask("Weight mask", w_mask, n, k)
    if balance:
        w_mask = w_mask[balance_order(w_mask)]
    work = pair_work(a_mask, w_mask)
    r, c = array.rows, array.cols
    rf, cf = math.ceil(m / r), math.ceil(n / c)
    padded = np.zeros((rf * r, cf * c), np.int64)
    padded[:m, :n] = work
    fold_work = padded.reshape(rf, r, cf, c).max(axis=(1, 3))
    folds = rf * cf
    math_c = int(fold_work.sum())
    return EngineCycles(compute_cycles=math_c + folds * _fold_overhead(array), math_cycles=math_c, folds=folds,
                        effectual_macs=int(work.sum()), dense_macs=m * k * n, pes=array.pes)


def nm_k(k: int, n: int, m: int) -> int:
    """The reduction length the N:M engine runs: ``k * n / m`` (``m`` must divide ``k``)."""
    if k % m:
        raise HwsimError(f"N:M block size M = {m} must divide K = {k}")
    return k // m * n


def nm_cycles(shape: GemmShape, array: SystolicParams, sparsity: SparsityParams) -> EngineCycles:
    """Cycles of the N:M engine: the dense dataflow on ``k * N / M``; effectual MACs are the kept ones."""
    kk = nm_k(shape.k, sparsity.n, sparsity.m)
    d = dense_cycles(GemmShape(m=shape.m, k=kk, n=shape.n, groups=shape.groups), array)
    return EngineCycles(compute_cycles=d.compute_cycles, math_cycles=d.math_cycles, folds=d.folds,
                        effectual_macs=d.effectual_macs, dense_macs=shape.macs, pes=array.pes)


def engine_cycles(array: SystolicParams, sparsity: SparsityParams, *, m: int, w_mask: np.ndarray,
                  a_mask: np.ndarray | None = None, groups: int = 1) -> EngineCycles:
    """Cycles of a layer (``m`` input rows, weight mask ``n`` x ``k``) on the engine ``sparsity.engine``."""
    n, k = np.shape(w_mask)
    shape = GemmShape(m=m, k=k, n=n, groups=groups)
    if sparsity.engine == "dense":
        return dense_cycles(shape, array)
    if sparsity.engine == "nm":
        return nm_cycles(shape, array, sparsity)
    if groups != 1:
        raise HwsimError(f"The {sparsity.engine} engine runs ungrouped layers; give each group its own mask")
    if sparsity.engine == "weight-sparse":
        return weight_sparse_cycles(w_mask, m, array)
    if a_mask is None:
        raise HwsimError("The dual-sparse engine needs an activation mask")
    return dual_sparse_cycles(a_mask, w_mask, array, balance=sparsity.balance)


def bernoulli_max_work(k: int, density: float, p: int) -> float:
    """Closed form E[max of ``p`` Binomial(k, density) work counts] ~ ``kd + sqrt(2 kd (1-d) ln p)``.

    docs/sources.md Sparse §5 (load imbalance). The Gaussian-tail bound overestimates the
    excess over the mean for small ``p`` (about 30 % at p = 32); relative to ``kd`` it is small.
    """
    mean = k * density
    return mean + math.sqrt(2.0 * mean * (1.0 - density) * math.log(p)) if p > 1 else mean


def bernoulli_weight_sparse_cycles(shape: GemmShape, density: float, array: SystolicParams) -> float:
    """Expected weight-sparse ``os`` cycles when only the density is known (Bernoulli weights)."""
    if array.dataflow != "os":
        raise HwsimError(f"The Bernoulli estimate is for the os dataflow, not {array.dataflow!r}")
    folds = math.ceil(shape.m / array.rows) * math.ceil(shape.n / array.cols)
    work = bernoulli_max_work(shape.k, density, min(array.cols, shape.n))
    return folds * (work + _fold_overhead(array))

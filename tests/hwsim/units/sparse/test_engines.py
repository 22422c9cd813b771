"""The sparse engines' golden cycles: brute-force reference, closed forms, limits and 2:4."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sparse_reference import simulate

from hwsim.errors import HwsimError
from hwsim.units.sparse import golden, masks
from hwsim.units.sparse.params import GemmShape, SparsityParams, SystolicParams
from hwsim.units.sparse.timing import format_bits

ARRAYS = [(2, 3), (4, 4), (3, 5)]


def _layer(seed: int, m: int, k: int, n: int, d_w: float, d_a: float):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k))
    w = rng.standard_normal((n, k))
    a_mask = masks.bernoulli_mask((m, k), d_a, seed=seed + 1)
    w_mask = masks.bernoulli_mask((n, k), d_w, seed=seed + 2)
    return a, w, a_mask, w_mask


@pytest.mark.parametrize("rows,cols", ARRAYS)
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("engine", ["dense", "weight-sparse", "nm"])
def test_brute_force_agrees(engine, dataflow, rows, cols):
    for seed, (m, k, n) in enumerate([(7, 12, 9), (5, 8, 11), (1, 16, 4)]):
        a, w, a_mask, w_mask = _layer(seed, m, k, n, 0.4, 1.0)
        sp = SparsityParams(engine=engine, n=2, m=4)
        if engine == "nm":
            w_mask = masks.nm_mask(w, 2, 4)
        if engine == "dense":
            w_mask = np.ones_like(w_mask)
        arr = SystolicParams(rows=rows, cols=cols, dataflow=dataflow)
        out, cycles = simulate(engine, dataflow, a, w, a_mask, w_mask, rows, cols, n_of_m=(2, 4))
        got = golden.engine_cycles(arr, sp, m=m, w_mask=w_mask)
        assert got.compute_cycles == cycles
        np.testing.assert_allclose(out, golden.gemm(a, w, w_mask=w_mask), atol=1e-12)


@pytest.mark.parametrize("rows,cols", ARRAYS)
@pytest.mark.parametrize("balance", [False, True])
def test_brute_force_agrees_dual_sparse(rows, cols, balance):
    for seed, (m, k, n) in enumerate([(7, 12, 9), (5, 8, 11), (9, 20, 6)]):
        a, w, a_mask, w_mask = _layer(seed, m, k, n, 0.5, 0.3 + 0.2 * seed)
        arr = SystolicParams(rows=rows, cols=cols, dataflow="os")
        out, cycles = simulate("dual-sparse", "os", a, w, a_mask, w_mask, rows, cols, balance=balance)
        got = golden.dual_sparse_cycles(a_mask, w_mask, arr, balance=balance)
        assert got.compute_cycles == cycles
        assert got.effectual_macs == int((a_mask.astype(int) @ w_mask.T.astype(int)).sum())
        np.testing.assert_allclose(out, golden.gemm(a, w, a_mask=a_mask, w_mask=w_mask), atol=1e-12)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_density_one_equals_dense_cycle_for_cycle(dataflow):
    arr = SystolicParams(rows=8, cols=4, dataflow=dataflow)
    for m, k, n in [(30, 50, 17), (8, 4, 4), (1, 129, 33)]:
        full = np.ones((n, k), np.bool_)
        ws = golden.weight_sparse_cycles(full, m, arr)
        dense = golden.dense_cycles(GemmShape(m=m, k=k, n=n), arr)
        assert (ws.compute_cycles, ws.math_cycles, ws.folds) == (dense.compute_cycles, dense.math_cycles, dense.folds)
        if dataflow == "os":
            ds = golden.dual_sparse_cycles(np.ones((m, k), np.bool_), full, arr)
            assert ds.compute_cycles == dense.compute_cycles


def test_sparsity_never_costs_more_than_dense():
    arr = SystolicParams(rows=8, cols=8, dataflow="os")
    _, _, _, w_mask = _layer(3, 40, 64, 24, 0.3, 1.0)
    assert golden.weight_sparse_cycles(w_mask, 40, arr).compute_cycles < golden.dense_cycles(
        GemmShape(m=40, k=64, n=24), arr).compute_cycles


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_balanced_masks_give_utilization_one(dataflow):
    # every filter keeps the same count (a multiple of the rows) and, for is, every K fold is live
    rows, cols = 4, 8
    n, k, m = 32, 64, 12
    w_mask = np.zeros((n, k), np.bool_)
    for j in range(n):
        w_mask[j, (np.arange(16) * 4 + j) % k] = True
    arr = SystolicParams(rows=rows, cols=cols, dataflow=dataflow)
    got = golden.weight_sparse_cycles(w_mask, m, arr)
    if dataflow == "is":  # every filter is live in every K fold: is streams all filters, no skip
        assert got.math_cycles == golden.dense_cycles(GemmShape(m=m, k=k, n=n), arr).math_cycles
    else:
        assert got.balance_fraction == 1.0


def test_balanced_dual_sparse_utilization_one():
    m, k, n = 8, 32, 8
    a_mask = np.zeros((m, k), np.bool_)
    a_mask[:, ::2] = True
    w_mask = np.zeros((n, k), np.bool_)
    w_mask[:, :16] = True
    got = golden.dual_sparse_cycles(a_mask, w_mask, SystolicParams(rows=4, cols=4, dataflow="os"))
    assert got.balance_fraction == 1.0


# Closed form of §5 vs measured, for Bernoulli masks: E[max] = kd + sqrt(2 kd (1-d) ln P) is the Gaussian
# tail bound, so it overestimates the expected maximum of P binomials: by under TOLERANCE (8 %) of the
# maximum for kd >= 50 and P = 16..64, and the excess over the mean by a factor under 1.6 (measured
# over 64 column folds: 1.2-1.45).
TOLERANCE = 0.08


@pytest.mark.parametrize("density", [0.1, 0.3, 0.5, 0.8])
@pytest.mark.parametrize("cols", [16, 64])
def test_bernoulli_imbalance_matches_closed_form(density, cols):
    k, n = 512, 64 * cols
    w_mask = masks.bernoulli_mask((n, k), density, seed=11)
    arr = SystolicParams(rows=8, cols=cols, dataflow="os")
    got = golden.weight_sparse_cycles(w_mask, 8, arr)
    measured_max = got.math_cycles / (n // cols)
    closed = golden.bernoulli_max_work(k, density, cols)
    assert measured_max < closed < measured_max * (1 + TOLERANCE)
    assert 1.0 < (closed - k * density) / (measured_max - k * density) < 1.6
    est = golden.bernoulli_weight_sparse_cycles(GemmShape(m=8, k=k, n=n), density, arr)
    assert abs(est - got.compute_cycles) / got.compute_cycles < TOLERANCE
    assert measured_max > k * density  # imbalance is real: the busiest PE does more than the mean


def test_two_four_doubles_math_throughput_and_metadata_bytes():
    rng = np.random.default_rng(5)
    for dataflow in ("os", "ws", "is"):
        for m, k, n in [(64, 256, 96), (33, 100, 20)]:
            arr = SystolicParams(rows=16, cols=8, dataflow=dataflow)
            w = rng.standard_normal((n, k))
            mask = masks.nm_mask(w, 2, 4)
            assert (mask.reshape(n, k // 4, 4).sum(axis=2) == 2).all()
            nm = golden.engine_cycles(arr, SparsityParams(engine="nm", n=2, m=4), m=m, w_mask=mask)
            dense = golden.dense_cycles(GemmShape(m=m, k=k, n=n), arr)
            half = golden.dense_cycles(GemmShape(m=m, k=k // 2, n=n), arr)
            assert nm.compute_cycles == half.compute_cycles
            # os streams K: exactly half the math steps; ws/is fold K over the rows: exactly half
            # the K folds (and math steps) when the rows divide K / 2
            if dataflow == "os" or (k // 2) % arr.rows == 0:
                assert 2 * nm.math_cycles == dense.math_cycles
                # the dense layer's MACs per math step, doubled
                assert nm.dense_macs * dense.math_cycles == 2 * dense.dense_macs * nm.math_cycles
            values, meta = format_bits("nm", mask, 8, m=4)
            assert meta == n * k // 2 * 2  # M*K/2 kept values x 2 index bits (§5)
            assert values == n * k // 2 * 8


def test_general_nm_shrinks_k():
    arr = SystolicParams(rows=4, cols=4, dataflow="os")
    w = np.random.default_rng(1).standard_normal((8, 48))
    mask = masks.nm_mask(w, 3, 8)
    got = golden.engine_cycles(arr, SparsityParams(engine="nm", n=3, m=8), m=8, w_mask=mask)
    assert got.math_cycles == 2 * 2 * 18  # 4 folds x 48 * 3 / 8


def test_errors():
    arr = SystolicParams(rows=4, cols=4, dataflow="ws")
    with pytest.raises(HwsimError, match="output stationary"):
        golden.dual_sparse_cycles(np.ones((2, 4), bool), np.ones((2, 4), bool), arr)
    with pytest.raises(HwsimError, match="must divide K = 10"):
        golden.nm_k(10, 2, 4)
    with pytest.raises(HwsimError, match=r"Weight mask must be a bool array"):
        golden.weight_sparse_cycles(np.ones((2, 4), int), 3, arr)
    with pytest.raises(HwsimError, match=r"Dataflow must be one of os, ws, is, not 'xs'"):
        SystolicParams(dataflow="xs")
    with pytest.raises(HwsimError, match=r"Array rows must be an integer from 1 to 4096, not 0"):
        SystolicParams(rows=0)
    with pytest.raises(HwsimError, match=r"N:M non-zeros N must be at most M = 4, not 5"):
        SparsityParams(engine="nm", n=5, m=4)
    assert math.isclose(golden.bernoulli_max_work(100, 0.5, 1), 50.0)

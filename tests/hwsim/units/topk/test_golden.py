"""Golden top-k model: the selection against numpy, the cycle count's parts, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.config import load_design
from hwsim.errors import HwsimError
from hwsim.units.topk import (
    DETAIL_FIELDS,
    TopKParams,
    lfsr_draw,
    quantize_scores,
    select,
    select_batch,
    select_batch_detail,
    select_batch_params,
    select_params,
    select_rounds,
    zero_eliminate,
    zero_eliminate_layers,
)


def numpy_topk(x: np.ndarray, k: int) -> np.ndarray:
    """The k largest, ties earliest first, returned in input order (numpy's stable sort)."""
    order = np.argsort(-np.asarray(x, dtype=np.int64), kind="stable")
    return np.sort(order[:k])


@st.composite
def rows(draw):
    n = draw(st.integers(1, 300))
    hi = draw(st.sampled_from([1, 3, 15, 4095, 2**31 - 1]))
    x = np.array(draw(st.lists(st.integers(0, hi), min_size=n, max_size=n)), dtype=np.int64)
    k = draw(st.integers(1, n))
    lanes = draw(st.sampled_from([1, 2, 4, 16, 64]))
    in_lanes = draw(st.sampled_from([1, 8, 32]))
    seed = draw(st.integers(0, 2**32 - 1))
    return x, k, lanes, in_lanes, seed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_select_matches_numpy(case):
    x, k, lanes, in_lanes, seed = case
    idx, cycles = select(x, k, lanes=lanes, in_lanes=in_lanes, seed=seed)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, numpy_topk(x, k))
    rounds, det = select_rounds(x, k, lanes=lanes, in_lanes=in_lanes, seed=seed)
    assert det["cycles"] == cycles
    assert cycles == det["fill_cycles"] + det["quickselect_cycles"] + det["filter_cycles"]
    assert det["fill_cycles"] == -(-len(x) // in_lanes)
    assert det["quickselect_cycles"] == rounds[:, 6].sum()
    np.testing.assert_array_equal(rounds[:, 6], -(-rounds[:, 0] // lanes) + 4)
    # every round partitions its whole set around a member of it
    np.testing.assert_array_equal(rounds[:, 3] + rounds[:, 4] + rounds[:, 5], rounds[:, 0])
    assert (rounds[:, 4] >= 1).all() and (rounds[:, 1] < rounds[:, 0]).all()
    assert det["threshold"] == np.sort(x)[::-1][k - 1]
    assert det["ties_kept"] == k - (x > det["threshold"]).sum()


def test_tiny_case_cycle_by_cycle():
    # 3 equal scores, k = 2, one lane: fill 3 beats; one round (any pivot is 5: G=0, E=3 ->
    # threshold 5, quota 2) = 3 reads + 4; filter reads rows 0, 1 (the 2nd kept) + 3 = 5.
    idx, cycles = select([5, 5, 5], 2, lanes=1, in_lanes=1)
    assert idx.tolist() == [0, 1]
    assert cycles == 3 + (3 + 4) + (2 + 3)


def test_filter_corner_two_beats_from_one_row():
    # P = 4, k = 5: the kept are indices 1..5, all from rows 0 and 1; row 1 completes beat 1
    # (4 pairs) and holds the partial last beat -> one extra cycle.
    x = np.array([0, 9, 9, 9, 9, 9, 9, 0])
    _, det = select_rounds(x, 5, lanes=4, in_lanes=4)
    assert det["filter_cycles"] == 2 + 3 + 1
    x2 = np.array([9, 9, 9, 9, 9, 0, 0, 0])  # row 0 completes beat 1, row 1 the last -> no corner
    _, det2 = select_rounds(x2, 5, lanes=4, in_lanes=4)
    assert det2["filter_cycles"] == 2 + 3


def test_batch_equals_rows_with_n_valid():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 8, size=(40, 97))
    nv = rng.integers(1, 98, size=40)
    ks = np.array([rng.integers(1, v + 1) for v in nv])
    x_garbage = x.copy()
    for r, v in enumerate(nv):
        x_garbage[r, v:] = 10**6  # ignored: never kept, never checked
    keep, cycles = select_batch(x_garbage, ks, lanes=4, in_lanes=8, seed=3, n_valid=nv)
    keep2, det = select_batch_detail(x_garbage, ks, lanes=4, in_lanes=8, seed=3, n_valid=nv)
    np.testing.assert_array_equal(keep, keep2)
    np.testing.assert_array_equal(cycles, det["cycles"])
    assert set(det) == set(DETAIL_FIELDS)
    for r in range(40):
        idx, c = select(x[r, : nv[r]], int(ks[r]), lanes=4, in_lanes=8, seed=3)
        np.testing.assert_array_equal(np.flatnonzero(keep[r]), idx)
        assert cycles[r] == c
        assert not keep[r, nv[r]:].any()


@pytest.mark.parametrize("lanes, in_lanes, seed", [(16, 8, 0), (4, 1, 3), (64, 32, 99)])
def test_batch_on_params_equals_the_checked_batch(lanes, in_lanes, seed):
    rng = np.random.default_rng(lanes + seed)
    params = TopKParams(lanes=lanes, in_lanes=in_lanes, seed=seed, width=12, max_n=256)
    x = rng.integers(0, 4096, size=(50, 256))
    nv = rng.integers(1, 257, size=50)
    ks = np.array([rng.integers(1, v + 1) for v in nv])
    keep, det = select_batch_params(params, x, ks, nv)
    keep2, det2 = select_batch_detail(x, ks, lanes=lanes, in_lanes=in_lanes, seed=seed, n_valid=nv, width=12, max_n=256)
    np.testing.assert_array_equal(keep, keep2)
    for i, f in enumerate(DETAIL_FIELDS):
        np.testing.assert_array_equal(det[:, i], det2[f])
    with pytest.raises(HwsimError, match="int64 codes"):
        select_batch_params(params, x.astype(np.int32), ks, nv)
    with pytest.raises(HwsimError, match="int64 codes"):
        select_batch_params(params, x, ks[:-1], nv)


def test_seed_changes_pivots_not_selection():
    x = np.random.default_rng(1).integers(0, 4096, 1024)
    results = {select(x, 100, lanes=16, seed=s)[1] for s in range(8)}
    idx = {tuple(select(x, 100, lanes=16, seed=s)[0]) for s in range(8)}
    assert len(idx) == 1 and len(results) > 1


def test_median_cost_is_near_the_authors_model():
    # docs/sources.md SpAtten §3.4: n = 1024, k = 512, P = 16: about 262 +- 70 cycles of quick-select at
    # ceil(m/P) + 3 per round; ours charges ceil(m/P) + 4 per round.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**31, size=(300, 1024))
    _, det = select_batch_detail(x, np.full(300, 512), lanes=16, in_lanes=8)
    qs_like_authors = det["quickselect_cycles"] - det["rounds"]
    assert 220 < qs_like_authors.mean() < 300
    assert (det["fill_cycles"] == 128).all()


def test_lfsr_is_maximal_length():
    s = 1
    seen = set()
    for _ in range(65535):
        s = lfsr_draw(s)
        assert 1 <= s <= 0xFFFF
        seen.add(s)
    assert s == 1 and len(seen) == 65535


def test_zero_eliminator_example_layers():
    # docs/sources.md SpAtten §3.3: [a,0,b,0,c,d,0,e] -> [a,b,0,0,c,d,e,0] -> [a,b,c,d,e,0,0,0]
    v = np.array([1, 0, 2, 0, 3, 4, 0, 5])
    keep = v != 0
    layers, valid, count = zero_eliminate_layers(v, keep)
    assert layers.tolist() == [
        [1, 0, 2, 0, 3, 4, 0, 5],
        [1, 2, 0, 0, 3, 4, 5, 0],
        [1, 2, 3, 4, 5, 0, 0, 0],
        [1, 2, 3, 4, 5, 0, 0, 0],
    ]
    assert count == 5 and valid[-1].tolist() == [True] * 5 + [False] * 3


@pytest.mark.parametrize("P", [1, 2, 4, 8, 16, 64])
def test_zero_eliminator_compacts_in_order(P):
    rng = np.random.default_rng(P)
    for _ in range(200):
        v = rng.integers(-50, 50, P)
        keep = rng.random(P) < rng.random()
        out, count = zero_eliminate(v, keep)
        assert count == keep.sum()
        np.testing.assert_array_equal(out[:count], v[keep])
        assert not out[count:].any()


def test_quantize_is_monotone_and_in_range():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 300)) * 1e3
    q = quantize_scores(x, 12)
    assert q.dtype == np.int64 and q.min() == 0 and q.max() == 4095
    for r in range(5):
        order = np.argsort(x[r])
        assert (np.diff(q[r][order]) >= 0).all()
    assert quantize_scores([3.0, 3.0], 8).tolist() == [0, 0]
    assert quantize_scores([0.0, 0.5, 1.0, 2.0], 4, lo=0.0, hi=1.0).tolist() == [0, 8, 15, 15]
    assert quantize_scores([-1.7e308, 1.7e308], 8).tolist() == [0, 255]


@pytest.mark.parametrize(
    "values, message",
    [
        ([1.0, float("nan")], "scores[1] = nan: expected a finite real number"),
        ([[1.0, 2.0], [float("inf"), 0.0]], "scores[(1, 0)] = inf: expected a finite real number"),
        (["a", "b"], "scores must be real numbers, got dtype <U1"),
        ([True, False], "scores must be real numbers, got dtype bool"),
        ([1 + 2j], "scores must be real numbers, got dtype complex128"),
        (3.0, "scores must be an array of real numbers, got a scalar"),
    ],
)
def test_quantize_rejects(values, message):
    with pytest.raises(HwsimError) as e:
        quantize_scores(values, 8)
    assert str(e.value) == message


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: select([1, 2], 0, lanes=4), "k must be an integer from 1 to n = 2, not 0"),
        (lambda: select([1, 2], 3, lanes=4), "k must be an integer from 1 to n = 2, not 3"),
        (lambda: select([1, 2], 1.5, lanes=4), "k must be an integer, not 1.5"),
        (lambda: select([1.0, 2.0], 1, lanes=4),
         "scores must be integers, got dtype float64; map real numbers with quantize_scores() first"),
        (lambda: select([], 1, lanes=4), "scores must hold at least 1 element, got 0"),
        (lambda: select(np.zeros(5, int), 1, lanes=4, max_n=4), "n = 5 scores exceed the engine's max_n = 4"),
        (lambda: select([1, 4096], 1, lanes=4, width=12), "scores[1] = 4096 is outside the 12-bit score range 0..4095"),
        (lambda: select([-1, 3], 1, lanes=4, width=12), "scores[0] = -1 is outside the 12-bit score range 0..4095"),
        (lambda: select([1, 2], 1, lanes=3), "lanes must be a power of two from 1 to 64, not 3"),
        (lambda: select([1, 2], 1, lanes=4, in_lanes=128), "in_lanes must be a power of two from 1 to 64, not 128"),
        (lambda: select([1, 2], 1, lanes=4, seed=-1), "seed must be an integer from 0 to 4294967295, not -1"),
        (lambda: select_batch(np.ones((2, 3), int), [1, 4], lanes=4), "ks[1] = 4: expected an integer from 1 to n = 3"),
        (lambda: select_batch(np.ones((2, 3), int), [1, 2], lanes=4, n_valid=[3, 1]),
         "ks[1] = 2: expected an integer from 1 to n = 1"),
        (lambda: select_batch(np.ones((2, 3), int), [1, 1], lanes=4, n_valid=[0, 1]),
         "n_valid[0] = 0: expected an integer from 1 to 3"),
        (lambda: select_batch(np.ones(3, int), [1], lanes=4), "scores_2d must be a 2-D array of integers, got shape (3,)"),
        (lambda: select_batch(np.ones((2, 3), int), [1], lanes=4),
         "ks must be an integer array of shape (2,), got int64 (1,)"),
        (lambda: select_batch(np.full((2, 3), 70000), [1, 1], lanes=4, width=16),
         "scores_2d[(0, 0)] = 70000 is outside the 16-bit score range 0..65535"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(HwsimError) as e:
        call()
    assert str(e.value) == message


def test_width_check_ignores_entries_past_n_valid():
    x = np.array([[1, 2, 99999], [3, 4, 5]])
    keep, _ = select_batch(x, [1, 1], lanes=2, width=4, n_valid=[2, 3])
    assert keep.tolist() == [[False, True, False], [False, False, True]]


def test_params_validation_and_design():
    p = TopKParams.from_design(load_design("spatten"))
    assert (p.lanes, p.in_lanes, p.width, p.max_n, p.rows) == (16, 8, 12, 1024, 64)
    assert (p.index_bits, p.count_bits, p.lfsr_init, p.overlap) == (10, 11, 1, "filter")
    assert TopKParams.from_design(load_design("spatten"), seed=5).seed == 5
    assert TopKParams.from_design(load_design("spatten", ["topk.overlap=none"])).overlap == "none"
    idx, det = select_params(TopKParams(lanes=4, width=4, max_n=8), [1, 15, 3], 1)
    assert idx.tolist() == [1] and det["cycles"] == select([1, 15, 3], 1, lanes=4, in_lanes=8)[1]
    with pytest.raises(HwsimError, match=r"^Top-k lanes must be a power of two from 1 to 64, not 33$"):
        TopKParams(lanes=33)
    with pytest.raises(HwsimError, match=r"^Top-k score width must be an integer from 2 to 32, not 1$"):
        TopKParams(width=1)
    with pytest.raises(HwsimError, match=r"^Top-k max_n must be an integer from 1 to 4194304, not 0$"):
        TopKParams(max_n=0)
    with pytest.raises(HwsimError, match=r"^Top-k in_lanes must be a power of two from 1 to 64, not True$"):
        TopKParams(in_lanes=True)
    with pytest.raises(HwsimError, match=r"^Top-k seed must be an integer from 0 to 4294967295, not 4294967296$"):
        TopKParams(seed=2**32)
    with pytest.raises(HwsimError, match=r"^Top-k overlap must be one of none, filter, full, not True$"):
        TopKParams(overlap=True)
    with pytest.raises(TypeError):
        TopKParams(16)  # keyword-only
    with pytest.raises(AttributeError):
        p.lanes = 4  # frozen

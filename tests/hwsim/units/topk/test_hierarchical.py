"""Hierarchical top-k (n > max_n): equal to a flat top-k, exact cycles = the golden engine's per request."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.errors import HwsimError
from hwsim.units.topk import TopKParams, select, select_batch, select_detail
from hwsim.units.topk.hierarchical import (
    REQUEST_FIELDS,
    select_hierarchical,
    select_hierarchical_batch,
    select_hierarchical_detail,
    select_hierarchical_params,
    select_rows,
)

LEVEL, TILE, N, K, CYCLES = (REQUEST_FIELDS.index(f) for f in ("level", "tile", "n", "k", "cycles"))


def flat_topk(x: np.ndarray, k: int) -> np.ndarray:
    """numpy's answer: the k largest, equal scores earliest first, in input order."""
    return np.sort(np.argsort(-np.asarray(x, dtype=np.int64), kind="stable")[:k])


@st.composite
def cases(draw):
    max_n = draw(st.sampled_from([2, 4, 8, 16, 64]))
    n = draw(st.integers(1, 300))
    if n <= max_n:
        k = draw(st.integers(1, n))
    elif draw(st.booleans()):  # select directly: k < max_n
        k = draw(st.integers(1, min(n, max_n - 1)))
    else:  # drop mode: n - k < max_n
        k = draw(st.integers(max(max_n, n - max_n + 1), n - 1))
    hi = draw(st.sampled_from([0, 1, 3, 4095]))  # 0 and 1: nearly every score ties
    x = np.array(draw(st.lists(st.integers(0, hi), min_size=n, max_size=n)), dtype=np.int64)
    lanes = draw(st.sampled_from([1, 4, 16]))
    in_lanes = draw(st.sampled_from([1, 8]))
    seed = draw(st.integers(0, 2**32 - 1))
    return x, k, max_n, lanes, in_lanes, seed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_equals_flat_topk_and_counts_every_request(case):
    x, k, max_n, lanes, in_lanes, seed = case
    idx, det, req = select_hierarchical_detail(x, k, lanes=lanes, max_n=max_n, in_lanes=in_lanes, seed=seed)
    np.testing.assert_array_equal(idx, flat_topk(x, k))
    assert det["cycles"] == req[:, CYCLES].sum() == det["tile_cycles"] + det["final_cycles"]
    assert det["requests"] == len(req) and det["levels"] == req[-1, LEVEL] + 1
    assert (req[:, N] <= max_n).all()
    # level 0 covers the row; each level's inputs are the previous level's survivors; the last request
    # picks k (in drop mode: the n - k dropped)
    assert req[req[:, LEVEL] == 0, N].sum() == len(x)
    for lv in range(1, det["levels"]):
        assert req[req[:, LEVEL] == lv, N].sum() == req[req[:, LEVEL] == lv - 1, K].sum()
    assert det["drop"] == int(len(x) > max_n and k >= max_n)
    assert req[-1, K] == (len(x) - k if det["drop"] else k) and (req[:, LEVEL] == det["levels"] - 1).sum() == 1
    if len(x) <= max_n:  # fits one request: exactly the flat engine, cycles included
        assert select(x, k, lanes=lanes, in_lanes=in_lanes, seed=seed)[1] == det["cycles"]


def test_two_tiles_by_hand():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 4096, size=100)
    kw = dict(lanes=4, in_lanes=8, seed=3)
    idx, det, req = select_hierarchical_detail(x, 10, max_n=64, **kw)
    a, ca = select(x[:64], 10, **kw)
    b, cb = select(x[64:], 10, **kw)
    survivors = np.concatenate([a, 64 + b])
    m, cm = select(x[survivors], 10, **kw)
    np.testing.assert_array_equal(idx, survivors[m])
    fill = sum(select_detail(t, 10, **kw)[1]["fill_cycles"] for t in (x[:64], x[64:]))
    filt = select_detail(x[survivors], 10, **kw)[1]["filter_cycles"]
    assert det == {"cycles": ca + cb + cm, "requests": 3, "levels": 2, "tile_cycles": ca + cb, "final_cycles": cm,
                   "fill_cycles": fill, "filter_cycles": filt, "drop": 0}
    np.testing.assert_array_equal(req, [[0, 0, 64, 10, ca], [0, 1, 36, 10, cb], [1, 0, 20, 10, cm]])


def test_merge_is_tiled_again_when_survivors_exceed_max_n():
    x = np.arange(40)[::-1].copy()
    idx, det, req = select_hierarchical_detail(x, 3, lanes=2, max_n=8)
    np.testing.assert_array_equal(idx, [0, 1, 2])
    # 40 scores -> 5 tiles of 8 -> 15 survivors -> tiles of 8 and 7 -> 6 survivors -> the final request
    np.testing.assert_array_equal(req[:, [LEVEL, N, K]],
                                  [[0, 8, 3]] * 5 + [[1, 8, 3], [1, 7, 3], [2, 6, 3]])
    assert (det["levels"], det["requests"]) == (3, 8)


def test_ties_across_tiles_keep_the_earliest_as_flat_does():
    x = np.zeros(50, dtype=np.int64)
    x[[3, 20, 45]] = 5  # the rest tie at 0; the flat engine keeps the earliest zeros
    idx, _ = select_hierarchical(x, 9, lanes=4, max_n=16)
    np.testing.assert_array_equal(idx, flat_topk(x, 9))
    np.testing.assert_array_equal(idx, [0, 1, 2, 3, 4, 5, 6, 20, 45])


def test_a_merge_out_of_stream_order_would_differ_only_among_ties():
    """Why the survivors are merged in stream order: the latest tile first keeps other tied indices."""
    x = np.zeros(32, dtype=np.int64)
    x[[5, 30]] = 9
    kw = dict(lanes=4, seed=0)
    tiles = [np.arange(0, 16), np.arange(16, 32)]
    picked = [t[select(x[t], 4, **kw)[0]] for t in tiles]
    reversed_survivors = np.concatenate(picked[::-1])
    other = np.sort(reversed_survivors[select(x[reversed_survivors], 4, **kw)[0]])
    idx, _ = select_hierarchical(x, 4, max_n=16, **kw)
    np.testing.assert_array_equal(idx, flat_topk(x, 4))  # [0, 1, 5, 30]
    np.testing.assert_array_equal(other, [5, 16, 17, 30])  # same scores, other zeros
    np.testing.assert_array_equal(np.sort(x[other]), np.sort(x[idx]))


def test_batch_equals_rows_and_flat_batch_below_max_n():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 8, size=(6, 90))
    nv = np.array([90, 1, 17, 64, 65, 40])
    ks = np.array([5, 1, 17, 30, 12, 3])
    keep, det = select_hierarchical_batch(x, ks, lanes=8, max_n=32, n_valid=nv, seed=11)
    for r in range(6):
        idx, c = select_hierarchical(x[r, :nv[r]], int(ks[r]), lanes=8, max_n=32, seed=11)
        np.testing.assert_array_equal(np.flatnonzero(keep[r]), idx)
        assert det["cycles"][r] == c
    small = nv <= 32
    fkeep, fcyc = select_batch(x[small], ks[small], lanes=8, seed=11, n_valid=nv[small])
    np.testing.assert_array_equal(keep[small], fkeep)
    np.testing.assert_array_equal(det["cycles"][small], fcyc)


def test_drop_mode_by_hand():
    """k >= max_n: the engine drops n - k, selected on the inverted scores read in reverse order."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 16, size=40)
    x[[2, 9, 33]] = 0  # ties at the bottom: the flat engine keeps the earliest, so drops the latest
    kw = dict(lanes=4, in_lanes=4, seed=2)
    idx, det, req = select_hierarchical_detail(x, 35, max_n=16, width=4, **kw)
    np.testing.assert_array_equal(idx, flat_topk(x, 35))
    inverted = (15 - x)[::-1]
    drop_rev, cyc, _ = select_hierarchical_detail(inverted, 5, max_n=16, **kw)
    np.testing.assert_array_equal(np.setdiff1d(np.arange(40), idx), np.sort(39 - drop_rev))
    assert det["cycles"] == cyc["cycles"] and det["drop"] == 1 and req[-1, K] == 5


def test_a_long_row_keeping_everything_needs_no_request():
    idx, det, req = select_hierarchical_detail(np.arange(40), 40, lanes=4, max_n=16)
    np.testing.assert_array_equal(idx, np.arange(40))
    assert det["cycles"] == det["requests"] == 0 and len(req) == 0


def test_rows_of_any_length_dispatch():
    """select_rows: short rows are one flat golden request each, long rows hierarchical."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4096, size=(4, 70))
    nv, ks = np.array([70, 20, 64, 65]), np.array([6, 20, 63, 64])
    keep, det = select_rows(x, ks, lanes=4, max_n=64, seed=1, n_valid=nv)
    for r in range(4):
        idx, d, _ = select_hierarchical_detail(x[r, :nv[r]], int(ks[r]), lanes=4, max_n=64, seed=1)
        np.testing.assert_array_equal(np.flatnonzero(keep[r]), idx)
        assert (det["cycles"][r], det["fill_cycles"][r], det["filter_cycles"][r]) == (
            d["cycles"], d["fill_cycles"], d["filter_cycles"])
    short_keep, short = select_rows(x[1:3], ks[1:3], lanes=4, max_n=64, seed=1, n_valid=nv[1:3])
    fkeep, fdet = select_batch(x[1:3], ks[1:3], lanes=4, seed=1, n_valid=nv[1:3])
    np.testing.assert_array_equal(short_keep, fkeep)
    np.testing.assert_array_equal(short["cycles"], fdet)


def test_params_take_max_n_and_width():
    p = TopKParams(lanes=4, width=4, max_n=16, in_lanes=4, seed=5)
    x = np.arange(40) % 16
    idx, det, _ = select_hierarchical_params(p, x, 5)  # 3 tiles x 5 = 15 survivors: one merge
    np.testing.assert_array_equal(idx, flat_topk(x, 5))
    assert det["levels"] == 2
    with pytest.raises(HwsimError, match=r"^scores_2d\[\(0, 1\)\] = 16 is outside the 4-bit score range 0..15$"):
        select_hierarchical_params(p, [0, 16], 1)


@pytest.mark.parametrize("args, message", [
    ((np.arange(20), 8), "ks[0] = 8 of n = 20 scores: a hierarchical top-k needs k or n - k below max_n = 8 (a "
                         "tile of max_n scores must shrink); raise topk.max_n to more than 8"),
    ((np.arange(20), 0), "k must be an integer from 1 to n = 20, not 0"),
    ((np.zeros((2, 2), dtype=int), 1), "scores must be a 1-D array of integers, got shape (2, 2)"),
    ((np.array([], dtype=int), 1), "scores must hold at least 1 element, got 0"),
])
def test_bad_input_one_line(args, message):
    with pytest.raises(HwsimError) as e:
        select_hierarchical(*args, lanes=4, max_n=8)
    assert str(e.value) == message


def test_max_n_is_required():
    with pytest.raises(HwsimError, match="^max_n must be a positive integer, not None$"):
        select_hierarchical([1, 2], 1, lanes=4, max_n=None)

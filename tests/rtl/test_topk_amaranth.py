"""Fast checks of the top-k RTL in Amaranth's simulator (sign-off is test_topk_cocotb.py).

Small parameter sets cover in_lanes below, equal to and above lanes, max_n not a multiple of
lanes, and the port behaviours the golden model does not have (k clamped to 1..n, a request
longer than max_n truncated, a last-beat count of 0 read as in_lanes).
"""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest

from hwsim.units.topk import TopKParams, select
from rtl.topk import TopK
from rtl.topk_bench import Phase, payloads_of, run_amaranth, run_amaranth_requests

SETS = [
    TopKParams(lanes=1, in_lanes=2, width=3, max_n=9, seed=5),
    TopKParams(lanes=2, in_lanes=1, width=4, max_n=13, seed=1),
    TopKParams(lanes=4, in_lanes=4, width=2, max_n=22, seed=7),
    TopKParams(lanes=4, in_lanes=16, width=6, max_n=40, seed=2),
]


@pytest.mark.parametrize("params", SETS, ids=lambda p: f"P{p.lanes}-I{p.in_lanes}-W{p.width}-N{p.max_n}")
def test_outputs_and_cycles(params):
    report = run_amaranth(params, [Phase(40, 11), Phase(15, 12, pause=0.4, backpressure=0.5)])
    assert len(report.records) == 55
    assert report.ok, report.first_mismatch_line()


def golden(params, x, k):
    return select(x, k, lanes=params.lanes, in_lanes=params.in_lanes, seed=params.seed)


def test_port_behaviours():
    p = TopKParams(lanes=2, in_lanes=4, width=4, max_n=10)
    x = np.array([3, 9, 9, 1, 9, 0, 2], dtype=np.int64)
    long_x = np.arange(14) % 5
    reqs = [
        (payloads_of(p, x), 0),            # k = 0 -> 1
        (payloads_of(p, x), 15),           # k > n -> n
        (payloads_of(p, x, last_count=0), 2),  # count 0 on the last beat -> 4 lanes: 8 scores
        (payloads_of(p, long_x), 3),       # 14 > max_n = 10 scores: the first 10 are kept
    ]
    got = run_amaranth_requests(p, reqs)
    expect = [golden(p, x, 1), golden(p, x, 7), None, golden(p, long_x[:10], 3)]
    x8 = np.concatenate([x, [x[-1]]])  # the 8th lane carries the padding copy of the last score
    for (idx, sc, cyc), exp in zip(got, expect):
        if exp is None:
            continue
        assert idx == exp[0].tolist()
    idx8 = golden(p, x8, 2)[0].tolist()
    assert got[2][0] == idx8
    assert got[0][2] == expect[0][1] and got[1][2] == expect[1][1]
    # the truncated request: its 14 scores still take ceil(14 / 2) = 7 fill cycles, 2 more than
    # the 10 the golden count is given
    assert got[3][2] == expect[3][1] + 2


def test_component_rejects_bad_arguments():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the half-built components are never elaborated
        with pytest.raises(TypeError, match="^params must be a TopKParams, not 4$"):
            TopK(4)
        with pytest.raises(ValueError, match="^fault must be one of"):
            TopK(TopKParams(), fault="late")
        gc.collect()

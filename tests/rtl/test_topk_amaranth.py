"""Fast checks of the top-k RTL in Amaranth's simulator (sign-off is test_topk_cocotb.py).

Small parameter sets cover in_lanes below, equal to and above lanes, max_n not a multiple of
lanes, and the port behaviours the golden model does not have (k clamped to 1..n, a request
longer than max_n truncated, a last-beat count of 0 read as in_lanes).
"""

from __future__ import annotations

import dataclasses
import gc
import warnings

import numpy as np
import pytest

from hwsim.units.topk import TopKParams, select, select_params, sequence_schedule
from rtl.topk import TopK, data_rows, filter_queue_depth, wide_rows
from rtl.topk_bench import Phase, _amaranth_run, payloads_of, run_amaranth, run_amaranth_requests, stream

SETS = [
    TopKParams(lanes=1, in_lanes=2, width=3, max_n=9, seed=5),
    TopKParams(lanes=2, in_lanes=1, width=4, max_n=13, seed=1),
    TopKParams(lanes=4, in_lanes=4, width=2, max_n=22, seed=7),
    TopKParams(lanes=4, in_lanes=16, width=6, max_n=40, seed=2),
    TopKParams(lanes=1, in_lanes=8, width=4, max_n=20, seed=4),  # the 1-lane baseline's 8-wide input
]


@pytest.mark.parametrize("overlap", ["none", "filter"])
@pytest.mark.parametrize("params", SETS, ids=lambda p: f"P{p.lanes}-I{p.in_lanes}-W{p.width}-N{p.max_n}")
def test_outputs_and_cycles(params, overlap):
    params = dataclasses.replace(params, overlap=overlap)
    report = run_amaranth(params, [Phase(40, 11), Phase(15, 12, pause=0.4, backpressure=0.5), Phase(20, 13)])
    assert len(report.records) == 75
    assert report.ok, report.first_mismatch_line()


def worst_stream(p):
    """A request whose filter reads every row (D + 3 or D + 4 cycles), then 20 of one score each."""
    return [(np.arange(p.max_n) % (p.max_score + 1), p.max_n)] + [(np.array([1]), 1)] * 20


def run_stream(p, reqs, **kw):
    out = []

    async def body(step):
        seen, _ = await stream(step, p, [(payloads_of(p, x), k) for x, k in reqs], cycle=0, limit=100_000,
                               rng=np.random.default_rng(4), **kw)
        out.extend(seen)

    _amaranth_run(p, None, body)
    return out


@pytest.mark.parametrize("params", SETS[1:], ids=lambda p: f"P{p.lanes}-I{p.in_lanes}-N{p.max_n}")
def test_filter_queue_fills_to_its_depth_without_a_stall(params):
    """The worst stream for the filter queue: the recurrence has ``filter_queue_depth`` requests
    in the queue at once, and the RTL still takes every beat on the golden cycle."""
    p = dataclasses.replace(params, overlap="filter")
    reqs = worst_stream(p)
    det = [select_params(p, x, k)[1] for x, k in reqs]
    cyc, fill, filt = (np.array([d[f] for d in det]) for f in ("cycles", "fill_cycles", "filter_cycles"))
    start, done = sequence_schedule(cyc, fill, filt, overlap="filter")
    decided = start + cyc - filt  # the cycle after each decision: the request is in the queue
    held = max(int((done[: j + 1] > decided[j]).sum()) for j in range(len(reqs)))
    assert held == filter_queue_depth(p) and filt[0] >= p.rows + 3  # the last row holds the k-th kept
    seen = run_stream(p, reqs)
    origin = seen[0].first_in
    assert [s.first_in - origin for s in seen] == start.tolist()
    assert [s.last_out + 1 - origin for s in seen] == done.tolist()
    for s, (x, k) in zip(seen, reqs):
        assert s.indices == golden(p, x, k)[0].tolist()


@pytest.mark.parametrize("params", [SETS[1], SETS[3]], ids=lambda p: f"P{p.lanes}-I{p.in_lanes}-N{p.max_n}")
def test_back_pressure_on_the_worst_stream_loses_nothing(params):
    """With the sink mostly not ready the queue and the DATA ring fill up: the selector waits
    (with in_lanes > lanes every request holds whole wide rows of the ring, a 1-score one too)."""
    p = dataclasses.replace(params, overlap="filter")
    reqs = worst_stream(p) * 3
    seen = run_stream(p, reqs, backpressure=0.9)
    assert all(s.indices == golden(p, x, k)[0].tolist() for s, (x, k) in zip(seen, reqs))
    b = wide_rows(p)
    assert b == max(1, p.in_lanes // p.lanes)
    assert data_rows(p) == 2 * -(-p.rows // b) + (p.rows + 1) // 2


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
    # the truncated request: its 14 scores still take ceil(14 / 4) = 4 fill cycles (one 4-score
    # beat a cycle into the 2-lane engine's wide rows), 1 more than the 10 the golden count is given
    assert got[3][2] == expect[3][1] + 1


def test_component_rejects_bad_arguments():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the half-built components are never elaborated
        with pytest.raises(TypeError, match="^params must be a TopKParams, not 4$"):
            TopK(4)
        with pytest.raises(ValueError, match="^fault must be one of"):
            TopK(TopKParams(), fault="late")
        with pytest.raises(ValueError, match="^the RTL builds overlap none or filter, not 'full'$"):
            TopK(TopKParams(overlap="full"))
        gc.collect()

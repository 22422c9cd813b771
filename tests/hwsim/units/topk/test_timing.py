"""Timing view of the top-k engines: the whole event log of small scenarios, and simpy == recurrence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import simpy

from hwsim.config import load_design
from hwsim.errors import HwsimError
from hwsim.units.topk import (
    OVERLAPS,
    TopKParams,
    TopKUnit,
    fill_cycles,
    schedule,
    select_detail,
    select_params,
    sequence_cycles,
    sequence_schedule,
    service_cycles,
    stage_services,
)

P = TopKParams(lanes=4, width=8, max_n=64, in_lanes=4)


def offer_at(env, unit, t, kind, tag, cycles, fill, out):
    def proc():
        yield env.timeout(t)
        out.append(unit.submit(kind, cycles=cycles, fill_cycles=fill, tag=tag))

    env.process(proc())


def test_two_engines_event_log():
    env = simpy.Environment()
    log = []
    unit = TopKUnit(env, P, engines=2, log=log)
    reqs = []
    offer_at(env, unit, 0, "token", "A", 10, 3, reqs)
    offer_at(env, unit, 0, "head", "B", 6, 2, reqs)
    offer_at(env, unit, 1, "local_v", "C", 5, 2, reqs)
    env.run()
    assert log == [
        (0, "token_head", "token", "A", "offer"),
        (0, "token_head", "head", "B", "offer"),
        (0, "token_head", "token", "A", "start"),
        (1, "local_v", "local_v", "C", "offer"),
        (1, "local_v", "local_v", "C", "start"),
        (3, "token_head", "token", "A", "accepted"),
        (3, "local_v", "local_v", "C", "accepted"),
        (6, "local_v", "local_v", "C", "done"),
        (10, "token_head", "token", "A", "done"),
        (10, "token_head", "head", "B", "start"),
        (12, "token_head", "head", "B", "accepted"),
        (16, "token_head", "head", "B", "done"),
    ]
    assert [r.wait_cycles for r in reqs] == [0, 10, 0]
    assert unit.stats() == [
        {"engine": "token_head", "requests": 2, "busy_cycles": 16, "wait_cycles": 10},
        {"engine": "local_v", "requests": 1, "busy_cycles": 5, "wait_cycles": 0},
    ]


def test_one_engine_serialises_local_v_too():
    env = simpy.Environment()
    log = []
    unit = TopKUnit(env, P, engines=1, log=log)
    reqs = []
    offer_at(env, unit, 0, "token", "A", 10, 3, reqs)
    offer_at(env, unit, 1, "local_v", "C", 5, 2, reqs)
    env.run()
    assert [(t, e, tag, ev) for t, e, _, tag, ev in log] == [
        (0, "shared", "A", "offer"),
        (0, "shared", "A", "start"),
        (1, "shared", "C", "offer"),
        (3, "shared", "A", "accepted"),
        (10, "shared", "A", "done"),
        (10, "shared", "C", "start"),
        (12, "shared", "C", "accepted"),
        (15, "shared", "C", "done"),
    ]


def test_backpressured_producer_matches_recurrence():
    # A producer that must hand each row to the engine before making the next one (Q x K needs
    # 5 cycles per row): its offers are held by the busy engine.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(30, 64))
    ks = rng.integers(1, 65, size=30)
    keep, cycles, fill = service_cycles(x, ks, P)
    produce = 5
    env = simpy.Environment()
    unit = TopKUnit(env, P)
    reqs = []

    def producer():
        for r in range(30):
            yield env.timeout(produce)
            req = unit.select("token", x[r], int(ks[r]), tag=r)
            reqs.append(req)
            yield req.accepted

    env.process(producer())
    env.run()
    # the recurrence with arrival_r = accepted_{r-1} + produce
    arrival = np.zeros(30, np.int64)
    t = 0
    for r in range(30):
        arrival[r] = t + produce
        t = schedule(arrival[: r + 1], fill[: r + 1], cycles[: r + 1])[1][r]
    s, a, d = schedule(arrival, fill, cycles)
    assert [q.submitted for q in reqs] == arrival.tolist()
    assert [q.start for q in reqs] == s.tolist()
    assert [q.accept_time for q in reqs] == a.tolist()
    assert [q.finish for q in reqs] == d.tolist()
    assert sum(q.wait_cycles for q in reqs) > 0  # the engine (about 70 cycles a row) is the bottleneck
    for r, q in enumerate(reqs):
        np.testing.assert_array_equal(q.indices, np.flatnonzero(keep[r]))


def test_schedule_recurrence():
    s, a, d = schedule([0, 0, 50], [2, 2, 2], [10, 20, 5], t0=3)
    assert s.tolist() == [3, 13, 50] and a.tolist() == [5, 15, 52] and d.tolist() == [13, 33, 55]
    with pytest.raises(HwsimError, match="^arrival must be non-decreasing"):
        schedule([5, 0], [1, 1], [3, 3])
    with pytest.raises(HwsimError, match=r"^every request needs 1 <= fill < cycles$"):
        schedule([0], [3], [3])


def test_unit_from_design_and_errors():
    env = simpy.Environment()
    unit = TopKUnit.from_design(env, load_design("spatten", ["topk.engines=1"]))
    assert [e.name for e in unit.engines] == ["shared"] and unit.params.lanes == 16
    assert fill_cycles([1024, 5], unit.params).tolist() == [128, 1]
    with pytest.raises(HwsimError, match="^kind must be one of token, head, local_v, not 'value'$"):
        unit.submit("value", cycles=5, fill_cycles=1)
    with pytest.raises(HwsimError, match="^n = 2000 scores exceed the engine's max_n = 1024$"):
        unit.select("token", np.zeros(2000, int), 3)
    req = unit.select("head", [3, 1, 2], 2)
    env.run()
    idx, det = select_detail([3, 1, 2], 2, lanes=16, in_lanes=8)
    assert req.indices.tolist() == idx.tolist() == [0, 2]
    assert (req.start, req.finish) == (0, det["cycles"])


def test_stage_services_per_overlap_mode():
    cycles, fill, filt = [10, 30], [1, 4], [4, 9]
    assert stage_services(cycles, fill, filt, overlap="none").tolist() == [[0, 0], [10, 30], [0, 0]]
    assert stage_services(cycles, fill, filt, overlap="filter").tolist() == [[0, 0], [6, 21], [4, 9]]
    assert stage_services(cycles, fill, filt, overlap="full").tolist() == [[1, 4], [5, 17], [4, 9]]
    with pytest.raises(HwsimError, match="^Top-k overlap must be one of none, filter, full, not 'half'$"):
        stage_services(cycles, fill, filt, overlap="half")


def test_sequence_schedule_hand_counted():
    # A (fill 4, rounds 17, filter 9), then B (fill 1, rounds 5, filter 4), then C like A
    cycles, fill, filt = [30, 10, 30], [4, 1, 4], [9, 4, 9]
    assert [x.tolist() for x in sequence_schedule(cycles, fill, filt, overlap="none")] == [[0, 30, 40], [30, 40, 70]]
    # B fills during A's filter (21..30); B's filter waits for A's: 30..34; C fills from 27
    assert [x.tolist() for x in sequence_schedule(cycles, fill, filt, overlap="filter")] == [[0, 21, 27], [30, 34, 57]]
    # fill, rounds and filter each a stage: B's fill starts once A's fill is done
    assert [x.tolist() for x in sequence_schedule(cycles, fill, filt, overlap="full")] == [[0, 4, 5], [30, 34, 52]]


@pytest.mark.parametrize("params", [P, TopKParams(lanes=16, max_n=1024), TopKParams(lanes=1, in_lanes=1, max_n=40)])
def test_sequence_cycles_orders_the_modes(params):
    rng = np.random.default_rng(7)
    reqs = [(rng.integers(0, 16, size=n), int(rng.integers(1, n + 1)))
            for n in rng.integers(1, params.max_n + 1, size=40)]
    total = {o: sequence_cycles(reqs, params, o) for o in OVERLAPS}
    assert total["none"] == sum(select_detail(x, k, lanes=params.lanes, in_lanes=params.in_lanes)[1]["cycles"]
                                for x, k in reqs)
    assert total["full"] < total["filter"] < total["none"]
    assert sequence_cycles(reqs, dataclasses.replace(params, overlap="full")) == total["full"]  # params.overlap
    assert sequence_cycles([], params) == 0
    # one request: the golden count whatever the mode
    assert {sequence_cycles(reqs[:1], params, o) for o in OVERLAPS} == {select_params(params, *reqs[0])[1]["cycles"]}

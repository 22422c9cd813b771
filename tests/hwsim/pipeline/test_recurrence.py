"""The numba pipeline recurrence agrees with the per-cycle reference, cycle for cycle."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.pipeline import bottleneck_stage, schedule, schedule_after, schedule_reference


@pytest.mark.parametrize("seed", range(40))
def test_recurrence_matches_per_cycle_reference(seed):
    rng = np.random.default_rng(seed)
    stages, rows = rng.integers(1, 6), rng.integers(1, 16)
    service = rng.integers(0, 9, size=(stages, rows))
    service[:, rng.random(rows) < 0.2] = 0  # some rows skip some stages
    latency = rng.integers(0, 5, size=stages)
    t0 = int(rng.integers(0, 7))
    fast = schedule(service, latency, t0)
    ref = schedule_reference(service, latency, t0)
    np.testing.assert_array_equal(fast[0], ref[0])
    np.testing.assert_array_equal(fast[1], ref[1])


def test_small_timeline_exactly():
    # 3 rows through (QK: 4 cycles, latency 1) -> (softmax: 2 cycles, latency 3)
    service = np.array([[4, 4, 4], [2, 6, 2]])
    latency = np.array([1, 3])
    start, done = schedule(service, latency)
    assert start.tolist() == [[0, 4, 8], [5, 9, 15]]
    assert done.tolist() == [[5, 9, 13], [10, 18, 20]]
    assert bottleneck_stage(service) == 0


def test_bad_shapes():
    with pytest.raises(ValueError):
        schedule(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError):
        schedule(-np.ones((1, 3)), np.zeros(1))


def _valid_overlap(rng, service, latency):
    """Random overlaps within the contract: a stage overlaps the previous non-skipped stage's service + latency."""
    stages, rows = service.shape
    overlap = np.zeros_like(service)
    for r in range(rows):
        prev = None
        for s in range(stages):
            if service[s, r]:
                if prev is not None:
                    overlap[s, r] = rng.integers(0, service[prev, r] + latency[prev] + 1)
                prev = s
    return overlap


@pytest.mark.parametrize("seed", range(40))
def test_streaming_overlap_matches_reference(seed):
    rng = np.random.default_rng(100 + seed)
    stages, rows = rng.integers(2, 6), rng.integers(1, 14)
    service = rng.integers(0, 9, size=(stages, rows))
    service[:, rng.random(rows) < 0.2] = 0
    latency = rng.integers(0, 5, size=stages)
    overlap = _valid_overlap(rng, service, latency)
    fast = schedule(service, latency, 3, overlap)
    ref = schedule_reference(service, latency, 3, overlap)
    np.testing.assert_array_equal(fast[0], ref[0])
    np.testing.assert_array_equal(fast[1], ref[1])


def test_overlap_lets_a_streaming_consumer_start_early():
    service = np.array([[4], [6]])
    latency = np.array([2, 0])
    assert schedule(service, latency)[0][1, 0] == 6
    assert schedule(service, latency, overlap=np.array([[0], [4]]))[0][1, 0] == 2


@pytest.mark.parametrize("seed", range(20))
def test_rows_arriving_over_time_match_reference(seed):
    rng = np.random.default_rng(100 + seed)
    stages, rows = int(rng.integers(1, 4)), int(rng.integers(1, 10))
    service = rng.integers(0, 6, size=(stages, rows))
    latency = rng.integers(0, 4, size=stages)
    arrival = np.sort(rng.integers(0, 30, size=rows))
    got = schedule(service, latency, 2, arrival=arrival)
    ref = schedule_reference(service, latency, 2, arrival=arrival)
    assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    assert (got[0][0] >= np.maximum(arrival, 2)).all()


@pytest.mark.parametrize("seed", range(20))
def test_a_sequence_cut_into_calls_is_one_call(seed):
    """schedule_after continues from the stages' state: rows of consecutive groups follow with no drain."""
    rng = np.random.default_rng(100 + seed)
    stages, rows = int(rng.integers(1, 6)), int(rng.integers(2, 20))
    service = rng.integers(0, 9, size=(stages, rows))
    latency = rng.integers(0, 5, size=stages)
    overlap = _valid_overlap(rng, service, latency)
    whole = schedule(service, latency, 0, overlap)
    cut = int(rng.integers(1, rows))
    s1, d1, free = schedule_after(service[:, :cut], latency, 0, np.zeros(stages, np.int64), overlap[:, :cut])
    s2, d2, _ = schedule_after(service[:, cut:], latency, 0, free, overlap[:, cut:])
    np.testing.assert_array_equal(np.hstack([s1, s2]), whole[0])
    np.testing.assert_array_equal(np.hstack([d1, d2]), whole[1])
    # a later start (the next group's data arriving) delays only what it must
    s3, _, _ = schedule_after(service[:, cut:], latency, 10_000, free, overlap[:, cut:])
    assert s3[0, 0] == max(10_000, int(free[0]))


@pytest.mark.parametrize("seed", range(30))
def test_earliest_starts_match_reference(seed):
    """Rows whose data streams in (``earliest``: no start of a stage before a cycle) agree with the stepper."""
    rng = np.random.default_rng(300 + seed)
    stages, rows = int(rng.integers(1, 6)), int(rng.integers(1, 14))
    service = rng.integers(0, 9, size=(stages, rows))
    service[:, rng.random(rows) < 0.2] = 0
    latency = rng.integers(0, 5, size=stages)
    overlap = _valid_overlap(rng, service, latency)
    earliest = np.where(rng.random((stages, rows)) < 0.3, rng.integers(0, 60, size=(stages, rows)), -5)
    fast = schedule(service, latency, 2, overlap, earliest=earliest)
    ref = schedule_reference(service, latency, 2, overlap, earliest=earliest)
    np.testing.assert_array_equal(fast[0], ref[0])
    np.testing.assert_array_equal(fast[1], ref[1])
    assert (fast[0] >= earliest).all()
    # a floor at or below where a row would start anyway changes nothing
    plain = schedule(service, latency, 2, overlap)
    np.testing.assert_array_equal(schedule(service, latency, 2, overlap, earliest=np.minimum(plain[0], earliest))[0],
                                  plain[0])


def test_earliest_holds_a_consumer_until_its_last_line():
    # Q x K of 4 cycles whose key fetch lands at cycle 10: it starts at 6 and ends with the last line
    start, done = schedule(np.array([[4, 4]]), np.array([1]), 0, earliest=np.array([[6, -1]]))
    assert start.tolist() == [[6, 10]] and done.tolist() == [[11, 15]]

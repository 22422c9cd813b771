"""The in-order row pipeline, timed row by row (DESIGN.md "Simulation strategy").

One call times a sequence of rows (a head's, or every head's of a K/V group);
:func:`schedule_after` continues the sequence from the stages' state after earlier rows, so the
rows of consecutive groups follow each other without a drain.

Model: rows (queries) pass through stages 0..S-1 in order. Stage s is a pipelined unit: it accepts
one row at a time and is *occupied* for ``service[s, r]`` cycles (its initiation interval for that
row), after which the row's result leaves ``latency[s]`` cycles later (the unit's pipeline depth).
Between stages are FIFOs deep enough never to block (SpAtten sizes its FIFOs to the row rates:
softmax FIFO 128, fetcher FIFOs 64; docs/sources.md SpAtten §2.2). A row whose service at a stage
is 0 skips that stage (no latency). A stage may also start a row ``overlap[s, r]`` cycles before
the previous stage is done with it, when it consumes that stage's output as a stream (the top-k
engine's fill phase takes the probabilities as the softmax unit emits them). With ``t0`` the time
the first row may enter:

    start[s, r] = max(ready[s, r], start[s, r-1] + service[s, r-1])
    ready[s, r] = done[s-1, r] - overlap[s, r]     (t0 for s = 0)
    done[s, r]  = start[s, r] + service[s, r] + latency[s]   (start[s, r] if service is 0)

where ``done[s-1, r]`` is that of the last stage the row did not skip. ``overlap`` must not exceed
the previous stage's service + latency for that row. ``earliest[s, r]`` (optional) is a cycle
before which row ``r`` may not start stage ``s`` (its data streams in from memory and must not run
out: a consumer of a streamed fetch finishes no earlier than the fetch's last line):

    start[s, r] = max(ready[s, r], start[s, r-1] + service[s, r-1], earliest[s, r])

:func:`schedule` is the numba recurrence; :func:`schedule_reference` steps the same hardware
cycle by cycle (queues, busy counters, latency shift registers) and must agree exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["schedule", "schedule_after", "schedule_reference", "bottleneck_stage"]


@njit(cache=True)
def _schedule(service, latency, overlap, t0, arrival, free, earliest):
    """The recurrence; ``free`` [stages] (the cycle each stage may take its next row) is updated in place."""
    n_stages, n_rows = service.shape
    start = np.zeros((n_stages, n_rows), np.int64)
    done = np.zeros((n_stages, n_rows), np.int64)
    for r in range(n_rows):
        ready = t0 if arrival[r] < t0 else arrival[r]
        for s in range(n_stages):
            svc = service[s, r]
            st = ready if ready > free[s] else free[s]
            if earliest[s, r] > st:
                st = earliest[s, r]
            start[s, r] = st
            if svc == 0:
                done[s, r] = st
                free[s] = st
                ready = st
                continue
            free[s] = st + svc
            done[s, r] = st + svc + latency[s]
            # announce the row to the next stage that does not skip it, early by its overlap
            lead = 0
            for nxt in range(s + 1, n_stages):
                if service[nxt, r] > 0:
                    lead = overlap[nxt, r]
                    break
            ready = done[s, r] - lead
    return start, done


def _arrays(service, latency, overlap, arrival=None, earliest=None):
    service = np.ascontiguousarray(service, np.int64)
    latency = np.ascontiguousarray(latency, np.int64)
    if service.ndim != 2 or latency.shape != (service.shape[0],):
        raise ValueError("service must be [stages, rows] and latency [stages]")
    overlap = np.zeros_like(service) if overlap is None else np.ascontiguousarray(overlap, np.int64)
    if overlap.shape != service.shape:
        raise ValueError("overlap must have the shape of service")
    if (service < 0).any() or (latency < 0).any() or (overlap < 0).any():
        raise ValueError("service, latency and overlap must be non-negative")
    arrival = np.zeros(service.shape[1], np.int64) if arrival is None else np.ascontiguousarray(arrival, np.int64)
    if arrival.shape != (service.shape[1],):
        raise ValueError("arrival must be [rows]")
    floor = np.iinfo(np.int64).min
    earliest = np.full(service.shape, floor, np.int64) if earliest is None else np.ascontiguousarray(earliest, np.int64)
    if earliest.shape != service.shape:
        raise ValueError("earliest must have the shape of service")
    return service, latency, overlap, arrival, earliest


def schedule(service: np.ndarray, latency: np.ndarray, t0: int = 0, overlap: np.ndarray | None = None,
             arrival: np.ndarray | None = None, earliest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (start, done) cycle arrays [stages, rows] of the in-order pipeline (see module doc).

    ``arrival[r]`` (optional) is the first cycle row ``r`` may enter stage 0 (``t0`` for every row
    when omitted): rows offered over time, e.g. requests to one engine. ``earliest`` [stages, rows]
    (optional): the cycle before which a row may not start a stage.
    """
    service, latency, overlap, arrival, earliest = _arrays(service, latency, overlap, arrival, earliest)
    return _schedule(service, latency, overlap, np.int64(t0), arrival, np.full(service.shape[0], t0, np.int64),
                     earliest)


def schedule_after(service: np.ndarray, latency: np.ndarray, t0: int, free: np.ndarray,
                   overlap: np.ndarray | None = None,
                   earliest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`schedule` of rows that follow earlier rows through the same stages: ``(start, done, free)``.

    ``free`` [stages] is the cycle each stage finished taking the earlier rows (what the returned
    ``free`` is for the rows after these). With ``free`` all ``<= t0`` it is :func:`schedule`; a
    stream of rows cut into calls gives the times of one call over all of them.
    """
    service, latency, overlap, arrival, earliest = _arrays(service, latency, overlap, None, earliest)
    free = np.array(free, dtype=np.int64)
    if free.shape != (service.shape[0],):
        raise ValueError("free must be [stages]")
    start, done = _schedule(service, latency, overlap, np.int64(t0), arrival, free, earliest)
    return start, done, free


def schedule_reference(service: np.ndarray, latency: np.ndarray, t0: int = 0, overlap: np.ndarray | None = None,
                       arrival: np.ndarray | None = None,
                       earliest: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Step the same pipeline one cycle at a time; return (start, done) like :func:`schedule`.

    Hardware stepped: each stage serves rows strictly in order (a ``next_row`` pointer), has a
    busy-until register and a latency shift register; rows arriving from the previous stage wait
    in its input FIFO. At every cycle, stages in order: results whose latency expires enter the
    next FIFO; a free stage takes its next row if that row has arrived; a row with 0 service
    passes through in the same cycle (and the next row may then start in that cycle). A row is
    announced to the first later stage it does not skip ``overlap`` cycles before its result is
    complete (a streaming consumer). A stage does not take a row before the row's ``earliest``
    cycle for it. For tests on small cases: cost O(cycles x stages).
    """
    service, latency, overlap, arrival, earliest = _arrays(service, latency, overlap, arrival, earliest)
    n_stages, n_rows = service.shape

    def lead(s: int, row: int) -> int:  # overlap of the next stage that does not skip this row
        for nxt in range(s + 1, n_stages):
            if service[nxt, row]:
                return int(overlap[nxt, row])
        return 0

    start = np.zeros((n_stages, n_rows), np.int64)
    done = np.zeros((n_stages, n_rows), np.int64)
    arrived = [set() for _ in range(n_stages + 1)]  # rows waiting in each stage's input FIFO
    next_row = [0] * n_stages
    busy_until = [t0] * n_stages
    shift: list[list[tuple[int, int]]] = [[] for _ in range(n_stages)]  # (row, exit cycle)
    def release(s: int) -> None:  # results whose latency has run out enter the next FIFO
        for row, exit_cycle in list(shift[s]):
            if exit_cycle <= t:
                shift[s].remove((row, exit_cycle))
                arrived[s + 1].add(row)

    t = t0
    while len(arrived[n_stages]) < n_rows:
        arrived[0].update(r for r in range(n_rows) if arrival[r] <= t)
        for s in range(n_stages):
            release(s)
            while (next_row[s] < n_rows and next_row[s] in arrived[s] and busy_until[s] <= t
                   and earliest[s, next_row[s]] <= t):
                row = next_row[s]
                next_row[s] += 1
                start[s, row] = t
                svc = int(service[s, row])
                if svc == 0:
                    done[s, row] = t
                    arrived[s + 1].add(row)
                    continue
                busy_until[s] = t + svc
                done[s, row] = t + svc + int(latency[s])
                shift[s].append((row, int(done[s, row]) - lead(s, row)))
                break
            release(s)  # a consumer overlapping the whole service may start this very cycle
        t += 1
    return start, done


def bottleneck_stage(service: np.ndarray) -> int:
    """Index of the stage with the largest total service: the unit that bounds the pipeline."""
    return int(np.argmax(np.asarray(service).sum(axis=1)))

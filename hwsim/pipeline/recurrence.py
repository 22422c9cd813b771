"""The in-order pipeline of one head, timed row by row (DESIGN.md "Simulation strategy").

Model: rows (queries) pass through stages 0..S-1 in order. Stage s is a pipelined unit: it accepts
one row at a time and is *occupied* for ``service[s, r]`` cycles (its initiation interval for that
row), after which the row's result leaves ``latency[s]`` cycles later (the unit's pipeline depth).
Between stages are FIFOs deep enough never to block (SpAtten sizes its FIFOs to the row rates:
softmax FIFO 128, fetcher FIFOs 64; ``references/spatten.md`` §2.2). A row whose service at a stage
is 0 skips that stage (no latency). With ``t0`` the time the first row may enter:

    start[s, r] = max(ready[s, r], start[s, r-1] + service[s, r-1])
    ready[s, r] = done[s-1, r]            (t0 for s = 0)
    done[s, r]  = start[s, r] + service[s, r] + latency[s]   (start[s, r] if service is 0)

:func:`schedule` is the numba recurrence; :func:`schedule_reference` steps the same hardware
cycle by cycle (queues, busy counters, latency shift registers) and must agree exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["schedule", "schedule_reference", "bottleneck_stage"]


@njit(cache=True)
def _schedule(service, latency, t0):
    n_stages, n_rows = service.shape
    start = np.zeros((n_stages, n_rows), np.int64)
    done = np.zeros((n_stages, n_rows), np.int64)
    free = np.full(n_stages, t0, np.int64)
    for r in range(n_rows):
        ready = t0
        for s in range(n_stages):
            svc = service[s, r]
            if svc == 0:
                st = ready if ready > free[s] else free[s]
                start[s, r] = st
                done[s, r] = st
                free[s] = st
                ready = st
                continue
            st = ready if ready > free[s] else free[s]
            start[s, r] = st
            free[s] = st + svc
            done[s, r] = st + svc + latency[s]
            ready = done[s, r]
    return start, done


def schedule(service: np.ndarray, latency: np.ndarray, t0: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (start, done) cycle arrays [stages, rows] of the in-order pipeline (see module doc)."""
    service = np.ascontiguousarray(service, np.int64)
    latency = np.ascontiguousarray(latency, np.int64)
    if service.ndim != 2 or latency.shape != (service.shape[0],):
        raise ValueError("service must be [stages, rows] and latency [stages]")
    if (service < 0).any() or (latency < 0).any():
        raise ValueError("service and latency must be non-negative")
    return _schedule(service, latency, np.int64(t0))


def schedule_reference(service: np.ndarray, latency: np.ndarray, t0: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Step the same pipeline one cycle at a time; return (start, done) like :func:`schedule`.

    Hardware stepped: each stage serves rows strictly in order (a ``next_row`` pointer), has a
    busy-until register and a latency shift register; rows arriving from the previous stage wait
    in its input FIFO. At every cycle, stages in order: results whose latency expires enter the
    next FIFO; a free stage takes its next row if that row has arrived; a row with 0 service
    passes through in the same cycle (and the next row may then start in that cycle). For tests
    on small cases: cost O(cycles x stages).
    """
    service = np.asarray(service, np.int64)
    latency = np.asarray(latency, np.int64)
    n_stages, n_rows = service.shape
    start = np.zeros((n_stages, n_rows), np.int64)
    done = np.zeros((n_stages, n_rows), np.int64)
    arrived = [set() for _ in range(n_stages + 1)]  # rows waiting in each stage's input FIFO
    arrived[0] = set(range(n_rows))
    next_row = [0] * n_stages
    busy_until = [t0] * n_stages
    shift: list[list[tuple[int, int]]] = [[] for _ in range(n_stages)]  # (row, exit cycle)
    t = t0
    while len(arrived[n_stages]) < n_rows:
        for s in range(n_stages):
            for row, exit_cycle in list(shift[s]):
                if exit_cycle == t:
                    shift[s].remove((row, exit_cycle))
                    arrived[s + 1].add(row)
            while next_row[s] < n_rows and next_row[s] in arrived[s] and busy_until[s] <= t:
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
                shift[s].append((row, int(done[s, row])))
                break
        t += 1
    return start, done


def bottleneck_stage(service: np.ndarray) -> int:
    """Index of the stage with the largest total service: the unit that bounds the pipeline."""
    return int(np.argmax(np.asarray(service).sum(axis=1)))

"""Explain a run's latency: busy, stall-by-cause and idle cycles per unit, from the timeline's records.

The records are made while the simpy processes run (:class:`hwsim.spatten.timing.Timeline`): *jobs* in
queueing order, each with the cycle it was queued and what it waited for from cycle to cycle, and the
cycles each unit served each job. A job is a K/V group's fetch and each of its heads' rows (summarization:
a head's rows go through the row pipeline together), one query row of one head (generation, and the
authors' CSV replay), or one token/head selection.

Per unit, every cycle of the run is exactly one of:

* **busy**: the unit serves some row (a Q x K, softmax, top-k stage, prob x V pass, an HBM transfer, a
  selection). A unit with several stages (the local-V top-k engine: fill, quick-select, filter) is busy
  when any of them is, so ``busy_cycles`` can be less than the per-head ``topk_busy_cycles`` sums. The
  progressive-quantization stage (``pq``) is busy for the second pass it holds in summarization; while
  it holds a row for the LSB fetch it is stalled on ``hbm``. In generation the re-fetch is an HBM
  transfer and a second Q x K / softmax pass: ``pq`` has no occupancy of its own there.
* **stalled**: not busy while work for it remains. Its *next job* is the first job in queueing order
  that has not finished with the unit; the stall's cause is what that job waits for at that cycle:
  ``hbm`` (its data is being fetched, or queued behind other transfers, including the read latency),
  ``layer`` (the previous layer or generation step: the layer barrier in summarization, the query
  dependency in generation), ``sram`` (space in the key SRAM, held by groups still computing),
  ``select`` (a token/head selection running before it can be queued) or ``pipeline`` (the row is in,
  or waiting for, an earlier unit of its own pipeline, or the head ahead of it in the row pipeline is
  still draining). A job not yet queued waits for ``select`` while a selection runs, else for ``layer``.
* **idle**: no work left for the unit (after its last job).

So ``busy_cycles + sum(stall_*_cycles) + idle_cycles = latency_cycles`` for every unit, exactly.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

__all__ = ["CAUSES", "EXPLAIN_UNITS", "account"]

#: Stall causes, in the order tables show them.
CAUSES = ("hbm", "layer", "sram", "select", "pipeline")
#: Units accounted: the row pipeline's units and the token/head selection engine (``select``).
EXPLAIN_UNITS = ("hbm", "qk", "softmax", "pq", "topk", "pv", "select")
_QUEUE = object()  # a piece before the job was queued


def _intervals(uses: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(job, start, end) arrays of a unit's uses (entries hold ints or arrays)."""
    scalar = [u for u in uses if not isinstance(u[1], np.ndarray)]
    arrays = [u for u in uses if isinstance(u[1], np.ndarray)]
    jobs = [np.array([u[0] for u in scalar], np.int64)] + [np.full(a.size, j, np.int64) for j, a, _ in arrays]
    starts = [np.array([u[1] for u in scalar], np.int64)] + [a.astype(np.int64) for _, a, _ in arrays]
    ends = [np.array([u[2] for u in scalar], np.int64)] + [b.astype(np.int64) for _, _, b in arrays]
    return np.concatenate(jobs), np.concatenate(starts), np.concatenate(ends)


class _Union:
    """The union of intervals, with the covered length of any [a, b) in O(log n)."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray):
        keep = ends > starts
        starts, ends = starts[keep], ends[keep]
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        if starts.size:
            reach = np.maximum.accumulate(ends)
            new = np.ones(starts.size, bool)
            new[1:] = starts[1:] > reach[:-1]
            idx = np.flatnonzero(new)
            self.starts = starts[idx]
            self.ends = np.append(reach[idx[1:] - 1], reach[-1])
        else:
            self.starts = self.ends = np.zeros(0, np.int64)
        self.before = np.concatenate([[0], np.cumsum(self.ends - self.starts)])
        self.total = int(self.before[-1])

    def covered(self, t: np.ndarray) -> np.ndarray:
        """Covered length in [0, t), for each t."""
        t = np.asarray(t, np.int64)
        if not self.starts.size:
            return np.zeros_like(t)
        i = np.searchsorted(self.starts, t, side="right") - 1
        k = np.maximum(i, 0)
        inside = np.minimum(np.maximum(t - self.starts[k], 0), self.ends[k] - self.starts[k])
        return np.where(i >= 0, self.before[k] + inside, 0)


class _States:
    """What each job waits for over time, follows resolved."""

    def __init__(self, jobs: list):
        self.jobs = jobs
        self._cache: dict[int, tuple[list, list]] = {}

    def pieces(self, job: int, a: int, b: int):
        """(start, end, cause) pieces covering [a, b) for a job queued at or before ``a``."""
        times, causes = self._timeline(job)
        out = []
        i = max(0, bisect_right(times, a) - 1)
        t = a
        while t < b:
            end = min(b, times[i + 1]) if i + 1 < len(times) else b
            if end > t:
                c = causes[i]
                if isinstance(c, tuple):  # follows another job's waits
                    out += self.pieces(c[1], t, end)
                else:
                    out.append((t, end, c))
            t = max(t, end)
            i += 1
        return out

    def _timeline(self, job: int):
        got = self._cache.get(job)
        if got is None:
            queued, _, _, trans = self.jobs[job]
            trans = sorted(trans, key=lambda tc: tc[0])  # stable: same-cycle waits keep their order
            times = [queued] + [t for t, _ in trans]
            causes = ["pipeline"] + [c for _, c in trans]
            # the last wait recorded at a cycle is the one that holds from it
            keep = [k for k in range(len(times)) if k + 1 == len(times) or times[k + 1] != times[k]]
            got = self._cache[job] = ([times[k] for k in keep], [causes[k] for k in keep])
        return got


def account(latency: int, jobs: list, uses: dict) -> dict:
    """Per unit: busy, stall-by-cause and idle cycles over [0, latency), and per (stage, layer) of the next job.

    ``jobs`` and ``uses`` are :attr:`Timeline.jobs` and :attr:`Timeline.uses`. Returns
    ``{"units": {unit: {"busy_cycles", "stall_<cause>_cycles"..., "idle_cycles"}}, "layers": [...]}``, where
    each ``layers`` row (``stage``, ``layer``, ``unit``, the same keys but idle) charges each cycle to the
    layer of the unit's next job (busy cycles to the job served).
    """
    states = _States(jobs)
    sel_jobs, sel_a, sel_b = _intervals(uses.get("select", []))
    selecting = _Union(sel_a, sel_b)
    units: dict[str, dict] = {}
    layers: dict[tuple, dict] = {}

    def row(stage, layer, unit):
        r = layers.get((stage, layer, unit))
        if r is None:
            r = layers[(stage, layer, unit)] = {"busy_cycles": 0, **{f"stall_{c}_cycles": 0 for c in CAUSES}}
        return r

    for unit in EXPLAIN_UNITS:
        job, a, b = _intervals(uses.get(unit, []))
        busy = _Union(a, b)
        stalls = dict.fromkeys(CAUSES, 0)
        end_all = 0
        if job.size:
            order = np.argsort(job, kind="stable")
            job, a, b = job[order], a[order], b[order]
            ids, first = np.unique(job, return_index=True)
            last_end = np.maximum.reduceat(b, first)
            # busy cycles by the served job's (stage, layer): layers do not overlap on a unit
            keys = sorted({jobs[j][1:3] for j in ids.tolist()})
            key_of = np.array([keys.index(jobs[j][1:3]) for j in ids.tolist()])[np.repeat(
                np.arange(ids.size), np.diff(np.append(first, job.size)))]
            for k, (stage, lay) in enumerate(keys):
                m = key_of == k
                row(stage, lay, unit)["busy_cycles"] += _Union(a[m], b[m]).total
            prev = np.concatenate([[0], np.maximum.accumulate(last_end)[:-1]])
            end_all = int(last_end.max())
            # each cycle of [0, end_all) not busy is charged to the next job's wait: pieces (start, end, cause, row)
            pa, pb, pc, pr = [], [], [], []
            for j, s, e in zip(ids.tolist(), prev.tolist(), last_end.tolist()):
                if e <= s:
                    continue
                queued, stage, lay, _ = jobs[j]
                r = row(stage, lay, unit)
                q = min(max(queued, s), e)
                if q > s:  # not yet queued: behind a selection, else behind the previous layer
                    pa.append(s), pb.append(q), pc.append(_QUEUE), pr.append(r)
                for a0, b0, cause in states.pieces(j, q, e):
                    pa.append(a0), pb.append(b0), pc.append(cause), pr.append(r)
            pa, pb = np.array(pa, np.int64), np.array(pb, np.int64)
            idle = (pb - pa) - (busy.covered(pb) - busy.covered(pa))
            sel = selecting.covered(pb) - selecting.covered(pa)
            for cause, r, n, ns in zip(pc, pr, idle.tolist(), sel.tolist()):
                if cause is _QUEUE:
                    stalls["select"] += ns
                    r["stall_select_cycles"] += ns
                    cause, n = "layer", n - ns
                stalls[cause] += n
                r[f"stall_{cause}_cycles"] += n
        units[unit] = {"busy_cycles": busy.total, **{f"stall_{c}_cycles": stalls[c] for c in CAUSES},
                       "idle_cycles": int(latency) - end_all}
    ordered = sorted(layers.items(), key=lambda kv: (kv[0][0] != "summarization", kv[0][1],
                                                      EXPLAIN_UNITS.index(kv[0][2])))
    return {"units": units,
            "layers": [{"stage": st, "layer": int(lay), "unit": u, **v} for (st, lay, u), v in ordered]}

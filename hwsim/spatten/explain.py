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

Per unit, "its next job" is: for ``hbm`` the next transfer's owner (a K/V group's fetch in
summarization; in generation the row that fetches its group's K, its LSB plane or its V, so ``pipeline``
there means a V fetch waiting for its row's local-V selection); for ``qk``, ``softmax``, ``pq``,
``topk`` (the local-V engine) and ``pv`` the next row (summarization: the next head's rows, whose
``pipeline`` stalls include the rows still in earlier stages and the head ahead draining the row
pipeline); for ``select`` the next token/head selection, which waits for everything queued before
it (``layer``).

So ``busy_cycles + sum(stall_*_cycles) + idle_cycles = latency_cycles`` for every unit, exactly.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

__all__ = ["CAUSES", "EXPLAIN_UNITS", "account"]

#: Stall causes, in the order tables show them.
CAUSES = ("hbm", "layer", "sram", "select", "pipeline")
#: Units accounted: the row pipeline's units and the token/head selection engine (``select``).
EXPLAIN_UNITS = ("hbm", "qk", "softmax", "pq", "topk", "pv", "select")


def _table(rows, n: int | None = None) -> np.ndarray:
    """[n, 3] int64 array of ``n`` rows of three ints (``rows``: a list, or an iterable with ``n`` given)."""
    n = len(rows) if n is None else n
    return np.fromiter(chain.from_iterable(rows), np.int64, count=3 * n).reshape(n, 3)


def _intervals(uses: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(job, start, end) arrays of a unit's uses (entries hold ints, or arrays of intervals of one job or of a
    job each)."""
    scalar, arrays = [], []
    for u in uses:
        (arrays if u[1].__class__ is np.ndarray else scalar).append(u)
    table = _table(scalar)
    jobs = [table[:, 0]] + [np.broadcast_to(np.asarray(j, np.int64), a.shape) for j, a, _ in arrays]
    starts = [table[:, 1]] + [a.astype(np.int64) for _, a, _ in arrays]
    ends = [table[:, 2]] + [b.astype(np.int64) for _, _, b in arrays]
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


_END = np.iinfo(np.int64).max // 4  # "until the job is done"
_PIPELINE = CAUSES.index("pipeline")


def _resolve(jobs: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(job, start, end, cause index) of every job's waits, follows replaced by the followed job's waits.

    A job waits for ``pipeline`` from its queueing to its first recorded wait; the last wait recorded
    at a cycle is the one that holds from it; the last wait holds until the end (``_END``). A followed
    job always has a smaller id (it was queued first).
    """
    code = {c: i for i, c in enumerate(CAUSES)}
    pieces: list[list[tuple[int, int, int]]] = []
    for j, (queued, _, _, trans) in enumerate(jobs):
        times = [tc[0] for tc in trans]
        if times != sorted(times):
            trans = sorted(trans, key=lambda tc: tc[0])  # stable: same-cycle waits keep their order
        mine: list[tuple[int, int, int]] = []
        t, c = queued, "pipeline"
        for end, nxt in (*trans, (_END, None)):
            if end > t:
                if c.__class__ is tuple:  # ("f", job): what that job waits for, over [t, end)
                    at = t
                    for a, b, k in pieces[c[1]]:
                        lo, hi = max(a, t), min(b, end)
                        if hi > lo:
                            if lo > at:
                                mine.append((at, lo, _PIPELINE))
                            mine.append((lo, hi, k))
                            at = hi
                    if end > at:
                        mine.append((at, end, _PIPELINE))
                else:
                    mine.append((t, end, code[c]))
            t, c = end, nxt
        pieces.append(mine)
    sizes = [len(mine) for mine in pieces]
    flat = _table(chain.from_iterable(pieces), sum(sizes))
    owner = np.repeat(np.arange(len(pieces), dtype=np.int64), sizes)
    return owner, flat[:, 0], flat[:, 1], flat[:, 2]


def account(latency: int, jobs: list, uses: dict) -> dict:
    """Per unit: busy, stall-by-cause and idle cycles over [0, latency), and per (stage, layer).

    ``jobs`` and ``uses`` are :attr:`Timeline.jobs` and :attr:`Timeline.uses`. Returns
    ``{"units": {unit: {"busy_cycles", "stall_<cause>_cycles"..., "idle_cycles"}}, "layers": [...]}``, where
    each ``layers`` row (``stage``, ``layer``, ``unit``, the same keys but idle) charges each busy cycle
    to the layer served and each stalled cycle to the layer of the unit's next job.
    """
    n = len(jobs)
    queued = np.array([j[0] for j in jobs], np.int64)
    keys = sorted({(j[1], j[2]) for j in jobs}, key=lambda k: (k[0] != "summarization", k[1]))
    index = {k: i for i, k in enumerate(keys)}
    key_of = np.array([index[(j[1], j[2])] for j in jobs], np.int64)
    rj, ra, rb, rc = _resolve(jobs)
    _, sel_a, sel_b = _intervals(uses.get("select", []))
    selecting = _Union(sel_a, sel_b)
    units: dict[str, dict] = {}
    layers: list[dict] = []
    for unit in EXPLAIN_UNITS:
        job, a, b = _intervals(uses.get(unit, []))
        busy = _Union(a, b)
        stalls = np.zeros(len(CAUSES), np.int64)
        table = np.zeros((len(keys), 1 + len(CAUSES)), np.int64)  # busy, then the causes
        end_all = 0
        if job.size:
            order = np.argsort(job, kind="stable")
            job, a, b = job[order], a[order], b[order]
            ids, first = np.unique(job, return_index=True)
            last_end = np.maximum.reduceat(b, first)
            # busy cycles by the served job's (stage, layer): layers do not overlap on a unit
            served = key_of[job]
            for k in np.unique(served).tolist():
                m = served == k
                table[k, 0] = _Union(a[m], b[m]).total
            # the unit's next job is ids[i] over [prev[i], last_end[i]): the jobs before it are done with it
            prev = np.concatenate([[0], np.maximum.accumulate(last_end)[:-1]])
            end_all = int(last_end.max())
            seg_s, seg_e = np.zeros(n, np.int64), np.zeros(n, np.int64)
            seg_s[ids], seg_e[ids] = prev, last_end
            q = np.minimum(np.maximum(queued, seg_s), seg_e)
            # before it is queued: behind a selection, else behind the previous layer (nothing else runs)
            pre = (q - seg_s)[ids]
            sel = (selecting.covered(q) - selecting.covered(seg_s))[ids]
            stalls[CAUSES.index("select")] += int(sel.clip(0).sum())
            stalls[CAUSES.index("layer")] += int((pre - sel).clip(0).sum())
            np.add.at(table, (key_of[ids], 1 + CAUSES.index("select")), sel.clip(0))
            np.add.at(table, (key_of[ids], 1 + CAUSES.index("layer")), (pre - sel).clip(0))
            # once queued: what the job waits for, less the cycles the unit is busy anyway
            lo, hi = np.maximum(ra, q[rj]), np.minimum(rb, seg_e[rj])
            m = hi > lo
            lo, hi, cause, owner = lo[m], hi[m], rc[m], rj[m]
            idle = (hi - lo) - (busy.covered(hi) - busy.covered(lo))
            stalls += np.bincount(cause, weights=idle, minlength=len(CAUSES)).astype(np.int64)
            np.add.at(table, (key_of[owner], 1 + cause), idle)
        units[unit] = {"busy_cycles": busy.total, **{f"stall_{c}_cycles": int(stalls[i]) for i, c in enumerate(CAUSES)},
                       "idle_cycles": int(latency) - end_all}
        for k, (stage, lay) in enumerate(keys):
            if table[k].any():
                layers.append({"stage": stage, "layer": int(lay), "unit": unit, "busy_cycles": int(table[k, 0]),
                               **{f"stall_{c}_cycles": int(table[k, 1 + i]) for i, c in enumerate(CAUSES)}})
    layers.sort(key=lambda r: (r["stage"] != "summarization", r["layer"], EXPLAIN_UNITS.index(r["unit"])))
    return {"units": units, "layers": layers}

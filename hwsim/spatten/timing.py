"""Timing of the SpAtten pipeline: per-row recurrence inside a head, simpy for what is contended.

Two levels (DESIGN.md "Simulation strategy"):

* **Rows in summarization** (every alive query of every alive head, K/V reused from SRAM) go
  through the in-order pipeline Q x K -> softmax -> progressive-quantization re-fetch -> local-V
  top-k -> prob x V, timed by :func:`hwsim.pipeline.schedule_after` with per-row service cycles
  from the golden units. The rows of one head, of the next head and of the next K/V group follow
  each other through the stages without a drain in between (each stage takes the next row as soon
  as it is free and the row's group has its data), as the released controller streams heads back
  to back; the earlier model held the pipeline until a head's last row had left prob x V. A row
  that needs its K LSBs occupies Q x K and softmax twice and holds the re-fetch stage for the LSB
  fetch (first such row of a K/V group) plus the second pass's latency: SpAtten discards the MSB
  probabilities, fetches the LSBs and recomputes while modules 10 and 11 wait (docs/sources.md
  SpAtten §2.1).
* **simpy** runs what is concurrent and contended: the HBM (one transfer at a time over all
  channels, FIFO order), the double-buffered K/V SRAM (a K/V group's fetch may overlap the
  previous group's compute), the token/head top-k engine at layer boundaries, and in generation
  every (step, layer, head) row as a process competing for HBM, Q x K, softmax, the local-V top-k
  engine and prob x V. Pipelining across heads is modelled. Across layers, a layer's queries are
  computed from the previous layer's output: in summarization a layer starts when the previous one
  has finished; in generation its K may be fetched ahead but its Q x K waits for the previous
  layer, and a step starts when the previous step has finished. A token/head selection waits for
  everything before it (the next layer's K addresses depend on it). The FFN and the Q/K/V
  projections between layers take no time here (SpAtten's main results are attention only, §5).

Generation rows run compiled by default (``Timeline.engine = "compiled"``, :mod:`hwsim.spatten.engine`):
``generate``, ``select`` and ``drain`` record the work, and reading ``now`` or ``explain()`` (or the next
``summarize``) runs it, segment by segment, as the numba state machines of the processes below; they give
the simpy run's cycles, records and log exactly (``tests/hwsim/spatten/test_engine.py``). The simpy
processes here are the reference, and run anything the engine reports it cannot.

Units are named as in the RTL (``qk``, ``softmax``, ``pq``, ``topk``, ``pv``, ``hbm``); the event log
(``Timeline.log``) records ``(cycle, unit, event, step, layer, head)`` tuples.

Stall accounting (``hwsim simulate --explain``, :mod:`hwsim.spatten.explain`): as the processes run,
the timeline records *jobs* in queueing order (a K/V group's fetch and each of its heads' rows in
summarization, one row in generation, one token/head selection), what each job is waiting for from
cycle to cycle (``sram``: key SRAM space; ``hbm``: its data from HBM; ``layer``: the previous layer or
step; ``pipeline``: an earlier unit of its own row, or the head ahead of it in the row pipeline) and
the cycles each unit serves it. Recording adds no simpy event and changes no yield: the simulated
numbers are those without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from ..pipeline import schedule_after
from ..units import pv as pv_unit
from ..units import qk as qk_unit
from ..units import softmax as softmax_unit
from ..units.hbm import Fetch, fetch, first_line_cycles
from ..units.topk import STAGES as TOPK_STAGE_NAMES
from ..units.topk import TopKUnit, stage_services
from . import engine
from .explain import CAUSES, account
from .units import SpattenUnits

__all__ = ["Machine", "Fetch", "HeadWork", "GroupWork", "RowWork", "Timeline", "LayerDone", "on_done", "STAGES",
           "STAGE_UNITS", "TOPK_STAGES"]

#: Stages of the per-row pipeline, in order. The local-V top-k engine's stages are those of
#: ``design.topk.overlap`` (:func:`hwsim.units.topk.stage_services`): one (``topk``) for "none",
#: ``topk`` and ``topk_filter`` for "filter", all three for "full"; unused ones have service 0.
STAGES = ("qk", "softmax", "pq", *TOPK_STAGE_NAMES, "pv")
#: The unit each stage belongs to (the RTL module names).
STAGE_UNITS = ("qk", "softmax", "pq", "topk", "topk", "topk", "pv")
_TOPK = STAGES.index("topk")
_PQ = STAGES.index("pq")
_UNIT_OF = dict(zip(STAGES, STAGE_UNITS))  # stage -> its unit
#: Row indices of the local-V engine's stages in a service array.
TOPK_STAGES = [STAGES.index(s) for s in TOPK_STAGE_NAMES]


@dataclass(frozen=True)
class Machine:
    """The timing view of a design's units: per-row service cycles and transfers (cycles, rates)."""

    units: SpattenUnits

    @property
    def qk_latency(self) -> int:
        return self.units.qk.latency_cycles

    @property
    def softmax_latency(self) -> int:
        return self.units.softmax.latency_cycles

    @property
    def pv_latency(self) -> int:
        return self.units.pv.latency_cycles

    @property
    def hbm_latency(self) -> int:
        return self.units.hbm.latency_cycles

    @property
    def stream(self) -> bool:
        """Consumers read fetched lines as they arrive (``design.hbm.fetch = "stream"``)."""
        return self.units.hbm.stream

    @property
    def sram_bytes(self) -> int:
        """Key SRAM capacity (bytes): K of the groups in flight must fit."""
        return self.units.key_sram_bytes

    @property
    def key_release(self) -> str:
        """When a group's K leaves the key SRAM (``design.sram.key_release``)."""
        return self.units.key_release

    @property
    def sram_bytes_per_key(self) -> int:
        """One key vector at the datapath width (bytes)."""
        return self.units.sram_vector_bytes

    def fetch(self, positions: np.ndarray, vec_bytes: int) -> Fetch:
        """The HBM transfer of the vectors at ``positions`` (sorted) of ``vec_bytes`` each."""
        return fetch(positions, vec_bytes, self.units.hbm)

    def row_services(self, hr, lsb_busy_first: int, *, overlap: str | None = None, services_only: bool = False):
        """Service cycles [stage, row], latencies [stage] and overlaps [stage, row] of a head's rows.

        ``hr`` is the head's :class:`~hwsim.spatten.functional.HeadRows`. ``lsb_busy_first`` is the
        HBM time of the group's LSB fetch, charged to the first row of this head that needs it (0
        when already fetched). The top-k engine's fill phase takes the probabilities as the
        softmax unit emits them, so the engine's first stage may start that many cycles before the
        row's probabilities are complete. ``overlap`` replaces ``design.topk.overlap`` (the CSV
        replay's authors' conventions serve one request at a time). ``services_only``: latencies and
        overlaps are None (a generation layer's rows: the compiled timeline takes the services alone).
        """
        u = self.units
        mode = overlap or u.topk.overlap
        requant = hr.requant
        passes = hr.row_passes()  # 1 + requant; 2 + requant for a two-pass (tiled) row
        qk = qk_unit.service_cycles(hr.n_keys, u.qk) * passes
        sm = softmax_unit.service_cycles(hr.n_keys, u.softmax) * passes
        pq = np.where(requant, self.qk_latency + self.softmax_latency, 0).astype(np.int64)
        if lsb_busy_first and requant.any():
            pq[int(np.argmax(requant))] += lsb_busy_first + self.hbm_latency
        pv = pv_unit.service_cycles(hr.n_values, u.pv)
        topk = stage_services(hr.topk_cycles, hr.topk_fill, hr.topk_filter, overlap=mode)
        service = np.concatenate([np.array([qk, sm, pq], np.int64), topk, np.asarray(pv, np.int64)[None]]).astype(
            np.int64, copy=False)  # [stage, row], as np.vstack gives it
        if services_only:
            return service, None, None
        latency = np.array([self.qk_latency, self.softmax_latency, 0, 0, 0, 0, self.pv_latency], np.int64)
        overlap = np.zeros_like(service)
        first = _TOPK - 1 if mode == "full" else _TOPK
        overlap[first] = np.minimum(np.asarray(hr.topk_fill, np.int64), sm // passes + self.softmax_latency)
        return service, latency, overlap


@dataclass
class HeadWork:
    """A head's rows in summarization (compute from SRAM): service per stage and row."""

    layer: int
    head: int
    service: np.ndarray  # [stage, row]
    latency: np.ndarray  # [stage]
    overlap: np.ndarray  # [stage, row]


@dataclass
class GroupWork:
    """A K/V group in summarization: its fetch, then its heads computed one after another."""

    layer: int
    group: int
    fetch: int  # HBM busy cycles of Q + K (MSB) + V of the group
    heads: list[HeadWork]
    keys: int  # key vectors the group holds in the key SRAM while it computes
    lead: int | None = None  # HBM busy cycles before compute starts (None: all of fetch); the rest streams behind
    #: streaming fetch (design.hbm.fetch = "stream", an untiled group): HBM busy cycles from the fetch's start
    #: until the group's Q and K are in (the V follow); Q x K of a row ends, and prob x V starts, no earlier
    #: than its data. None: store and forward, or a tiled group (lead and the stream behind it)
    k_done: int | None = None


@dataclass(slots=True)
class RowWork:
    """One generation row: one query of one head at one step (see module docstring)."""

    step: int
    layer: int
    head: int
    group_key: tuple  # (step, layer, group): rows sharing a K fetch
    k_fetch: int  # HBM busy cycles of the group's K (MSB) + Q, charged to the group's first row
    qk: int
    softmax: int
    requant: bool
    lsb_fetch: int  # HBM busy cycles of the group's LSB plane, charged to its first requant row
    topk: tuple  # local-V engine stages (topk_fill, topk, topk_filter) in cycles; all 0: no selection
    topk_fill: int  # fill cycles of the request, overlapped with the softmax output stream
    v_fetch: int  # HBM busy cycles of this row's V vectors not yet fetched by its group
    pv: int
    keys: int  # key vectors of the group held in the key SRAM until its last row is done
    passes: int = 1  # passes of Q x K and softmax: 1 + requant, 2 + requant for a two-pass row (statistics first)
    k_stream: int = 0  # HBM busy cycles of the group's K re-streamed after its first pass (tiled K), charged once
    #: cycles at the end of the engine's occupancy over which it emits the kept indices (the filter, or the
    #: authors' dummy drain): a streaming V fetch is requested from the first of them
    topk_emit: int = 0
    #: the K/V head whose LSB plane this row's re-fetch reads (None: the group of ``group_key``; a fused pair
    #: shares one K fetch but each head has its own LSB plane)
    lsb_group: int | None = None

    @classmethod
    def from_service(cls, step: int, layer: int, head: int, group_key: tuple, service: np.ndarray, *, requant: bool,
                     fetch: int, lsb_fetch: int, topk_fill: int, v_fetch: int, keys: int, passes: int = 0,
                     k_stream: int = 0, topk_emit: int = 0, lsb_group: int | None = None) -> "RowWork":
        """A row from its column of :meth:`Machine.row_services` (``service`` [stage], an array or a list of ints):
        Q x K and softmax per pass.

        The one place simulation and CSV replay turn a row's services into timed work.
        """
        n = passes or (2 if requant else 1)  # 0: the untiled count
        t0, t1, t2 = TOPK_STAGES
        return cls(step, layer, head, group_key, int(fetch), int(service[0] // n), int(service[1] // n),
                   bool(requant), int(lsb_fetch), (int(service[t0]), int(service[t1]), int(service[t2])),
                   int(topk_fill), int(v_fetch), int(service[-1]), int(keys), int(n), int(k_stream), int(topk_emit),
                   lsb_group)


#: ``Timeline.engine`` unless given (tests set it to "simpy" to run the reference)
DEFAULT_ENGINE = "compiled"


@dataclass
class Timeline:
    """A simpy model of the accelerator; feed it work in order, then read ``now`` (and ``explain()``)."""

    machine: Machine
    log_events: bool = False
    #: how generation rows are timed: "compiled" (:mod:`hwsim.spatten.engine`, simpy's semantics event for event,
    #: falling back to simpy where it reports it cannot) or "simpy" (the processes below, run as they are queued)
    engine: str = field(default_factory=lambda: DEFAULT_ENGINE)
    env: simpy.Environment = field(default_factory=simpy.Environment)
    log: list = field(default_factory=list)
    #: stall accounting: job id -> (queue cycle, stage, layer, [(cycle, cause or ("f", job followed))])
    jobs: list = field(default_factory=list)
    #: stall accounting: unit -> [(job, start, end)] cycles the unit serves the job (ints or arrays)
    uses: dict = field(default_factory=dict)

    def __post_init__(self):
        env = self.env
        self.hbm = simpy.Resource(env, 1)
        self.units = {u: simpy.Resource(env, 1) for u in ("qk", "softmax", "pv")}
        # the engines as the top-k unit assigns them: token/head selections on one, local V on
        # the other (or on the same one when design.topk.engines = 1)
        engines = TopKUnit(env, self.machine.units.topk, engines=self.machine.units.topk_engines)
        self.topk_select = engines.engine_for("token").resource
        self.topk_local = engines.engine_for("local_v").resource
        # the local-V engine's fill and filter stages (design.topk.overlap) are units of their own
        self.topk_stages = {"topk_fill": simpy.Resource(env, 1), "topk": self.topk_local,
                            "topk_filter": simpy.Resource(env, 1)}
        # the key SRAM (bytes): a group's K stays in it from its fetch until its last row is done,
        # so fetches run ahead of compute only as far as the SRAM holds (SpAtten §5 sizes it as a
        # double buffer of 1024 keys)
        self.sram = simpy.Container(env, capacity=self.machine.sram_bytes, init=self.machine.sram_bytes)
        # summarization: the cycle each row-pipeline stage may take its next row (rows of every head and
        # group follow each other through the stages, hwsim.pipeline.schedule_after)
        self._free = np.zeros(len(STAGES), np.int64)
        self._pending: list = []
        self._turns: dict = {}  # unit -> start event of the last row queued for it (in-order units)
        # engine "compiled": generation work recorded as ("gen", rows, after, done) / ("drain",) / ("select", ...)
        # and run when its results are needed (nothing the caller computes in between reads the timeline)
        self._script: list = []

    # ------------------------------------------------------------------ helpers
    def _note(self, unit, event, step, layer, head):
        """Log an event now (callers check ``log_events`` first: the hot paths skip the call)."""
        self.log.append((int(self.env.now), unit, event, step, layer, head))

    def _hold(self, res, cycles, unit, step, layer, head, job, use=None, granted=None, until=None):
        """Hold ``res`` for ``cycles`` (charged to ``unit``); ``granted`` succeeds when it is granted.

        ``until``: a cycle the hold may not end before (a streaming consumer waits for the last line of
        its data; the wait is stall time for HBM, the cycles after it the unit's service).
        """
        env = self.env
        with res.request() as req:
            yield req
            if granted is not None:
                granted.succeed()
            if until is not None:
                yield from self._last_line(job, cycles, until)
            t0 = int(env.now)
            if self.log_events:
                self._note(unit, "start", step, layer, head)
            yield env.timeout(cycles)
            if self.log_events:
                self._note(unit, "end", step, layer, head)
            self._use(use or unit, job, t0, int(env.now))

    def _last_line(self, job, cycles, until):
        """A streaming consumer about to serve ``cycles`` must not end before ``until`` (its data's last line):
        it first waits the difference, stall time for HBM (nothing when ``until`` is None or already near)."""
        extra = 0 if until is None else max(0, int(until) - int(self.env.now) - cycles)
        if extra:
            self._wait(job, "hbm")
            yield self.env.timeout(extra)
            self._wait(job, "pipeline")

    def _job(self, step, layer, follow=None) -> int:
        """Open a job queued now (stall accounting); ``follow``: a job whose waits it shares until its own."""
        self.jobs.append((int(self.env.now), "generation" if step >= 0 else "summarization", layer,
                          [] if follow is None else [(int(self.env.now), ("f", follow))]))
        return len(self.jobs) - 1

    def _wait(self, job, cause, at=None):
        """From now (or cycle ``at``) on, ``job`` waits for ``cause`` (stall accounting)."""
        self.jobs[job][3].append((int(self.env.now) if at is None else int(at), cause))

    def _use(self, unit, job, start, end):
        """``unit`` serves ``job`` over [start, end) (ints, or arrays of intervals)."""
        self.uses.setdefault(unit, []).append((job, start, end))

    # ------------------------------------------------------------------ summarization
    def _group(self, g: GroupWork, step, job, head_jobs):
        env, m = self.env, self.machine
        held = max(1, g.keys * m.sram_bytes_per_key)
        self._wait(job, "sram")
        yield self.sram.get(held)
        first = g.heads[0].head if g.heads else -1
        lead = g.fetch if g.lead is None else min(g.lead, g.fetch)
        stream = None
        data_in = None  # streaming: (cycle the group's K is in, cycle its V is in)
        if g.fetch and g.k_done is not None:
            # the whole fetch holds the HBM; Q x K starts on the first K line and reads lines as they land
            self._wait(job, "hbm")
            granted = env.event()
            stream = env.process(self._hold(self.hbm, g.fetch, "hbm", step, g.layer, first, job, granted=granted))
            yield granted
            t_g = int(env.now)
            data_in = (t_g + g.k_done + m.hbm_latency, t_g + g.fetch + m.hbm_latency)
            yield env.timeout(lead + m.hbm_latency)
        elif g.fetch:
            self._wait(job, "hbm")
            yield from self._hold(self.hbm, lead, "hbm", step, g.layer, first, job)
            if g.fetch > lead:  # a tiled group: its later K tiles and passes stream through the double buffer
                stream = env.process(self._hold(self.hbm, g.fetch - lead, "hbm", step, g.layer, first, job))
            yield env.timeout(m.hbm_latency)
        self._wait(job, "pipeline")
        for hjob in head_jobs:
            self._wait(hjob, "pipeline")
        heads = [hw for hw in g.heads if hw.service.shape[1]]
        t0 = int(env.now)
        if heads:
            # every alive head's rows, in order, follow the rows ahead of them through the stages: no drain
            # between heads or groups (the stages take the next row as soon as they are free)
            service = np.concatenate([hw.service for hw in heads], axis=1)
            overlap = np.concatenate([hw.overlap for hw in heads], axis=1)
            earliest = None
            if data_in is not None:  # Q x K ends no earlier than the last K line, prob x V starts on its V
                earliest = np.full(service.shape, np.iinfo(np.int64).min, np.int64)
                qk, pv = STAGES.index("qk"), STAGES.index("pv")
                earliest[qk] = data_in[0] - service[qk]
                earliest[pv] = np.where(service[pv] > 0, data_in[1] - service[pv], earliest[pv])
            start, done, self._free = schedule_after(service, heads[0].latency, t0, self._free, overlap, earliest)
            bounds = np.cumsum([0] + [hw.service.shape[1] for hw in heads])
            if self.machine.key_release == "decision":  # K leaves at the last row's requant decision
                decided = int(done[STAGES.index("pq")].max())
                env.process(self._release(decided - t0, held))
                held = 0
            by_head = {id(hw): (start[:, a:b], done[:, a:b]) for hw, a, b in zip(heads, bounds[:-1], bounds[1:])}
            end = int(done[-1].max()) if done.size else t0
        else:
            by_head, end = {}, t0
        for hw, hjob in zip(g.heads, head_jobs):
            if id(hw) in by_head:
                h_start, h_done = by_head[id(hw)]
                self._head_uses(hjob, hw, h_start)
                if self.log_events:
                    self.log.append((int(h_start[0, 0]), "pipeline", "start", step, hw.layer, hw.head))
                    for s_, unit in enumerate(STAGES):
                        for r in range(hw.service.shape[1]):
                            if hw.service[s_, r]:
                                self.log.append((int(h_start[s_, r]), unit, f"row {r}", step, hw.layer, hw.head))
                    self.log.append((int(h_done[:, -1].max()), "pipeline", "end", step, hw.layer, hw.head))
        if end > t0:
            yield env.timeout(end - t0)
        if stream is not None and not stream.processed:  # the group's last rows need its last streamed K tile
            self._wait(head_jobs[-1] if head_jobs else job, "hbm")
            yield stream
        if held:
            yield self.sram.put(held)

    def _release(self, delay: int, nbytes: int):
        """Give ``nbytes`` back to the key SRAM ``delay`` cycles from now (``design.sram.key_release``)."""
        if delay > 0:
            yield self.env.timeout(delay)
        yield self.sram.put(nbytes)

    def _head_uses(self, job, hw: HeadWork, start):
        """Record the cycles each unit serves a head's rows; the LSB fetch the pq stage holds is a wait for HBM."""
        service = hw.service
        serving = service > 0
        counts = serving.sum(axis=1).tolist()
        n = service.shape[1]
        lsb_extra = None
        if counts[_PQ]:  # a requant row holds pq for the second pass (+ the group's LSB fetch, once)
            lsb_extra = np.maximum(service[_PQ] - (self.machine.qk_latency + self.machine.softmax_latency), 0)
        for s, unit in enumerate(STAGE_UNITS):
            if not counts[s]:
                continue
            if counts[s] == n:  # every row uses the stage (the usual case): no mask
                a, b = start[s], start[s] + service[s]
                if s == _PQ:
                    a = a + lsb_extra
            else:
                rows = serving[s]
                a = start[s, rows]
                b = a + service[s, rows]
                if s == _PQ:
                    a = a + lsb_extra[rows]
            self._use(unit, job, a, b)
        if lsb_extra is not None:
            for r in np.flatnonzero(lsb_extra):
                self._wait(job, "hbm", at=start[_PQ, r])
                self._wait(job, "pipeline", at=start[_PQ, r] + lsb_extra[r])

    def summarize(self, groups: list[GroupWork], step: int = -1):
        """Run a layer's groups (in order) to completion: the next layer's queries need its output."""
        self._flush(everything=True)
        for g in groups:
            job = self._job(step, g.layer)
            head_jobs = [self._job(step, g.layer, follow=job) for _ in g.heads]
            self._pending.append(self.env.process(self._group(g, step, job, head_jobs)))
        self.drain()

    # ------------------------------------------------------------------ generation
    def _in_order(self, turn: tuple, unit: str, res, cycles: int, w: RowWork, job: int, *, emit=None, until=None):
        """Use ``res`` once the previous row that uses ``unit`` has started on it (an in-order unit).

        ``turn`` is (previous row's start event or None, this row's start event), assigned in
        queueing order by :meth:`generate`. ``emit``: ``(v_row, delay, w, job)``, start the row's
        streaming V fetch ``delay`` cycles into this use (the engine's first output beat).
        ``until``: a cycle the use may not end before (its streamed data's last line).
        """
        previous, mine = turn
        if previous is not None:
            yield previous
        with res.request() as req:
            yield req
            mine.succeed()
            if emit is not None:
                emit[0]["ready"] = self.env.process(self._v_fetch(*emit))
            if until is not None:
                yield from self._last_line(job, cycles, until)
            t0 = int(self.env.now)
            if self.log_events:
                self._note(unit, "start", w.step, w.layer, w.head)
            yield self.env.timeout(cycles)
            if self.log_events:
                self._note(unit, "end", w.step, w.layer, w.head)
            self._use(_UNIT_OF[unit], job, t0, int(self.env.now))

    def _fetch_once(self, shared: dict, key: tuple, cycles: int, w: RowWork, job: int, *, sram_bytes: int = 0,
                    lines: int = 1):
        """Fetch on behalf of a group the first time one of its rows asks; later rows wait for it.

        Streaming (``design.hbm.fetch``): the rows go on once the first of the transfer's ``lines``
        buffer lines has landed, and ``shared[key + ("in",)]`` is the cycle the last one lands;
        store and forward: once the whole transfer has.
        """
        ready = shared.get(key)
        if ready is not None:
            self._wait(job, ("f", shared[("fetcher", *key)]))  # it waits for what the fetching row waits for
            yield ready
            return
        ready = shared[key] = self.env.event()
        shared[("fetcher", *key)] = job
        if sram_bytes:
            self._wait(job, "sram")
            yield self.sram.get(sram_bytes)
        if cycles:
            self._wait(job, "hbm")
            yield from self._transfer(shared, key, cycles, w, job, lines)
        ready.succeed()

    def _transfer(self, shared: dict, key: tuple, cycles: int, w: RowWork, job: int, lines: int):
        """One HBM transfer; returns when its data may be consumed (the first line when streaming)."""
        m = self.machine
        if not m.stream:
            yield from self._hold(self.hbm, cycles, "hbm", w.step, w.layer, w.head, job)
            yield self.env.timeout(m.hbm_latency)
            return
        granted = self.env.event()
        self._pending.append(self.env.process(self._hold(self.hbm, cycles, "hbm", w.step, w.layer, w.head, job,
                                                         granted=granted)))
        yield granted
        shared[key + ("in",)] = int(self.env.now) + cycles + m.hbm_latency
        yield self.env.timeout(first_line_cycles(cycles, lines) + m.hbm_latency)

    def _scores(self, w: RowWork, last_pass: bool, job: int, until=None):
        """One pass of Q x K and softmax; the top-k fill streams the last pass's probabilities.

        ``until``: the cycle the last line of the keys this pass reads lands (a streaming fetch).
        Returns the cycles from now until the pass's requant decision (the end of the softmax pipeline).
        """
        m = self.machine
        self._wait(job, "pipeline")
        yield from self._hold(self.units["qk"], w.qk, "qk", w.step, w.layer, w.head, job, until=until)
        yield self.env.timeout(m.qk_latency)
        yield from self._hold(self.units["softmax"], w.softmax, "softmax", w.step, w.layer, w.head, job)
        lead = min(w.topk_fill, m.softmax_latency) if (any(w.topk) and last_pass) else 0
        yield self.env.timeout(m.softmax_latency - lead)
        return lead  # cycles until the pass's requant decision (the top-k fill starts that early)

    def _row(self, w: RowWork, shared: dict, after, turns: dict, job: int):
        m = self.machine
        key = w.group_key
        held = max(1, w.keys * m.sram_bytes_per_key)  # the group's K in the key SRAM (bytes)
        # the first alive head of the group fetches the group's K (and the query) into the SRAM
        yield from self._fetch_once(shared, key, w.k_fetch, w, job, sram_bytes=held, lines=w.qk)
        if after is not None:  # the query needs the previous layer's output
            self._wait(job, "layer")
            if after is not _RAN:
                yield after
        if w.k_stream and ("stream", *key) not in shared:  # the group's K for its later passes streams behind
            shared[("stream", *key)] = self.env.process(self._stream(w, job))
            self._pending.append(shared[("stream", *key)])
        n = w.passes
        lead = yield from self._scores(w, last_pass=n == 1, job=job, until=shared.get(key + ("in",)))
        lsb_key = key + ("lsb",) if w.lsb_group is None else key + ("lsb", w.lsb_group)
        if w.requant:  # the LSBs are fetched once the first pass has made the decision
            yield from self._fetch_once(shared, lsb_key, w.lsb_fetch, w, job, lines=w.qk)
        for p in range(1, n):
            lead = yield from self._scores(w, last_pass=p == n - 1, job=job,
                                           until=shared.get(lsb_key + ("in",)) if p == 1 else None)
        stream = shared.get(("stream", *key))
        if stream is not None and not stream.processed:  # the last pass ends with the group's last K tile
            self._wait(job, "hbm")
            yield stream
            self._wait(job, "pipeline")
        if m.key_release == "decision" and _last_of_group(shared, key):  # K leaves at its last requant decision
            self.env.process(self._release(lead, held))
        self._wait(job, "pipeline")
        used = [(stage, c) for stage, c in zip(("topk_fill", "topk", "topk_filter"), w.topk) if c]
        v_row: dict = {}
        for i, (stage, cycles) in enumerate(used):
            emit = None
            if m.stream and w.v_fetch and i == len(used) - 1:  # V is requested from the engine's first output beat
                emit = (v_row, max(0, cycles - w.topk_emit), w, job)
            yield from self._in_order(turns[stage], stage, self.topk_stages[stage], cycles, w, job, emit=emit)
        if w.v_fetch and "ready" not in v_row:  # no selection ran, or store and forward: V is fetched now
            if m.stream:
                v_row["ready"] = self.env.process(self._v_fetch(v_row, 0, w, job))
            else:
                self._wait(job, "hbm")
                yield from self._transfer(v_row, (), w.v_fetch, w, job, lines=w.pv)
                self._wait(job, "pipeline")
        if "ready" in v_row:  # prob x V starts on the first V line and ends no earlier than the last
            if not v_row["ready"].processed:
                self._wait(job, "hbm")
                yield v_row["ready"]
                self._wait(job, "pipeline")
        yield from self._in_order(turns["pv"], "pv", self.units["pv"], w.pv, w, job, until=v_row.get(("in",)))
        yield self.env.timeout(m.pv_latency)
        if m.key_release == "done" and _last_of_group(shared, key):
            yield self.sram.put(held)

    def _v_fetch(self, v_row: dict, delay: int, w: RowWork, job: int):
        """A row's streaming V fetch, requested ``delay`` cycles from now; done when its first line lands."""
        if delay:
            yield self.env.timeout(delay)
        yield from self._transfer(v_row, (), w.v_fetch, w, job, lines=w.pv)

    def _stream(self, w: RowWork, job: int):
        """The HBM time of a tiled group's later K passes, queued behind its first (the double buffer streams it)."""
        yield from self._hold(self.hbm, w.k_stream, "hbm", w.step, w.layer, w.head, job)

    def generate(self, rows: list[RowWork], after=None):
        """Queue one layer's generation rows (in order); return the event of their completion.

        Rows of one group share its K fetch and SRAM space. K may be fetched ahead, but no row
        starts Q x K before ``after`` (the previous layer of the same step: the query is computed
        from its output). The result is for ``after`` of a later call and for :func:`on_done`.
        """
        if self.engine == "compiled":
            done = LayerDone()
            self._script.append(("gen", rows, after, done))
            return done
        return self._generate(rows, after)

    def _generate(self, rows: list[RowWork], after=None):
        """:meth:`generate` as simpy processes, queued now."""
        shared: dict = {}
        for w in rows:
            left = w.group_key + ("left",)
            shared[left] = shared.get(left, 0) + 1
        procs = []
        for w in rows:  # turns at the in-order units are taken in queueing order
            turns = {}
            used = [st for st, c in zip(("topk_fill", "topk", "topk_filter"), w.topk) if c]
            for unit in used + ["pv"]:
                mine = self.env.event()
                turns[unit] = (self._turns.get(unit), mine)
                self._turns[unit] = mine
            procs.append(self.env.process(self._row(w, shared, after, turns, self._job(w.step, w.layer))))
        self._pending.extend(procs)
        return self.env.all_of(procs)

    # ------------------------------------------------------------------ barriers
    def select(self, cycles: int, step: int, layer: int, kind: str):
        """Wait for all queued work, then run a token/head selection on the top-k engine."""
        if self._script:
            self._script.append(("select", int(cycles), step, layer))
            return
        self._select(cycles, step, layer)

    def _select(self, cycles: int, step: int, layer: int):
        self._drain()
        if cycles:
            job = self._job(step, layer)
            proc = self.env.process(self._hold(self.topk_select, cycles, "topk", step, layer, -1, job, use="select"))
            self.env.run(proc)

    def _flush(self, everything: bool = False):
        """Run the recorded generation work up to its last drain (``everything``: all of it, the rest queued
        in simpy undrained, as :meth:`_generate` leaves it), compiled where :mod:`.engine` can, else in simpy."""
        script = self._script
        if not script:
            return
        last = max((i for i, item in enumerate(script) if item[0] != "gen"), default=-1)
        cut = len(script) if everything else last + 1
        if cut == 0:
            return
        run, self._script = script[:cut], script[cut:]
        if run[-1][0] == "gen" or not self._replay_compiled(run):
            self._replay_simpy(run)

    def _replay_simpy(self, script: list):
        """The recorded work through the simpy processes, as if each call had been made then."""
        conditions: dict = {}
        for item in script:
            if item[0] == "gen":
                _, rows, after, done = item
                if isinstance(after, LayerDone):  # a layer of this replay, or one already run (done)
                    after = conditions.get(id(after), after.fired)
                cond = self._generate(rows, after)
                conditions[id(done)] = cond
                for fn in done.callbacks:
                    cond.callbacks.append(lambda ev, fn=fn: fn(ev.env.now))
                done.fired = cond
            elif item[0] == "drain":
                self._drain()
            else:
                self._select(*item[1:])

    def _quiescent(self) -> bool:
        """Nothing in flight in simpy: every unit free, no queue, the key SRAM full (what a segment starts from)."""
        resources = [self.hbm, *self.units.values(), *self.topk_stages.values(), self.topk_select]
        return (not self._pending and all(not r.users and not r.queue for r in resources)
                and self.sram.level == self.sram.capacity and not self.sram.get_queue and not self.sram.put_queue)

    def _replay_compiled(self, script: list) -> bool:
        """The recorded work through :func:`hwsim.spatten.engine.run_segment`, segment by segment; False (nothing
        applied) where a segment cannot run there."""
        if not self._quiescent():
            return False
        m = self.machine
        config = np.array([m.stream, m.key_release == "decision", m.qk_latency, m.softmax_latency, m.pv_latency,
                           m.hbm_latency, m.sram_bytes, self.log_events,
                           _SELECT_SHARED if self.topk_select is self.topk_local else _SELECT_OWN], np.int64)
        now = self.now_simpy
        n_jobs = len(self.jobs)
        jobs, results, marks = [], [], []
        gens: list = []
        for item in script:
            if item[0] == "gen":
                gens.append(item)
                continue
            select = None
            if item[0] == "select" and item[1]:
                select = item[1:]
            if not gens and select is None:
                continue
            table, spans, groups, slots, group_rows, row_jobs = _segment_table(gens, n_jobs + len(jobs),
                                                                              m.sram_bytes_per_key)
            sel = None
            if select is not None:
                sel = (select[0], select[1], select[2], n_jobs + len(jobs) + len(row_jobs))
            out = engine.run_segment(table, spans, select=sel, now=now, config=config, n_groups=groups,
                                     n_slots=slots, group_rows=group_rows, log=self.log_events)
            if out is None:
                return False
            jobs.extend((now, "generation" if st >= 0 else "summarization", lay) for st, lay in row_jobs)
            if sel is not None:
                jobs.append((out["select_queued"], "generation" if sel[1] >= 0 else "summarization", sel[2]))
            results.append(out)
            marks.extend((gens[g][3], int(t)) for g, t in out["marks"].tolist())
            now = out["now"]
            gens = []
        if gens:
            return False
        self._apply(jobs, results, marks, now)
        return True

    def _apply(self, jobs: list, results: list, marks: list, now: int):
        """Record what the compiled segments did (jobs, waits, uses, log, marks) and move simpy's clock on."""
        base = len(self.jobs)
        waits: list[list] = [[] for _ in jobs]
        for out in results:
            w = out["waits"]
            follows = np.flatnonzero(w[:, 2] == engine.CAUSE_FOLLOW).tolist()
            causes = [_CAUSE_NAMES[c] for c in w[:, 2].tolist()]
            for k in follows:
                causes[k] = ("f", int(w[k, 3]))
            for job, t, cause in zip((w[:, 0] - base).tolist(), w[:, 1].tolist(), causes):
                waits[job].append((t, cause))
            uses = out["uses"]
            for code in np.unique(uses[:, 0]).tolist():
                u = uses[uses[:, 0] == code]
                self.uses.setdefault(engine.USE_UNITS[code], []).append((u[:, 1], u[:, 2], u[:, 3]))
            if self.log_events:
                self.log.extend((t, engine.LOG_UNITS[u], "end" if e else "start", st, lay, h)
                                for t, u, e, st, lay, h in out["log"].tolist())
        self.jobs.extend((q, stage, lay, w) for (q, stage, lay), w in zip(jobs, waits))
        for done, t in marks:
            for fn in done.callbacks:
                fn(t)
            done.fired = _RAN
        if now > self.env.now:
            self.env.run(until=now)

    def drain(self):
        """Run until everything queued so far has finished."""
        if self._script:
            self._script.append(("drain",))
            return
        self._drain()

    def _drain(self):
        if self._pending:
            self.env.run(self.env.all_of(self._pending))
            self._pending = []

    @property
    def now(self) -> int:
        """Current simulated time (cycles), once the work drained so far has run."""
        self._flush()
        return int(self.env.now)

    @property
    def now_simpy(self) -> int:
        return int(self.env.now)

    def explain(self) -> dict:
        """Busy, stall-by-cause and idle cycles per unit up to now (:func:`hwsim.spatten.explain.account`)."""
        return account(self.now, self.jobs, self.uses)


class LayerDone:
    """A layer's completion as :meth:`Timeline.generate` returns it with ``engine = "compiled"``: the callbacks
    (``fn(cycle)``, :func:`on_done`) fire when the work runs; ``fired`` is the simpy event it became, or None."""

    __slots__ = ("callbacks", "fired")

    def __init__(self):
        self.callbacks: list = []
        self.fired = None


def on_done(done, fn) -> None:
    """Call ``fn(cycle)`` when ``done`` (:meth:`Timeline.generate`'s result) fires."""
    if isinstance(done, LayerDone):
        done.callbacks.append(fn)
    else:
        done.callbacks.append(lambda ev: fn(ev.env.now))


#: ``LayerDone.fired`` of a layer the compiled engine has run (a processed event: nothing to wait for)
_RAN = object()
#: a compiled segment's wait code -> its cause name (explain.CAUSES; ``engine.CAUSE_FOLLOW``: replaced by the followed job)
_CAUSE_NAMES = (*CAUSES, None)
_SELECT_OWN, _SELECT_SHARED = 7, 5  # engine resource of the selections: their own engine, or the local-V one


def _segment_table(gens: list, first_job: int, bytes_per_key: int):
    """A segment's rows as :func:`hwsim.spatten.engine.run_segment` takes them.

    Returns (table, spans, groups, slots, rows per group, [(step, layer)] per row).
    """
    index = {id(g[3]): i for i, g in enumerate(gens)}
    groups: dict = {}
    slots: dict = {}
    table, spans, row_jobs, group_rows = [], [], [], []
    job = first_job
    for gi, (_, rows, after, _) in enumerate(gens):
        a = -1
        if after is not None:
            a = index.get(id(after), -2)  # -2: a layer run by an earlier segment (done; its wait is recorded)
        spans.append((len(table), len(table) + len(rows)))
        for w in rows:
            gk = (gi, w.group_key)
            g = groups.get(gk)
            if g is None:
                g = groups[gk] = len(groups)
                group_rows.append(0)
            group_rows[g] += 1
            sk = (gi, w.group_key, "lsb") if w.lsb_group is None else (gi, w.group_key, "lsb", w.lsb_group)
            sl = slots.get(sk)
            if sl is None:
                sl = slots[sk] = len(slots)
            t0, t1, t2 = w.topk
            table.append((w.step, w.layer, w.head, g, sl, w.k_fetch, w.qk, w.softmax, w.requant, w.lsb_fetch,
                          t0, t1, t2, w.topk_fill, w.v_fetch, w.pv, max(1, w.keys * bytes_per_key), w.passes,
                          w.k_stream, w.topk_emit, job, gi, a))
            row_jobs.append((w.step, w.layer))
            job += 1
    arr = np.array(table, np.int64).reshape(len(table), len(engine.ROW_COLUMNS))
    return (arr, np.array(spans, np.int64).reshape(len(spans), 2), len(groups), len(slots),
            np.array(group_rows, np.int64), row_jobs)


def _last_of_group(shared: dict, key: tuple) -> bool:
    """Count one of a group's rows done with its K; True for the last (the group's SRAM space may go)."""
    shared[key + ("left",)] -= 1
    return shared[key + ("left",)] == 0

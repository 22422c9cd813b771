"""The top-k engines as a unit of the accelerator pipeline (timing view).

SpAtten has two quick-select engines (HPCA 2021, Table "Architectural Setups";
docs/sources.md SpAtten §2.2): one shared by cascade token pruning and cascade head pruning
(head pruning is rare), one for local V pruning. ``design.topk.engines = 1`` makes all three kinds
of selection share one engine.

How consecutive requests overlap on one engine (``design.topk.overlap``) is a set of stage
services (:func:`stage_services`) for :func:`hwsim.pipeline.schedule`: :func:`sequence_schedule`
and :func:`sequence_cycles` time back-to-back requests with it (the reference of the RTL bench),
and the SpAtten row pipeline uses it for the local-V engine.

The simpy unit serves one request at a time, in arrival order. A request occupies its engine for
exactly the golden cycle count (:mod:`hwsim.units.topk.golden`: first input beat accepted to last
output beat; the next request's first beat is accepted on the following cycle). The producer
streams the scores in during the first ``fill_cycles = ceil(n / in_lanes)`` cycles, so
it is held (back-pressure) from the moment it offers the request until the engine has taken the
last input beat; the selected indices leave at the end. This module adds only that occupancy and
contention; the function and the cycle counts come from the golden view.

Times are in engine clock cycles. Two ways to use it:

* :func:`schedule` — a numba recurrence for one engine and a sequence of requests (arrival,
  fill, cycles) → (start, accepted, done), for the in-order per-head pipeline.
* :class:`TopKUnit` — simpy processes for what is genuinely concurrent (the token/head and the
  local-V engines shared by heads)::

      env = simpy.Environment()
      unit = TopKUnit(env, TopKParams.from_design(design), engines=design.topk.engines)

      def producer(env):
          req = unit.select("token", scores, k)   # offered now
          yield req.accepted                       # held while the engine is busy + fill
          ...                                      # free to produce the next row
          yield req.done                           # indices available: req.indices

  :meth:`TopKUnit.submit` takes precomputed ``cycles``/``fill_cycles`` instead of scores (e.g.
  from :func:`~hwsim.units.topk.golden.select_batch_detail`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import HwsimError
from ...pipeline import schedule as pipeline_schedule
from ..common import ceil_div
from .golden import select_batch_detail, select_params
from .params import OVERLAPS, TopKParams

__all__ = ["KINDS", "TopKUnit", "TopKEngine", "TopKRequest", "fill_cycles", "schedule", "service_cycles",
           "stage_services", "sequence_schedule", "sequence_cycles", "STAGES"]

#: The engine's phases as pipeline stages: fill, quick-select rounds, filter.
STAGES = ("topk_fill", "topk", "topk_filter")

#: Kinds of selection; "token" and "head" share engine 0, "local_v" uses engine 1 when there are two.
KINDS = ("token", "head", "local_v")


def fill_cycles(n, params: TopKParams):
    """Cycles the producer streams ``n`` scores into the engine: ``ceil(n / in_lanes)`` (one beat a cycle)."""
    return ceil_div(n, params.in_lanes)


def service_cycles(scores_2d, ks, params: TopKParams, *, n_valid=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the golden engine on every row: ``(keep [rows, n], cycles [rows], fill_cycles [rows])``."""
    keep, det = select_batch_detail(
        scores_2d, ks, lanes=params.lanes, seed=params.seed, in_lanes=params.in_lanes, n_valid=n_valid,
        width=params.width, max_n=params.max_n,
    )
    return keep, det["cycles"], det["fill_cycles"]


def stage_services(cycles, fill, filt, *, overlap: str) -> np.ndarray:
    """Occupancy of the engine's stages :data:`STAGES` per request, ``[3, requests]`` (cycles).

    ``cycles``, ``fill``, ``filt``: the golden total, fill and filter cycles of each request.
    ``overlap`` (:data:`~hwsim.units.topk.params.OVERLAPS`, ``design.topk.overlap``):

    * "none": one stage busy for the whole request (``cycles`` on ``topk``).
    * "filter": the engine as built (``mit-han-lab/spatten``,
      ``spatten_hardware/hardware/src/main/scala/spatten/utils/QuickSelect.scala:147,164``: input
      only in ``stateFill``, so fill and quick-select are one stage, ``cycles - filt`` on ``topk``;
      ``:142``: the result is registered and the data FIFO holds the stream, so the filter is a
      stage of its own, ``filt`` on ``topk_filter``, overlapping the next request's fill).
    * "full": fill, quick-select rounds and filter as three stages (beyond the released RTL).

    Fed to :func:`hwsim.pipeline.schedule`, which times them (:func:`sequence_schedule`).
    """
    if overlap not in OVERLAPS:
        raise HwsimError(f"Top-k overlap must be one of {', '.join(OVERLAPS)}, not {overlap!r}")
    cycles, fill, filt = (np.asarray(x, np.int64) for x in (cycles, fill, filt))
    zero = np.zeros_like(cycles)
    if overlap == "full":  # np.array of the rows: np.stack's result in one call
        return np.array([fill, cycles - fill - filt, filt])
    if overlap == "filter":
        return np.array([zero, cycles - filt, filt])
    return np.array([zero, cycles, zero])


def sequence_schedule(cycles, fill, filt, *, overlap: str, t0: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Time requests offered back to back to one engine: ``(start, done)`` int64 per request.

    ``start[i]``: the cycle request ``i``'s first input beat is accepted (the source never
    pauses); ``done[i]``: one past the cycle its last output beat is accepted (the sink never
    back-pressures). The stages of :func:`stage_services` through :func:`hwsim.pipeline.schedule`.
    """
    service = stage_services(cycles, fill, filt, overlap=overlap)
    start, done = pipeline_schedule(service, np.zeros(len(STAGES), np.int64), t0)
    first = np.argmax(service > 0, axis=0)  # the first stage a request does not skip
    cols = np.arange(service.shape[1])
    return start[first, cols], done.max(axis=0)


def sequence_cycles(requests, params: TopKParams, overlap: str | None = None) -> int:
    """Golden cycles of a sequence of back-to-back requests on one engine.

    ``requests``: ``(scores, k)`` pairs. Counted from the cycle the first request's first input
    beat is accepted to the cycle the last request's last output beat is accepted, both included,
    with no source pauses and no sink back-pressure; ``overlap`` defaults to ``params.overlap``.
    With "none" it is the sum of the requests' golden ``cycles``. The reference the RTL is
    checked against (``rtl/topk_bench.py``).
    """
    requests = list(requests)
    if not requests:
        return 0
    det = [select_params(params, x, k)[1] for x, k in requests]
    cycles, fill, filt = (np.array([d[f] for d in det], np.int64) for f in ("cycles", "fill_cycles", "filter_cycles"))
    _, done = sequence_schedule(cycles, fill, filt, overlap=params.overlap if overlap is None else overlap)
    return int(done[-1])


def schedule(arrival, fill, cycles, t0: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time requests on one engine, in order: ``(start, accepted, done)`` int64 arrays.

    ``arrival[i]``: cycle request ``i`` is offered; ``fill[i]``, ``cycles[i]``: its golden fill and
    total cycles; ``t0``: first cycle the engine is free. ``start`` = cycle its first beat is
    accepted = ``max(arrival, done of the previous)``; ``accepted = start + fill`` (the producer
    is released); ``done = start + cycles`` (one past the last output beat; the engine is free).
    The producer of request ``i`` is back-pressured for ``accepted - arrival`` cycles.
    """
    a = np.ascontiguousarray(arrival, np.int64)
    f = np.ascontiguousarray(fill, np.int64)
    c = np.ascontiguousarray(cycles, np.int64)
    if not (a.ndim == 1 and a.shape == f.shape == c.shape):
        raise HwsimError(f"arrival, fill and cycles must be 1-D of one length, got {a.shape}, {f.shape}, {c.shape}")
    if (np.diff(a) < 0).any():
        raise HwsimError("arrival must be non-decreasing (requests are served in order)")
    if ((f < 1) | (c <= f)).any():
        raise HwsimError("every request needs 1 <= fill < cycles")
    # one engine = a one-stage in-order pipeline whose requests arrive over time
    start, done = pipeline_schedule(c[None, :], np.zeros(1, np.int64), t0, arrival=a)
    return start[0], start[0] + f, done[0]


@dataclass(eq=False)
class TopKRequest:
    """One selection offered to an engine. Times are cycles; events are simpy events."""

    kind: str
    cycles: int
    fill_cycles: int
    submitted: int
    tag: object = None
    indices: np.ndarray | None = None
    engine: "TopKEngine | None" = None
    start: int | None = None
    accept_time: int | None = None
    finish: int | None = None
    accepted: object = field(default=None, repr=False)
    done: object = field(default=None, repr=False)

    @property
    def wait_cycles(self) -> int:
        """Cycles the producer was held before the engine took the first beat."""
        return self.start - self.submitted


class TopKEngine:
    """One engine: a capacity-1 simpy resource served in arrival order."""

    def __init__(self, env, name: str, log: list | None):
        import simpy

        self.env = env
        self.name = name
        self.resource = simpy.Resource(env, capacity=1)
        self.busy_cycles = 0
        self.requests = 0
        self.wait_cycles = 0
        self._log = log

    def _emit(self, req: TopKRequest, event: str) -> None:
        if self._log is not None:
            self._log.append((int(self.env.now), self.name, req.kind, req.tag, event))

    def _serve(self, req: TopKRequest):
        self._emit(req, "offer")
        with self.resource.request() as grant:
            yield grant
            req.start = int(self.env.now)
            self._emit(req, "start")
            yield self.env.timeout(req.fill_cycles)
            req.accept_time = int(self.env.now)
            self._emit(req, "accepted")
            req.accepted.succeed(req)
            yield self.env.timeout(req.cycles - req.fill_cycles)
            req.finish = int(self.env.now)
            self.busy_cycles += req.cycles
            self.requests += 1
            self.wait_cycles += req.wait_cycles
            self._emit(req, "done")
        req.done.succeed(req)


class TopKUnit:
    """SpAtten's top-k engines in a simpy environment (time unit: one engine clock cycle).

    Parameters
    ----------
    env : simpy.Environment
    params : TopKParams
        The engine (both engines are identical).
    engines : int
        2 (paper): token/head selections on engine 0, local-V selections on engine 1;
        1: everything on engine 0.
    log : list, optional
        When given, every event is appended as ``(cycle, engine, kind, tag, event)`` with event
        one of ``offer``, ``start``, ``accepted``, ``done``.
    """

    def __init__(self, env, params: TopKParams, *, engines: int = 2, log: list | None = None):
        if engines not in (1, 2):
            raise HwsimError(f"engines must be 1 or 2, not {engines!r}")
        self.env = env
        self.params = params
        self.log = log
        names = ["token_head", "local_v"] if engines == 2 else ["shared"]
        self.engines = [TopKEngine(env, nm, log) for nm in names]

    @classmethod
    def from_design(cls, env, design, *, seed: int = 0, log: list | None = None) -> "TopKUnit":
        """The engines of a :class:`hwsim.config.Design` (``design.topk``)."""
        return cls(env, TopKParams.from_design(design, seed=seed), engines=design.topk.engines, log=log)

    def engine_for(self, kind: str) -> TopKEngine:
        """The engine that serves ``kind`` ("token", "head" or "local_v")."""
        if kind not in KINDS:
            raise HwsimError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        return self.engines[-1] if kind == "local_v" else self.engines[0]

    def submit(self, kind: str, *, cycles: int, fill_cycles: int, tag=None) -> TopKRequest:
        """Offer a request with known golden ``cycles`` and ``fill_cycles`` now; return it.

        ``yield req.accepted`` in the producer models the back-pressure; ``yield req.done`` waits
        for the indices.
        """
        cycles, fill_cycles = int(cycles), int(fill_cycles)
        if not 1 <= fill_cycles < cycles:
            raise HwsimError(f"a request needs 1 <= fill_cycles < cycles, got {fill_cycles} and {cycles}")
        engine = self.engine_for(kind)
        req = TopKRequest(kind=kind, cycles=cycles, fill_cycles=fill_cycles, submitted=int(self.env.now), tag=tag)
        req.engine = engine
        req.accepted = self.env.event()
        req.done = self.env.event()
        self.env.process(engine._serve(req))
        return req

    def select(self, kind: str, scores, k: int, *, tag=None) -> TopKRequest:
        """Offer a selection of ``k`` of ``scores`` now; cycles and indices from the golden model."""
        idx, det = select_params(self.params, scores, k)
        req = self.submit(kind, cycles=det["cycles"], fill_cycles=det["fill_cycles"], tag=tag)
        req.indices = idx
        return req

    def stats(self) -> list[dict]:
        """Per engine: requests served, busy cycles, producer wait cycles."""
        return [
            {"engine": e.name, "requests": e.requests, "busy_cycles": e.busy_cycles, "wait_cycles": e.wait_cycles}
            for e in self.engines
        ]

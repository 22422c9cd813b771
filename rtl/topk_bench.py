"""Testbench core of the top-k engine: stimulus, driver, monitor and checker, simulator-neutral.

Driver -> DUT, monitor -> model -> checker (STYLE.md 8): the model is the golden view
(:func:`hwsim.units.topk.select_detail`), never a copy of it. One loop drives the DUT through a
``step`` coroutine that sets the inputs of one cycle and returns the outputs sampled at the clock
edge that ends it; :mod:`rtl.cocotb_topk` supplies it for cocotb (generated Verilog on Icarus)
and :func:`run_amaranth` for Amaranth's simulator.

Requests stream back to back: the source offers the next request's first beat as soon as the
previous request's last one is taken, and the monitor collects output beats independently.
Checks per vector: the output indices (and their scores) equal the golden selection, beats are
full except the last, and, when the source never pauses and the sink never back-pressures, the
cycle each request's first input beat is accepted and the cycle its last output beat is accepted
are exactly those of the golden sequence (:func:`hwsim.units.topk.sequence_schedule` under
``params.overlap``: with "none" each request's golden ``cycles`` and the next request on the
very next cycle; with "filter" the next request's fill during this one's filter). With random
pauses and back-pressure a request's cycles must not be below its golden count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from hwsim.units.topk import TopKParams, select_detail, sequence_schedule

__all__ = [
    "Phase", "BenchReport", "params_dict", "make_vectors", "pack_input", "payloads_of", "unpack_output",
    "stream", "drive", "PhaseModel", "check_phase", "run_amaranth", "run_amaranth_requests",
]


@dataclass(frozen=True)
class Phase:
    """A batch of random vectors and how the source and sink behave while they run."""

    vectors: int
    seed: int
    pause: float = 0.0          # probability the source withholds a beat in a cycle
    backpressure: float = 0.0   # probability the sink is not ready in a cycle

    @property
    def exact(self) -> bool:
        """Whether cycles must equal the golden count (no pauses, no back-pressure)."""
        return self.pause == 0.0 and self.backpressure == 0.0


@dataclass
class BenchReport:
    """What a run found. ``records`` has one dict per vector; ``mismatches`` the failing ones."""

    params: dict
    records: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)
    sim_cycles: int = 0
    sim_s: float = 0.0          # wall time of the drive loop alone (no build, no start-up)

    @property
    def ok(self) -> bool:
        return not self.mismatches and bool(self.records)

    def to_dict(self) -> dict:
        return {"params": self.params, "records": self.records, "mismatches": self.mismatches,
                "sim_cycles": self.sim_cycles, "sim_s": self.sim_s}

    @classmethod
    def from_dict(cls, d: dict) -> "BenchReport":
        return cls(params=d["params"], records=d["records"], mismatches=d["mismatches"], sim_cycles=d["sim_cycles"],
                   sim_s=d["sim_s"])

    def first_mismatch_line(self) -> str:
        if not self.mismatches:
            return "no mismatch"
        m = self.mismatches[0]
        return (f"vector {m['vector']} (n={m['n']}, k={m['k']}): {m['what']}; golden cycles {m['golden_cycles']}, "
                f"RTL cycles {m['rtl_cycles']}; golden indices {m['golden_indices']}, RTL indices {m['rtl_indices']}")


def params_dict(params: TopKParams) -> dict:
    """The parameters as a plain dict (for JSON and for ``TopKParams(**d)``)."""
    return {f: getattr(params, f) for f in ("lanes", "in_lanes", "width", "max_n", "seed", "overlap")}


def make_vectors(params: TopKParams, count: int, seed: int) -> list[tuple[np.ndarray, int]]:
    """``count`` random (scores, k) pairs for ``params``, deterministic in ``seed``.

    Mixes many ties (scores from 0..1, 0..3, 0..15 or all equal) with the full ``width``-bit
    range; n is 1, ``max_n`` or random in between (small n favoured); k is 1, n or random.
    """
    rng = np.random.default_rng(seed)
    out = []
    top = params.max_score
    for _ in range(count):
        u = rng.random()
        if u < 0.08:
            n = 1
        elif u < 0.18:
            n = params.max_n
        elif u < 0.55:
            n = int(rng.integers(1, min(params.max_n, 4 * params.lanes + 8) + 1))
        else:
            n = int(rng.integers(1, params.max_n + 1))
        kind = rng.integers(0, 5)
        hi = (1, 3, min(15, top), top, 0)[kind]
        x = rng.integers(0, hi + 1, size=n) if hi else np.full(n, int(rng.integers(0, top + 1)))
        v = rng.random()
        k = 1 if v < 0.15 else n if v < 0.3 else int(rng.integers(1, n + 1))
        out.append((x.astype(np.int64), k))
    return out


def _offsets(params: TopKParams):
    from .topk import input_layout, output_layout  # lazy: the cocotb simulator process runs this module without elaborating RTL

    il, ol = input_layout(params), output_layout(params)
    return (il["count"].offset, il["last"].offset, ol["index"].offset, ol["score"].offset,
            ol["count"].offset, ol["last"].offset)


def pack_input(params: TopKParams, chunk, last: bool) -> int:
    """The input payload (an int) of one beat holding ``chunk`` (1..in_lanes scores)."""
    c_off, l_off = _offsets(params)[:2]
    v = 0
    for i, s in enumerate(chunk):
        v |= int(s) << (i * params.width)
    return v | (len(chunk) << c_off) | (int(last) << l_off)


def unpack_output(params: TopKParams, value: int) -> tuple[list[int], list[int], int, bool]:
    """``(indices, scores, count, last)`` of one output payload; only ``count`` lanes are returned."""
    _, _, i_off, s_off, c_off, l_off = _offsets(params)
    W, IB = params.width, params.index_bits
    count = (value >> c_off) & ((1 << (l_off - c_off)) - 1)
    idx = [(value >> (i_off + j * IB)) & ((1 << IB) - 1) for j in range(count)]
    sc = [(value >> (s_off + j * W)) & ((1 << W) - 1) for j in range(count)]
    return idx, sc, count, bool((value >> l_off) & 1)


def _short(a) -> str:
    a = list(a)
    return str(a) if len(a) <= 12 else str(a[:12])[:-1] + f", ... ({len(a)} in all)]"


def payloads_of(params: TopKParams, x, *, last_count: int | None = None) -> list[int]:
    """Input payloads of one request: beats of ``in_lanes`` scores, the last one with its count.

    ``last_count`` overrides the count field of the last beat (to test how the RTL reads it).
    """
    I = params.in_lanes
    chunks = [x[i:i + I] for i in range(0, len(x), I)]
    out = [pack_input(params, c, j == len(chunks) - 1) for j, c in enumerate(chunks)]
    if last_count is not None:
        c_off, l_off = _offsets(params)[:2]
        out[-1] = (out[-1] & ~(((1 << (l_off - c_off)) - 1) << c_off)) | (last_count << c_off)
    return out


@dataclass
class _Seen:
    first_in: int | None = None
    last_out: int | None = None
    indices: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    short_beat: bool = False

    @property
    def cycles(self) -> int | None:
        return None if self.last_out is None or self.first_in is None else self.last_out - self.first_in + 1


async def stream(step, params: TopKParams, requests: list[tuple[list[int], int]], *, cycle: int, limit: int,
                 rng=None, pause: float = 0.0, backpressure: float = 0.0) -> tuple[list[_Seen], int]:
    """Drive ``requests`` (payloads, ``k`` on the port) back to back and monitor the outputs.

    The source offers the next request's first beat right after the previous request's last
    one (unless it pauses), whether or not that request's output has left: the input driver and
    the output monitor run independently. Returns one :class:`_Seen` per request and the cycle
    after the last one seen; ``cycle`` numbers the clock edges, the run is abandoned at ``limit``
    (a hung DUT).
    """
    beats = [(r, pl) for r, (payloads, _) in enumerate(requests) for pl in payloads]
    seen = [_Seen() for _ in requests]
    bi = out_r = 0
    while out_r < len(requests) and cycle < limit:
        valid = bi < len(beats) and not (pause and rng.random() < pause)
        ready = not (backpressure and rng.random() < backpressure)
        r_in = beats[min(bi, len(beats) - 1)][0]
        o = await step({"inp_valid": int(valid), "inp_payload": beats[bi][1] if valid else 0,
                        "out_ready": int(ready), "k": requests[r_in][1]})
        if valid and o["inp_ready"]:
            seen[r_in].first_in = cycle if seen[r_in].first_in is None else seen[r_in].first_in
            bi += 1
        if o["out_valid"] and ready:
            ii, ss, cnt, last = unpack_output(params, o["out_payload"])
            cur = seen[out_r]
            cur.short_beat |= cnt != params.lanes and not last
            cur.indices += ii
            cur.scores += ss
            if last:
                cur.last_out = cycle
                out_r += 1
        cycle += 1
    return seen, cycle


@dataclass
class PhaseModel:
    """A phase's vectors and what the golden model says of them (the checker's reference)."""

    vectors: list
    golden: list            # (indices, detail) per vector, from select_detail
    start: np.ndarray       # sequence_schedule: first input beat accepted, from the phase's first
    done: np.ndarray        # one past the last output beat accepted

    @classmethod
    def of(cls, params: TopKParams, phase: Phase) -> "PhaseModel":
        vectors = make_vectors(params, phase.vectors, phase.seed)
        golden = [select_detail(x, k, lanes=params.lanes, seed=params.seed, in_lanes=params.in_lanes,
                                width=params.width, max_n=params.max_n) for x, k in vectors]
        det = {f: np.array([d[f] for _, d in golden], np.int64) for f in ("cycles", "fill_cycles", "filter_cycles")}
        start, done = sequence_schedule(det["cycles"], det["fill_cycles"], det["filter_cycles"],
                                        overlap=params.overlap)
        return cls(vectors, golden, start, done)

    @property
    def golden_cycles(self) -> int:
        """Sum of the vectors' golden cycles (for run limits)."""
        return int(sum(d["cycles"] for _, d in self.golden))

    def requests(self, params: TopKParams) -> list[tuple[list[int], int]]:
        """Input payloads and the ``k`` port value of every vector."""
        return [(payloads_of(params, x), k) for x, k in self.vectors]


def check_phase(phase: Phase, model: PhaseModel, seen: list[_Seen], report: BenchReport) -> bool:
    """Check what the monitor saw of one phase against the golden model; return whether the DUT hung."""
    origin = seen[0].first_in if seen and seen[0].first_in is not None else 0
    hung = False
    for i, ((x, k), (idx_g, d), got) in enumerate(zip(model.vectors, model.golden, seen)):
        rtl_cycles = got.cycles
        start, done = int(model.start[i]), int(model.done[i])
        rec = {"vector": len(report.records), "n": len(x), "k": k, "exact": phase.exact,
               "golden_cycles": done - start if phase.exact else d["cycles"], "rtl_cycles": rtl_cycles,
               "rounds": d["rounds"]}
        what = []
        if rtl_cycles is None:
            what.append("no last output beat (DUT hung)")
            hung = True
        if got.indices != idx_g.tolist():
            what.append("indices differ")
        elif got.scores != x[idx_g].tolist():
            what.append("scores differ")
        if got.short_beat:
            what.append("a beat before the last is not full")
        if rtl_cycles is not None:
            if phase.exact and (got.first_in - origin, got.last_out + 1 - origin) != (start, done):
                what.append(f"cycles differ (first beat in, last beat out at {got.first_in - origin}, "
                            f"{got.last_out - origin}; golden {start}, {done - 1})")
            if not phase.exact and rtl_cycles < d["cycles"]:
                what.append("cycles below the golden count")
        report.records.append(rec)
        if what:
            report.mismatches.append({**rec, "what": "; ".join(what), "golden_indices": _short(idx_g.tolist()),
                                      "rtl_indices": _short(got.indices)})
    return hung


async def drive(step, params: TopKParams, phases: list[Phase], report: BenchReport) -> BenchReport:
    """Run every phase's vectors back to back through ``step``; fill ``report``.

    ``step(inputs) -> outputs`` applies ``inputs`` (``inp_valid``, ``inp_payload``, ``out_ready``,
    ``k``) for one cycle and returns the values sampled at the edge that ends it
    (``inp_ready``, ``out_valid``, ``out_payload``). A phase starts once the previous one's last
    output has left. In a phase without pauses every request's first input beat and last output
    beat must be accepted on the cycles :func:`hwsim.units.topk.sequence_schedule` gives for the
    phase's requests under ``params.overlap`` (the engine idle at the phase's first beat); with
    pauses a request's cycles must not be below its golden count. The run stops after the first
    phase with a request whose last beat does not come (a hung DUT).
    """
    t0 = time.perf_counter()
    cycle = 0
    for phase in phases:
        model = PhaseModel.of(params, phase)
        rng = np.random.default_rng(phase.seed ^ 0x5EED)
        seen, cycle = await stream(step, params, model.requests(params), cycle=cycle,
                                   limit=cycle + 20 * model.golden_cycles + 200, rng=rng, pause=phase.pause,
                                   backpressure=phase.backpressure)
        if check_phase(phase, model, seen, report):
            break
    report.sim_cycles = cycle
    report.sim_s = time.perf_counter() - t0
    return report


def _amaranth_run(params: TopKParams, fault: str | None, body, vcd: str | None = None):
    """Simulate :class:`rtl.topk.TopK` in Amaranth's simulator; ``body(step)`` drives it."""
    from amaranth.sim import Simulator

    from .topk import TopK  # lazy: as above

    dut = TopK(params, fault=fault)
    in_payload, out_payload = dut.inp.payload.as_value(), dut.out.payload.as_value()

    async def bench(ctx):
        async def step(i):
            ctx.set(dut.inp.valid, i["inp_valid"])
            ctx.set(in_payload, i["inp_payload"])
            ctx.set(dut.out.ready, i["out_ready"])
            ctx.set(dut.k, i["k"])
            o = {"inp_ready": ctx.get(dut.inp.ready), "out_valid": ctx.get(dut.out.valid),
                 "out_payload": ctx.get(out_payload)}
            await ctx.tick()
            return o

        await body(step)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


def run_amaranth_requests(params: TopKParams,
                          requests: list[tuple[list[int], int]]) -> list[tuple[list[int], list[int], int | None]]:
    """Send explicit requests (their payloads, the ``k`` port value) back to back in Amaranth's
    simulator; return ``(indices, scores, cycles)`` per request as the DUT produced them."""
    out = []

    async def body(step):
        cycle = 0
        for payloads, k in requests:
            (seen,), cycle = await stream(step, params, [(payloads, k)], cycle=cycle,
                                          limit=cycle + 100 * params.max_n + 500)
            out.append((seen.indices, seen.scores, seen.cycles))

    _amaranth_run(params, None, body)
    return out


def run_amaranth(params: TopKParams, phases: list[Phase], *, fault: str | None = None,
                 vcd: str | None = None) -> BenchReport:
    """Run the phases' vectors on :class:`rtl.topk.TopK` in Amaranth's simulator."""
    report = BenchReport(params=params_dict(params))

    async def body(step):
        await drive(step, params, phases, report)

    _amaranth_run(params, fault, body, vcd)
    return report

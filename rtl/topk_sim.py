"""Run the top-k testbench on freshly generated Verilog under cocotb 2 + Icarus.

Used by ``tests/rtl`` and by ``hwsim rtl test topk``: writes ``topk.v`` into ``build_dir``,
builds it with Icarus through the cocotb runner and runs :mod:`rtl.cocotb_topk`, then returns
the :class:`~rtl.topk_bench.BenchReport` the testbench wrote. Nothing is written outside
``build_dir``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hwsim.errors import HwsimError
from hwsim.units.topk import TopKParams

from .export import verilog_text
from .topk import TopK
from .topk_bench import BenchReport, Phase, params_dict

__all__ = ["run_cocotb", "TOPLEVEL"]

TOPLEVEL = "topk"
#: The runner compiles with ``-g2012``; there Icarus 11 initialises variables before time 0
#: without an event, so the ``always @*`` blocks Yosys writes (woken at time 0 by the
#: initialised ``dump_module`` trigger register) would hold X until an input changes. A later
#: ``-g2005`` restores the Verilog-2005 semantics (the initialiser is an event at time 0).
ICARUS_ARGS = ["-g2005"]


def run_cocotb(params: TopKParams, phases: list[Phase], build_dir: str | Path, *, fault: str | None = None,
               waves: bool = False) -> tuple[BenchReport, Path]:
    """Generate, build and simulate; return ``(report, log_path)``.

    With ``waves`` Icarus writes ``build_dir/topk.fst``. Raises :class:`HwsimError` when Icarus is
    missing or the simulation ends without a results file (see the log).
    """
    if shutil.which("iverilog") is None:
        raise HwsimError("iverilog not found: install Icarus Verilog (make bootstrap does it)")
    from cocotb_tools.runner import get_runner

    build = Path(build_dir).resolve()
    build.mkdir(parents=True, exist_ok=True)
    src = build / f"{TOPLEVEL}.v"
    src.write_text(verilog_text(TopK(params, fault=fault), TOPLEVEL))
    results = build / "results.json"
    results.unlink(missing_ok=True)
    log = build / "sim.log"
    cfg = {"params": params_dict(params), "phases": [vars(p) for p in phases], "results": str(results)}
    runner = get_runner("icarus")
    sources, args = [src], list(ICARUS_ARGS)
    if waves:  # cocotb's own dump module is SystemVerilog, which -g2005 rejects
        dump = build / "hwsim_dump.v"
        dump.write_text(f'module hwsim_dump;\ninitial begin\n  $dumpfile("{build / (TOPLEVEL + ".fst")}");\n'
                        f"  $dumpvars(0, {TOPLEVEL});\nend\nendmodule\n")
        sources.append(dump)
        args += ["-s", "hwsim_dump"]
    runner.build(sources=sources, hdl_toplevel=TOPLEVEL, build_dir=build, timescale=("1ns", "1ps"),
                 always=True, build_args=args)
    env = {"HWSIM_TOPK_TB": json.dumps(cfg), "COCOTB_REWRITE_ASSERTION_FILES": "cocotb_*.py",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                       os.environ.get("PYTHONPATH")]))}
    try:
        runner.test(hdl_toplevel=TOPLEVEL, test_module="rtl.cocotb_topk", build_dir=build, test_dir=build,
                    extra_env=env, waves=waves, log_file=log)
    except SystemExit:
        pass  # under pytest a failing cocotb test raises; the results file says what failed
    if not results.exists():
        raise HwsimError(f"the simulation wrote no results; see {log}")
    return BenchReport.from_dict(json.loads(results.read_text())), log

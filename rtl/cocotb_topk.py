"""cocotb testbench of the top-k engine on its generated Verilog (run through :func:`rtl.topk_sim.run_cocotb`).

The module is named ``cocotb_*.py`` so that cocotb's pytest assertion rewriting is limited to it
(``COCOTB_REWRITE_ASSERTION_FILES``, TOOLCHAIN.md). Configuration arrives as JSON in the
environment variable ``HWSIM_TOPK_TB``: parameters, phases, results path. The driver, monitor
and checker are :func:`rtl.topk_bench.drive`; the results JSON is written before the verdict.
"""

from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from hwsim.units.topk import TopKParams
from rtl.topk_bench import BenchReport, Phase, drive


@cocotb.test()
async def topk_vectors(dut):
    """Every configured vector: output indices and cycles equal to the golden model."""
    cfg = json.loads(os.environ["HWSIM_TOPK_TB"])
    params = TopKParams(**cfg["params"])
    phases = [Phase(**ph) for ph in cfg["phases"]]
    report = BenchReport(params=cfg["params"])
    Clock(dut.clk, 10, unit="ns").start()
    dut.inp__valid.value = 0
    dut.out__ready.value = 0
    dut.k.value = 1
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    async def step(i):
        dut.inp__valid.value = i["inp_valid"]
        dut.inp__payload.value = i["inp_payload"]
        dut.out__ready.value = i["out_ready"]
        dut.k.value = i["k"]
        await RisingEdge(dut.clk)
        return {"inp_ready": int(dut.inp__ready.value), "out_valid": int(dut.out__valid.value),
                "out_payload": dut.out__payload.value.to_unsigned()}

    await drive(step, params, phases, report)
    with open(cfg["results"], "w") as f:
        json.dump(report.to_dict(), f)
    assert report.ok, report.first_mismatch_line()

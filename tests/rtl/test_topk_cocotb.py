"""Sign-off: the generated Verilog of the top-k engine under cocotb 2 + Icarus, against the golden model.

2,100 vectors per overlap mode ("none" and "filter") over four parameter sets (lanes 1, 4, 8, 16;
widths 3, 4, 12; in_lanes below, equal to and above lanes), streamed back to back, one in six of
them with random source pauses and sink back-pressure. Each set builds in its own directory under
pytest's tmp_path. The long regression (``HWSIM_TOPK_VECTORS``) drives the same checker from a
Verilog testbench instead: ``test_topk_bulk.py``.
"""

from __future__ import annotations

import dataclasses

import pytest

from hwsim.units.topk import TopKParams
from rtl.topk_bench import Phase
from rtl.topk_sim import run_cocotb
from topk_signoff import SET_IDS, SIGNOFF, SIGNOFF_VECTORS, check_report, phases_for


def test_vector_budget():
    assert sum(sum(p.vectors for p in phases_for(SIGNOFF_VECTORS, s, 0)) for _, s in SIGNOFF) >= 2000


@pytest.mark.parametrize("overlap", ["none", "filter"])
@pytest.mark.parametrize("params, share", SIGNOFF, ids=SET_IDS)
def test_signoff(params, share, overlap, tmp_path):
    params = dataclasses.replace(params, overlap=overlap)
    phases = phases_for(SIGNOFF_VECTORS, share, 1000 + params.lanes)
    report, log = run_cocotb(params, phases, tmp_path)
    check_report(report, phases, params, log)


@pytest.mark.parametrize("overlap", ["none", "filter"])
@pytest.mark.parametrize("fault, what", [("tie_order", "indices differ"), ("extra_cycle", "cycles differ")])
def test_checker_catches_a_broken_engine(fault, what, overlap, tmp_path):
    params = TopKParams(lanes=4, in_lanes=4, width=3, max_n=32, overlap=overlap)
    report, log = run_cocotb(params, [Phase(60, 5)], tmp_path, fault=fault)
    assert not report.ok
    assert all(what in m["what"] for m in report.mismatches)
    if fault == "extra_cycle":
        assert len(report.mismatches) == 60  # every vector is one cycle late
    assert "rtl.cocotb_topk.topk_vectors failed" in log.read_text()

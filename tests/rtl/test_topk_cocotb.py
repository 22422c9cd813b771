"""Sign-off: the generated Verilog of the top-k engine under cocotb 2 + Icarus, against the golden model.

At least 2,000 vectors per run over four parameter sets (lanes 1, 4, 8, 16; widths 3, 4, 12;
in_lanes below, equal to and above lanes), one in six of them with random source pauses and
sink back-pressure. ``HWSIM_TOPK_VECTORS=100000`` runs a long regression (the total over the
sets; docs/topk.md). Each set builds in its own directory under pytest's tmp_path.
"""

from __future__ import annotations

import os

import pytest

from hwsim.units.topk import TopKParams
from rtl.topk_bench import Phase
from rtl.topk_sim import run_cocotb

TOTAL_VECTORS = int(os.environ.get("HWSIM_TOPK_VECTORS", "2100"))

SIGNOFF = [  # (parameters, share of the vectors)
    (TopKParams(lanes=1, in_lanes=1, width=4, max_n=24, seed=3), 0.28),
    (TopKParams(lanes=4, in_lanes=8, width=12, max_n=96, seed=1), 0.28),
    (TopKParams(lanes=8, in_lanes=8, width=3, max_n=64, seed=9), 0.28),
    (TopKParams(lanes=16, in_lanes=8, width=12, max_n=1024, seed=0), 0.16),
]


def phases_for(share: float, seed: int) -> list[Phase]:
    n = max(12, round(TOTAL_VECTORS * share))
    paused = n // 6
    return [Phase(n - paused, seed), Phase(paused, seed + 1, pause=0.3, backpressure=0.4)]


def test_vector_budget():
    assert TOTAL_VECTORS >= 2000 or "HWSIM_TOPK_VECTORS" in os.environ
    assert sum(sum(p.vectors for p in phases_for(s, 0)) for _, s in SIGNOFF) >= min(TOTAL_VECTORS, 2000)


@pytest.mark.parametrize("params, share", SIGNOFF, ids=[f"P{p.lanes}-I{p.in_lanes}-W{p.width}-N{p.max_n}" for p, _ in SIGNOFF])
def test_signoff(params, share, tmp_path):
    phases = phases_for(share, 1000 + params.lanes)
    report, log = run_cocotb(params, phases, tmp_path)
    assert len(report.records) == sum(p.vectors for p in phases), log
    assert report.ok, report.first_mismatch_line()
    exact = [r for r in report.records if r["exact"]]
    assert all(r["rtl_cycles"] == r["golden_cycles"] for r in exact)
    assert {r["n"] for r in report.records} >= {1, params.max_n}
    assert {r["k"] == r["n"] for r in report.records} == {True, False}


@pytest.mark.parametrize("fault, what", [("tie_order", "indices differ"), ("extra_cycle", "cycles differ")])
def test_checker_catches_a_broken_engine(fault, what, tmp_path):
    params = TopKParams(lanes=4, in_lanes=4, width=3, max_n=32)
    report, log = run_cocotb(params, [Phase(60, 5)], tmp_path, fault=fault)
    assert not report.ok
    assert all(what in m["what"] for m in report.mismatches)
    if fault == "extra_cycle":
        assert len(report.mismatches) == 60  # every vector is one cycle late
    assert "rtl.cocotb_topk.topk_vectors failed" in log.read_text()

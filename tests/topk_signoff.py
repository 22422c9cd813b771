"""The top-k RTL sign-off sets and checks, shared by ``tests/rtl/test_topk_cocotb.py`` and ``test_topk_bulk.py``."""

from __future__ import annotations

from hwsim.units.topk import TopKParams
from rtl.topk_bench import Phase

SIGNOFF_VECTORS = 2100  # per overlap mode, over the four sets

SIGNOFF = [  # (parameters, share of the vectors)
    (TopKParams(lanes=1, in_lanes=1, width=4, max_n=24, seed=3), 0.28),
    (TopKParams(lanes=4, in_lanes=8, width=12, max_n=96, seed=1), 0.28),
    (TopKParams(lanes=8, in_lanes=8, width=3, max_n=64, seed=9), 0.28),
    (TopKParams(lanes=16, in_lanes=8, width=12, max_n=1024, seed=0), 0.16),
]
SET_IDS = [f"P{p.lanes}-I{p.in_lanes}-W{p.width}-N{p.max_n}" for p, _ in SIGNOFF]


def phases_for(total: int, share: float, seed: int) -> list[Phase]:
    n = max(12, round(total * share))
    paused = n // 6
    return [Phase(n - paused, seed), Phase(paused, seed + 1, pause=0.3, backpressure=0.4)]


def check_report(report, phases, params, log):
    assert len(report.records) == sum(p.vectors for p in phases), log
    assert report.ok, report.first_mismatch_line()
    exact = [r for r in report.records if r["exact"]]
    assert all(r["rtl_cycles"] == r["golden_cycles"] for r in exact)
    assert {r["n"] for r in report.records} >= {1, params.max_n}
    assert {r["k"] == r["n"] for r in report.records} == {True, False}

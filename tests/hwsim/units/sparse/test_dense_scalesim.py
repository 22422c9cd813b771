"""The dense systolic engine against SCALE-Sim v3 (scalesim_fixture.json, made by scalesim_fixture.py).

SCALE-Sim's "Total Cycles" is the index of the last cycle, so our cycle count is that + 1 per
(sub)layer; its depthwise (``DP``) layers run one single-channel layer per channel, which we count
as ``groups`` GEMMs of ``k = r * s``, ``n = 1`` one after another.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim.units.sparse.golden import dense_cycles
from hwsim.units.sparse.params import GemmShape, SystolicParams, conv_gemm_shape

FIXTURE = json.loads(Path(__file__).with_name("scalesim_fixture.json").read_text())
CASES = FIXTURE["cases"]


def _shape(case: dict) -> GemmShape:
    if case["kind"] == "gemm":
        return GemmShape(m=case["m"], k=case["k"], n=case["n"])
    return conv_gemm_shape(h=case["h"], w=case["w"], c=case["c"], k=case["k"], r=case["r"], s=case["s"],
                           stride=case["stride"], depthwise=case["depthwise"])


def test_fixture_covers_the_issue():
    assert {c["dataflow"] for c in CASES} == {"os", "ws", "is"}
    assert len({(c["rows"], c["cols"]) for c in CASES}) >= 3
    assert {c["kind"] for c in CASES} == {"gemm", "conv"}
    assert any(c.get("depthwise") for c in CASES)
    assert all(s == 0 for c in CASES for s in c["stall_cycles"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['name']}-{c['rows']}x{c['cols']}-{c['dataflow']}")
def test_dense_cycles_equal_scalesim(case):
    array = SystolicParams(rows=case["rows"], cols=case["cols"], dataflow=case["dataflow"])
    got = dense_cycles(_shape(case), array)
    assert got.compute_cycles == sum(t + 1 for t in case["total_cycles"])


def test_docs_table_is_current():
    import subprocess
    import sys

    root = Path(__file__).parents[4]
    table = subprocess.run([sys.executable, str(root / "docs/sparse_tables.py"), "scalesim"], capture_output=True,
                           text=True, check=True).stdout
    assert table.strip() in (root / "docs/sparse.md").read_text()

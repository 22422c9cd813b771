"""The calibrated energy and area models land on the paper's totals for the reference run.

Reference: the authors' GPT-2-Small trace (all features) replayed on the full ``spatten`` design,
seed 0. If the simulator's event counts or timing change, this test fails: re-run
``cost_models.energy.calibrate_static`` / ``cost_models.area.calibrate`` (docs/energy-area.md) and
paste the constants.
"""

from __future__ import annotations

import pytest

from cost_models.area import PAPER_AREA_MM2, area_mm2
from cost_models.energy import PAPER_POWER_W
from hwsim import load_design
from hwsim.spatten import simulate
from hwsim.reproduce.spatten import FEATURES_CSV, workload_csv


def test_reference_run_lands_on_the_papers_power_split():
    import workloads.spatten_csv

    s = simulate(workloads.spatten_csv.load(workload_csv(FEATURES_CSV)), load_design("spatten")).summary
    for component, watts in PAPER_POWER_W.items():
        assert s["power_w"][component] == pytest.approx(watts, rel=1e-4)


def test_full_design_area_is_the_papers():
    assert area_mm2(load_design("spatten"))["total"] == pytest.approx(PAPER_AREA_MM2, rel=1e-5)
    assert area_mm2(load_design("spatten-eighth"))["total"] < 0.25 * PAPER_AREA_MM2

"""Area model: module split, node scaling, calibration to 18.71 mm^2, SpAtten1/8, top-k share."""

from __future__ import annotations

import re

import pytest

from cost_models import area as A
from cost_models.sram import BITCELL_UM2, Sram, array_efficiency
from hwsim.config import load_design


@pytest.fixture(scope="module")
def spatten():
    return load_design("spatten")


def _area(design, *sets):
    if sets:
        design = load_design(design, list(sets))
    return A.area_mm2(design, calibration=1.0)


def test_result_has_every_module_and_sums(spatten):
    result = A.area_mm2(spatten, calibration=2.5)
    assert set(result) == set(A.AREA_MODULES) | {"logic", "sram", "total"}
    assert sum(result[m] for m in A.AREA_MODULES) == pytest.approx(result["total"], rel=1e-12)
    assert result["logic"] + result["sram"] == pytest.approx(result["total"], rel=1e-12)
    assert all(result[m] > 0 for m in A.AREA_MODULES)
    assert result["total"] == pytest.approx(2.5 * _area(spatten)["total"], rel=1e-12)


def test_area_scales_with_the_node_squared(spatten):
    at40, at80 = _area(spatten), _area("spatten", "technology_nm=80")
    for key in at40:
        assert at80[key] == pytest.approx(4 * at40[key], rel=1e-12)


def test_calibration_lands_exactly_on_the_paper_area(spatten, monkeypatch):
    factor = A.calibrate(spatten)
    assert A.area_mm2(spatten, calibration=factor)["total"] == pytest.approx(18.71, rel=1e-12)
    monkeypatch.setattr(A, "AREA_CALIBRATION", 7.0)
    assert A.calibrate(spatten) == factor  # independent of the constant
    assert A.area_mm2(spatten)["total"] == pytest.approx(7.0 * _area(spatten)["total"], rel=1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_bad_area_calibration_is_rejected(spatten, bad):
    with pytest.raises(ValueError, match=re.escape("area calibration must be a finite number > 0")):
        A.area_mm2(spatten, calibration=bad)


def test_spatten_eighth_is_smaller_by_its_arrays_and_fetcher(spatten):
    full, eighth = _area(spatten), _area(load_design("spatten-eighth"))
    assert eighth["total"] < full["total"]
    # 64 instead of 512 multipliers per array: 1/8 of the arrays, plus the fixed query register
    assert 1 / 8 < eighth["qk"] / full["qk"] < 0.15
    assert eighth["pv"] / full["pv"] == pytest.approx(1 / 8, rel=1e-9)
    # 2 instead of 16 channels: 4 instead of 32 fetcher ports, crossbars shrink quadratically
    assert eighth["fetcher"] < full["fetcher"] / 8
    # the preset scales the softmax units with the multipliers (1 per cycle instead of 8) and the K/V
    # SRAMs to 1/8; it keeps the two top-k engines (with a 1-score input) and the controller
    assert 1 / 8 < eighth["softmax"] / full["softmax"] < 0.15
    assert eighth["key_sram"] == pytest.approx(full["key_sram"] / 8, rel=1e-9)
    assert 0.85 < eighth["topk"] / full["topk"] < 1
    assert eighth["controller"] == pytest.approx(full["controller"], rel=1e-12)


def test_topk_area_follows_engines_lanes_and_width(spatten):
    base = _area(spatten)["topk"]
    assert _area("spatten", "topk.engines=1")["topk"] == pytest.approx(base / 2, rel=1e-12)
    assert _area("spatten", "topk.lanes=32")["topk"] > base > _area("spatten", "topk.lanes=8")["topk"]
    assert _area("spatten", "topk.width_bits=16")["topk"] > base


def test_topk_share_is_near_the_paper(spatten):
    area = _area(spatten)
    share = area["topk"] / area["total"]
    # a prediction, not a calibrated number: within 2x of the paper's 2.7 %
    assert A.PAPER_TOPK_AREA_SHARE / 2 < share < 2 * A.PAPER_TOPK_AREA_SHARE


def test_dense_design_has_no_pruning_or_requantization_hardware(spatten):
    dense, full = _area(load_design("dense")), _area(spatten)
    for module in ("topk", "importance", "pq", "requant_buffer"):
        assert dense[module] == 0.0
    for module in ("qk", "pv", "softmax", "fetcher", "key_sram", "value_sram"):
        assert dense[module] == full[module]


def test_sram_area_is_bits_over_array_efficiency():
    small, large = Sram(4 * 1024, 128, 40), Sram(64 * 1024, 128, 40)
    assert small.area_mm2 == pytest.approx(4 * 1024 * 8 * BITCELL_UM2 / 0.30 * 1e-6, rel=1e-12)
    assert large.area_mm2 == pytest.approx(64 * 1024 * 8 * BITCELL_UM2 / 0.60 * 1e-6, rel=1e-12)
    efficiencies = [array_efficiency(2**k) for k in range(6, 24)]
    assert efficiencies == sorted(efficiencies) and 0 < efficiencies[0] and efficiencies[-1] < 1
    with pytest.raises(ValueError, match=re.escape("Sram.width_bits must be a positive number, got 0")):
        Sram(1024, 0, 40)

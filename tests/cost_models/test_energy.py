"""Energy model: the event contract, per-op energies against their sources, scaling, calibration."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from cost_models import energy as E
from cost_models import technology as T
from cost_models.sram import Sram, read_pj_per_64bit
from hwsim.config import load_design

UNCALIBRATED = dict.fromkeys(E.COMPONENTS, 1.0)


@pytest.fixture(scope="module")
def spatten():
    return load_design("spatten")


def _random_events(seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {name: float(rng.integers(1, 10**9)) for name in E.EVENTS}


def _module_energy(events, design, module):
    return E.energy_pj(events, design, calibration=UNCALIBRATED)[module]


def test_events_are_the_simulator_contract():
    assert set(E.EVENTS) == {
        "qk_mults", "pv_mults", "qk_adds", "pv_adds", "softmax_elements", "pq_compares",
        "topk_compare_cycles", "key_sram_write_bytes", "key_sram_read_bytes",
        "value_sram_write_bytes", "value_sram_read_bytes", "fifo_bytes", "hbm_read_bytes",
        "importance_adds",
    }  # fmt: skip
    for name, text in E.EVENTS.items():
        unit = "bytes" if name.endswith("bytes") else "cycles" if name.endswith("cycles") else "count"
        assert re.search(rf"\({unit}\)", text), name


def test_every_event_costs_energy_in_a_known_module(spatten):
    units = E.unit_energies_pj(spatten)
    assert set(units) == set(E.EVENTS)
    for name, terms in units.items():
        for module, component, pj in terms:
            assert module in E.MODULES and component in E.COMPONENTS, name
            assert pj > 0, name


def test_result_has_every_key_and_sums_by_module_and_by_component(spatten):
    result = E.energy_pj(_random_events(1), spatten, calibration={"logic": 2.0, "sram": 0.5, "dram": 3.0})
    assert set(result) == set(E.MODULES) | set(E.COMPONENTS) | {"total"}
    assert sum(result[m] for m in E.MODULES) == pytest.approx(result["total"], rel=1e-12)
    assert sum(result[c] for c in E.COMPONENTS) == pytest.approx(result["total"], rel=1e-12)
    assert E.energy_pj({}, spatten) == dict.fromkeys(result, 0.0)


def test_energy_is_linear_in_the_counts(spatten):
    events = _random_events(2)
    once = E.energy_pj(events, spatten)
    twice = E.energy_pj({k: 2 * v for k, v in events.items()}, spatten)
    for key in once:
        assert twice[key] == pytest.approx(2 * once[key], rel=1e-12)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ({"qk_multiplies": 1}, "unknown energy event 'qk_multiplies'"),
        ({"qk_mults": -1}, "energy event 'qk_mults' must be a finite count >= 0, got -1"),
        ({"hbm_read_bytes": math.nan}, "energy event 'hbm_read_bytes' must be a finite count >= 0"),
        ({"fifo_bytes": math.inf}, "energy event 'fifo_bytes' must be a finite count >= 0"),
    ],
)
def test_bad_events_are_programming_errors(spatten, events, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        E.energy_pj(events, spatten)


@pytest.mark.parametrize(
    ("calibration", "message"),
    [
        ({"logic": 1.0, "sram": 1.0}, "calibration must have exactly the keys ['logic', 'sram', 'dram']"),
        ({"logic": 1.0, "sram": 0.0, "dram": 1.0}, "calibration factor 'sram' must be a finite number > 0"),
    ],
)
def test_bad_calibration_is_rejected(spatten, calibration, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        E.energy_pj({"qk_mults": 1}, spatten, calibration=calibration)


@pytest.mark.parametrize(("bits", "mult_pj", "add_pj"), [(8, 0.2, 0.03), (32, 3.1, 0.1)])
def test_horowitz_points_are_reproduced_at_45nm(bits, mult_pj, add_pj):
    design = load_design("spatten", [f"datapath_bits={bits}", "technology_nm=45"])
    assert _module_energy({"qk_mults": 1}, design, "qk") == pytest.approx(mult_pj, rel=1e-12)
    assert T.int_add(bits, 45).energy_pj == pytest.approx(add_pj, rel=1e-12)
    assert T.int_mult(bits, 45).area_um2 == pytest.approx(T.HOROWITZ_45NM[f"int{bits}_mult"].area_um2)


def test_interpolation_laws_multiplier_about_bits_squared_adder_about_bits():
    mult_exponent = math.log2(T.int_mult(16, 45).energy_pj / T.int_mult(8, 45).energy_pj)
    add_exponent = math.log2(T.int_add(16, 45).energy_pj / T.int_add(8, 45).energy_pj)
    assert mult_exponent == pytest.approx(math.log(3.1 / 0.2) / math.log(4))  # 1.98
    assert add_exponent == pytest.approx(math.log(0.1 / 0.03) / math.log(4))  # 0.87
    # 12-bit multiply at the paper's 40 nm: 0.2 pJ x 1.5^1.98, scaled x 40/45
    assert T.int_mult(12, 40).energy_pj == pytest.approx(0.2 * 1.5 ** mult_exponent * 40 / 45)


def test_softmax_element_is_its_fp32_operations():
    design = load_design("spatten", ["technology_nm=45"])
    softmax = _module_energy({"softmax_elements": 1}, design, "softmax")
    # 3 multiplies (dequantize, re-quantize, x * 1/s), 9 FMAs (5 Taylor + 4 Newton-Raphson), 1 add
    assert softmax == pytest.approx(3 * 3.7 + 9 * (3.7 + 0.9) + 0.9, rel=1e-12)


def test_on_chip_energy_scales_with_node_dram_does_not(spatten):
    events = _random_events(3)
    at40 = E.energy_pj(events, spatten)
    at80 = E.energy_pj(events, load_design("spatten", ["technology_nm=80"]))
    assert at80["logic"] == pytest.approx(2 * at40["logic"], rel=1e-12)
    assert at80["sram"] == pytest.approx(2 * at40["sram"], rel=1e-12)
    assert at80["dram"] == at40["dram"]


def test_hbm_costs_its_energy_per_bit(spatten):
    assert _module_energy({"hbm_read_bytes": 1000}, spatten, "hbm") == pytest.approx(1000 * 8 * E.HBM_PJ_PER_BIT)


def test_sram_bytes_cost_what_the_sram_table_says(spatten):
    key = Sram(spatten.sram.key_bytes, spatten.qk.multipliers * spatten.datapath_bits, 40)
    assert _module_energy({"key_sram_read_bytes": 1}, spatten, "key_sram") == pytest.approx(8 * key.read_pj_per_bit)
    assert _module_energy({"key_sram_write_bytes": 1}, spatten, "key_sram") == pytest.approx(
        8 * 1.4 * key.read_pj_per_bit
    )
    # a wider value SRAM line is more slices of a smaller capacity: cheaper per bit
    wide = load_design("spatten", ["pv.multipliers=1024"])
    assert _module_energy({"value_sram_read_bytes": 1}, wide, "value_sram") < _module_energy(
        {"value_sram_read_bytes": 1}, spatten, "value_sram"
    )


def test_topk_cycle_cost_grows_with_lanes_and_width():
    def per_cycle(lanes, width):
        design = load_design("spatten", [f"topk.lanes={lanes}", f"topk.width_bits={width}"])
        return _module_energy({"topk_compare_cycles": 1}, design, "topk")

    by_lanes = [per_cycle(lanes, 12) for lanes in (4, 8, 16, 32)]
    by_width = [per_cycle(16, width) for width in (8, 12, 16, 24)]
    assert by_lanes == sorted(by_lanes) and by_width == sorted(by_width)
    # about proportional to the lanes: 2 comparator arrays, 2 zero eliminators, a FIFO row per cycle
    for narrow, wide in zip(by_lanes, by_lanes[1:]):
        assert 1.5 < wide / narrow < 2.5


def test_horowitz_sram_points_and_sqrt_law():
    for kib, pj in ((8, 10.0), (32, 20.0), (1024, 100.0)):
        assert read_pj_per_64bit(kib * 1024, 45) == pytest.approx(pj, rel=1e-12)
        assert Sram(kib * 1024, 64, 45).read_pj_per_bit * 64 == pytest.approx(pj, rel=1e-12)
    assert read_pj_per_64bit(16 * 1024, 45) == pytest.approx(10 * math.sqrt(2), rel=1e-12)
    # cross-check outside the published points: CACTI 7 gives 0.0332 pJ/bit for a 512 B RAM at 45 nm
    assert read_pj_per_64bit(512, 45) / 64 == pytest.approx(0.0332, rel=0.25)


def test_power_is_energy_over_time():
    assert E.power_w({"total": 2e12, "hbm": 1e12}, 2.0) == {"total": 1.0, "hbm": 0.5}
    for seconds in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="seconds must be a finite number > 0"):
            E.power_w({"total": 1.0}, seconds)


def test_calibration_lands_exactly_on_the_paper_split(spatten):
    events, seconds = _random_events(4), 0.37
    factors = E.calibrate(events, seconds, spatten)
    power = E.power_w(E.energy_pj(events, spatten, calibration=factors), seconds)
    for component, watts in E.PAPER_POWER_W.items():
        assert power[component] == pytest.approx(watts, rel=1e-12)
    assert power["total"] == pytest.approx(8.31, rel=1e-12)  # the paper's rounded 1.36 + 1.24 + 5.71


def test_calibration_does_not_depend_on_the_constants_in_force(spatten, monkeypatch):
    events = _random_events(5)
    before = E.calibrate(events, 1.0, spatten)
    uncalibrated_logic = E.energy_pj(events, spatten, calibration={"logic": 1.0, "sram": 1.0, "dram": 1.0})["logic"]
    monkeypatch.setattr(E, "LOGIC_CALIBRATION", 3.0)
    assert E.calibrate(events, 1.0, spatten) == before
    assert E.energy_pj(events, spatten)["logic"] == pytest.approx(3 * uncalibrated_logic, rel=1e-12)


def test_calibration_needs_energy_in_every_component(spatten):
    with pytest.raises(ValueError, match="cannot calibrate 'dram': the run has no dram energy"):
        E.calibrate({"qk_mults": 1e9, "key_sram_read_bytes": 1e9}, 1.0, spatten)


def test_static_power_is_charged_for_the_run_on_the_designs_area(spatten):
    idle = E.energy_pj({}, spatten, seconds=2.0)
    watts = E.static_power_w(spatten)
    assert idle["static_logic"] == pytest.approx(2.0 * watts["logic"] * 1e12)
    assert idle["total"] == pytest.approx(2.0 * (watts["logic"] + watts["sram"]) * 1e12)
    assert idle["hbm"] == 0.0 and E.energy_pj({}, spatten)["total"] == 0.0
    eighth = E.static_power_w(load_design("spatten-eighth"))
    assert eighth["logic"] < watts["logic"] / 4 and eighth["sram"] < watts["sram"] / 4


def test_static_calibration_round_trips(spatten):
    events, seconds = _random_events(7), 1.0  # about 1e9 of each event in a second: below the paper's power
    c = E.calibrate_static(events, seconds, spatten)
    energy = E.energy_pj(events, spatten, calibration={"logic": 1.0, "sram": 1.0, "dram": c["dram"]}, seconds=seconds,
                         static={"logic": c["logic_static_w_per_mm2"], "sram": c["sram_static_w_per_mm2"]})
    power = E.power_w(energy, seconds)
    for component, watts in E.PAPER_POWER_W.items():
        assert power[component] == pytest.approx(watts, rel=1e-12)


def test_static_calibration_refuses_a_run_busier_than_the_paper(spatten):
    with pytest.raises(ValueError, match="cannot calibrate 'logic': the run's dynamic power"):
        E.calibrate_static(_random_events(7), 1e-3, spatten)

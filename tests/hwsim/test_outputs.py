"""The outputs layer: atomic files, unit-bearing columns, provenance, deterministic bytes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from hwsim import HwsimError, load_design
from hwsim.outputs import atomic_write, check_columns, provenance, to_json, write_csv, write_json


def test_json_and_csv_round_trip(tmp_path):
    rows = [{"layer": 0, "latency_cycles": np.int64(12), "dram_bytes": 1.5}, {"layer": 1, "latency_cycles": 3}]
    write_csv(tmp_path / "t.csv", rows)
    assert (tmp_path / "t.csv").read_text() == "layer,latency_cycles,dram_bytes\n0,12,1.5\n1,3,\n"
    write_json(tmp_path / "t.json", {"a": np.float32(0.5), "b": np.arange(3), "c": float("nan")})
    assert json.loads((tmp_path / "t.json").read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": None}


def test_columns_need_units():
    check_columns(["layer", "latency_cycles", "energy_pj", "area_mm2"])
    with pytest.raises(ValueError, match="column names without a unit: latency"):
        check_columns(["layer", "latency"])
    with pytest.raises(ValueError):
        write_csv("/nonexistent/never.csv", [{"latency": 1}])


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")

    class Boom:
        pass

    with pytest.raises(TypeError):
        write_json(target, {"x": Boom()})
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


def test_atomic_write_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HwsimError, match=r"cannot write"):
        atomic_write(blocker / "sub" / "x.json", "{}")


def test_provenance_is_deterministic():
    d = load_design("spatten")
    a = provenance(configs={"design": d}, seed=3, inputs={"workload": "abc"})
    b = provenance(configs={"design": load_design("spatten")}, seed=3, inputs={"workload": "abc"})
    assert to_json(a) == to_json(b)
    assert a["configs"]["design"]["name"] == "spatten" and len(a["configs"]["design"]["hash"]) == 16
    assert a["seed"] == 3 and "hwsim_version" in a

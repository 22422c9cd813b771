"""``hwsim simulate --full-model``: the linear layers beside the attention, recorded and rerun."""

from __future__ import annotations

import json

from conftest import SHARED, run_hwsim

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"


def test_full_model_table_json_and_rerun(tmp_path):
    r = run_hwsim("simulate", "-w", "bert-base", "--tokens", "16", "--full-model", "--set", "linear.engine=dense",
                  "--out-dir", str(tmp_path / "a"), env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "Full model: attention + linear layers (engine dense" in r.stdout and "linear layers (cycles)" in r.stdout
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    fm = doc["full_model"]
    assert fm["linear_engine"] == "dense" and fm["linear_layers_count"] == 12 * 6
    assert fm["end_to_end_latency_cycles"] == doc["latency_cycles"] + fm["linear_cycles"]
    assert doc["provenance"]["run"]["full_model"] is True
    assert "linear_cycles" in (tmp_path / "a" / "layers.csv").read_text().splitlines()[0]
    r = run_hwsim("simulate", "--from", str(tmp_path / "a" / "summary.json"), "--json", str(tmp_path / "b.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "b.json").read_text())["full_model"] == fm


def test_full_model_on_a_csv_exits_2():
    r = run_hwsim("simulate", "-w", str(CSV), "--full-model")
    assert r.returncode == 2 and "--full-model" in r.stderr and "CSV replay" in r.stderr
    assert "Traceback" not in r.stderr

"""``hwsim simulate --from summary.json`` reruns the recorded run byte for byte."""

from __future__ import annotations

import json

from conftest import SHARED, run_hwsim

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8-step1+dedic.csv"


def test_rerun_of_a_trace_with_overrides(tmp_path):
    first = ["simulate", "-w", "minilm", "--tokens", "64", "--seed", "3", "--set", "topk.lanes=4",
             "--set", "policy.local_v.keep=0.3", "--set", "hbm.channels=8", "-o", str(tmp_path / "a")]
    r = run_hwsim(*first)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    run = doc["provenance"]["run"]
    assert run["design"]["topk"]["lanes"] == 4 and run["design"]["hbm"]["channels"] == 8
    assert run["policy"]["local_v"]["keep"] == 0.3 and run["seed"] == 3
    assert run["workload"] == {"spec": "minilm", "tokens": 64, "generate": None, "digest": doc["provenance"]["inputs"]["workload"]}

    r = run_hwsim("simulate", "--from", str(tmp_path / "a" / "summary.json"), "-o", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    for f in ("summary.json", "layers.csv", "heads.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f

    # options beside --from apply on top of the record
    r = run_hwsim("simulate", "--from", str(tmp_path / "a" / "summary.json"), "--set", "topk.lanes=16",
                  "--json", str(tmp_path / "c.json"))
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / "c.json").read_text())
    assert c["provenance"]["run"]["design"]["topk"]["lanes"] == 16
    assert c["provenance"]["run"]["design"]["hbm"]["channels"] == 8
    assert c["latency_cycles"] != doc["latency_cycles"]


def test_rerun_of_a_replay(tmp_path):
    assert run_hwsim("simulate", "-w", str(CSV), "--set", "topk.lanes=2", "-o", str(tmp_path / "a")).returncode == 0
    assert run_hwsim("simulate", "--from", str(tmp_path / "a" / "summary.json"), "-o", str(tmp_path / "b")).returncode == 0
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()


def test_from_a_file_that_records_no_run(tmp_path):
    (tmp_path / "x.json").write_text('{"latency_cycles": 1}')
    r = run_hwsim("simulate", "--from", str(tmp_path / "x.json"))
    assert r.returncode == 2
    assert r.stderr.strip() == (f"hwsim: error: --from {tmp_path / 'x.json'}: no provenance.run block; expected a "
                                "summary.json written by hwsim simulate")

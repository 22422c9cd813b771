"""``hwsim quality`` and ``hwsim simulate --closed-loop`` run as a user runs them (small sizes)."""

from __future__ import annotations

import json

import pytest

from conftest import run_hwsim

SMALL = ("-w", "minilm", "--tokens", "16", "--passages", "4")


def test_quality_json_has_dense_approximate_units_and_provenance(tmp_path):
    r = run_hwsim("quality", *SMALL, "--json", "q.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "embedding cosine to dense" in r.stdout and "Simulated" in r.stdout
    d = json.loads((tmp_path / "q.json").read_text())
    assert set(d["dense"]) == {"embedding_cosine_ratio", "retrieval_top1_fraction"}
    assert 0 < d["approximate"]["embedding_cosine_ratio"] < 1
    assert d["text"]["source"] == "pydoc" and len(d["text"]["sha256"]) == 64
    assert d["setup"]["passages"] == 4 and d["simulated"]["latency_cycles"] > 0
    assert d["provenance"]["run"]["sizes"] == {"tokens": 16, "passages": 4}
    assert [row["layer"] for row in d["layers"]] == list(range(6))
    again = run_hwsim("quality", *SMALL, "--json", "-", cwd=tmp_path)
    assert json.loads(again.stdout)["approximate"] == d["approximate"]  # same inputs, same numbers


def test_quality_plot_scans_the_keep_ratio(tmp_path):
    r = run_hwsim("quality", *SMALL, "--plot", "--out-dir", "figs", "--json", "q.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "figs" / "quality-scan-minilm.png").stat().st_size > 10_000
    points = json.loads((tmp_path / "q.json").read_text())["scan"]["points"]
    assert [p["keep"] for p in points] == [1.0, 0.8, 0.6, 0.45, 0.3]
    assert points[-1]["approximate"]["embedding_cosine_ratio"] < points[0]["approximate"]["embedding_cosine_ratio"]


@pytest.mark.parametrize("args, words", [
    (("-w", "bert-base"), "shape-only"),
    (("-w", "nope"), "unknown"),
    (("-w", "minilm", "--window", "64"), "--window"),
    (("-w", "minilm", "--tokens", "4"), "--tokens"),
    (("-w", "smollm2", "--passages", "3"), "--passages"),
    (("-w", "smollm2", "--tokens", "64", "--window", "64", "--prompt", "63"), "--prompt"),
    (("-w", "minilm", "--text", "missing.txt"), "missing.txt"),
    (("-w", "minilm", "--plot-format", "gif"), "--plot-format"),
    (("-w", "minilm", "-p", "spatten-gpt2", "--set", "policy.nope=1"), "nope"),
])
def test_quality_bad_input_is_one_line(tmp_path, args, words):
    r = run_hwsim("quality", *args, "--json", "q.json", cwd=tmp_path)
    assert r.returncode == 2
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "q.json").exists()


def test_simulate_closed_loop(tmp_path):
    r = run_hwsim("simulate", "-w", "minilm", "--tokens", "24", "--closed-loop", "--out-dir", "cl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "cl" / "summary.json").read_text())
    assert summary["provenance"]["run"]["closed_loop"] is True
    r = run_hwsim("simulate", "--from", "cl/summary.json", "--json", "again.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "again.json").read_text())["latency_cycles"] == summary["latency_cycles"]
    r = run_hwsim("simulate", "-w", "bert-base", "--closed-loop", cwd=tmp_path)
    assert r.returncode == 2 and "not a bundled real model" in r.stderr

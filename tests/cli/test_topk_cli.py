"""``hwsim topk`` and ``hwsim rtl ...`` run as a user runs them (subprocess, temp folder)."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import run_hwsim


def test_topk_distribution(tmp_path):
    r = run_hwsim("topk", "--n", "1024", "--k", "512", "--lanes", "16", "--trials", "300", "--seed", "3",
                  "--json", "out.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "engine: total" in r.stdout and "Batcher merge sorter" in r.stdout
    assert "throughput vs the Batcher sorter" in r.stdout
    d = json.loads((tmp_path / "out.json").read_text())
    assert d["params"]["n"] == 1024 and d["provenance"]["seed"] == 3
    eng = d["models"]["engine: total"]
    assert eng["p50_cycles"] <= eng["p95_cycles"] <= eng["max_cycles"]
    assert 200 < d["models"]["engine: quick-select"]["mean_cycles"] < 350
    assert d["models"]["Batcher merge sorter"]["mean_cycles"] == 520
    assert d["sorter_over_engine_ratio"] == pytest.approx(520 / eng["mean_cycles"])


@pytest.mark.parametrize("args, message", [
    (["topk", "--k", "0"], "hwsim: error: --k 0: expected an integer from 1 to n = 1024"),
    (["topk", "--n", "8", "--k", "9"], "hwsim: error: --k 9: expected an integer from 1 to n = 8"),
    (["topk", "--n", "2048"], "hwsim: error: --n 2048: n = 2048 scores exceed the engine's max_n = 1024 (--max-n)"),
    (["topk", "--lanes", "12"], "hwsim: error: Top-k lanes must be a power of two from 1 to 64, not 12"),
    (["topk", "--scores", "normal"], "hwsim: error: --scores normal: expected one of uniform, ties"),
    (["rtl", "verilog", "alu", "-o", "x.v"], "hwsim: error: UNIT 'alu': expected one of topk, zero_eliminator"),
    (["rtl", "verilog", "topk", "--width", "40", "-o", "x.v"],
     "hwsim: error: Top-k score width must be an integer from 2 to 32, not 40"),
    (["rtl", "test", "zero_eliminator"], "hwsim: error: UNIT 'zero_eliminator': the cocotb testbench exists for topk only"),
    (["rtl", "synth", "topk", "--overlap", "full"],
     "hwsim: error: --overlap 'full': expected none or filter (the RTL builds these two)"),
])
def test_bad_input(args, message, tmp_path):
    r = run_hwsim(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == message
    assert not (tmp_path / "x.v").exists()


def test_rtl_verilog_compiles(tmp_path):
    r = run_hwsim("rtl", "verilog", "topk", "--lanes", "16", "--width", "12", "--max-n", "1024", "-o", "topk.v",
                  cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    c = subprocess.run(["iverilog", "-o", str(tmp_path / "a.out"), str(tmp_path / "topk.v")],
                       capture_output=True, text=True)
    assert c.returncode == 0, c.stderr
    assert "module topk(" in (tmp_path / "topk.v").read_text()


def test_rtl_synth_statistics(tmp_path):
    r = run_hwsim("rtl", "synth", "topk", "--lanes", "2", "--width", "4", "--max-n", "16", "--in-lanes", "2",
                  "--json", "synth.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "$_MUX_" in r.stdout and "area estimate" in r.stdout and "assumptions" in r.stdout
    d = json.loads((tmp_path / "synth.json").read_text())
    # FIFO_L, FIFO_R: 8 rows of 2 x 4 bits; DATA (overlap "filter"): a ring of 2 x 8 + 4 rows
    assert d["memory_bits"] == (8 + 8 + 20) * 2 * 4
    r = run_hwsim("rtl", "synth", "topk", "--lanes", "2", "--width", "4", "--max-n", "16", "--in-lanes", "2",
                  "--overlap", "none", "--json", "none.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "none.json").read_text())["memory_bits"] == 3 * 8 * 2 * 4  # DATA: 8 rows
    assert d["flip_flops"] > 50 and d["cells"]["$mem_v2"] == 3
    assert d["total_ge"] == pytest.approx(d["logic_ge"] + d["memory_ge"], abs=0.2)


def test_rtl_test_with_waves(tmp_path):
    r = run_hwsim("rtl", "test", "topk", "--lanes", "2", "--width", "4", "--max-n", "20", "--in-lanes", "4",
                  "--vectors", "40", "--waves", "--out-dir", "build", "--json", "tb.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "vectors: 40 run, 40 passed, 0 mismatched" in r.stdout
    assert "32 of 32 equal to the golden count" in r.stdout
    assert (tmp_path / "build" / "topk.fst").stat().st_size > 0
    assert "waveform: build/topk.fst" in r.stdout
    assert len(json.loads((tmp_path / "tb.json").read_text())["records"]) == 40

"""``hwsim sparse`` (workloads), ``hwsim sparse gemm`` and ``hwsim sparse conv`` run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_hwsim

FIXTURE = json.loads((Path(__file__).parents[1] / "hwsim/units/sparse/scalesim_fixture.json").read_text())


def _case(name, rows, cols, df):
    return next(c for c in FIXTURE["cases"] if (c["name"], c["rows"], c["cols"], c["dataflow"]) == (name, rows, cols, df))


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_gemm_dense_matches_scalesim(tmp_path, df):
    c = _case("g_odd", 8, 8, df)
    r = run_hwsim("sparse", "gemm", "--m", str(c["m"]), "--k", str(c["k"]), "--n", str(c["n"]), "--engine", "dense",
                  "--rows", "8", "--cols", "8", "--dataflow", df, "--json", "g.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "g.json").read_text())
    assert d["compute_cycles"] == c["total_cycles"][0] + 1
    assert d["total_cycles"] >= d["compute_cycles"] and d["dram_bytes"] > 0
    assert d["utilization_fraction"] == pytest.approx(c["m"] * c["k"] * c["n"] / (64 * d["compute_cycles"]))


def test_conv_depthwise_and_sparse_engines(tmp_path):
    c = _case("c_DP3x3", 4, 4, "os")
    r = run_hwsim("sparse", "conv", "--h", "8", "--w", "8", "--c", "4", "--k", "4", "--depthwise", "--engine", "dense",
                  "--rows", "4", "--cols", "4", "--json", "dw.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "dw.json").read_text())["compute_cycles"] == sum(t + 1 for t in c["total_cycles"])
    out = {}
    for eng, extra in (("dense", []), ("weight-sparse", ["--density", "0.25"]), ("nm", ["--pattern", "2:4"]),
                       ("dual-sparse", ["--density", "0.5", "--act-density", "0.5", "--balance"])):
        r = run_hwsim("sparse", "conv", "--h", "10", "--w", "10", "--c", "8", "--k", "16", "--engine", eng, *extra,
                      "--rows", "8", "--cols", "8", "--json", f"{eng}.json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        out[eng] = json.loads((tmp_path / f"{eng}.json").read_text())
    assert out["dense"]["output_error_ratio"] == 0.0
    for eng in ("weight-sparse", "nm", "dual-sparse"):
        assert out[eng]["compute_cycles"] < out["dense"]["compute_cycles"]
        assert out[eng]["output_error_ratio"] > 0
    assert out["nm"]["weight_density_fraction"] == 0.5


@pytest.mark.parametrize("args, message", [
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--density", "0"], "--density must be a number in (0, 1], not 0.0"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--density", "1.5"], "--density must be a number in (0, 1], not 1.5"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--engine", "nm", "--pattern", "5:4"],
     "--pattern 5:4: N = 5 must be at most M = 4"),
    (["gemm", "--m", "4", "--k", "10", "--n", "4", "--engine", "nm", "--pattern", "2:4"],
     "--k 10: the N:M block size M = 4 must divide K"),
    (["conv", "--h", "8", "--w", "8", "--c", "3", "--k", "4", "--engine", "nm", "--pattern", "2:4"],
     "--r x --s x --c = 27: the N:M block size M = 4 must divide the window K"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--rows", "0"], "--rows must be an integer from 1 to 4096, not 0"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--cols", "-2"], "--cols must be an integer from 1 to 4096, not -2"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--dataflow", "rs"], "--dataflow must be one of os, ws, is, not 'rs'"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--engine", "sparse"],
     "--engine must be one of dense, weight-sparse, dual-sparse, nm, not 'sparse'"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--engine", "nm"], "--engine nm needs --pattern N:M (e.g. 2:4)"),
    (["gemm", "--m", "4", "--k", "8", "--n", "4", "--engine", "dual-sparse", "--dataflow", "ws"],
     "--dataflow must be os for the dual-sparse engine"),
    (["--workload", "resnet"], "--workload must be one of minilm, smollm2, mobilenetv2 or a trace file, not 'resnet'"),
    (["--workload", "minilm", "--density", "-1"], "--density must be a number in (0, 1], not -1.0"),
    (["--workload", "smollm2", "--rows", "0"], "--rows must be an integer from 1 to 4096, not 0"),
    ([], "--workload is required"),
])
def test_bad_input(args, message, tmp_path):
    r = run_hwsim("sparse", *args, cwd=tmp_path, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hwsim: error: {message}")
    assert "Traceback" not in r.stderr


def test_workload_minilm_real_layers(tmp_path):
    r = run_hwsim("sparse", "--workload", "minilm", "--tokens", "32", "--engine", "dual-sparse", "--density", "0.5",
                  "--json", "m.json", "--csv", "m.csv", cwd=tmp_path, env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "m.json").read_text())
    assert d["real_weights"] and d["real_inputs"] and d["totals"]["linear_layers"] == 36
    assert {lay["input_rows"] for lay in d["layers"]} == {32}
    assert all(0.49 < lay["weight_density_fraction"] < 0.51 for lay in d["layers"])
    assert d["totals"]["speedup_vs_dense_x"] > 1 and 0 < d["totals"]["mean_output_error_ratio"] < 1
    assert "total" in r.stdout and (tmp_path / "m.csv").read_text().count("\n") == 37


def test_workload_mobilenetv2_and_plot(tmp_path):
    r = run_hwsim("sparse", "--workload", "mobilenetv2", "--image-size", "64", "--engine", "weight-sparse",
                  "--density", "0.3", "--json", "mb.json", "--plot", "mb.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "mb.json").read_text())
    assert not d["real_weights"] and "random weights" in d["workload_note"]
    assert d["totals"]["linear_layers"] == 53
    assert any(lay["groups_count"] > 1 for lay in d["layers"])  # the depthwise convs, one GEMM per channel
    assert (tmp_path / "mb.png").read_bytes()[:4] == b"\x89PNG"


def test_workload_trace_file(tmp_path):
    import workloads
    from workloads.trace import Trace

    trace = workloads.get("minilm", tokens=64, progress=False)
    path = tmp_path / "t.safetensors"
    trace.save(path)
    r = run_hwsim("sparse", "--workload", str(path), "--engine", "weight-sparse", "--json", "t.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "t.json").read_text())
    assert d["totals"]["linear_layers"] == 36 and not d["real_weights"]
    manifest = dict(trace.manifest)
    manifest["op_graph"] = [e for e in manifest["op_graph"] if e["op"] not in ("linear", "conv2d")]
    bare = tmp_path / "bare.safetensors"
    Trace(manifest, trace._arrays).save(bare)
    r = run_hwsim("sparse", "--workload", str(bare), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == f"hwsim: error: --workload {bare}: the trace's op graph has no linear or conv2d layers"


def test_workload_smollm2_real_layers(tmp_path):
    r = run_hwsim("sparse", "--workload", "smollm2", "--tokens", "8", "--engine", "nm", "--pattern", "2:4",
                  "--json", "s.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "s.json").read_text())
    assert d["real_weights"] and d["totals"]["linear_layers"] == 210  # 30 blocks x (q, k, v, o, gate, up, down)
    assert {lay["weight_density_fraction"] for lay in d["layers"]} == {0.5}
    assert d["totals"]["speedup_vs_dense_x"] > 1

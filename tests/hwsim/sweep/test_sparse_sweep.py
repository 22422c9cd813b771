"""The ``sparse`` evaluation in a sweep: a workload's linear layers on the point's ``design.linear`` engine."""

from __future__ import annotations

from hwsim.sweep import load_results, run_sweep

SPEC = """
evaluation = "sparse"
seed = 0
design = "spatten"
set = ["linear.rows=16", "linear.cols=16"]
workloads = [{name = "bert-base", tokens = 8}]
[params]
tokens = 8
[[axes]]
name = ["linear.engine", "linear.density"]
values = [["dense", 1.0], ["weight-sparse", 1.0], ["weight-sparse", 0.5], ["nm", 1.0], ["arrays", 1.0]]
[objectives]
minimize = ["total_cycles", "mean_output_error_ratio"]
"""


def test_sparse_sweep_rows(write_spec, tmp_path):
    run_sweep(write_spec(SPEC), tmp_path / "out", jobs=1)
    df = load_results(tmp_path / "out", status=None)
    dense, ws1, ws5, nm, arrays = (df.iloc[i] for i in range(5))
    assert [r["status"] for r in (dense, ws1, ws5, nm)] == ["ok"] * 4
    # the shape-only model: random weights from its op graph, 12 layers x 6 linear layers
    assert not dense["real_weights"] and dense["linear_layers_count"] == 72
    # density 1 on the weight-sparse engine is the dense engine cycle for cycle (docs/sparse.md)
    assert ws1["total_cycles"] == dense["total_cycles"] == dense["dense_total_cycles"]
    assert dense["speedup_vs_dense_x"] == 1.0 and dense["mean_output_error_ratio"] == 0.0
    assert ws5["speedup_vs_dense_x"] > 1.0 and ws5["mean_output_error_ratio"] > 0.0
    assert abs(ws5["weight_density_fraction"] - 0.5) < 0.01
    assert nm["compute_cycles"] < dense["compute_cycles"] and abs(nm["weight_density_fraction"] - 0.5) < 1e-9
    assert arrays["status"] == "failed" and "simulate --full-model" in arrays["error"]

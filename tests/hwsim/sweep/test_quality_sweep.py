"""The ``quality`` evaluation in a sweep: the real model with each point's policy inside it."""

from __future__ import annotations

import json

from hwsim.sweep import load_results, run_sweep

SPEC = """
evaluation = "quality"
seed = 0
design = "spatten"
policy = "spatten-bert"
workloads = ["minilm"]
[params]
tokens = 16
passages = 4
[[axes]]
name = "policy.token_pruning.keep_end"
values = [0.9, 0.3]
[objectives]
minimize = ["latency_cycles"]
maximize = ["embedding_cosine_ratio"]
"""


def test_quality_sweep_rows(write_spec, tmp_path):
    run_sweep(write_spec(SPEC), tmp_path / "out", jobs=1)
    df = load_results(tmp_path / "out").set_index("policy.token_pruning.keep_end")
    assert list(df["status"]) == ["ok", "ok"]
    assert df.loc[0.3, "tokens_kept_fraction"] < df.loc[0.9, "tokens_kept_fraction"]
    assert df.loc[0.3, "embedding_cosine_ratio"] < df.loc[0.9, "embedding_cosine_ratio"] < 1
    assert df.loc[0.3, "latency_cycles"] < df.loc[0.9, "latency_cycles"]
    assert df["perplexity"].isna().all() and (df["dense_retrieval_top1_fraction"] > 0).all()
    assert json.loads(df.iloc[0]["provenance"])["evaluation"] == "quality"

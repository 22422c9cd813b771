"""``--full-model``: the linear layers beside the attention (hwsim/spatten/fullmodel.py)."""

from __future__ import annotations

import math

import pytest

from hwsim import HwsimError, load_design, load_policy
from hwsim.spatten import simulate
from hwsim.spatten.fullmodel import linear_cost, linear_shapes
from hwsim.units.sparse import golden as sparse_golden
from hwsim.units.sparse.params import GemmShape, MemoryParams, SystolicParams
from hwsim.units.sparse.timing import hbm_cycles
from tiny_workload import TinyTrace


def test_arrays_engine_by_hand():
    """1,024 multipliers of 64-wide dot products: 16 dot products per cycle; 3 rows x 256 outputs x 2 chunks."""
    design = load_design("spatten")
    c = linear_cost(design, 64, 128, 256, 3)
    assert c.compute_cycles == math.ceil(3 * 256 * 2 / 16) + 11  # + the Q x K pipeline depth
    weights, acts = 128 * 256 * 8 // 8, math.ceil(3 * (128 + 256) * 12 / 8)  # 8-bit weights, 12-bit activations
    assert c.dram_bytes == weights + acts
    assert c.hbm_cycles == hbm_cycles(weights + acts, MemoryParams.from_design(design, value_bits=8))
    assert c.macs == 3 * 128 * 256 and c.cycles == max(c.compute_cycles, c.hbm_cycles)
    wide = linear_cost(load_design("spatten", ["linear.weight_bits=12"]), 64, 128, 256, 3)
    assert wide.dram_bytes - c.dram_bytes == 128 * 256 * 4 // 8


def test_systolic_dense_engine_is_the_scalesim_checked_golden():
    design = load_design("spatten", ["linear.engine=dense", "linear.rows=16", "linear.cols=8", "linear.dataflow=ws"])
    c = linear_cost(design, 64, 96, 40, 5)
    ref = sparse_golden.dense_cycles(GemmShape(m=5, k=96, n=40), SystolicParams(rows=16, cols=8, dataflow="ws"))
    assert c.compute_cycles == ref.compute_cycles
    sparse = linear_cost(load_design("spatten", ["linear.engine=weight-sparse", "linear.density=0.25"]), 64, 96, 40, 5)
    assert sparse.macs < c.macs and sparse.dram_bytes != c.dram_bytes


@pytest.mark.parametrize("mode", ["encoder", "decoder"])
def test_full_model_adds_the_linear_layers(mode):
    trace = TinyTrace(layers=3, heads=4, kv_heads=2, tokens=40, mode=mode, generate=4 if mode == "decoder" else 0,
                      seed=5)
    design, policy = load_design("spatten"), load_policy("spatten-gpt2" if mode == "decoder" else "spatten-bert")
    plain = simulate(trace, design, policy)
    r = simulate(trace, design, policy, full_model=True)
    fm = r["full_model"]
    assert r["latency_cycles"] == plain["latency_cycles"]  # the attention timeline is unchanged
    assert fm["end_to_end_latency_cycles"] == r["latency_cycles"] + fm["linear_cycles"]
    assert fm["linear_cycles"] == sum(row["linear_cycles"] for row in r.layers)
    assert fm["linear_layers_count"] == 6 * 3
    kept = r.decisions["summarization"]
    shapes = linear_shapes(trace)
    for row in r.layers:  # summarization: the layer's alive tokens through its six layers
        mine = [s for s in shapes if s.layer == row["layer"]]
        m = int(kept[row["layer"]][0].size)
        assert row["linear_summarization_cycles"] == sum(
            linear_cost(design, 64, s.k, s.n, m, seed=i).cycles for i, s in enumerate(mine))
    if mode == "decoder":  # generation: one row per layer and step
        per_token = sum(linear_cost(design, 64, s.k, s.n, 1, seed=i).cycles
                        for layer in range(3) for i, s in enumerate(x for x in shapes if x.layer == layer))
        assert fm["generation"]["linear_cycles_per_token"] == per_token
        assert fm["stage_cycles"]["generation"]["attention"] == r["stage_cycles"]["generation"]
    # token pruning removes the pruned tokens' linear work in summarization
    dense = simulate(trace, design, load_policy("none"), full_model=True)
    assert dense["full_model"]["linear_flops"] > fm["linear_flops"]


def test_full_model_refusals(tmp_path):
    from conftest import SHARED
    import workloads

    csv = workloads.resolve(str(SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"))
    with pytest.raises(HwsimError, match="--full-model: .* CSV replay"):
        simulate(csv, load_design("spatten"), full_model=True)

    class NoGraph(TinyTrace):
        op_graph = []

    with pytest.raises(HwsimError, match="has no linear layers"):
        simulate(NoGraph(), load_design("spatten"), load_policy("spatten-bert"), full_model=True)

"""The SpAtten simulation on small workloads: exact timelines, pruning, quantization, GQA, errors."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim import HwsimError, load_design, load_policy
from hwsim.spatten import simulate
from hwsim.spatten.functional import _key_sums
from tiny_workload import TinyTrace

SPATTEN = load_design("spatten")
STORE = load_design("spatten", ["hbm.fetch=store"])  # store and forward, the model before streaming fetches


def run(trace, policy="none", design=SPATTEN, overrides=(), **kw):
    return simulate(trace, design, load_policy(policy, list(overrides)), **kw)


def test_summarization_timeline_exactly():
    # 1 layer, 1 head, 16 tokens, d = 64, 12-bit: Q, K, V are 1536 B each = 48 granules of 32 B over
    # 16 channels -> 3 cycles each; data after 40 cycles of read latency; rows: Q x K and softmax
    # 2 cycles each (8 keys/cycle, 8 probabilities/cycle), Q x K latency 11, softmax 87 + 1, prob x V 2 + 3.
    # Store and forward (hbm.fetch = "store"): the rows start when the whole fetch has landed.
    r = run(TinyTrace(layers=1, heads=1, tokens=16), design=STORE, log_events=True)
    assert r.events == _one_head_events(49, 187)
    assert r["latency_cycles"] == 187


def _one_head_events(first: int, end: int) -> list:
    """The event log of the 16 rows above when Q x K's first row starts at ``first`` (softmax 13 cycles
    later, prob x V 103 later, 2 cycles a row) and the pipeline ends at ``end``."""
    expected = [(0, "hbm", "start", -1, 0, 0), (9, "hbm", "end", -1, 0, 0), (first, "pipeline", "start", -1, 0, 0)]
    for unit, offset in (("qk", 0), ("softmax", 13), ("pv", 103)):
        expected += [(first + offset + 2 * i, unit, f"row {i}", -1, 0, 0) for i in range(16)]
    return expected + [(end, "pipeline", "end", -1, 0, 0)]


def test_summarization_streams_the_fetch_into_q_x_k():
    # The same run as the hardware streams it (hbm.fetch = "stream", the default): Q (3 cycles), then K (3
    # cycles over the 2 key-buffer lines Q x K reads) then V; Q x K starts once Q and K's first line are in,
    # 3 + ceil(3 / 2) = 5 cycles + 40 of latency = 45, and its first row ends (47) after K's last line (46).
    # prob x V needs V by 49 and starts at 148 anyway: every row 4 cycles earlier, 183 in all.
    r = run(TinyTrace(layers=1, heads=1, tokens=16), log_events=True)
    assert r.events == _one_head_events(45, 183)
    assert r["latency_cycles"] == 183
    # a K fetch slower than Q x K: one HBM channel, Q and K 48 granules = 48 cycles each; the group may start
    # after Q + 24 (the first of 2 lines) + 40 = 112, but row 0 must end with K's last line (96 + 40 = 136),
    # so it runs 134-136 and the 15 rows after it follow every 2 cycles
    slow = run(TinyTrace(layers=1, heads=1, tokens=16), design=load_design("spatten", ["hbm.channels=1"]),
               log_events=True)
    assert [e[0] for e in slow.events if e[1] == "hbm"] == [0, 144]  # Q, K, V: 144 cycles in one transfer
    qk = [e[0] for e in slow.events if e[1] == "qk"]
    assert qk[:2] == [134, 136] and qk[-1] == 134 + 2 * 15


def test_generation_timeline_exactly():
    # decoder, 2 layers, 2 query heads sharing 1 K/V head, 8-token prompt + 2 generated, policy none.
    # The prompt's two heads share the row pipeline without a drain between them (336 cycles for 2 layers).
    # Step 0: the group's K (9 keys x 96 B = 27 granules: 2 cycles) + the query (1 cycle) at 336, layer 1's
    # K fetched ahead; Q x K after 40 cycles latency; V fetched once for the group after head 0's softmax;
    # layer 1's Q x K waits for layer 0's last prob x V (+3 latency).
    # Store and forward (hbm.fetch = "store").
    r = run(TinyTrace(layers=2, heads=2, kv_heads=1, tokens=10, mode="decoder", generate=2), design=STORE,
            log_events=True)
    step0 = [e for e in r.events if e[3] == 0]
    assert step0 == [
        (336, "hbm", "start", 0, 0, 0), (339, "hbm", "end", 0, 0, 0),
        (339, "hbm", "start", 0, 1, 0), (342, "hbm", "end", 0, 1, 0),
        (379, "qk", "start", 0, 0, 0), (381, "qk", "end", 0, 0, 0),
        (381, "qk", "start", 0, 0, 1), (383, "qk", "end", 0, 0, 1),
        (392, "softmax", "start", 0, 0, 0), (394, "softmax", "end", 0, 0, 0),
        (394, "softmax", "start", 0, 0, 1), (396, "softmax", "end", 0, 0, 1),
        (482, "hbm", "start", 0, 0, 0), (484, "hbm", "end", 0, 0, 0),
        (524, "pv", "start", 0, 0, 0), (526, "pv", "end", 0, 0, 0),
        (526, "pv", "start", 0, 0, 1), (528, "pv", "end", 0, 0, 1),
        (531, "qk", "start", 0, 1, 0), (533, "qk", "end", 0, 1, 0),
        (533, "qk", "start", 0, 1, 1), (535, "qk", "end", 0, 1, 1),
        (544, "softmax", "start", 0, 1, 0), (546, "softmax", "end", 0, 1, 0),
        (546, "softmax", "start", 0, 1, 1), (548, "softmax", "end", 0, 1, 1),
        (634, "hbm", "start", 0, 1, 0), (636, "hbm", "end", 0, 1, 0),
        (676, "pv", "start", 0, 1, 0), (678, "pv", "end", 0, 1, 0),
        (678, "pv", "start", 0, 1, 1), (680, "pv", "end", 0, 1, 1),
    ]
    assert r["stage_cycles"] == {"summarization": 336, "generation": 694}


def test_generation_streams_k_into_q_x_k_and_v_into_prob_x_v():
    # The run above, streamed (the default; layer 0 of step 0 shown, layer 1's K fetched ahead at 335). The prompt takes 332 cycles (each layer's Q x K starts 2 cycles
    # earlier). Step 0: Q + K 3 cycles from 332 over 2 key lines: Q x K starts after ceil(3 / 2) = 2 cycles + 40
    # = 374 and its row ends (376) after the last line (375). No row selects V (policy none), so the group's V is
    # fetched at head 0's requant decision (387 + 2 + 88 = 477), 2 cycles over 2 lines: prob x V starts on the
    # first line, 477 + 1 + 40 = 518, and ends (520) after the last (519).
    r = run(TinyTrace(layers=2, heads=2, kv_heads=1, tokens=10, mode="decoder", generate=2), log_events=True)
    step0 = [e[:3] for e in r.events if e[3] == 0 and e[4] == 0]
    assert step0 == [
        (332, "hbm", "start"), (335, "hbm", "end"),
        (374, "qk", "start"), (376, "qk", "end"), (376, "qk", "start"), (378, "qk", "end"),
        (387, "softmax", "start"), (389, "softmax", "end"), (389, "softmax", "start"), (391, "softmax", "end"),
        (477, "hbm", "start"), (479, "hbm", "end"),
        (518, "pv", "start"), (520, "pv", "end"), (520, "pv", "start"), (522, "pv", "end"),
    ]
    assert r["stage_cycles"] == {"summarization": 332, "generation": 688}


def test_dense_policy_is_exact_up_to_12_bit_quantization():
    r = run(TinyTrace(layers=2, heads=2, tokens=32))
    assert r["attention_rel_error_ratio"] < 0.01
    assert r["prob_mass_kept_fraction"] == pytest.approx(1.0)
    assert r["flops"] == r["dense_flops"]


def test_harder_pruning_is_faster_and_less_faithful():
    trace = TinyTrace(layers=6, heads=4, tokens=64, seed=3)
    mild = run(trace, "spatten-bert", overrides=["token_pruning.keep_start=0.9", "token_pruning.keep_end=0.8",
                                                  "head_pruning.enabled=false"])
    hard = run(trace, "spatten-bert", overrides=["token_pruning.keep_start=0.4", "token_pruning.keep_end=0.1",
                                                  "head_pruning.enabled=false"])
    assert hard["latency_cycles"] < mild["latency_cycles"]
    assert hard["dram_bytes"] < mild["dram_bytes"]
    assert hard["attention_rel_error_ratio"] > mild["attention_rel_error_ratio"]
    assert hard["prob_mass_kept_fraction"] < mild["prob_mass_kept_fraction"]
    assert hard["tokens_kept_fraction"] < mild["tokens_kept_fraction"]


def test_cascade_token_pruning_follows_the_schedule():
    trace = TinyTrace(layers=4, heads=2, tokens=40)
    r = run(trace, "spatten-bert", overrides=["head_pruning.enabled=false", "token_pruning.front_unpruned_fraction=0.25",
                                               "token_pruning.keep_start=0.5", "token_pruning.keep_end=0.25"])
    kept = [round(row["tokens_kept_fraction"], 3) for row in r.layers]
    # layer 0 unpruned; then 0.5, (0.375), 0.25 of 40 tokens: round(keep * 40) kept
    assert kept == [1.0, 0.5, 0.375, 0.25]
    assert r["selection_cycles"] > 0


def test_progressive_quantization_refetches_flat_rows():
    trace = TinyTrace(layers=2, heads=2, tokens=24, mode="decoder", generate=4, peak=0.0)
    always = run(trace, "spatten-gpt2", overrides=["quantization.threshold=1.0", "local_v.enabled=false",
                                                    "token_pruning.enabled=false"])
    never = run(trace, "spatten-gpt2", overrides=["quantization.threshold=0.000001", "local_v.enabled=false",
                                                   "token_pruning.enabled=false"])
    # every row re-fetches except the prompt's first (one key: max probability 1.0 is not below 1.0)
    assert always["lsb_refetch_fraction"] == 1 - 2 * 2 / always["query_rows"]
    assert never["lsb_refetch_fraction"] == 0.0
    assert always["dram_bytes_by_kind"]["k_lsb"] > 0 == never["dram_bytes_by_kind"]["k_lsb"]
    assert always["attention_rel_error_ratio"] < never["attention_rel_error_ratio"]
    assert always["flops"] > never["flops"] and always["latency_cycles"] > never["latency_cycles"]


def test_local_v_pruning_fetches_fewer_values():
    trace = TinyTrace(layers=2, heads=2, tokens=40, mode="decoder", generate=6)
    all_v = run(trace, "spatten-gpt2", overrides=["local_v.enabled=false", "token_pruning.enabled=false"])
    some_v = run(trace, "spatten-gpt2", overrides=["local_v.keep=0.25", "token_pruning.enabled=false"])
    assert some_v["values_kept_fraction"] < 0.3 < all_v["values_kept_fraction"]
    assert some_v["dram_bytes_by_kind"]["v"] < all_v["dram_bytes_by_kind"]["v"]


def test_gqa_fetches_a_shared_kv_head_once():
    mha = run(TinyTrace(layers=1, heads=3, kv_heads=3, tokens=16, mode="decoder", generate=3))
    gqa = run(TinyTrace(layers=1, heads=3, kv_heads=1, tokens=16, mode="decoder", generate=3))
    assert gqa["dram_bytes_by_kind"]["k_msb"] * 3 == mha["dram_bytes_by_kind"]["k_msb"]
    assert gqa["dram_bytes_by_kind"]["q"] == mha["dram_bytes_by_kind"]["q"]


def test_head_pruning_keeps_a_groups_kv_while_one_head_needs_it():
    # 4 query heads in 2 groups; keep 2 heads after layer 0: K/V traffic falls only if a whole group goes
    trace = TinyTrace(layers=3, heads=4, kv_heads=2, tokens=16)
    r = run(trace, "spatten-bert", overrides=["token_pruning.enabled=false", "head_pruning.front_unpruned_fraction=0.3",
                                               "head_pruning.keep_start=0.5", "head_pruning.keep_end=0.5",
                                               "quantization.mode=none"])
    per_group_k = 16 * 64 * 12 // 8
    k_bytes = r["dram_bytes_by_kind"]["k_msb"]
    heads_by_layer = {}
    for h in r.heads:
        heads_by_layer.setdefault(h["layer"], set()).add(h["head"] // 2)
    groups_fetched = sum(len(g) for g in heads_by_layer.values())
    assert k_bytes == groups_fetched * per_group_k
    assert [row["heads_kept_fraction"] for row in r.layers] == [1.0, 0.5, 0.5]


def test_deterministic_output():
    trace = TinyTrace(layers=3, heads=2, tokens=32, mode="decoder", generate=3)
    a = run(trace, "spatten-gpt2", seed=5).to_json()
    b = run(trace, "spatten-gpt2", seed=5).to_json()
    assert a == b


def test_bad_inputs():
    """Without tiling (sram.tiling = 'none') what exceeds one SRAM load is refused in one line."""
    big = TinyTrace(layers=1, heads=1, tokens=1100)
    untiled = ["sram.tiling=none"]
    with pytest.raises(HwsimError) as info:
        run(big, design=load_design("spatten", untiled))
    assert str(info.value) == (
        "workload 'tiny-encoder': 1100 tokens x 64 dims at 12 bits need 105600 bytes per key SRAM buffer; "
        "design 'spatten' has 98304 (sram.key_bytes / 2, double-buffered); expected at most 1024 tokens "
        "with sram.tiling = 'none'"
    )
    small = TinyTrace(layers=1, heads=1, tokens=64)
    with pytest.raises(HwsimError, match=r"per value SRAM buffer; design 'spatten' has 3072 \(sram.value_bytes / 2"):
        run(small, design=load_design("spatten", untiled + ["sram.value_bytes=6144"]))
    with pytest.raises(HwsimError, match=r"rows of 64 scores exceed the softmax FIFO of 32 exponentials "
                                         r"\(softmax.fifo_depth x softmax.parallelism\)"):
        run(small, design=load_design("spatten", untiled + ["softmax.fifo_depth=4"]))
    with pytest.raises(HwsimError, match=r"capacity of 32 scores \(topk.max_n\)"):
        run(small, design=load_design("spatten", untiled + ["topk.max_n=32"]))
    odd = TinyTrace(layers=1, heads=1, tokens=8, head_dim=48)
    with pytest.raises(HwsimError, match="head dimension 48: the Q x K array of 512 multipliers cannot map it"):
        run(odd)
    with pytest.raises(HwsimError, match="features.progressive_quantization = false|features.token_pruning = false"):
        run(TinyTrace(layers=1, heads=1, tokens=8), "spatten-gpt2", design=load_design("dense"))


@pytest.mark.parametrize("workload", ["encoder", "decoder"])
def test_topk_overlap_modes_order_the_latency(workload):
    """More overlap between consecutive local-V requests never costs cycles; the work is the same."""
    trace = (TinyTrace(layers=2, heads=4, tokens=64, mode="decoder", generate=4) if workload == "decoder"
             else TinyTrace(layers=2, heads=4, tokens=64))
    runs = {o: run(trace, "spatten-gpt2", design=load_design("spatten", [f"topk.overlap={o}"]),
                   overrides=["token_pruning.enabled=false"]) for o in ("none", "filter", "full")}
    assert runs["full"]["latency_cycles"] < runs["filter"]["latency_cycles"] < runs["none"]["latency_cycles"]
    assert run(trace, "spatten-gpt2", overrides=["token_pruning.enabled=false"]) == runs["filter"]  # the default
    # the same work: the engine's busy cycles and everything functional are unchanged
    for o in ("filter", "full"):
        assert runs[o]["events"] == runs["none"]["events"]
        assert runs[o]["attention_rel_error_ratio"] == runs["none"]["attention_rel_error_ratio"]


def test_local_v_selection_honours_the_input_width():
    """Regression: the local-V top-k once ran 8 scores wide whatever ``topk.in_lanes`` said."""
    trace = TinyTrace(layers=2, heads=2, tokens=40, mode="decoder", generate=3)
    off = ["token_pruning.enabled=false"]
    narrow = run(trace, "spatten-gpt2", design=load_design("spatten", ["topk.in_lanes=1"]), overrides=off)
    wide = run(trace, "spatten-gpt2", design=load_design("spatten", ["topk.in_lanes=8"]), overrides=off)
    assert narrow["selection_cycles"] == wide["selection_cycles"] == 0
    assert narrow["events"]["topk_compare_cycles"] > wide["events"]["topk_compare_cycles"]
    assert narrow["latency_cycles"] > wide["latency_cycles"]


def test_result_tables_and_repr():
    r = run(TinyTrace(layers=2, heads=2, tokens=16), "spatten-bert")
    layers, heads = r.to_dataframe("layers"), r.to_dataframe("heads")
    assert list(layers["layer"]) == [0, 1] and len(heads) == 4
    assert set(heads["bound_by"]) <= {"hbm", "qk", "softmax", "pq", "topk", "pv"}
    assert repr(r).startswith("SimResult(workload='tiny-encoder', design='spatten', policy='spatten-bert', ")
    assert len(repr(r)) < 200
    with pytest.raises(ValueError, match="table must be 'layers' or 'heads'"):
        r.to_dataframe("rows")


def test_dense_generation_fetches_every_causal_key():
    """Regression: each generated token once left the candidates of later steps (fewer K bytes than dense)."""
    trace = TinyTrace(layers=3, heads=2, tokens=48, mode="decoder", generate=4)
    r = run(trace, "none")
    # K of 44 prompt tokens, then 45, 46, 47, 48 keys at the four steps; 2 K/V heads x 3 layers; 96 B a key
    assert r["dram_bytes_by_kind"]["k_msb"] == 2 * 3 * 96 * (44 + 45 + 46 + 47 + 48)


def test_generation_fidelity_samples_evenly_spaced_steps():
    """Every head's row at up to ``fidelity_rows`` steps is compared; the summary counts the rows."""
    trace = TinyTrace(layers=2, heads=2, tokens=24, mode="decoder", generate=8)
    every = run(trace, "none", fidelity_rows=16)["fidelity_sampled_rows"]
    few = run(trace, "none", fidelity_rows=3)["fidelity_sampled_rows"]
    # 2 layers x 2 heads: all 16 prompt rows and all 8 steps, against 3 prompt rows and 3 steps
    assert every == 2 * 2 * 16 + 2 * 2 * 8
    assert few == 2 * 2 * 3 + 2 * 2 * 3


def test_key_sums_are_the_float64_sums_over_rows():
    """Each head's probability mass per key (token importance), bit for bit ``sum(axis=2, dtype=float64)``."""
    rng = np.random.default_rng(3)
    for shape in [(2, 3, 17, 40), (1, 1, 1, 5), (3, 1, 300, 7)]:
        p = (rng.random(shape) ** 4).astype(np.float32)
        got = _key_sums(p)
        assert got.dtype == np.float64 and np.array_equal(got, p.sum(axis=2, dtype=np.float64))
    strided = (rng.random((2, 2, 9, 11)).astype(np.float32)).transpose(0, 1, 3, 2)  # not contiguous
    assert np.array_equal(_key_sums(strided), strided.sum(axis=2, dtype=np.float64))

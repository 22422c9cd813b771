"""The real models run with the hardware inside (hwsim.quality): transparency, sanity, and the simulator's decisions.

Small sizes keep the module to about a minute: minilm on the first pydoc passages, smollm2 on one
short window of Hamlet. Both models load once per process (``workloads.bundled.load_model``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hwsim import load_design, load_policy, simulate
from hwsim.errors import HwsimError
from hwsim.quality import evaluate
from hwsim.quality.run import SCAN_KEEPS, closed_loop_trace, scan_policy

#: design dense at a 32-bit datapath: Q/K/V/P quantized to 32 bits, numerically the float model
FLOAT = load_design("dense", ["datapath_bits=32"])
NONE = load_policy("none")
DEC = {"tokens": 64, "window": 64, "prompt": 24, "generate": 4}
ENC = {"tokens": 24, "passages": 8}


def test_transparent_encoder():
    r = evaluate("minilm", FLOAT, NONE, simulate_first=False, **ENC)
    a, d = r.summary["approximate"], r.summary["dense"]
    assert a["embedding_cosine_min_ratio"] > 1 - 1e-6
    assert a["retrieval_top1_fraction"] == d["retrieval_top1_fraction"]
    assert all(row["tokens_kept_fraction"] == 1.0 and row["heads_kept_fraction"] == 1.0 for row in r.layers)


def test_transparent_decoder_matches_plain_causal_lm_loss():
    """Perplexity under dense / none (32 bits) equals a plain AutoModelForCausalLM loss on the same window."""
    from workloads.bundled import DEFAULT_TEXT, _tokenize, load_model, read_text

    r = evaluate("smollm2", FLOAT, NONE, simulate_first=False, **DEC)
    model, tok = load_model("smollm2")
    ids = torch.tensor([_tokenize(tok, read_text(DEFAULT_TEXT["smollm2"])[0], DEC["window"], encoder=False,
                                  where="test")])
    p = DEC["prompt"]
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits[0]
    plain = math.exp(float(torch.nn.functional.cross_entropy(logits[p:-1], ids[0, p + 1:])))
    assert r.summary["dense"]["perplexity"] == pytest.approx(plain, rel=1e-6)
    assert r.summary["approximate"]["perplexity"] == pytest.approx(plain, rel=1e-4)
    assert r.summary["approximate"]["top1_agreement_fraction"] == 1.0
    assert r.summary["approximate"]["greedy_match_fraction"] == 1.0
    assert r.summary["setup"]["scored_tokens"] == DEC["window"] - p - 1


def test_twelve_bit_quantization_alone_costs_under_half_a_percent():
    """Policy none on the 12-bit spatten datapath: Q/K/V and probabilities at 12 bits, nothing pruned."""
    r = evaluate("smollm2", load_design("spatten"), NONE, simulate_first=False, **DEC)
    ratio = r.summary["approximate"]["perplexity"] / r.summary["dense"]["perplexity"]
    assert ratio != 1.0  # quantization is really applied
    assert abs(ratio - 1) < 0.005


def test_lower_keep_never_improves_perplexity_beyond_noise():
    base = load_policy("none")
    ppl = []
    for keep in (1.0, 0.6, 0.3):
        r = evaluate("smollm2", load_design("spatten"), scan_policy(base, keep, 30), simulate_first=False, **DEC)
        ppl.append(r.summary["approximate"]["perplexity"])
    assert ppl[2] > ppl[0]  # pruning to 30 % costs something on real text
    for hi, lo in zip(ppl, ppl[1:]):
        assert lo > hi * 0.98, ppl


def test_scan_policy_and_keeps():
    pol = scan_policy(load_policy("spatten-bert"), 0.45, 6)
    assert pol.token_pruning.enabled and pol.token_pruning.keep(0, 6) == 1.0 and pol.token_pruning.keep(5, 6) == 0.45
    assert pol.head_pruning == load_policy("spatten-bert").head_pruning
    assert not scan_policy(load_policy("spatten-bert"), 1.0, 6).token_pruning.enabled
    assert SCAN_KEEPS[0] == 1.0 and list(SCAN_KEEPS) == sorted(SCAN_KEEPS, reverse=True)


@pytest.mark.parametrize("workload, policy, sizes", [("minilm", "spatten-bert", ENC),
                                                     ("smollm2", "spatten-gpt2", DEC)])
def test_first_layers_decide_as_the_simulator(workload, policy, sizes):
    """Layer 0 sees identical inputs, so its scores (and layer 1's selections made on them) equal hwsim simulate's.

    Later layers differ only because their inputs differ (the quality run is a closed loop, the
    open-loop trace holds the dense model's later-layer Q/K/V).
    """
    des, pol = load_design("spatten"), load_policy(policy)
    r = evaluate(workload, des, pol, simulate_first=False, **sizes)
    sim = simulate(r.dense_trace, des, pol).decisions["summarization"]
    for layer in (0, 1):
        np.testing.assert_array_equal(r.decisions[layer][0], sim[layer][0])
        np.testing.assert_array_equal(r.decisions[layer][1], sim[layer][1])
    assert sim[1][0].size < sim[0][0].size or sim[1][1].sum() < sim[0][1].sum()  # layer 1 really selects


def test_encoder_closed_loop_simulation_repeats_every_decision():
    """On the approximate run's own Q/K/V (closed loop) the simulator makes the quality run's decisions at every layer."""
    des, pol = load_design("spatten"), load_policy("spatten-bert")
    r = evaluate("minilm", des, pol, simulate_first=False, **ENC)
    sim = simulate(r.trace, des, pol).decisions["summarization"]
    assert len(sim) == len(r.decisions) == 6
    for mine, theirs in zip(r.decisions, sim):
        np.testing.assert_array_equal(mine[0], theirs[0])
        np.testing.assert_array_equal(mine[1], theirs[1])
    assert r.decisions[-1][0].size < r.decisions[0][0].size  # something was pruned


def test_closed_loop_trace_of_a_bundled_decoder():
    import workloads

    des, pol = load_design("spatten"), load_policy("spatten-gpt2")
    open_loop = workloads.resolve("smollm2", tokens=24, generate=4, progress=False)
    closed = closed_loop_trace(open_loop, des, pol)
    assert (closed.prompt_tokens, closed.generated_tokens, closed.layers) == (24, 4, open_loop.layers)
    np.testing.assert_array_equal(closed.input_ids[:24], open_loop.input_ids[:24])
    assert closed.manifest["provenance"]["open_loop_digest"] == open_loop.digest
    np.testing.assert_allclose(closed.q(0)[:, :24], open_loop.q(0)[:, :24], atol=2e-3)  # layer 0 of the prompt: same
    assert not np.allclose(closed.q(29), open_loop.q(29), atol=1e-2)  # later layers see the approximate outputs
    simulate(closed, des, pol)


def test_shape_only_and_wrong_options_are_refused():
    with pytest.raises(HwsimError, match="shape-only"):
        evaluate("bert-base", load_design("spatten"), NONE)
    with pytest.raises(HwsimError, match="--window"):
        evaluate("minilm", load_design("spatten"), NONE, window=64)
    with pytest.raises(HwsimError, match="--passages"):
        evaluate("smollm2", load_design("spatten"), NONE, passages=3)
    with pytest.raises(HwsimError, match="--prompt"):
        evaluate("smollm2", load_design("spatten"), NONE, tokens=64, window=64, prompt=63)
    import workloads

    with pytest.raises(HwsimError, match="not a bundled real model"):
        closed_loop_trace(workloads.resolve("bert-base", tokens=16, progress=False), load_design("spatten"), NONE)


def test_linear_layers_as_the_design_stores_them():
    """--linear: 8-bit dense FC weights cost little; magnitude masks cost more as density falls; the
    original weights are back after the run (the dense reference and later runs use them)."""
    from workloads.bundled import load_model

    model, _ = load_model("minilm")
    before = model.encoder.layer[0].intermediate.dense.weight.detach().clone()
    plain = evaluate("minilm", FLOAT, NONE, simulate_first=False, **ENC).summary["approximate"]
    cos = {}
    for sets in (["linear.weight_bits=8"], ["linear.engine=weight-sparse", "linear.density=0.7"],
                 ["linear.engine=weight-sparse", "linear.density=0.3"], ["linear.engine=nm"]):
        r = evaluate("minilm", load_design("dense", ["datapath_bits=32", *sets]), NONE, simulate_first=False,
                     linear=True, **ENC)
        cos[sets[-1]] = r.summary["approximate"]["embedding_cosine_ratio"]
        lin = r.summary["linear"]
        assert lin["linear_layers_count"] == 36
    assert 0.99 < cos["linear.weight_bits=8"] < plain["embedding_cosine_ratio"]
    assert cos["linear.density=0.3"] < cos["linear.density=0.7"] < cos["linear.weight_bits=8"]
    assert cos["linear.engine=nm"] < cos["linear.weight_bits=8"]
    assert torch.equal(model.encoder.layer[0].intermediate.dense.weight, before)
    assert r.summary["dense"]["retrieval_top1_fraction"] == \
        evaluate("minilm", FLOAT, NONE, simulate_first=False, **ENC).summary["dense"]["retrieval_top1_fraction"]
    with pytest.raises(HwsimError, match="not a multiple of linear.nm_m"):
        evaluate("minilm", load_design("dense", ["linear.engine=nm", "linear.nm_m=5"]), NONE, simulate_first=False,
                 linear=True, **ENC)

"""Shape-only workloads: every bundled name traces, shapes follow MODEL_SPECS, the CCT block, stored probabilities."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import workloads
from workloads.models import MODEL_SPECS

# Small token counts keep the suite fast; the default sizes are measured in docs/workloads.md.
SMALL = {
    "bert-base": dict(tokens=24),
    "bert-large": dict(tokens=12),
    "gpt2-small": dict(tokens=20, generate=4),
    "gpt2-medium": dict(tokens=10, generate=2),
    "vit-cifar": dict(),
    "vit-tiny": dict(),
    "llama-long": dict(tokens=16),
    "bert-long": dict(tokens=600),  # beyond bert-base's 512 positions
}
# Linear layers per transformer block: BERT q, k, v, out, ffn1, ffn2; GPT-2 c_attn, c_proj, c_fc, c_proj;
# CCT qkv, proj, linear1, linear2.
LINEARS_PER_LAYER = {"bert": 6, "gpt2": 4, "vit": 4, "llama": 7}  # Llama: q, k, v, o, gate, up, down


@pytest.mark.parametrize("name", list(SMALL))
def test_every_shape_only_workload_traces_with_its_spec_shapes(name):
    spec = MODEL_SPECS[name]
    trace = workloads.get(name, **SMALL[name])
    assert trace.real is False and "not realistic" in trace.manifest["synthetic_note"]
    assert trace.spec == spec and trace.name == name
    assert (trace.layers, trace.heads, trace.kv_heads, trace.head_dim) == (spec.layers, spec.heads, spec.kv_heads,
                                                                          spec.head_dim)
    p = SMALL[name].get("tokens", spec.tokens)
    g = SMALL[name].get("generate", 0)
    assert (trace.prompt_tokens, trace.generated_tokens, trace.tokens) == (p, g, p + g)
    assert trace.q(spec.layers - 1).shape == (spec.heads, p + g, spec.head_dim)
    assert trace.scale == pytest.approx(spec.head_dim ** -0.5)
    ops = Counter(n["op"] for n in trace.op_graph)
    assert ops["softmax"] == spec.layers and ops["matmul"] == 2 * spec.layers
    assert ops[spec.activation] == spec.layers
    head_linears = {"bert": 1, "gpt2": 1, "vit": 1, "llama": 1}[spec.family]  # pooler / LM head / classifier
    assert ops["linear"] == LINEARS_PER_LAYER[spec.family] * spec.layers + head_linears
    ffn_in = [n for n in trace.op_graph if n["layer"] == 0 and n["op"] == spec.activation][0]
    assert ffn_in["inputs"][0][-1] == spec.ffn
    if spec.family == "vit":
        assert trace.input_ids is None and trace.manifest["text"]["source"] == "random-image"
    else:
        assert trace.input_ids.shape == (p + g,) and trace.manifest["text"]["source"] == "random-token-ids"


def test_decoder_shape_only_traces_are_causal(hwsim_test_env):
    trace = workloads.get("gpt2-small", **SMALL["gpt2-small"])
    p = trace.probs(0)
    assert np.all(np.triu(p[0], k=1) == 0)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    assert trace.manifest["text"]["continuation"] == "random"


def test_vit_cifar_is_mpcvits_cct_block():
    """MPCViT vit_7_4_32: conv tokenizer 3->256 (4x4, stride 4), 65 tokens, x + attn(LN x); LN; x + MLP(x)."""
    trace = workloads.get("vit-cifar")
    g = trace.op_graph
    conv = g[0]
    assert conv["op"] == "conv2d" and conv["weight"]["shape"] == [256, 3, 4, 4] and conv["outputs"] == [[1, 256, 8, 8]]
    block = [n["op"] for n in g if n["layer"] == 1]
    assert block == ["layernorm", "linear", "matmul", "mul", "softmax", "matmul", "linear", "add", "layernorm",
                     "linear", "gelu", "linear", "add"]
    qkv = next(n for n in g if n["name"] == "blocks.0.self_attn.qkv")
    assert qkv["weight"]["shape"] == [768, 256] and qkv["weight"]["bias"] is None  # MPCViT: qkv without bias
    assert [n["op"] for n in g[-2:]] == ["layernorm", "linear"] and g[-1]["outputs"] == [[1, 10]]
    assert workloads.get("vit-tiny").op_graph[-1]["outputs"] == [[1, 200]]  # Tiny-ImageNet classes


def test_mpcvit_attention_variants_store_their_probabilities():
    """ReLU-softmax and scaling heads are not softmax(QK^T): the trace stores what the model computed."""
    import torch

    from workloads.synthetic import RELU_SOFTMAX_EPS, CCTViT
    from workloads.tracer import trace_model

    spec = MODEL_SPECS["vit-cifar"]
    torch.manual_seed(1)
    kinds = ["softmax", "relu_softmax", "scaling", "relu_softmax"]
    model = CCTViT(layers=spec.layers, hidden=spec.hidden, heads=spec.heads, ffn=spec.ffn, image_size=32,
                   classes=10, head_kinds=kinds)
    assert model.attention_form == "mixed"
    trace = trace_model(model, torch.randn(1, 3, 32, 32), spec=spec)
    assert trace.manifest["probs_stored"] and trace.attention == "mixed"
    s = trace.scores(3)  # from the stored float16 Q and K
    p = trace.probs(3)
    tol = dict(rtol=2e-2, atol=2e-3 * np.abs(s).max())
    np.testing.assert_allclose(p[0], np.exp(s[0]) / np.exp(s[0]).sum(-1, keepdims=True), **tol)
    relu = np.maximum(s[1], 0)
    np.testing.assert_allclose(p[1], relu / (relu.sum(-1, keepdims=True) + RELU_SOFTMAX_EPS), **tol)
    np.testing.assert_allclose(p[2], s[2] / 65, **tol)
    assert trace.concentration(3)["top_mass_fraction"].shape == (4,)


def test_tracing_is_deterministic():
    from workloads.bundled import trace_bundled

    a = trace_bundled("vit-cifar", progress=False)
    b = trace_bundled("vit-cifar", progress=False)
    assert a.digest == b.digest == workloads.get("vit-cifar").digest


def test_concentration_statistics_by_hand(hwsim_test_env):
    trace = workloads.get("gpt2-small", **SMALL["gpt2-small"])
    c = trace.concentration(1, top_fraction=0.25)
    p = trace.probs(1)
    h, i = 5, 13  # query 13 sees 14 keys; the top ceil(0.25 * 14) = 4 carry this mass
    row = p[h, i, : i + 1]
    top = np.sort(row)[-4:].sum()
    ent = -(row * np.log(row)).sum()
    per_query_top = [np.sort(p[h, q, : q + 1])[-int(np.ceil(0.25 * (q + 1))):].sum() for q in range(trace.tokens)]
    assert c["top_mass_fraction"][h] == pytest.approx(np.mean(per_query_top), rel=1e-5)
    assert per_query_top[i] == pytest.approx(top, rel=1e-6)
    per_query_ent = [-(p[h, q, : q + 1] * np.log(p[h, q, : q + 1])).sum() for q in range(trace.tokens)]
    assert c["entropy_nats"][h] == pytest.approx(np.mean(per_query_ent), rel=1e-5)
    relative = [0.0] + [per_query_ent[q] / np.log(q + 1) for q in range(1, trace.tokens)]  # 1 key seen: 0
    assert c["entropy_fraction"][h] == pytest.approx(np.mean(relative), rel=1e-5)
    assert per_query_ent[i] == pytest.approx(ent, rel=1e-6)


def test_long_contexts_trace_through_the_fused_kernel(monkeypatch):
    """Beyond EAGER_SCORE_BYTES a captured call computes its output with torch's fused attention: the captured
    Q/K/V of layer 0 are the eager run's exactly, later layers' equal to float16 rounding."""
    import torch

    from workloads import tracer
    from workloads.bundled import SYNTHETIC_SEED
    from workloads.synthetic import build_synthetic

    spec = MODEL_SPECS["llama-long"]
    model = build_synthetic(spec, seed=SYNTHETIC_SEED, tokens=24)
    ids = torch.from_numpy(np.random.default_rng(0).integers(0, spec.vocab, size=(1, 24)))
    eager = tracer.trace_model(model, ids, spec=spec, workload="llama-long")
    monkeypatch.setattr(tracer, "EAGER_SCORE_BYTES", 0)
    fused = tracer.trace_model(model, ids, spec=spec, workload="llama-long")
    for name in ("q", "k", "v"):
        np.testing.assert_array_equal(getattr(eager, name)(0), getattr(fused, name)(0))
        np.testing.assert_allclose(getattr(eager, name)(spec.layers - 1).astype(np.float32),
                                   getattr(fused, name)(spec.layers - 1).astype(np.float32), rtol=2e-2, atol=2e-2)

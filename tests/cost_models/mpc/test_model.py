"""Whole-model costing: block structure, attention variants, MPCViT's mixed heads, inputs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from cost_models.mpc import Attention, estimate, model_steps, parse_attention
from hwsim.errors import HwsimError
from workloads.models import MODEL_SPECS


def test_cct_block_order_and_shapes():
    steps = model_steps(MODEL_SPECS["vit-cifar"])
    assert [(s.name, s.op, s.shape) for s in steps] == [
        ("ln1", "layernorm", (65, 256)), ("qkv", "matmul", (65, 256, 768)), ("qk", "matmul", (4, 65, 64, 65)),
        ("scale", "div_public", (4, 65, 65)), ("attn", "softmax", (4, 65, 65)), ("av", "matmul", (4, 65, 65, 64)),
        ("proj", "matmul", (65, 256, 256)), ("ln2", "layernorm", (65, 256)), ("fc1", "matmul", (65, 256, 512)),
        ("act", "gelu_erf", (65, 512)), ("fc2", "matmul", (65, 512, 256))]
    assert {s.count for s in steps} == {7}


def test_bert_is_post_ln_with_separate_qkv_and_llama_has_swiglu_gqa():
    bert = [s.name for s in model_steps(MODEL_SPECS["bert-base"])]
    assert bert == ["q", "k", "v", "qk", "scale", "attn", "av", "proj", "ln1", "fc1", "act", "fc2", "ln2"]
    llama = {s.name: s for s in model_steps(MODEL_SPECS["smollm2"], tokens=16)}
    assert llama["k"].shape == (16, 576, 3 * 64) and llama["qk"].shape == (9, 16, 64, 16)
    assert (llama["act"].op, llama["glu"].op, llama["ln1"].op) == ("silu", "mul", "rmsnorm")


@pytest.mark.parametrize("mu", [0.0, 0.1, 0.3, 0.5, 0.7, 1.0])
def test_mixed_heads_interpolate_between_scaling_and_relu_softmax(mu):
    """MPCViT's latency model: cost linear in the fraction of ReLU-softmax heads (references §1)."""
    r = estimate("vit-cifar", attention=f"mixed:{mu}", activation="gelu_erf")
    sc = estimate("vit-cifar", attention="scaling", activation="gelu_erf")
    rs = estimate("vit-cifar", attention="relu_softmax", activation="gelu_erf")
    assert r.rounds == pytest.approx(567 + mu * (903 - 567))
    assert r.bytes == pytest.approx(sc.bytes + mu * (rs.bytes - sc.bytes))


def test_batched_mix_pays_full_rounds_in_every_layer():
    r = estimate("vit-cifar", attention="mixed:0.25", activation="gelu_erf", mix="batched")
    assert r.rounds == 903
    rs = estimate("vit-cifar", attention="relu_softmax", activation="gelu_erf")
    assert r.bytes < rs.bytes


@pytest.mark.parametrize("text,message", [
    ("mixed:1.5", "attention 'mixed:1.5': expected a ReLU-softmax head fraction MU in [0, 1], got 1.5"),
    ("mixed:-0.1", "attention 'mixed:-0.1': expected a ReLU-softmax head fraction MU in [0, 1], got -0.1"),
    ("mixed", "attention 'mixed': expected mixed:MU with MU a ReLU-softmax head fraction, e.g. mixed:0.3"),
    ("mixed:abc", "attention 'mixed:abc': expected mixed:MU with MU a ReLU-softmax head fraction, e.g. mixed:0.3"),
    ("sparse", "unknown attention 'sparse'; expected one of: softmax, relu_softmax, scaling, quad2, linear, mixed:MU"),
])
def test_bad_attention(text, message):
    with pytest.raises(HwsimError) as e:
        parse_attention(text)
    assert str(e.value) == message


def test_bad_inputs_are_one_line():
    with pytest.raises(HwsimError, match="^unknown activation 'swish'; expected one of: gelu_erf, gelu_tanh"):
        estimate("vit-cifar", activation="swish")
    with pytest.raises(HwsimError, match="^unknown MPC protocol 'spdz'; expected one of: crypten-2pc, aby3-3pc, semi2k-2pc, cheetah-2pc$"):
        estimate("vit-cifar", protocol="spdz")
    with pytest.raises(HwsimError, match="^unknown workload 'gpt5'; expected a model name"):
        estimate("gpt5")
    with pytest.raises(HwsimError, match="^tokens: expected an integer from 1 to 65,536 .*got 0$"):
        estimate("bert-base", tokens=0)
    with pytest.raises(HwsimError, match="^unknown mix accounting 'sum'"):
        estimate("vit-cifar", attention="mixed:0.5", mix="sum")


def test_tokens_and_defaults():
    r = estimate("bert-base", tokens=128)
    assert r.tokens == 128 and r.activation == "gelu_erf" and r.attention == "softmax"
    assert estimate("gpt2-small", tokens=8).activation == "gelu_tanh"
    assert parse_attention("mixed:0.3") == Attention("mixed", 0.3) and str(Attention("mixed", 0.3)) == "mixed:0.3"


def test_result_dict_has_totals_and_rows():
    r = estimate("vit-cifar", network="mpcvit")
    d = json.loads(json.dumps(r.to_dict()))
    assert (d["rounds"], d["bytes"]) == (1372, 439667200)
    assert d["latency_s"] == pytest.approx(d["round_s"] + d["transfer_s"] + d["compute_s"])
    assert d["latency_s"] == pytest.approx(sum(row["latency_s"] for row in d["ops"]))
    assert sum(row["comm_rounds"] for row in d["ops"]) == 1372


def _tiny_trace(tmp_path, tokens: int):
    """A minimal valid v1 trace of a 2-layer CCT ViT (zeros; only the manifest matters here)."""
    from workloads import Trace

    spec = dataclasses.replace(MODEL_SPECS["vit-cifar"], name="vit-tiny2", layers=2, tokens=65)
    manifest = {
        "format": "hwsim-trace", "version": 1, "workload": "vit-tiny2", "model": "vit-tiny2",
        "model_spec": dataclasses.asdict(spec), "real": False, "mode": "encoder", "text": {}, "tokens": tokens,
        "prompt_tokens": tokens, "generated_tokens": 0, "scale": 0.125, "mask": "none", "attention": "softmax",
        "probs_stored": False, "has_input_ids": False, "op_graph": [], "provenance": {},
        "layers": [{"heads": 4, "kv_heads": 4, "head_dim": 64}] * 2,
    }
    arrays = {f"layers.{i}.{x}": np.zeros((4, tokens, 64), np.float16) for i in range(2) for x in "qkv"}
    path = tmp_path / "tiny.safetensors"
    Trace(manifest, arrays).save(path)
    return path


def test_trace_file_uses_its_spec_and_traced_token_count(tmp_path):
    path = _tiny_trace(tmp_path, tokens=17)
    r = estimate(str(path))
    assert (r.model, r.tokens, r.spec.layers) == ("vit-tiny2", 17, 2)
    spec = dataclasses.replace(MODEL_SPECS["vit-cifar"], layers=2)
    assert r.rounds == estimate(spec, tokens=17).rounds

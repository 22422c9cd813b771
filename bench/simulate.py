"""How fast the SpAtten simulation runs, as a ratio to numpy doing the same dense attention.

1. ``bert-base`` shape (12 layers x 12 heads, 512 tokens, encoder) under ``spatten-bert`` on the
   full design: the whole ``hwsim.simulate`` call (quantization, scores, softmax, pruning
   decisions with the top-k golden model, fidelity sampling, the timing recurrence and simpy,
   energy and area) against numpy computing dense attention (QK^T, softmax, PV in float32) for
   every layer and head of the same trace, including reading and casting the float16 tensors.
   Target (issue 5): at most 2x.
2. ``smollm2`` (30 layers, 9 query / 3 KV heads), 992-token prompt + 32 generated tokens, under
   ``spatten-gpt2``: the simulation time (target: under 10 s once the trace is cached), and the
   same numpy reference for its prompt.

Both sides run on one core: ``hwsim.simulate`` limits BLAS to one thread, and so does the numpy
reference here (threadpoolctl), so the ratio compares work, not thread counts. Traces come from
the cache (``workloads.get``); the first use traces them (minutes). Best of a few repeats after one
warm-up run (numba compiles on first use). Run with ``make bench`` or
``.venv/bin/python bench/simulate.py``.
"""

from __future__ import annotations

import time

import numpy as np
from _clock import best_of

REPEATS = 3


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


def main() -> None:
    import workloads
    from threadpoolctl import threadpool_limits

    from hwsim import load_design, load_policy
    from hwsim.spatten import simulate

    design = load_design("spatten")
    bert = workloads.get("bert-base", tokens=512)
    policy = load_policy("spatten-bert")
    simulate(bert, design, policy)  # warm-up: numba compilation
    t_sim = best_of(lambda: simulate(bert, design, policy))
    with threadpool_limits(limits=1, user_api="blas"):
        t_np = best_of(lambda: dense_attention(bert))
    print(f"bert-base 512 tokens, spatten-bert: simulate {t_sim:.3f} s, numpy dense attention {t_np:.3f} s, "
          f"ratio {t_sim / t_np:.2f}x (target <= 2x)")

    smol = workloads.get("smollm2")
    gpt2 = load_policy("spatten-gpt2")
    t0 = time.perf_counter()
    r = simulate(smol, design, gpt2)
    t_smol = time.perf_counter() - t0
    with threadpool_limits(limits=1, user_api="blas"):
        t_np2 = best_of(lambda: dense_attention(smol), 1)
    print(f"smollm2 {smol.prompt_tokens}+{smol.generated_tokens} tokens, spatten-gpt2: simulate {t_smol:.2f} s "
          f"(target < 10 s; {r['latency_cycles']:,} simulated cycles); numpy dense attention of the prompt "
          f"{t_np2:.2f} s, ratio {t_smol / t_np2:.2f}x")


if __name__ == "__main__":
    main()

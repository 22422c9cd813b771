"""How long costing a secure inference takes: BERT-base at 512 tokens, every registered protocol.

Reference run in the same process: one plaintext float32 numpy forward pass of the same model
(12 post-LN blocks, 512 tokens, random weights): the least work any tool that actually ran the model
would do. A real CrypTen 2PC run of the same model takes far longer (docs/mpc.md: one BERT-base layer
at 512 tokens, measured with CrypTen 0.4.1 on the development machine). Prints the costing time and
its ratio to the reference; run with ``make bench`` or ``.venv/bin/python bench/mpc.py``. BLAS is held
to one thread (``threadpoolctl``) so the reference does not depend on how many cores are free.
"""

from __future__ import annotations


import numpy as np
from threadpoolctl import threadpool_limits

from _clock import best_and_median
from cost_models.mpc import PROTOCOLS, estimate
from workloads.models import MODEL_SPECS

REPEATS = 20


def plaintext_forward(spec, tokens: int, rng: np.random.Generator):
    """Return a closure running one float32 forward pass of ``spec`` (post-LN blocks) on random data."""
    d, f, h = spec.hidden, spec.ffn, spec.heads
    dh = d // h
    w = {k: rng.standard_normal(s, dtype=np.float32) * 0.02 for k, s in
         [("qkv", (d, 3 * d)), ("proj", (d, d)), ("fc1", (d, f)), ("fc2", (f, d))]}
    x0 = rng.standard_normal((tokens, d), dtype=np.float32)

    def ln(x):
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)

    def run():
        x = x0
        for _ in range(spec.layers):
            q, k, v = np.split(x @ w["qkv"], 3, axis=1)
            heads_out = []
            for i in range(h):  # per head: 2-D products go to BLAS
                sl = slice(i * dh, (i + 1) * dh)
                s = (q[:, sl] @ k[:, sl].T) * dh ** -0.5
                p = np.exp(s - s.max(-1, keepdims=True))
                p /= p.sum(-1, keepdims=True)
                heads_out.append(p @ v[:, sl])
            a = np.concatenate(heads_out, axis=1) @ w["proj"]
            x = ln(x + a)
            m = x @ w["fc1"]
            m = 0.5 * m * (1 + np.tanh(0.7978845608 * (m + 0.044715 * m ** 3)))
            x = ln(x + m @ w["fc2"])
        return x

    return run


def main() -> None:
    spec = MODEL_SPECS["bert-base"]
    tokens = 512
    ref = plaintext_forward(spec, tokens, np.random.default_rng(0))
    with threadpool_limits(limits=1):
        ref_best, ref_med = best_and_median(ref, 3)
    print(f"reference: plaintext numpy forward of bert-base (1 BLAS thread), {tokens} tokens: best {ref_best * 1e3:.1f} ms, "
          f"median {ref_med * 1e3:.1f} ms")
    for protocol in PROTOCOLS:
        result = estimate(spec, protocol=protocol, network="lan", tokens=tokens)
        best, med = best_and_median(lambda: estimate(spec, protocol=protocol, network="lan", tokens=tokens), REPEATS)
        print(f"{protocol}: costing bert-base at {tokens} tokens: best {best * 1e3:.3f} ms, median {med * 1e3:.3f} ms "
              f"({ref_best / best:.0f}x faster than the plaintext forward); result {result.rounds:,} rounds, "
              f"{result.bytes / 1e9:.2f} GB, {result.latency_s:.1f} s on lan")


if __name__ == "__main__":
    main()

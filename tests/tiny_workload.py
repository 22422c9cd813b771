"""A tiny in-memory workload with the attributes hwsim.simulate reads from a trace (for unit tests)."""

from __future__ import annotations

import hashlib

import numpy as np


class TinyTrace:
    """Random (seeded) Q/K/V with a few dominant keys, so attention is peaked as in real models."""

    def __init__(self, *, layers=2, heads=2, kv_heads=None, head_dim=64, tokens=48, mode="encoder", generate=0,
                 seed=0, peak=4.0):
        rng = np.random.default_rng(seed)
        self.name = f"tiny-{mode}"
        self.mode = mode
        self.layers, self.heads = layers, heads
        self.kv_heads = kv_heads or heads
        self.head_dim = head_dim
        self.tokens = tokens
        self.generated_tokens = generate if mode == "decoder" else 0
        self.prompt_tokens = tokens - self.generated_tokens
        self.scale = head_dim ** -0.5
        self._q, self._k, self._v = [], [], []
        for _ in range(layers):
            k = rng.standard_normal((self.kv_heads, tokens, head_dim)).astype(np.float16)
            q = rng.standard_normal((heads, tokens, head_dim)).astype(np.float32)
            hot = rng.choice(tokens, size=max(1, tokens // 8), replace=False)
            q += peak * k[np.arange(heads) // (heads // self.kv_heads)][:, hot].mean(axis=1, keepdims=True)
            self._q.append(q.astype(np.float16))
            self._k.append(k)
            self._v.append(rng.standard_normal((self.kv_heads, tokens, head_dim)).astype(np.float16))
        self.digest = hashlib.sha256(b"".join(x.tobytes() for x in self._q + self._k + self._v)).hexdigest()

    def q(self, layer):
        return self._q[layer]

    def k(self, layer):
        return self._k[layer]

    def v(self, layer):
        return self._v[layer]

    @property
    def op_graph(self) -> list[dict]:
        """The linear layers of a standard block in the trace's op-graph form (Q, K, V, output, FFN 4x)."""
        hidden, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        shapes = (("q_proj", hidden, hidden), ("k_proj", hidden, kv), ("v_proj", hidden, kv), ("o_proj", hidden, hidden),
                  ("up_proj", hidden, 4 * hidden), ("down_proj", 4 * hidden, hidden))
        return [{"op": "linear", "layer": layer, "name": f"layers.{layer}.{name}", "inputs": [[self.tokens, k]],
                 "outputs": [[self.tokens, n]], "weight": {"shape": [n, k]}}
                for layer in range(self.layers) for name, k, n in shapes]

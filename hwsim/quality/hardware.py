"""The accelerator's attention inside a real model's forward pass (imports torch).

:class:`HardwareAttention` replaces the eager attention function of a transformers model (the
hook :class:`workloads.tracer.AttentionCapture` records) by the attention SpAtten computes, using
the simulator's own pieces, so that the model runs with the hardware's approximations and later
layers see the approximate outputs (errors compound as on the chip):

* Q, K and V enter as the trace stores them (float16) and are quantized to the policy's bits by
  :func:`hwsim.spatten.functional.quantize_layer`, one scale per (layer, head) tensor;
* scores, softmax, progressive quantization (MSB plane, max-probability check, LSB re-fetch),
  local-V top-k and prob x V are :func:`hwsim.spatten.functional.attend` (the golden kernels);
* cascade token and head pruning are :class:`hwsim.spatten.cascade.Cascade`, the simulator's
  decisions: a pruned token leaves the sequence for all later layers (its key and value are never
  read again; in a decoder they leave the cache for all later layers and steps) and a pruned head
  contributes zero to the output projection.

Quantization ranges: a layer whose whole sequence arrives at once (an encoder; a decoder's
prompt) is quantized with its own max|x| per head, exactly as :func:`hwsim.simulate` quantizes a
trace; a decoder's generation steps cannot know future tokens' range, so every decoder layer uses
ranges calibrated on the dense model over the same window (``calibration``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from workloads.tracer import attention_modules

from ..errors import HwsimError
from ..spatten.cascade import Cascade
from ..spatten.functional import QLayer, attend, quantize_layer
from ..spatten.units import SpattenUnits
from ..units.quant import quantize_heads

__all__ = ["HardwareAttention", "HardwareBatch"]


def _f16(t: torch.Tensor) -> np.ndarray:
    """A [1, heads, T, d] tensor as the trace stores it: float16 values, as float32 [heads, T, d]."""
    return t[0].detach().to(torch.float16).to(torch.float32).numpy()


class HardwareAttention:
    """Context manager: ``model``'s eager attention computed as ``design`` computes it under ``policy``.

    ``mode`` is ``"encoder"`` or ``"decoder"``; ``tokens`` the positions of the run (prompt +
    generated), ``prompt`` the prompt's length. Call order is layer order: call ``i`` of a
    forward pass is layer ``i % layers``. Before each generation step's forward pass call
    :meth:`begin_step` with the new token's position. With ``record=True`` every layer's Q (all
    positions) and its final K/V are kept (float32 [heads, T, d]) for a closed-loop trace.
    ``calibration``: per layer, (Q, K, V) max|x| per head (a decoder needs it). ``linear_weights``
    (:class:`hwsim.quality.linear.LinearWeights`): the linear layers' approximated weights, in place
    while the hardware is installed.
    """

    def __init__(self, model: torch.nn.Module, design, policy, *, mode: str, layers: int, heads: int, kv_heads: int,
                 head_dim: int, tokens: int, prompt: int, calibration=None, seed: int = 0, record: bool = False,
                 linear_weights=None):
        if mode == "decoder" and calibration is None:
            raise ValueError("a decoder needs calibrated quantization ranges")
        self.model, self.mode, self.layers = model, mode, layers
        self.heads, self.kv_heads, self.head_dim, self.tokens, self.prompt = heads, kv_heads, head_dim, tokens, prompt
        self.units = SpattenUnits.from_design(design, head_dim, policy=policy, seed=seed)
        self.units.quant.check_head_dim(head_dim)
        self.local_v = policy.local_v.keep if policy.local_v.enabled else None
        self.cascade = Cascade(policy, self.units.topk, tokens=tokens, heads=heads, layers=layers, prompt=prompt)
        self.calibration = calibration
        self.record = record
        #: the model's linear layers as the design stores them (:mod:`hwsim.quality.linear`), swapped in
        #: while the hardware is installed; None: the original weights
        self.linear_weights = linear_weights
        self.recorded_q: list[list[np.ndarray]] = [[] for _ in range(layers)]
        self.recorded_kv: list[tuple[np.ndarray, np.ndarray] | None] = [None] * layers
        #: per generation step and layer: keys attended (count); per layer of summarization: see cascade.kept
        self.generation_kept: list[list[int]] = []
        self._ql: list[QLayer | None] = [None] * layers
        self._calls = 0
        self.scaling: float | None = None  # the model's score scale, as its attention calls pass it
        self._pos: int | None = None
        self._batch: HardwareBatch | None = None

    # ------------------------------------------------------------------ hook
    def __enter__(self) -> "HardwareAttention":
        self._batch = HardwareBatch([self]).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._batch.__exit__(*exc)

    def begin_step(self, pos: int) -> None:
        """The next forward pass is the generation step whose one new token sits at position ``pos``."""
        if self.mode != "decoder" or not self.prompt <= pos < self.tokens:
            raise ValueError(f"generation step at position {pos} outside {self.prompt}..{self.tokens - 1}")
        self._pos = pos
        self.cascade.begin_step(pos)
        self.generation_kept.append([])

    def call(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float) -> np.ndarray:
        """One attention call of this sequence (tensors [1, heads, t, d]); return the output [heads, t, d]."""
        layer = self._calls % self.layers
        self._calls += 1
        self.scaling = scale
        q = _f16(query)
        if self._pos is None:
            k, v = _f16(key), _f16(value)
            out = self._summarize(layer, q, k, v, scale)
        else:  # only the new position is new: the cache's older ones were quantized at their own step
            pos = self._pos
            k, v = _f16(key[:, :, pos:pos + 1]), _f16(value[:, :, pos:pos + 1])
            out = self._generate(layer, q, k, v, scale, keys=key.shape[2])
        if self.record:
            self.recorded_q[layer].append(q)
            self.recorded_kv[layer] = (key, value)  # the cache's tensors: converted once, at the end
        return out

    def _amax(self, layer: int):
        return None if self.calibration is None else self.calibration[layer]

    def _summarize(self, layer: int, q, k, v, scale) -> np.ndarray:
        t = q.shape[1]
        if t != self.prompt or k.shape[1] != t:
            raise HwsimError(f"layer {layer}: the prompt pass saw {t} queries over {k.shape[1]} keys; expected "
                             f"{self.prompt} (one unpadded sequence)")
        cascade = self.cascade
        cascade.summarize(layer)
        alive, heads_alive = cascade.alive, cascade.heads_alive
        plan = self.units.quant
        if self.mode == "decoder":  # room for the generated positions, filled step by step
            ql = quantize_layer(_pad(q, self.tokens), _pad(k, self.tokens), _pad(v, self.tokens), plan,
                                self._amax(layer))
            self._ql[layer] = ql
        else:
            ql = quantize_layer(q, k, v, plan)
        outputs = np.zeros((self.heads, alive.size, self.head_dim), np.float32)
        res = attend(ql, (None, None, None), q_pos=alive, k_pos=alive, heads_alive=heads_alive,
                     group_size=self.heads // self.kv_heads, causal=self.mode == "decoder", scale=scale,
                     units=self.units, local_v_keep=self.local_v, fidelity_rows=0, outputs=outputs)
        cascade.absorb(res)
        out = np.zeros((self.heads, t, self.head_dim), np.float32)  # pruned tokens: no output (never read)
        out[:, alive] = outputs
        return out

    def _generate(self, layer: int, q, k, v, scale, *, keys: int) -> np.ndarray:
        """Generation at position ``pos``: ``q``, ``k``, ``v`` are the new position's [heads, 1, d]."""
        pos = self._pos
        if q.shape[1] != 1 or keys != pos + 1:
            raise HwsimError(f"layer {layer}: generation step at position {pos} saw {q.shape[1]} queries over "
                             f"{keys} keys; expected 1 over {pos + 1}")
        ql = self._ql[layer]
        qa, ka, va = self._amax(layer)
        ql.q[:, pos:pos + 1], _ = quantize_heads(q, self.units.quant.query_bits, qa)
        ql.k[:, pos:pos + 1], _ = quantize_heads(k, self.units.quant.key_total_bits, ka)
        ql.v[:, pos:pos + 1], _ = quantize_heads(v, self.units.quant.value_bits, va)
        cand, heads_alive, _ = self.cascade.generate(layer)
        outputs = np.zeros((self.heads, 1, self.head_dim), np.float32)
        res = attend(ql, (None, None, None), q_pos=np.array([pos]), k_pos=cand, heads_alive=heads_alive,
                     group_size=self.heads // self.kv_heads, causal=True, scale=scale, units=self.units,
                     local_v_keep=self.local_v, fidelity_rows=0, outputs=outputs)
        self.cascade.absorb(res)
        self.generation_kept[-1].append(int(cand.size))
        return outputs

    # ------------------------------------------------------------------ closed loop
    def recorded_calls(self) -> list[dict[str, Any]]:
        """The run's attention calls as :func:`workloads.tracer.trace_from_calls` takes them (needs ``record``)."""
        calls = []
        for layer in range(self.layers):
            q = np.concatenate(self.recorded_q[layer], axis=1)
            k, v = (_f16(t) for t in self.recorded_kv[layer])
            t = q.shape[1]
            mask = None
            if self.mode == "decoder":
                mask = torch.zeros(t, t).masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), -1e9)
            calls.append({"query": torch.from_numpy(q)[None], "key": torch.from_numpy(k)[None],
                          "value": torch.from_numpy(v)[None], "mask": mask,
                          "scaling": self.scaling})
        return calls


class HardwareBatch:
    """Context manager: one forward pass over a batch of sequences, sequence ``b`` computed by ``members[b]``.

    Each member keeps its own cascade, codes and calibration; the model runs the batch at once
    (one forward pass per step for every window), which amortizes its per-call overhead.
    """

    def __init__(self, members: list[HardwareAttention]):
        self.members = members
        self._pymods = attention_modules(members[0].model)
        self._originals: list[tuple[Any, Callable]] = []

    def __enter__(self) -> "HardwareBatch":
        if self.members[0].linear_weights is not None:
            self.members[0].linear_weights.install()
        for pymod in self._pymods:
            self._originals.append((pymod, pymod.eager_attention_forward))
            pymod.eager_attention_forward = self._forward
        return self

    def __exit__(self, *exc) -> None:
        for pymod, original in self._originals:
            pymod.eager_attention_forward = original
        self._originals = []
        if self.members[0].linear_weights is not None:
            self.members[0].linear_weights.remove()

    def begin_step(self, pos: int) -> None:
        """Every sequence's next forward pass is its generation step at position ``pos``."""
        for m in self.members:
            m.begin_step(pos)

    def _forward(self, module, query, key, value, attention_mask, *args, **kwargs):
        if query.shape[0] != len(self.members):
            raise HwsimError(f"attention saw a batch of {query.shape[0]} sequences; expected {len(self.members)}")
        scaling = kwargs.get("scaling", args[0] if args else None)
        scale = float(query.shape[-1] ** -0.5 if scaling is None else scaling)
        out = np.stack([m.call(query[b:b + 1], key[b:b + 1], value[b:b + 1], scale)
                        for b, m in enumerate(self.members)])
        # eager_attention_forward returns [batch, q_len, heads, d] and the probabilities (not kept)
        return torch.from_numpy(out).transpose(1, 2).to(query.dtype), None


def _pad(x: np.ndarray, tokens: int) -> np.ndarray:
    """[heads, t, d] extended with zero positions to [heads, tokens, d]."""
    out = np.zeros((x.shape[0], tokens, x.shape[2]), np.float32)
    out[:, :x.shape[1]] = x
    return out

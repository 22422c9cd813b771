"""Whole-model MPC cost: a transformer's secure inference as a list of priced operations.

The reference convention is MPCViT's CrypTen setting (docs/sources.md MPC §1, §3.1):
batch 1, the input and **all weights secret-shared** (so every linear layer is a secret x secret
matmul), and per block

* ``cct`` (MPCViT, CCT-style): ``x = x + attn(LN(x)); x = LN(x); x = x + MLP(x)``
* ``post_ln`` (BERT): ``x = LN(x + attn(x)); x = LN(x + MLP(x))``
* ``pre_ln`` (GPT-2, Llama): ``x = x + attn(LN(x)); x = x + MLP(LN(x))``

LayerNorm is the mean (public division), the centred square, ``inv_sqrt`` of the variance, the
normalising product and the product with the secret gamma (+ beta); RMSNorm is the same without
centring. Attention: Q, K, V linears (one fused ``qkv`` matmul for the ViT and GPT-2 families,
whose code fuses them; separate for BERT and Llama), per-head ``Q K^T`` (K expanded over the query
heads of its group), scaled by a public constant (free in 2PC), the attention function over each row
of ``tokens`` scores, ``A V``, the output projection. MLP: ``fc1``, the activation, ``fc2``; Llama's
is ``down(silu(gate(x)) * up(x))``. Residual adds and biases are local. Only the transformer blocks
are costed (no embedding, patch tokenizer or classifier head): this is what MPCViT's totals
count (1372 rounds for the CIFAR Softmax ViT = 7 blocks x 196). Decoder models cost their prompt
pass (the causal mask is public, so every row is computed in full).

Attention variants, per head: ``softmax``, ``relu_softmax`` (MPCViT), ``scaling`` (``A / N``),
``quad2`` (MPCFormer 2Quad), ``linear`` (``q (k^T v) / N``, replaces the two attention matmuls),
and ``mixed:MU``: MPCViT's heterogeneous attention, a fraction MU of the heads with ReLU-softmax and
the rest scaling. Two accountings of a mix (``mix``):

* ``per_head`` (default): each head pays its share of the layer's attention function, rounds
  included: MPCViT's own latency model (its latency regulariser counts ReLU-softmax heads, and its
  published latencies are linear in MU, docs/sources.md MPC §1). Rounds can then be fractional.
* ``batched``: what one CrypTen run does when each layer computes its ReLU-softmax heads as one
  batch: full rounds in every layer with any such head, bytes in proportion to the heads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hwsim.errors import HwsimError
from workloads.models import MODEL_SPECS, ModelSpec

from .cost import ZERO, Cost
from .network import LatencySplit, Network, latency_s, load_network
from .protocols import Protocol, get_protocol

__all__ = [
    "Attention",
    "parse_attention",
    "ACTIVATIONS",
    "ATTENTION_VARIANTS",
    "ModelStep",
    "model_steps",
    "StepCost",
    "MpcResult",
    "estimate",
    "resolve_model",
]

ATTENTION_VARIANTS = ("softmax", "relu_softmax", "scaling", "quad2", "linear")
ACTIVATIONS = ("gelu_erf", "gelu_tanh", "gelu_quad", "relu", "silu")
_SPEC_ACTIVATION = {"gelu": "gelu_erf", "gelu_tanh": "gelu_tanh", "relu": "relu", "silu": "silu"}

#: Which step of a block belongs to which part of the model (the plot and summary group by it).
GROUPS = ("linear", "attention matmul", "attention function", "activation", "norm")


@dataclass(frozen=True)
class Attention:
    """An attention variant: one of :data:`ATTENTION_VARIANTS`, or ``mixed`` with ReLU-softmax fraction ``mu``."""

    kind: str
    mu: float = 0.0

    def __str__(self) -> str:
        return f"mixed:{self.mu:g}" if self.kind == "mixed" else self.kind


def parse_attention(text: str | Attention) -> Attention:
    """Parse ``softmax|relu_softmax|scaling|quad2|linear|mixed:MU``; raise :class:`HwsimError` if invalid."""
    if isinstance(text, Attention):
        return text
    t = str(text).strip()
    if t.startswith("mixed"):
        _, sep, rest = t.partition(":")
        try:
            mu = float(rest) if sep else math.nan
        except ValueError:
            mu = math.nan
        if not sep or math.isnan(mu):
            raise HwsimError(f"attention {t!r}: expected mixed:MU with MU a ReLU-softmax head fraction, e.g. mixed:0.3")
        if not 0.0 <= mu <= 1.0:
            raise HwsimError(f"attention {t!r}: expected a ReLU-softmax head fraction MU in [0, 1], got {rest}")
        return Attention("mixed", mu)
    if t not in ATTENTION_VARIANTS:
        raise HwsimError(f"unknown attention {t!r}; expected one of: {', '.join(ATTENTION_VARIANTS)}, mixed:MU")
    return Attention(t)


@dataclass(frozen=True)
class ModelStep:
    """One operation of a block, repeated ``count`` times (once per layer).

    ``round_fraction`` and ``volume_fraction`` scale its rounds and its bytes/work (a fraction of
    heads under a mixed attention; both 1 otherwise).
    """

    name: str
    op: str
    shape: tuple[int, ...]
    group: str
    count: int = 1
    round_fraction: float = 1.0
    volume_fraction: float = 1.0


def resolve_model(model: Any) -> tuple[ModelSpec, str]:
    """Return ``(spec, label)`` for a model name, a :class:`ModelSpec`, a trace, or a trace file path."""
    if isinstance(model, ModelSpec):
        return model, model.name
    if hasattr(model, "spec") and isinstance(model.spec, ModelSpec):  # a workloads Trace
        tokens = getattr(model, "prompt_tokens", None) or model.spec.tokens
        return dataclasses.replace(model.spec, tokens=int(tokens)), str(getattr(model, "name", model.spec.name))
    text = str(model)
    if text in MODEL_SPECS:
        return MODEL_SPECS[text], text
    path = Path(text)
    if path.suffix == ".safetensors" or path.exists():
        try:
            from workloads import load  # lazy: a file path needs the trace reader only then
        except ImportError:
            try:
                from workloads.trace import load  # lazy: as above
            except ImportError:
                raise HwsimError(f"{path}: reading trace files needs workloads.load, which is not available") from None
        return resolve_model(load(path))
    raise HwsimError(f"unknown workload {text!r}; expected a model name ({', '.join(MODEL_SPECS)}) or a trace file")


def _activation(spec: ModelSpec, activation: str | None) -> str:
    act = _SPEC_ACTIVATION[spec.activation] if activation is None else activation
    if act not in ACTIVATIONS:
        raise HwsimError(f"unknown activation {act!r}; expected one of: {', '.join(ACTIVATIONS)}")
    return act


def model_steps(spec: ModelSpec, *, attention: str | Attention = "softmax", activation: str | None = None,
                tokens: int | None = None, mix: Literal["per_head", "batched"] = "per_head") -> list[ModelStep]:
    """Return the operations of one secure inference of ``spec``'s transformer blocks, in block order.

    ``tokens`` overrides the spec's token count; ``activation`` defaults to the spec's (GeLU -> ``gelu_erf``).
    """
    att = parse_attention(attention)
    act = _activation(spec, activation)
    if mix not in ("per_head", "batched"):
        raise HwsimError(f"unknown mix accounting {mix!r}; expected per_head or batched")
    n = spec.tokens if tokens is None else tokens
    if not isinstance(n, int) or n <= 0:
        raise HwsimError(f"tokens: expected a positive integer, got {n}")
    d, h, kv, f, L = spec.hidden, spec.heads, spec.kv_heads, spec.ffn, spec.layers
    dh = spec.head_dim
    norm = "rmsnorm" if spec.norm == "rmsnorm" else "layernorm"

    def step(name, op, shape, group, **kw):
        return ModelStep(name, op, tuple(shape), group, count=L, **kw)

    qkv = ([step("qkv", "matmul", (n, d, d + 2 * kv * dh), "linear")] if spec.family in ("vit", "gpt2")
           else [step("q", "matmul", (n, d, d), "linear"), step("k", "matmul", (n, d, kv * dh), "linear"),
                 step("v", "matmul", (n, d, kv * dh), "linear")])
    if att.kind == "linear":
        core = [step("attn", "linear_attention", (h, n, dh), "attention function")]
    else:
        if att.kind == "mixed":
            mu = att.mu
            rs_rounds = mu if mix == "per_head" else (1.0 if mu > 0 else 0.0)
            sc_rounds = (1 - mu) if mix == "per_head" else (1.0 if mu < 1 else 0.0)
            funcs = [step("attn", "relu_softmax", (h, n, n), "attention function", round_fraction=rs_rounds,
                          volume_fraction=mu),
                     step("attn", "scaling", (h, n, n), "attention function", round_fraction=sc_rounds,
                          volume_fraction=1 - mu)]
        else:
            funcs = [step("attn", att.kind, (h, n, n), "attention function")]
        core = [step("qk", "matmul", (h, n, dh, n), "attention matmul"),
                step("scale", "div_public", (h, n, n), "attention matmul"), *funcs,
                step("av", "matmul", (h, n, n, dh), "attention matmul")]
    attn = [*qkv, *core, step("proj", "matmul", (n, d, d), "linear")]
    if spec.family == "llama":
        mlp = [step("gate", "matmul", (n, d, f), "linear"), step("up", "matmul", (n, d, f), "linear"),
               step("act", act, (n, f), "activation"), step("glu", "mul", (n, f), "activation"),
               step("down", "matmul", (n, f, d), "linear")]
    else:
        mlp = [step("fc1", "matmul", (n, d, f), "linear"), step("act", act, (n, f), "activation"),
               step("fc2", "matmul", (n, f, d), "linear")]
    ln1, ln2 = step("ln1", norm, (n, d), "norm"), step("ln2", norm, (n, d), "norm")
    if spec.block == "post_ln":
        return [*attn, ln1, *mlp, ln2]
    if spec.block == "cct":
        return [ln1, *attn, ln2, *mlp]
    return [ln1, *attn, ln2, *mlp]


@dataclass(frozen=True)
class StepCost:
    """One priced step: the step, its total cost over its repetitions, and its latency split."""

    step: ModelStep
    cost: Cost
    latency: LatencySplit

    def row(self) -> dict:
        """The JSON/CSV row: identifiers (``kind`` is the group), then totals over the repetitions with
        units in the names (rounds, bytes as CrypTen logs them, sent bytes, local ops, seconds)."""
        s = self.step
        return {
            "name": s.name, "op": s.op, "shape": "x".join(str(x) for x in s.shape), "kind": s.group,
            "repeat_count": s.count, "head_fraction": s.volume_fraction,
            "comm_rounds": self.cost.rounds, "comm_bytes": self.cost.bytes, "sent_bytes": self.cost.sent_bytes,
            "local_ops": self.cost.local_ops, "latency_s": self.latency.total_s,
            "round_s": self.latency.round_s, "transfer_s": self.latency.transfer_s,
            "compute_s": self.latency.compute_s,
        }


@dataclass(frozen=True)
class MpcResult:
    """The MPC cost of one model under one protocol and network: totals and per-step rows."""

    model: str
    spec: ModelSpec
    protocol: str
    network: Network
    attention: str
    activation: str
    tokens: int
    mix: str
    steps: tuple[StepCost, ...] = field(default=())

    @property
    def cost(self) -> Cost:
        """Total cost of the inference (one party)."""
        total = ZERO
        for s in self.steps:
            total = total + s.cost
        return total

    @property
    def latency(self) -> LatencySplit:
        """Total latency split (s)."""
        return LatencySplit(sum(s.latency.round_s for s in self.steps),
                            sum(s.latency.transfer_s for s in self.steps),
                            sum(s.latency.compute_s for s in self.steps))

    @property
    def rounds(self) -> float:
        """Communication rounds of the whole inference."""
        return self.cost.rounds

    @property
    def bytes(self) -> float:
        """Bytes one party sends plus receives (CrypTen's logged convention)."""
        return self.cost.bytes

    @property
    def latency_s(self) -> float:
        """End-to-end latency on the network (s)."""
        return self.latency.total_s

    def groups(self) -> dict[str, dict]:
        """Totals per group of :data:`GROUPS` (rounds, bytes, latency_s), in that order."""
        out = {}
        for g in GROUPS:
            members = [s for s in self.steps if s.step.group == g]
            if not members:
                continue
            c = ZERO
            for s in members:
                c = c + s.cost
            out[g] = {"rounds": c.rounds, "bytes": c.bytes, "latency_s": sum(s.latency.total_s for s in members)}
        return out

    def to_dict(self) -> dict:
        """The result as plain data: settings, totals, per-group totals and per-step rows."""
        lat = self.latency
        return {
            "model": self.model, "protocol": self.protocol, "network": self.network.model_dump(),
            "attention": self.attention, "activation": self.activation, "tokens": self.tokens,
            "layers": self.spec.layers, "mix": self.mix,
            "rounds": self.rounds, "bytes": self.bytes, "sent_bytes": self.cost.sent_bytes,
            "gbytes": self.bytes / 1e9, "local_ops": self.cost.local_ops,
            "latency_s": lat.total_s, "round_s": lat.round_s, "transfer_s": lat.transfer_s,
            "compute_s": lat.compute_s,
            "groups": self.groups(),
            "ops": [s.row() for s in self.steps],
        }


def estimate(model: Any, *, protocol: str | Protocol = "crypten-2pc", network: str | Path | Network = "lan",
             attention: str | Attention = "softmax", activation: str | None = None, tokens: int | None = None,
             mix: Literal["per_head", "batched"] = "per_head") -> MpcResult:
    """Cost one secure inference of ``model`` under ``protocol`` on ``network``.

    ``model``: a name of ``workloads.MODEL_SPECS``, a :class:`ModelSpec`, a trace, or a trace file.
    Raises :class:`HwsimError` (one line) for an unknown protocol, network, model, attention or
    activation, or a mix fraction outside [0, 1].
    """
    spec, label = resolve_model(model)
    proto = get_protocol(protocol)
    net = load_network(network)
    att = parse_attention(attention)
    act = _activation(spec, activation)
    steps = model_steps(spec, attention=att, activation=act, tokens=tokens, mix=mix)
    priced = []
    cache: dict[tuple[str, tuple[int, ...]], Cost] = {}
    for s in steps:
        key = (s.op, s.shape)
        if key not in cache:
            cache[key] = proto.cost(s.op, s.shape)
        c = cache[key].scaled(rounds=s.round_fraction, volume=s.volume_fraction) * s.count
        priced.append(StepCost(s, c, latency_s(c, net)))
    return MpcResult(model=label, spec=spec, protocol=proto.name, network=net, attention=str(att), activation=act,
                     tokens=spec.tokens if tokens is None else tokens, mix=mix, steps=tuple(priced))

"""The trace manifest as a strict schema: every field typed, range-checked and cross-checked.

:func:`check_manifest` validates the parsed JSON of a manifest (``docs/trace-format.md``) against
:class:`Manifest` — strict types (``"12"`` is not an integer, ``true`` is not a number), no unknown
keys, values within the bounds of :mod:`hwsim.limits` — and the fields against each other (the
layers against ``model_spec``, token counts, mask and mode). Every failure is one
:class:`~hwsim.errors.HwsimError` line naming the file and the key; no other exception escapes.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, Optional, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from hwsim.config.base import Expected
from hwsim.errors import HwsimError
from hwsim.limits import MAX_HEAD_DIM, MAX_HEADS, MAX_LAYERS, MAX_TOKENS, check_attention_size

from .models import ModelSpec

__all__ = ["Manifest", "SpecEntry", "LayerEntry", "OpNode", "WeightEntry", "check_manifest"]

#: Largest size of one op-graph dimension, weight element count or vocabulary (elements).
_MAX_DIM = 1 << 40
#: Largest softmax scale a trace may declare (head_dim ** -0.5 is at most 1 for head_dim >= 1).
_MAX_SCALE = 1e6


def _int_in(lo: int, hi: int):
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise Expected(f"an integer from {lo} to {hi:,}", got=v)
        return v

    return AfterValidator(check)


def _finite_in(lo: float, hi: float, what: str):
    def check(v: float) -> float:
        if not (math.isfinite(v) and lo <= v <= hi):
            raise Expected(what, got=v)
        return v

    return AfterValidator(check)


def _known(vocabulary, what: str):
    def check(v: str) -> str:
        if v not in vocabulary:
            raise Expected(f"{what}: one of {', '.join(vocabulary)}", got=v)
        return v

    return AfterValidator(check)


Layers = Annotated[int, _int_in(1, MAX_LAYERS)]
Heads = Annotated[int, _int_in(1, MAX_HEADS)]
HeadDim = Annotated[int, _int_in(2, MAX_HEAD_DIM)]
Tokens = Annotated[int, _int_in(1, MAX_TOKENS)]
Generated = Annotated[int, _int_in(0, MAX_TOKENS)]
Size = Annotated[int, _int_in(0, _MAX_DIM)]
Width = Annotated[int, _int_in(1, _MAX_DIM)]
Name = Annotated[str, AfterValidator(lambda v: v if 0 < len(v) <= 256 else _raise("a name of 1 to 256 characters", v))]
Magnitude = Annotated[float, _finite_in(0.0, 1e38, "a finite non-negative number")]


def _raise(what: str, got: Any):
    raise Expected(what, got=got)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


#: ModelSpec's field types: the schema takes its fixed sets (family, mode, activation, norm, block) from there.
_SPEC = get_type_hints(ModelSpec)


class SpecEntry(_Strict):
    """``model_spec``: the model's shape (:class:`workloads.models.ModelSpec`)."""

    name: Name
    family: _SPEC["family"]
    mode: _SPEC["mode"]
    layers: Layers
    hidden: Width
    heads: Heads
    kv_heads: Heads
    ffn: Width
    tokens: Tokens
    generate_tokens: Generated = 0
    vocab: Annotated[int, _int_in(0, 2**31 - 1)] = 0
    activation: _SPEC["activation"] = "gelu"
    norm: _SPEC["norm"] = "layernorm"
    block: _SPEC["block"] = "pre_ln"
    real: bool = False
    source: str = ""

    @model_validator(mode="after")
    def _heads(self):
        if self.heads % self.kv_heads:
            raise Expected(f"a multiple of kv_heads {self.kv_heads}", key="heads", got=self.heads)
        if self.hidden < self.heads:
            raise Expected(f"at least heads = {self.heads} (one element per head)", key="hidden", got=self.hidden)
        return self


class LayerEntry(_Strict):
    """One entry of ``layers``: the heads and head dimension of that layer's Q/K/V tensors."""

    heads: Heads
    kv_heads: Heads
    head_dim: HeadDim


class WeightEntry(_Strict):
    """The weight of a weight-bearing op: parameter name, shape and statistics."""

    name: str
    shape: Annotated[list[Size], AfterValidator(lambda v: v if len(v) <= 8 else _raise("at most 8 dims", v))]
    numel: Size
    nonzero_fraction: Annotated[float, _finite_in(0.0, 1.0, "a fraction in [0, 1]")]
    abs_mean: Magnitude
    abs_max: Magnitude
    std: Magnitude
    bias: Optional[str] = None

    @model_validator(mode="after")
    def _numel(self):
        if self.numel != math.prod(self.shape):
            raise Expected(f"the product of shape {self.shape} = {math.prod(self.shape)}", key="numel",
                           got=self.numel)
        return self


Shapes = Annotated[list[Annotated[list[Size], AfterValidator(
    lambda v: v if len(v) <= 8 else _raise("at most 8 dims", v))]], AfterValidator(
    lambda v: v if len(v) <= 64 else _raise("at most 64 shapes", v))]


def _op_vocabulary():
    from .trace import OP_VOCABULARY  # lazy: workloads.trace imports this module

    return OP_VOCABULARY


class OpNode(_Strict):
    """One op of ``op_graph`` (vocabulary: :data:`workloads.trace.OP_VOCABULARY`)."""

    name: str
    op: Annotated[str, AfterValidator(lambda v: v if v in _op_vocabulary() else _raise(
        f"a known op ({', '.join(_op_vocabulary())})", v))]
    layer: Optional[Annotated[int, _int_in(0, MAX_LAYERS - 1)]] = None
    inputs: Shapes
    outputs: Shapes
    weight: Optional[WeightEntry] = None


class Manifest(_Strict):
    """The whole manifest of a v1 trace (``docs/trace-format.md``)."""

    format: Literal["hwsim-trace"]
    version: Literal[1]
    workload: Name
    model: Name
    model_spec: SpecEntry
    real: bool
    mode: Literal["encoder", "decoder"]
    text: dict[str, Any]
    tokens: Tokens
    prompt_tokens: Tokens
    generated_tokens: Generated
    scale: Annotated[float, _finite_in(1e-12, _MAX_SCALE, f"a positive finite number up to {_MAX_SCALE:g}")]
    mask: Literal["none", "causal"]
    attention: Annotated[str, AfterValidator(lambda v: v if v in _attention_kinds() else _raise(
        f"one of {', '.join(_attention_kinds())}", v))]
    probs_stored: bool
    has_input_ids: bool
    layers: Annotated[list[LayerEntry], AfterValidator(
        lambda v: v if 1 <= len(v) <= MAX_LAYERS else _raise(f"1 to {MAX_LAYERS} layers", len(v)))]
    op_graph: Annotated[list[OpNode], AfterValidator(
        lambda v: v if len(v) <= 1_000_000 else _raise("at most 1,000,000 ops", len(v)))]
    provenance: dict[str, Any]
    synthetic_note: Optional[str] = None

    @model_validator(mode="after")
    def _consistent(self):
        spec = self.model_spec
        if self.mode != spec.mode:
            raise Expected(f"model_spec.mode {spec.mode!r}", key="mode", got=self.mode)
        t, p, g = self.tokens, self.prompt_tokens, self.generated_tokens
        if p + g != t:
            raise Expected(f"tokens = prompt_tokens + generated_tokens, got {t} = {p} + {g}", key="tokens",
                           show_got=False)
        if self.mode == "encoder" and g:
            raise Expected("0 for an encoder trace", key="generated_tokens", got=g)
        mask = "causal" if self.mode == "decoder" else "none"
        if self.mask != mask:
            raise Expected(f"{mask!r} for mode {self.mode!r}", key="mask", got=self.mask)
        if self.probs_stored != (self.attention != "softmax"):
            raise Expected("true exactly when 'attention' is not 'softmax' (probabilities are stored then)",
                           key="probs_stored", got=self.probs_stored)
        if len(self.layers) != spec.layers:
            raise Expected(f"{spec.layers} entries (model_spec.layers)", key="layers", got=len(self.layers))
        dim = self.layers[0].head_dim
        for i, layer in enumerate(self.layers):
            if (layer.heads, layer.kv_heads) != (spec.heads, spec.kv_heads):
                raise Expected(f"heads {spec.heads} and kv_heads {spec.kv_heads} (model_spec), got "
                               f"{layer.heads} and {layer.kv_heads}", key=f"layers.{i}", show_got=False)
            if layer.head_dim != dim:
                raise Expected(f"head_dim {dim} (layer 0's)", key=f"layers.{i}.head_dim", got=layer.head_dim)
        for i, node in enumerate(self.op_graph):
            if node.layer is not None and node.layer >= spec.layers:
                raise Expected(f"null or a layer index below {spec.layers}", key=f"op_graph.{i}.layer",
                               got=node.layer)
        return self


def _attention_kinds():
    from .trace import ATTENTION_KINDS  # lazy: as above

    return ATTENTION_KINDS


_TYPE_WORDS = {
    "int_type": "an integer", "float_type": "a number", "bool_type": "true/false", "string_type": "a string",
    "list_type": "a list", "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
    "none_required": "null", "finite_number": "a finite number",
}


def _got(value: Any) -> str:
    try:
        return json.dumps(value)[:60]
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def _key(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: dict) -> str:
    loc, typ, inp = list(err["loc"]), err["type"], err.get("input")
    exc = (err.get("ctx") or {}).get("error")
    if isinstance(exc, Expected):
        if exc.key:
            loc += [int(p) if p.isdigit() else p for p in exc.key.split(".")]
        text = f"expected {exc.what}" + (f", got {_got(exc.got if exc.got is not None else inp)}"
                                         if exc.show_got else "")
    elif typ == "missing":
        return f"manifest: missing key {_key(loc)!r}" if len(loc) == 1 else \
            f"manifest key {_key(loc[:-1])!r}: missing key {loc[-1]!r}"
    elif typ == "extra_forbidden":
        return f"manifest key {_key(loc[:-1]) or '(top level)'!r}: unknown field {loc[-1]!r}"
    elif typ == "literal_error":
        text = f"expected {err['ctx']['expected']}, got {_got(inp)}"
    elif typ in _TYPE_WORDS:
        text = f"expected {_TYPE_WORDS[typ]}, got {_got(inp)}"
    else:
        text = err["msg"][:1].lower() + err["msg"][1:]
    return f"manifest key {_key(loc) or '(top level)'!r}: {text}"


def check_manifest(where: str, manifest: Any) -> ModelSpec:
    """Validate a parsed manifest; return its :class:`ModelSpec`. Raises one-line :class:`HwsimError`s."""
    if not isinstance(manifest, dict):
        raise HwsimError(f"{where}: manifest: expected a JSON object, got {_got(manifest)}")
    try:
        m = Manifest.model_validate(manifest)
    except ValidationError as e:
        raise HwsimError(f"{where}: {_message(e.errors()[0])}") from None
    except RecursionError:
        raise HwsimError(f"{where}: manifest: nested too deeply") from None
    check_attention_size(f"{where}: manifest", m.model_spec.heads, m.tokens)
    return ModelSpec(**m.model_spec.model_dump())

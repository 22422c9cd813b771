"""Trace format v1: one ``.safetensors`` file, float16 Q/K/V per layer, a JSON manifest in its header.

Layout (see ``docs/trace-format.md``)::

    8 bytes   little-endian u64 N: length of the JSON header
    N bytes   JSON header: {"__metadata__": {"format": "hwsim-trace", "version": "1",
                                             "manifest": "<JSON text>"},
                            "<tensor name>": {"dtype": "F16", "shape": [...], "data_offsets": [b, e]}, ...}
    rest      tensor bytes, little-endian, each tensor at [b, e) of this region

Tensors: ``layers.<i>.q`` [heads, tokens, head_dim], ``layers.<i>.k`` and ``layers.<i>.v``
[kv_heads, tokens, head_dim] (float16), ``layers.<i>.probs`` [heads, tokens, tokens] (float16, only
when the attention is not softmax(QK^T)), ``input_ids`` [tokens] (int32, text models only).

Reading never unpickles anything and never imports torch: the header is parsed here and the tensors
are numpy views of one read-only memory map of the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import struct
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from hwsim.errors import HwsimError

from .models import ModelSpec
from hwsim.outputs import atomic_write

__all__ = ["FORMAT", "VERSION", "Trace", "load", "save", "OP_VOCABULARY", "ATTENTION_KINDS"]

FORMAT = "hwsim-trace"
VERSION = 1

#: Ops an op graph may contain, with their meaning (``docs/trace-format.md``). Pure data movement
#: (view, reshape, transpose, cat, slicing, dtype casts, dropout in eval mode) is left out.
OP_VOCABULARY: dict[str, str] = {
    "linear": "x @ W^T (+ b); weight-bearing (GPT-2's Conv1D stores W as [in, out])",
    "conv2d": "2-D convolution; weight-bearing",
    "embedding": "table lookup; weight-bearing",
    "layernorm": "LayerNorm over the last dim; weight = gamma",
    "rmsnorm": "RMSNorm over the last dim; weight = gamma",
    "matmul": "activation x activation product (Q x K^T, P x V)",
    "softmax": "softmax over the last dim",
    "gelu": "GELU, erf form",
    "gelu_tanh": "GELU, tanh approximation",
    "silu": "SiLU (x * sigmoid(x))",
    "relu": "ReLU",
    "tanh": "tanh",
    "sigmoid": "logistic sigmoid",
    "add": "elementwise add (residuals, masks, biases)",
    "sub": "elementwise subtract",
    "mul": "elementwise multiply (scaling, gating, rotary)",
    "div": "elementwise divide",
    "neg": "elementwise negate",
    "exp": "elementwise exp",
    "pow": "elementwise power",
    "rsqrt": "elementwise 1/sqrt",
    "sqrt": "elementwise sqrt",
    "sum": "sum reduction",
    "mean": "mean reduction",
    "max": "max reduction",
}

#: Attention forms a trace can declare. ``softmax``: probabilities are softmax(QK^T*scale + mask)
#: and are derived; any other form stores ``layers.<i>.probs``.
ATTENTION_KINDS = ("softmax", "relu_softmax", "scaling", "mixed")

_DTYPES = {"F16": np.dtype("<f2"), "I32": np.dtype("<i4")}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
_MAX_HEADER_BYTES = 100 * 1024 * 1024

_REQUIRED: dict[str, type | tuple] = {
    "format": str,
    "version": int,
    "workload": str,
    "model": str,
    "model_spec": dict,
    "real": bool,
    "mode": str,
    "text": dict,
    "tokens": int,
    "prompt_tokens": int,
    "generated_tokens": int,
    "scale": (int, float),
    "mask": str,
    "attention": str,
    "probs_stored": bool,
    "has_input_ids": bool,
    "layers": list,
    "op_graph": list,
    "provenance": dict,
}


def _fail(where: str, what: str) -> HwsimError:
    return HwsimError(f"{where}: {what}")


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return "a number"
    return {str: "a string", int: "an integer", bool: "true/false", dict: "an object", list: "a list"}[t]


def _check_type(where: str, key: str, value: Any, t) -> None:
    ok = isinstance(value, t) and not (t in (int, (int, float)) and isinstance(value, bool))
    if not ok:
        raise _fail(where, f"manifest key {key!r}: expected {_type_name(t)}, got {json.dumps(value)[:60]}")


def _spec_from_dict(where: str, d: Mapping[str, Any]) -> ModelSpec:
    fields = {f.name: f for f in dataclasses.fields(ModelSpec)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise _fail(where, f"manifest key 'model_spec': unknown field {unknown[0]!r}")
    try:
        spec = ModelSpec(**d)
    except TypeError as e:
        raise _fail(where, f"manifest key 'model_spec': {e}") from None
    for name in ("layers", "hidden", "heads", "kv_heads", "ffn", "tokens", "generate_tokens", "vocab"):
        v = getattr(spec, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise _fail(where, f"manifest key 'model_spec.{name}': expected a non-negative integer, got {v!r}")
    if spec.heads < 1 or spec.kv_heads < 1 or spec.heads % spec.kv_heads:
        raise _fail(where, f"manifest key 'model_spec': heads {spec.heads} must be a multiple of kv_heads "
                           f"{spec.kv_heads}")
    return spec


def _check_op_graph(where: str, graph: list) -> None:
    for i, node in enumerate(graph):
        key = f"op_graph[{i}]"
        if not isinstance(node, dict):
            raise _fail(where, f"manifest key {key!r}: expected an object")
        for k, t in (("name", str), ("op", str), ("inputs", list), ("outputs", list)):
            if k not in node:
                raise _fail(where, f"manifest key {key!r}: missing {k!r}")
            _check_type(where, f"{key}.{k}", node[k], t)
        if node["op"] not in OP_VOCABULARY:
            raise _fail(where, f"manifest key '{key}.op': unknown op {node['op']!r}; expected one of "
                               f"{', '.join(OP_VOCABULARY)}")
        layer = node.get("layer")
        if layer is not None and (not isinstance(layer, int) or isinstance(layer, bool) or layer < 0):
            raise _fail(where, f"manifest key '{key}.layer': expected null or a non-negative integer")
        for side in ("inputs", "outputs"):
            for shape in node[side]:
                if not isinstance(shape, list) or not all(isinstance(x, int) and x >= 0 for x in shape):
                    raise _fail(where, f"manifest key '{key}.{side}': expected lists of non-negative integers")
        w = node.get("weight")
        if w is not None:
            if not isinstance(w, dict) or not isinstance(w.get("name"), str) or not isinstance(w.get("shape"), list):
                raise _fail(where, f"manifest key '{key}.weight': expected null or an object with name and shape")


def expected_tensors(manifest: Mapping[str, Any]) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """Return the tensor names a (validated) manifest calls for, with dtype and shape."""
    t = manifest["tokens"]
    out: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
    for i, layer in enumerate(manifest["layers"]):
        h, kv, d = layer["heads"], layer["kv_heads"], layer["head_dim"]
        out[f"layers.{i}.q"] = (_DTYPES["F16"], (h, t, d))
        out[f"layers.{i}.k"] = (_DTYPES["F16"], (kv, t, d))
        out[f"layers.{i}.v"] = (_DTYPES["F16"], (kv, t, d))
        if manifest["probs_stored"]:
            out[f"layers.{i}.probs"] = (_DTYPES["F16"], (h, t, t))
    if manifest["has_input_ids"]:
        out["input_ids"] = (_DTYPES["I32"], (t,))
    return out


def validate_manifest(where: str, manifest: Any) -> ModelSpec:
    """Check a manifest's keys, types and consistency; return its :class:`ModelSpec`.

    Raises :class:`HwsimError` with ``where`` (the file) and the offending key.
    """
    if not isinstance(manifest, dict):
        raise _fail(where, "manifest: expected a JSON object")
    if manifest.get("format") != FORMAT:
        raise _fail(where, f"manifest key 'format': expected {FORMAT!r}, got {manifest.get('format')!r}")
    if manifest.get("version") != VERSION:
        raise _fail(where, f"manifest key 'version': expected {VERSION}, got {manifest.get('version')!r} "
                           f"(this hwsim reads trace format v{VERSION})")
    for key, t in _REQUIRED.items():
        if key not in manifest:
            raise _fail(where, f"manifest: missing key {key!r}")
        _check_type(where, key, manifest[key], t)
    spec = _spec_from_dict(where, manifest["model_spec"])
    mode = manifest["mode"]
    if mode not in ("encoder", "decoder"):
        raise _fail(where, f"manifest key 'mode': expected 'encoder' or 'decoder', got {mode!r}")
    if mode != spec.mode:
        raise _fail(where, f"manifest key 'mode': {mode!r} disagrees with model_spec.mode {spec.mode!r}")
    t, p, g = manifest["tokens"], manifest["prompt_tokens"], manifest["generated_tokens"]
    if t < 1 or p < 1 or g < 0 or p + g != t:
        raise _fail(where, f"manifest keys 'tokens'/'prompt_tokens'/'generated_tokens': expected tokens = "
                           f"prompt_tokens + generated_tokens >= 1, got {t} = {p} + {g}")
    if mode == "encoder" and g:
        raise _fail(where, f"manifest key 'generated_tokens': an encoder trace has none, got {g}")
    expected_mask = "causal" if mode == "decoder" else "none"
    if manifest["mask"] != expected_mask:
        raise _fail(where, f"manifest key 'mask': expected {expected_mask!r} for mode {mode!r}, got "
                           f"{manifest['mask']!r}")
    scale = float(manifest["scale"])
    if not (math.isfinite(scale) and scale > 0):
        raise _fail(where, f"manifest key 'scale': expected a positive finite number, got {manifest['scale']!r}")
    if manifest["attention"] not in ATTENTION_KINDS:
        raise _fail(where, f"manifest key 'attention': expected one of {', '.join(ATTENTION_KINDS)}, got "
                           f"{manifest['attention']!r}")
    if manifest["probs_stored"] != (manifest["attention"] != "softmax"):
        raise _fail(where, "manifest key 'probs_stored': probabilities are stored exactly when 'attention' "
                           "is not 'softmax'")
    layers = manifest["layers"]
    if len(layers) != spec.layers:
        raise _fail(where, f"manifest key 'layers': expected {spec.layers} entries (model_spec.layers), "
                           f"got {len(layers)}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise _fail(where, f"manifest key 'layers[{i}]': expected an object")
        for k in ("heads", "kv_heads", "head_dim"):
            v = layer.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise _fail(where, f"manifest key 'layers[{i}].{k}': expected a positive integer, got {v!r}")
        if layer["heads"] % layer["kv_heads"]:
            raise _fail(where, f"manifest key 'layers[{i}]': heads {layer['heads']} is not a multiple of "
                               f"kv_heads {layer['kv_heads']}")
    _check_op_graph(where, manifest["op_graph"])
    return spec


def _check_arrays(where: str, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Check names, dtypes, shapes and finiteness of ``arrays`` against the manifest."""
    expected = expected_tensors(manifest)
    missing = [n for n in expected if n not in arrays]
    if missing:
        raise _fail(where, f"tensor {missing[0]!r} missing (the manifest declares {len(expected)} tensors)")
    extra = sorted(n for n in arrays if n not in expected)
    if extra:
        raise _fail(where, f"tensor {extra[0]!r} is not declared by the manifest")
    for name, (dtype, shape) in expected.items():
        a = arrays[name]
        if a.dtype != dtype:
            raise _fail(where, f"tensor {name!r}: expected dtype {_DTYPE_NAMES[dtype]}, got "
                               f"{_DTYPE_NAMES.get(a.dtype, str(a.dtype))}")
        if tuple(a.shape) != shape:
            raise _fail(where, f"tensor {name!r}: expected shape {list(shape)} from the manifest, got "
                               f"{list(a.shape)}")
        # float16 is non-finite exactly when all 5 exponent bits are set; integer ops scan ~10x faster
        if a.dtype.kind == "f" and a.size and (a.reshape(-1).view(np.uint16) & np.uint16(0x7C00)).max() == 0x7C00:
            bad = ~np.isfinite(a)
            if bad.any():
                idx = tuple(int(x) for x in np.argwhere(bad)[0])
                raise _fail(where, f"tensor {name!r}: {int(bad.sum())} non-finite values (NaN/Inf), first at "
                                   f"index {list(idx)}")
    if manifest["has_input_ids"]:
        ids = arrays["input_ids"]
        vocab = manifest["model_spec"].get("vocab", 0)
        if ids.size and (ids.min() < 0 or (vocab and ids.max() >= vocab)):
            raise _fail(where, f"tensor 'input_ids': token ids must lie in [0, {vocab}), got "
                               f"[{int(ids.min())}, {int(ids.max())}]")


class Trace:
    """A traced workload: per-layer Q/K/V (float16), the manifest, the op graph.

    Build one with :func:`load` (from a file), :func:`workloads.get` (bundled names, cached) or
    ``workloads.trace_model`` (from a PyTorch model). Arrays returned by :meth:`q`, :meth:`k`,
    :meth:`v` are read-only views (memory-mapped for a loaded file). Heads share key/value heads in
    groups (grouped-query attention): query head ``h`` reads key/value head ``h // group_size``.
    """

    def __init__(self, manifest: dict, arrays: Mapping[str, np.ndarray], *, path: Path | None = None,
                 where: str = "trace"):
        self.spec: ModelSpec = validate_manifest(where, manifest)
        _check_arrays(where, manifest, arrays)
        self.manifest = manifest
        self.path = path
        self._arrays = dict(arrays)
        for a in self._arrays.values():
            a.flags.writeable = False
        self._digest: str | None = None

    # manifest views -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The workload name (a bundled name, or the model name for custom traces)."""
        return self.manifest["workload"]

    @property
    def mode(self) -> str:
        """``encoder`` (every query sees every key) or ``decoder`` (causal)."""
        return self.manifest["mode"]

    @property
    def layers(self) -> int:
        """Number of attention layers."""
        return len(self.manifest["layers"])

    @property
    def heads(self) -> int:
        """Query heads per layer (the model's; :meth:`layer_heads` gives each layer's)."""
        return self.spec.heads

    @property
    def kv_heads(self) -> int:
        """Key/value heads per layer (fewer than ``heads`` under grouped-query attention)."""
        return self.spec.kv_heads

    @property
    def head_dim(self) -> int:
        """Elements per head vector."""
        return self.manifest["layers"][0]["head_dim"]

    @property
    def group_size(self) -> int:
        """Query heads per key/value head."""
        return self.heads // self.kv_heads

    @property
    def tokens(self) -> int:
        """Total sequence length (prompt + generated) in tokens."""
        return self.manifest["tokens"]

    @property
    def prompt_tokens(self) -> int:
        """Tokens of the prompt (all tokens for an encoder)."""
        return self.manifest["prompt_tokens"]

    @property
    def generated_tokens(self) -> int:
        """Tokens generated after the prompt (0 for an encoder)."""
        return self.manifest["generated_tokens"]

    @property
    def scale(self) -> float:
        """Softmax scale applied to QK^T (usually head_dim ** -0.5)."""
        return float(self.manifest["scale"])

    @property
    def real(self) -> bool:
        """True for a trained model on real text; False for shape-only (synthetic) workloads."""
        return self.manifest["real"]

    @property
    def attention(self) -> str:
        """The attention form: ``softmax`` (probabilities derived) or a stored form."""
        return self.manifest["attention"]

    @property
    def op_graph(self) -> list[dict]:
        """The forward pass as a list of ops (vocabulary: :data:`OP_VOCABULARY`)."""
        return self.manifest["op_graph"]

    def layer_heads(self, layer: int) -> tuple[int, int]:
        """Return ``(heads, kv_heads)`` of one layer."""
        e = self.manifest["layers"][self._layer(layer)]
        return e["heads"], e["kv_heads"]

    # tensors --------------------------------------------------------------------------------------
    def _layer(self, layer: int) -> int:
        if not isinstance(layer, (int, np.integer)) or not 0 <= layer < self.layers:
            raise IndexError(f"layer {layer} out of range 0..{self.layers - 1}")
        return int(layer)

    def q(self, layer: int) -> np.ndarray:
        """Queries of one layer, float16 [heads, tokens, head_dim] (post-projection, post-rotary)."""
        return self._arrays[f"layers.{self._layer(layer)}.q"]

    def k(self, layer: int) -> np.ndarray:
        """Keys of one layer, float16 [kv_heads, tokens, head_dim] (post-projection, post-rotary)."""
        return self._arrays[f"layers.{self._layer(layer)}.k"]

    def v(self, layer: int) -> np.ndarray:
        """Values of one layer, float16 [kv_heads, tokens, head_dim]."""
        return self._arrays[f"layers.{self._layer(layer)}.v"]

    @property
    def input_ids(self) -> np.ndarray | None:
        """Token ids int32 [tokens] for text models, None otherwise."""
        return self._arrays.get("input_ids")

    def scores(self, layer: int) -> np.ndarray:
        """QK^T * scale + mask in float32 [heads, tokens, tokens] (-inf where the causal mask hides a key)."""
        layer = self._layer(layer)
        q = self.q(layer).astype(np.float32)
        k = self.k(layer).astype(np.float32)
        heads, kv = self.layer_heads(layer)
        k = np.repeat(k, heads // kv, axis=0)
        s = np.matmul(q, k.transpose(0, 2, 1))
        s *= np.float32(self.scale)
        if self.mode == "decoder":
            s[:, ~np.tri(self.tokens, dtype=bool)] = -np.inf
        return s

    def probs(self, layer: int) -> np.ndarray:
        """Attention probabilities float32 [heads, tokens, tokens].

        softmax(QK^T * scale + mask) from the stored float16 Q and K (causal for decoders; rows
        sum to 1), or the stored probabilities when the model's attention is not softmax(QK^T)
        (MPCViT's ReLU-softmax rows sum to at most 1, its scaling attention's to anything).
        """
        layer = self._layer(layer)
        if self.manifest["probs_stored"]:
            return self._arrays[f"layers.{layer}.probs"].astype(np.float32)
        s = self.scores(layer)
        s -= s.max(axis=-1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=-1, keepdims=True)
        return s

    def concentration(self, layer: int, top_fraction: float = 0.1) -> dict[str, np.ndarray]:
        """How concentrated attention is, per head of one layer, averaged over queries.

        Returns ``top_mass_fraction`` (probability mass on the ceil(top_fraction * n) largest
        keys of each query, n = keys it can see), ``entropy_nats`` (Shannon entropy of each row)
        and ``entropy_fraction`` (entropy / ln n: 1 for a uniform row, 0 for one key), each an
        array over heads. Mass near 1 and low entropy mean most keys can be pruned at little loss.
        """
        if not 0 < top_fraction <= 1:
            raise HwsimError(f"top_fraction: expected a value in (0, 1], got {top_fraction}")
        p = self.probs(layer)
        if self.manifest["probs_stored"]:  # non-softmax forms (e.g. scaling) need not be non-negative rows summing to 1
            p = np.abs(p)
            p /= np.maximum(p.sum(axis=-1, keepdims=True), np.finfo(np.float32).tiny)
        t = self.tokens
        visible = np.arange(1, t + 1) if self.mode == "decoder" else np.full(t, t)
        kk = np.maximum(1, np.ceil(top_fraction * visible).astype(np.int64))
        top = np.empty(p.shape[:2], dtype=np.float32)
        for k in np.unique(kk):  # rows sharing k: one partition (hidden keys are 0 and never outrank visible mass)
            rows = np.flatnonzero(kk == k)
            top[:, rows] = np.partition(p[:, rows], t - k, axis=-1)[..., t - k:].sum(axis=-1)
        logp = np.zeros_like(p)
        np.log(p, out=logp, where=p > 0)
        ent = -(p * logp).sum(axis=-1)
        ln_visible = np.log(visible).astype(np.float32)
        rel = np.divide(ent, ln_visible, out=np.zeros_like(ent), where=ln_visible > 0)
        return {"top_mass_fraction": top.mean(axis=-1), "entropy_nats": ent.mean(axis=-1),
                "entropy_fraction": rel.mean(axis=-1)}

    # identity -------------------------------------------------------------------------------------
    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the trace file's bytes: the workload's identity in provenance blocks."""
        if self._digest is None:
            if self.path is not None:
                with open(self.path, "rb") as f:
                    self._digest = hashlib.file_digest(f, "sha256").hexdigest()
            else:
                self._digest = hashlib.sha256(self.to_bytes()).hexdigest()
        return self._digest

    def to_bytes(self) -> bytes:
        """Serialise to the v1 file format: deterministic bytes, readable by any safetensors reader.

        Tensors are laid out by element size (largest first, so every tensor is aligned) then
        name; the JSON header is padded with spaces to a multiple of 8 bytes.
        """
        meta = {"format": FORMAT, "version": str(VERSION),
                "manifest": json.dumps(self.manifest, sort_keys=True, separators=(",", ":"))}
        header: dict[str, Any] = {"__metadata__": meta}
        order = sorted(self._arrays, key=lambda n: (-self._arrays[n].dtype.itemsize, n))
        offset = 0
        for name in order:
            a = self._arrays[name]
            header[name] = {"dtype": _DTYPE_NAMES[a.dtype], "shape": list(a.shape),
                            "data_offsets": [offset, offset + a.nbytes]}
            offset += a.nbytes
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        raw += b" " * (-(8 + len(raw)) % 8)
        return b"".join([struct.pack("<Q", len(raw)), raw,
                         *(np.ascontiguousarray(self._arrays[n]).tobytes() for n in order)])

    def save(self, path: str | Path) -> Path:
        """Write the trace to ``path`` atomically; return the path."""
        blob = self.to_bytes()
        out = atomic_write(path, blob)
        self._digest = hashlib.sha256(blob).hexdigest()
        return out

    def __repr__(self) -> str:
        kind = "real" if self.real else "synthetic"
        extra = f"+{self.generated_tokens}" if self.generated_tokens else ""
        return (f"Trace({self.name!r}, {self.mode}, {self.layers}x{self.heads} heads "
                f"(kv {self.kv_heads}), {self.prompt_tokens}{extra} tokens, {kind})")


def save(trace: Trace, path: str | Path) -> Path:
    """Write ``trace`` to ``path`` atomically (format v1); return the path."""
    return trace.save(path)


def _read_header(path: Path) -> tuple[dict, int, int]:
    where = str(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05") or head[:4] == b"PK\x03\x04":
                raise _fail(where, "this is a pickle or a zip archive (e.g. from torch.save), not a safetensors "
                                   "trace; hwsim never unpickles files")
            if len(head) < 8:
                raise _fail(where, f"not a safetensors trace: {size} bytes is too short for the 8-byte header "
                                   f"length")
            (n,) = struct.unpack("<Q", head)
            if n > min(size - 8, _MAX_HEADER_BYTES):
                raise _fail(where, f"not a safetensors trace or truncated: header length {n} bytes exceeds "
                                   f"the {size - 8} bytes that follow")
            raw = f.read(n)
    except FileNotFoundError:
        raise _fail(where, "no such file") from None
    except IsADirectoryError:
        raise _fail(where, "is a directory, expected a .safetensors trace file") from None
    except PermissionError:
        raise _fail(where, "cannot read (permission denied)") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(where, f"not a safetensors trace: the header is not valid JSON ({e.__class__.__name__})") from None
    if not isinstance(header, dict):
        raise _fail(where, "not a safetensors trace: the header is not a JSON object")
    return header, 8 + n, size


def load(path: str | Path) -> Trace:
    """Load and validate a v1 trace file; tensors are read-only views of a memory map.

    Checks: the safetensors header, ``format``/``version``, every manifest key, tensor names,
    dtypes and shapes against the manifest, byte ranges (a truncated file is caught) and that
    every float value is finite. Any failure raises :class:`HwsimError` naming the file and the
    problem. Nothing is unpickled and torch is not imported.
    """
    path = Path(path)
    where = str(path)
    header, data_start, size = _read_header(path)
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        raise _fail(where, f"not an hwsim trace: header metadata 'format' is {got!r}, expected {FORMAT!r}")
    if meta.get("version") != str(VERSION):
        raise _fail(where, f"header metadata 'version': expected {VERSION}, got {meta.get('version')!r} "
                           f"(this hwsim reads trace format v{VERSION})")
    try:
        manifest = json.loads(meta.get("manifest", ""))
    except json.JSONDecodeError:
        raise _fail(where, "header metadata 'manifest' is not valid JSON") from None
    data_bytes = size - data_start
    ranges = []
    for name, entry in header.items():
        if (not isinstance(entry, dict) or entry.get("dtype") not in _DTYPES
                or not isinstance(entry.get("shape"), list) or not isinstance(entry.get("data_offsets"), list)
                or len(entry["data_offsets"]) != 2):
            dt = entry.get("dtype") if isinstance(entry, dict) else None
            raise _fail(where, f"tensor {name!r}: bad header entry (dtype {dt!r}; expected F16 or I32 with "
                               f"shape and data_offsets)")
        b, e = entry["data_offsets"]
        shape = entry["shape"]
        if not all(isinstance(x, int) and x >= 0 for x in [b, e, *shape]) or b > e:
            raise _fail(where, f"tensor {name!r}: bad shape or data_offsets in the header")
        if e - b != math.prod(shape) * _DTYPES[entry["dtype"]].itemsize:
            raise _fail(where, f"tensor {name!r}: data_offsets span {e - b} bytes, shape {shape} needs "
                               f"{math.prod(shape) * _DTYPES[entry['dtype']].itemsize}")
        if e > data_bytes:
            raise _fail(where, f"truncated: tensor {name!r} ends at byte {e} of the data section but the file "
                               f"has only {data_bytes} data bytes")
        ranges.append((b, e, name))
    ranges.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(ranges, ranges[1:]):
        if b1 < e0:
            raise _fail(where, f"tensors {n0!r} and {n1!r} overlap in the data section")
    if data_bytes != (ranges[-1][1] if ranges else 0):
        raise _fail(where, f"data section has {data_bytes} bytes, the header accounts for "
                           f"{ranges[-1][1] if ranges else 0} (trailing or missing bytes)")
    validate_manifest(where, manifest)
    mm = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, np.uint8)
    data = mm[data_start:]
    arrays = {}
    for name, entry in header.items():
        b, e = entry["data_offsets"]
        arrays[name] = data[b:e].view(_DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return Trace(manifest, arrays, path=path, where=where)

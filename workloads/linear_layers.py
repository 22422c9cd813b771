"""The linear and conv layers of a workload with their weights and real inputs, for the sparse engines.

:func:`capture` runs a model once and records, for every ``nn.Linear`` and ``nn.Conv2d`` of its body,
the weight and the input rows the layer multiplies (a convolution's im2col rows, one GEMM per group
for a depthwise conv):

* ``minilm``, ``smollm2``: the real bundled models (real weights) on the first ``tokens`` tokens of
  their default text (CPython's documentation); the prompt's forward pass only. The LM head and the
  embeddings are left out (they are not linear layers of the blocks);
* ``mobilenetv2``: :mod:`workloads.mobilenetv2` with **random** weights (seeded) on one random
  image (normal(0, 1), seeded), labelled ``real_weights = False``;
* a trace file (``.safetensors``): the ``linear``/``conv2d`` entries of its op graph, shapes only,
  with **random** weights and inputs (normal, seeded; the recorded ``std`` of the weights).

This module only adds new functions; it uses the bundled loaders of :mod:`workloads.bundled`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from hwsim.errors import HwsimError

from . import trace as trace_format

__all__ = ["SPARSE_WORKLOADS", "CapturedLayer", "Captured", "check_workload", "capture"]

SPARSE_WORKLOADS = ("minilm", "smollm2", "mobilenetv2")
#: Tokens of the real models' forward pass when not given (a prompt of this many tokens).
DEFAULT_TOKENS = 128
#: Modules left out: the LM head and BERT's pooler (not layers of the blocks).
#: Linear layers that are not a transformer block's (name prefixes): the LM head and the pooler.
LINEAR_SKIP = ("lm_head", "pooler")
#: MobileNetV2 input resolution when not given (pixels; ImageNet's).
DEFAULT_IMAGE = 224


@dataclass(frozen=True)
class CapturedLayer:
    """One layer: ``weights[g]`` (n x k, float32) and ``inputs[g]`` (m x k, float32) per group."""

    name: str
    kind: str
    weights: tuple[np.ndarray, ...]
    inputs: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Captured:
    """The captured layers of a workload and how they were obtained."""

    workload: str
    layers: tuple[CapturedLayer, ...]
    real_weights: bool
    real_inputs: bool
    note: str


def _is_file(spec: str) -> bool:
    return spec.endswith(".safetensors") or os.sep in spec


def check_workload(spec: str) -> None:
    """Fail fast (before any model is loaded) on an unknown name or a file without linear/conv layers."""
    if _is_file(spec):

        trace = trace_format.load(spec)
        if not any(e["op"] in ("linear", "conv2d") and e.get("weight") for e in trace.op_graph):
            raise HwsimError(f"--workload {spec}: the trace's op graph has no linear or conv2d layers")
        return
    if spec not in SPARSE_WORKLOADS:
        raise HwsimError(f"--workload must be one of {', '.join(SPARSE_WORKLOADS)} or a trace file, not {spec!r}")


def _im2col_groups(x, conv) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    import torch

    x = x[0:1].to(torch.float32)
    r, s = conv.kernel_size
    cols = torch.nn.functional.unfold(x, (r, s), padding=conv.padding, stride=conv.stride)[0]  # (c*r*s, L)
    w = conv.weight.detach().to(torch.float32)
    g = conv.groups
    cg = conv.in_channels // g
    kg = conv.out_channels // g
    cols = cols.reshape(g, cg * r * s, -1)
    weights = tuple(w[i * kg:(i + 1) * kg].reshape(kg, -1).numpy().copy() for i in range(g))
    inputs = tuple(cols[i].T.contiguous().numpy() for i in range(g))
    return weights, inputs


def _hook_capture(model, run, skip=()) -> list[CapturedLayer]:
    import torch

    found: list[CapturedLayer] = []
    handles = []
    for name, mod in model.named_modules():
        if any(name.startswith(p) for p in skip):
            continue
        if isinstance(mod, torch.nn.Linear):
            def hook(m, args, out, name=name):
                x = args[0].detach().to(torch.float32).reshape(-1, m.in_features).numpy().copy()
                found.append(CapturedLayer(name, "linear", (m.weight.detach().to(torch.float32).numpy().copy(),), (x,)))
        elif isinstance(mod, torch.nn.Conv2d):
            def hook(m, args, out, name=name):
                w, x = _im2col_groups(args[0].detach(), m)
                found.append(CapturedLayer(name, "conv2d", w, x))
        else:
            continue
        handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in handles:
            h.remove()
    return found


def capture(spec: str, *, tokens: int | None = None, image_size: int | None = None, seed: int = 0) -> Captured:
    """The linear/conv layers of ``spec`` (a name of :data:`SPARSE_WORKLOADS` or a trace file)."""
    check_workload(spec)
    if _is_file(spec):
        return _from_trace(spec, seed)
    import torch

    from . import bundled, tracer  # lazy: tracing loads torch and transformers

    tracer.configure_threads()
    if spec == "mobilenetv2":
        from .mobilenetv2 import build  # lazy: building MobileNetV2 loads torch

        size = DEFAULT_IMAGE if image_size is None else image_size
        if not isinstance(size, int) or size < 32:
            raise HwsimError(f"--image-size must be an integer >= 32, not {size!r}")
        model = build(seed)
        img = torch.randn((1, 3, size, size), generator=torch.Generator().manual_seed(seed + 1))
        layers = _hook_capture(model, lambda: model(img))
        return Captured(spec, tuple(layers), False, False,
                        f"MobileNetV2 1.0, random weights (seed {seed}), one random {size}x{size} image")
    n = DEFAULT_TOKENS if tokens is None else tokens
    if not isinstance(n, int) or n < 1:
        raise HwsimError(f"--tokens must be a positive integer, not {n!r}")
    spec_, p, _, text = bundled._resolve(spec, n, 0 if spec == "smollm2" else None, None)
    model, tok = bundled.load_model(spec)
    body, _ = bundled.read_text(text)
    ids = bundled._tokenize(tok, body, p, encoder=spec_.mode == "encoder", where=f"{spec} on text {text}")
    inputs = torch.tensor([ids], dtype=torch.long)
    layers = _hook_capture(model, lambda: model(inputs), skip=LINEAR_SKIP)
    return Captured(spec, tuple(layers), True, True,
                    f"{spec}: real weights, real inputs of the first {p} tokens of '{text}' (prompt pass)")


def _from_trace(path: str, seed: int) -> Captured:

    trace = trace_format.load(path)
    rng = np.random.default_rng(seed)
    layers = []
    for e in trace.op_graph:
        w = e.get("weight")
        if e["op"] not in ("linear", "conv2d") or not w or e["name"].startswith(LINEAR_SKIP):
            continue
        shape = w["shape"]
        n = shape[0]
        k = int(np.prod(shape[1:]))
        m = int(np.prod(e["outputs"][0][:-1])) if e["op"] == "linear" else int(np.prod(e["outputs"][0][2:]))
        std = float(w.get("std") or 1.0)
        weight = (rng.standard_normal((n, k)) * std).astype(np.float32)
        x = rng.standard_normal((m, k)).astype(np.float32)
        layers.append(CapturedLayer(e["name"], e["op"], (weight,), (x,)))
    return Captured(path, tuple(layers), False, False,
                    f"{path}: op-graph shapes, random weights (recorded std) and inputs (seed {seed})")

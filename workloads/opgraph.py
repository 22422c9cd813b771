"""Record the op graph of one PyTorch forward pass (imports torch; used by the tracer).

:class:`OpGraphRecorder` is a ``TorchFunctionMode`` plus global module hooks. It sees every torch
call at the Python API level (before decomposition into aten ops), so ``F.linear`` stays one
``linear`` with its weight and ``q @ k.T`` one ``matmul`` with the attention's shapes. It keeps:

- weight-bearing ops whose weight is a parameter of the model (``linear``, ``conv2d``,
  ``embedding``, ``layernorm``), always;
- compute ops of :data:`workloads.trace.OP_VOCABULARY` (``matmul``, ``softmax``, activations,
  elementwise, reductions) when one of their inputs derives from the model's activations. This
  leaves out the index and mask arithmetic done on constants (causal mask construction, rotary
  frequency tables), which is not part of the data path;
- modules that implement one op out of several calls (RMSNorm, tanh-GELU written out) as that one op.

Pure data movement (views, transposes, cat, slicing, casts, eval-mode dropout) is not recorded.
Weight statistics (nonzero fraction, mean and max magnitude, std) are computed once per parameter.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

__all__ = ["OpGraphRecorder", "layer_of"]

#: torch function names -> op. ``gelu`` is refined by its ``approximate`` argument.
_FUNC_OPS = {
    "linear": "linear", "addmm": "linear", "conv2d": "conv2d", "embedding": "embedding",
    "layer_norm": "layernorm", "rms_norm": "rmsnorm",
    "matmul": "matmul", "__matmul__": "matmul", "__rmatmul__": "matmul", "bmm": "matmul", "mm": "matmul",
    "softmax": "softmax", "_softmax": "softmax",
    "gelu": "gelu", "silu": "silu", "relu": "relu", "relu_": "relu", "tanh": "tanh", "sigmoid": "sigmoid",
    "add": "add", "add_": "add", "__add__": "add", "__radd__": "add", "__iadd__": "add",
    "sub": "sub", "sub_": "sub", "__sub__": "sub", "__rsub__": "sub", "rsub": "sub", "__isub__": "sub",
    "mul": "mul", "mul_": "mul", "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul",
    "div": "div", "div_": "div", "__truediv__": "div", "__rtruediv__": "div", "__itruediv__": "div",
    "true_divide": "div",
    "neg": "neg", "__neg__": "neg", "exp": "exp", "pow": "pow", "__pow__": "pow", "rsqrt": "rsqrt",
    "sqrt": "sqrt", "sum": "sum", "mean": "mean", "max": "max", "amax": "max",
}

#: Position of the weight argument of weight-bearing functions.
_WEIGHT_ARG = {"linear": 1, "addmm": 2, "conv2d": 1, "embedding": 1, "layer_norm": 2, "rms_norm": 2}
_BIAS_ARG = {"linear": 2, "addmm": 0, "conv2d": 2, "layer_norm": 3}

#: Module classes (by name) recorded as one op, their internals not recorded.
_MODULE_OPS = [
    (re.compile(r".*RMSNorm$"), "rmsnorm"),
    (re.compile(r"^(NewGELUActivation|GELUTanh|PytorchGELUTanh|FastGELUActivation|GELUPytorchTanh)$"), "gelu_tanh"),
    (re.compile(r"^(GELUActivation|QuickGELUActivation)$"), "gelu"),
    (re.compile(r"^SiLUActivation$"), "silu"),
]

_LAYER_RE = re.compile(r"(?:^|\.)(?:layer|layers|h|blocks|block)\.(\d+)(?:\.|$)")


def layer_of(module_name: str) -> int | None:
    """Return the transformer layer index in a qualified module name (``encoder.layer.3.x`` -> 3)."""
    m = _LAYER_RE.search(module_name)
    return int(m.group(1)) if m else None


def _module_op(module: torch.nn.Module) -> str | None:
    name = type(module).__name__
    for pattern, op in _MODULE_OPS:
        if pattern.match(name):
            return op
    return None


def _shapes(values) -> list[list[int]]:
    flat, _ = tree_flatten(values)
    return [list(t.shape) for t in flat if isinstance(t, torch.Tensor)]


def weight_stats(w: np.ndarray) -> dict:
    """Nonzero fraction, mean and max magnitude and std (unbiased) of a flat float32 weight array.

    Computed by numpy in float64 in fixed-size blocks, in one order: the same bytes whatever torch's
    thread count (``HWSIM_TORCH_THREADS``), so a trace's op graph does not depend on it.
    """
    n = int(w.size)
    if n == 0:
        return {"nonzero_fraction": 0.0, "abs_mean": 0.0, "abs_max": 0.0, "std": 0.0}
    block = 1 << 20
    nonzero, abs_sum, abs_max, total = 0, 0.0, 0.0, 0.0
    for lo in range(0, n, block):
        x = w[lo:lo + block].astype(np.float64)
        nonzero += int(np.count_nonzero(x))
        a = np.abs(x)
        abs_sum += float(a.sum())
        abs_max = max(abs_max, float(a.max()))
        total += float(x.sum())
    mean = total / n
    sq = 0.0
    for lo in range(0, n, block):
        d = w[lo:lo + block].astype(np.float64) - mean
        sq += float((d * d).sum())
    return {"nonzero_fraction": nonzero / n, "abs_mean": abs_sum / n, "abs_max": abs_max,
            "std": math.sqrt(sq / (n - 1)) if n > 1 else 0.0}


class OpGraphRecorder(TorchFunctionMode):
    """Record the ops of a model's forward pass; use as a context manager around the call.

    After the ``with`` block, :attr:`nodes` holds the op graph as plain dicts
    ``{"name", "op", "layer", "inputs", "outputs", "weight"}`` (see ``docs/trace-format.md``).
    """

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self._params = {}
        for name, p in model.named_parameters(remove_duplicate=False):
            self._params.setdefault(id(p), (name, p))
        self._modules = {}
        for name, m in model.named_modules(remove_duplicate=False):
            self._modules.setdefault(id(m), name)
        self._stack: list[tuple[str, torch.nn.Module]] = []
        self._collapse: list[tuple[torch.nn.Module, str, list, bool]] = []
        self._tagged = WeakIdKeyDictionary()
        self._counts: Counter = Counter()
        self._stats: dict[int, dict] = {}
        self.nodes: list[dict] = []
        self._hooks = []

    # context ---------------------------------------------------------------------------------------
    def __enter__(self):
        from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

        self._hooks = [register_module_forward_pre_hook(self._pre), register_module_forward_hook(self._post)]
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            for h in self._hooks:
                h.remove()
            self._hooks = []

    # module hooks -----------------------------------------------------------------------------------
    def _pre(self, module, args):
        name = self._modules.get(id(module))
        if name is None:
            return
        self._stack.append((name, module))
        op = _module_op(module)
        if op is not None:
            self._collapse.append((module, op, _shapes(args), self._any_tagged(args)))

    def _post(self, module, args, output):
        name = self._modules.get(id(module))
        if name is None:
            return
        if self._collapse and self._collapse[-1][0] is module:
            _, op, in_shapes, tagged = self._collapse.pop()
            if not self._collapse and tagged:
                weight = getattr(module, "weight", None)
                self._emit(op, in_shapes, _shapes(output), weight if isinstance(weight, torch.nn.Parameter) else None,
                           None)
                self._tag(output)
        self._stack.pop()

    # tags --------------------------------------------------------------------------------------------
    def _any_tagged(self, values) -> bool:
        flat, _ = tree_flatten(values)
        return any(isinstance(t, torch.Tensor) and t in self._tagged for t in flat)

    def _tag(self, values) -> None:
        flat, _ = tree_flatten(values)
        for t in flat:
            if isinstance(t, torch.Tensor):
                self._tagged[t] = True

    # the mode -------------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        fname = getattr(func, "__name__", "")
        op = _FUNC_OPS.get(fname)
        tagged = self._any_tagged((args, kwargs))
        weight = bias = None
        if op is not None and fname in _WEIGHT_ARG:
            w_idx = _WEIGHT_ARG[fname]
            cand = args[w_idx] if len(args) > w_idx else kwargs.get("weight", kwargs.get("mat2"))
            if isinstance(cand, torch.nn.Parameter) and id(cand) in self._params:
                weight = cand
                b_idx = _BIAS_ARG.get(fname)
                b = args[b_idx] if b_idx is not None and len(args) > b_idx else kwargs.get("bias")
                bias = b if isinstance(b, torch.nn.Parameter) and id(b) in self._params else None
            elif op == "linear":
                op = "matmul" if fname == "addmm" else op
        if op is not None and not self._collapse and (tagged or weight is not None):
            if op == "gelu" and kwargs.get("approximate", args[1] if len(args) > 1 else "none") == "tanh":
                op = "gelu_tanh"
            ins = _shapes([a for i, a in enumerate(args) if weight is None or i not in (
                _WEIGHT_ARG[fname], _BIAS_ARG.get(fname))])
            self._emit(op, ins, _shapes(out), weight, bias)
            tagged = True
        if tagged:
            self._tag(out)
        return out

    # nodes -----------------------------------------------------------------------------------------
    def _weight_entry(self, p: torch.nn.Parameter, bias) -> dict:
        st = self._stats.get(id(p))
        if st is None:
            name, _ = self._params[id(p)]
            with torch._C.DisableTorchFunction():
                w = p.detach().to(torch.float32).contiguous().numpy().reshape(-1)
            st = {"name": name, "shape": list(p.shape), "numel": int(p.numel()), **weight_stats(w)}
            self._stats[id(p)] = st
        entry = dict(st)
        entry["bias"] = self._params[id(bias)][0] if bias is not None else None
        return entry

    def _emit(self, op, in_shapes, out_shapes, weight, bias) -> None:
        module, obj = self._stack[-1] if self._stack else ("", None)
        if weight is not None and module and weight is getattr(obj, "weight", None):
            base = module  # the module that owns the weight names the op: "encoder.layer.0.attention.self.query"
        else:
            base = f"{module}.{op}" if module else op
        n = self._counts[base]
        self._counts[base] += 1
        self.nodes.append({
            "name": base if n == 0 else f"{base}#{n}",
            "op": op,
            "layer": layer_of(module),
            "inputs": in_shapes,
            "outputs": out_shapes,
            "weight": self._weight_entry(weight, bias) if weight is not None else None,
        })


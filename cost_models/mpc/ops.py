"""The operations every MPC protocol model prices, and how each reads its shape.

Four shape kinds:

``elements``
    any shape; the operation is element-wise on ``prod(shape)`` secret values (binary operations
    such as ``mul`` and ``gt`` take two secret operands of that shape).
``rows``
    ``(..., m)``: the operation works along the last dimension of length ``m``, once per row
    (``rows = prod(shape[:-1])``; a 1-dimensional shape is one row).
``matmul``
    ``m,k,n`` or ``b,m,k,n``: a (batched) product of a ``(b,)m x k`` and a ``(b,)k x n`` matrix.
``attention``
    ``tokens,head_dim`` or ``heads,tokens,head_dim``: per-head Q, K, V of that size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

from hwsim.errors import HwsimError

__all__ = ["OpInfo", "OPS", "parse_shape", "check_shape", "op_info"]

ShapeKind = Literal["elements", "rows", "matmul", "attention"]


@dataclass(frozen=True)
class OpInfo:
    """One operation: its name, the kind of shape it takes and a one-line meaning."""

    name: str
    kind: ShapeKind
    description: str


OPS: dict[str, OpInfo] = {
    o.name: o
    for o in [
        OpInfo("mul", "elements", "secret x secret element-wise product"),
        OpInfo("square", "elements", "element-wise square of a secret"),
        OpInfo("matmul", "matmul", "secret x secret matrix product (e.g. activations x secret weights)"),
        OpInfo("matmul_public", "matmul", "secret x public matrix product (public weights)"),
        OpInfo("div_public", "elements", "division by a public constant (fixed-point truncation)"),
        OpInfo("gt", "elements", "secret x > secret y comparison"),
        OpInfo("relu", "elements", "ReLU(x) = x * (x >= 0)"),
        OpInfo("exp", "elements", "exponential"),
        OpInfo("reciprocal", "elements", "1/x for x of unknown sign"),
        OpInfo("inv_sqrt", "elements", "1/sqrt(x)"),
        OpInfo("sigmoid", "elements", "logistic sigmoid"),
        OpInfo("tanh", "elements", "hyperbolic tangent"),
        OpInfo("silu", "elements", "SiLU(x) = x * sigmoid(x) (Llama MLP)"),
        OpInfo("max", "rows", "row maximum over the last dimension (CrypTen also computes the argmax)"),
        OpInfo("argmax", "rows", "one-hot argmax over the last dimension"),
        OpInfo("softmax", "rows", "softmax over the last dimension"),
        OpInfo("relu_softmax", "rows", "MPCViT ReLU-softmax: relu(x) / (sum(relu(x)) + 1e-5)"),
        OpInfo("quad2", "rows", "MPCFormer 2Quad: (x + 5)^2 / sum((x + 5)^2)"),
        OpInfo("scaling", "elements", "MPCViT scaling attention: x / N with N public"),
        OpInfo("linear_attention", "attention", "MPCViT linear scaling attention q (k^T v) / N"),
        OpInfo("gelu_erf", "elements", "GeLU x (1 + erf(x / sqrt 2)) / 2"),
        OpInfo("gelu_tanh", "elements", "GeLU tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"),
        OpInfo("gelu_quad", "elements", "MPCFormer Quad GeLU 0.125 x^2 + 0.25 x + 0.5"),
        OpInfo("layernorm", "rows", "LayerNorm over the last dimension, secret gamma and beta"),
        OpInfo("rmsnorm", "rows", "RMSNorm over the last dimension, secret gamma"),
    ]
}


def op_info(op: str) -> OpInfo:
    """Return the :class:`OpInfo` of ``op``; raise a one-line :class:`HwsimError` for an unknown name."""
    try:
        return OPS[op]
    except KeyError:
        raise HwsimError(f"unknown MPC operation {op!r}; expected one of: {', '.join(OPS)}") from None


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse ``"16,64"`` into ``(16, 64)``; raise :class:`HwsimError` unless all parts are positive ints."""
    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise HwsimError(f"--shape {text}: expected comma-separated positive integers, e.g. 16,64") from None
    if not dims or any(d <= 0 for d in dims):
        raise HwsimError(f"--shape {text}: expected comma-separated positive integers, e.g. 16,64")
    return dims


_EXPECT = {
    "elements": "one or more positive integers",
    "rows": "one or more positive integers, the last being the reduced dimension",
    "matmul": "m,k,n or b,m,k,n (3 or 4 positive integers)",
    "attention": "tokens,head_dim or heads,tokens,head_dim (2 or 3 positive integers)",
}
_NDIMS = {"matmul": (3, 4), "attention": (2, 3)}


def check_shape(op: str, shape: Sequence[int]) -> tuple[int, ...]:
    """Return ``shape`` as a tuple after checking it fits ``op``; raise :class:`HwsimError` if not."""
    info = op_info(op)
    dims = tuple(shape)
    ok = bool(dims) and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims)
    if ok and info.kind in _NDIMS:
        ok = len(dims) in _NDIMS[info.kind]
    if not ok:
        text = ",".join(str(d) for d in dims) or "(empty)"
        raise HwsimError(f"operation {op!r}: shape {text} does not fit; expected {_EXPECT[info.kind]}")
    return dims


def numel(shape: Sequence[int]) -> int:
    """Number of elements of ``shape``."""
    return math.prod(shape)

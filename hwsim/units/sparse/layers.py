"""DASS's SparseLinear / SparseConv2d in functional form: the dense layer with ``weight * mask``.

DASS (``DASS/layers.py`` ``SubnetLinear``/``SubnetConv``, docs/sources.md Sparse §4) computes
``F.linear(x, w * mask, b)`` and ``F.conv2d(x, w * mask, b, ...)``; these functions do the same on
numpy arrays (float64, so the error against the dense layer is the mask's, not rounding's).
"""

from __future__ import annotations

import numpy as np

__all__ = ["sparse_linear", "sparse_conv2d", "relative_error", "im2col"]


def sparse_linear(x: np.ndarray, weight: np.ndarray, mask: np.ndarray | None = None,
                  bias: np.ndarray | None = None) -> np.ndarray:
    """``x @ (weight * mask).T + bias`` (``x``: ... x in, ``weight``: out x in)."""
    w = np.asarray(weight, np.float64)
    if mask is not None:
        w = np.where(mask.reshape(w.shape), w, 0.0)
    y = np.asarray(x, np.float64) @ w.T
    return y if bias is None else y + np.asarray(bias, np.float64)


def im2col(x: np.ndarray, r: int, s: int, stride: int = 1) -> np.ndarray:
    """Patches of an input ``c`` x ``h`` x ``w`` (no padding) as rows ``(oh*ow) x (c*r*s)`` (torch's weight order)."""
    c, h, w = x.shape
    oh, ow = (h - r) // stride + 1, (w - s) // stride + 1
    v = np.lib.stride_tricks.sliding_window_view(x, (r, s), axis=(1, 2))[:, ::stride, ::stride][:, :oh, :ow]
    return v.transpose(1, 2, 0, 3, 4).reshape(oh * ow, c * r * s)


def sparse_conv2d(x: np.ndarray, weight: np.ndarray, mask: np.ndarray | None = None,
                  bias: np.ndarray | None = None, *, stride: int = 1, padding: int = 0,
                  groups: int = 1) -> np.ndarray:
    """Convolution of ``x`` (``c`` x ``h`` x ``w``) with ``weight * mask`` (``k`` x ``c/groups`` x ``r`` x ``s``).

    Returns ``k`` x ``oh`` x ``ow``; computed as im2col GEMMs, one per group.
    """
    w = np.asarray(weight, np.float64)
    if mask is not None:
        w = np.where(mask.reshape(w.shape), w, 0.0)
    x = np.asarray(x, np.float64)
    if padding:
        x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    k, cg, r, s = w.shape
    kg = k // groups
    outs = []
    for g in range(groups):
        cols = im2col(x[g * cg:(g + 1) * cg], r, s, stride)
        outs.append(cols @ w[g * kg:(g + 1) * kg].reshape(kg, -1).T)
    oh, ow = (x.shape[1] - r) // stride + 1, (x.shape[2] - s) // stride + 1
    y = np.concatenate(outs, axis=1).T.reshape(k, oh, ow)
    return y if bias is None else y + np.asarray(bias, np.float64)[:, None, None]


def relative_error(y: np.ndarray, reference: np.ndarray) -> float:
    """``||y - reference|| / ||reference||`` (Frobenius; 0 when both are zero)."""
    ref = float(np.linalg.norm(reference))
    diff = float(np.linalg.norm(np.asarray(y) - np.asarray(reference)))
    return diff / ref if ref else diff

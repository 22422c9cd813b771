"""Weight and activation masks: DASS/HYDRA unstructured, magnitude, N:M, and measured activation sparsity.

Every mask is a boolean array of the weight's (or activation's) shape, ``True`` = kept. Weights are
``n`` x ``k`` (filters x window; a conv weight ``k_out x c x r x s`` is flattened to
``k_out x (c r s)``, the im2col order). Selection is deterministic: ties are broken by position
(a stable sort), so the same weights give the same mask bytes.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import HwsimError

__all__ = ["check_density", "hydra_scores", "hydra_mask", "magnitude_mask", "nm_mask", "activation_mask",
           "bernoulli_mask", "density"]


def check_density(value: object, name: str = "--density") -> float:
    """Return ``value`` as a float if it lies in (0, 1], else raise :class:`HwsimError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
        raise HwsimError(f"{name} must be a number in (0, 1], not {value!r}")
    return float(value)


def density(mask: np.ndarray) -> float:
    """Fraction of ``True`` entries."""
    return float(np.count_nonzero(mask)) / mask.size if mask.size else 0.0


def _top_fraction(scores: np.ndarray, keep: float) -> np.ndarray:
    """Mask keeping the ``round(keep * size)`` (at least 1) largest ``scores``; ties go to earlier positions."""
    flat = scores.ravel()
    k = max(1, int(round(keep * flat.size)))
    if k >= flat.size:
        return np.ones(scores.shape, np.bool_)
    threshold = np.partition(flat, flat.size - k)[flat.size - k]  # the k-th largest score
    mask = flat > threshold
    ties = np.flatnonzero(flat == threshold)
    mask[ties[:k - int(mask.sum())]] = True
    return mask.reshape(scores.shape)


def _as_matrix(weight: np.ndarray) -> np.ndarray:
    w = np.asarray(weight, np.float64)
    if w.ndim < 2:
        raise HwsimError(f"A weight must have at least 2 dimensions (filters x window), not shape {w.shape}")
    return w.reshape(w.shape[0], -1)


def hydra_scores(weight: np.ndarray) -> np.ndarray:
    """HYDRA's scaled score initialisation: ``sqrt(6 / fan_in) * w / max|w|`` (DASS, docs/sources.md Sparse §4)."""
    w = _as_matrix(weight)
    top = np.max(np.abs(w))
    if top == 0:
        return np.zeros_like(w)
    return math.sqrt(6.0 / w.shape[1]) * w / top


def hydra_mask(weight: np.ndarray, keep: float, scores: np.ndarray | None = None) -> np.ndarray:
    """DASS/HYDRA ``GetSubnet``: keep the top ``keep`` fraction of ``|scores|`` over the whole layer.

    ``scores`` default to :func:`hydra_scores` (proportional to the weights, so before any score
    training the mask equals :func:`magnitude_mask`). Returns an ``n`` x ``k`` mask.
    """
    keep = check_density(keep, "keep fraction")
    s = hydra_scores(weight) if scores is None else _as_matrix(scores)
    return _top_fraction(np.abs(s), keep)


def magnitude_mask(weight: np.ndarray, keep: float) -> np.ndarray:
    """Magnitude pruning: keep the top ``keep`` fraction of ``|w|`` over the whole layer (``n`` x ``k``)."""
    keep = check_density(keep, "keep fraction")
    return _top_fraction(np.abs(_as_matrix(weight)), keep)


def nm_mask(weight: np.ndarray, n: int, m: int) -> np.ndarray:
    """N:M structured mask: in every ``m`` consecutive weights along K keep the ``n`` largest ``|w|``."""
    w = _as_matrix(weight)
    if not 1 <= n <= m:
        raise HwsimError(f"N:M needs 1 <= N <= M, not N = {n}, M = {m}")
    rows, k = w.shape
    if k % m:
        raise HwsimError(f"N:M block size M = {m} must divide K = {k}")
    blocks = np.abs(w).reshape(rows, k // m, m)
    order = np.argsort(-blocks, axis=2, kind="stable")
    mask = np.zeros(blocks.shape, np.bool_)
    np.put_along_axis(mask, order[:, :, :n], True, axis=2)
    return mask.reshape(rows, k)


def activation_mask(activations: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Non-zero activations: ``|a| > threshold`` (0 keeps every exact non-zero, e.g. after ReLU)."""
    if not threshold >= 0:
        raise HwsimError(f"Activation threshold must be >= 0, not {threshold!r}")
    return np.abs(np.asarray(activations)) > threshold


def bernoulli_mask(shape: tuple[int, ...], p: float, *, seed: int) -> np.ndarray:
    """Independent Bernoulli(``p``) mask (a random-sparsity baseline), from an explicit seed."""
    check_density(p, "Bernoulli density")
    return np.random.default_rng(seed).random(shape) < p

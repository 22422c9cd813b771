"""Golden quantization as SpAtten stores and converts Q, K, V (SpAtten §3.4 and §4).

* Q, K and V of one (layer, head) tensor are quantized **linear symmetric** with one scale per tensor
  (SpAtten §3.4 "linear symmetric quantization"; §4: scores are dequantized with one scale factor).
* Progressive quantization stores a ``msb + lsb``-bit value as two planes. Fetching only the MSB
  plane gives the value with its ``lsb`` low bits zero: the bit-width converter places the MSBs in
  the upper bits (released RTL ``MatrixFetcher`` ``high_bits``), i.e. ``(q >> lsb) << lsb``
  (arithmetic shift: rounds toward minus infinity).
* Softmax is floating point; probabilities are re-quantized to fixed point for prob x V
  (SpAtten §4), here unsigned with ``bits`` bits over [0, 1].
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["quantize_symmetric", "quantize_heads", "dequantize", "drop_lsbs", "dequantize_msb", "quantize_probs",
           "to_float32"]


_F16_TABLE: np.ndarray | None = None  # float32 value of each of the 65,536 float16 bit patterns


def to_float32(a) -> np.ndarray:
    """``np.asarray(a, np.float32)``, bit for bit; float16 (how a trace stores Q, K and V) is widened in one
    compiled pass through a table of the 65,536 float16 bit patterns, built once with numpy's own
    conversion (so NaN payloads, infinities and subnormals are numpy's), about 5x numpy's ``astype``."""
    a = np.asarray(a)
    if a.dtype != np.float16:
        return np.asarray(a, np.float32)
    global _F16_TABLE
    if _F16_TABLE is None:
        _F16_TABLE = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    out = np.empty(a.shape, np.float32)
    _widen16(np.ascontiguousarray(a).view(np.uint16).reshape(-1), _F16_TABLE, out.reshape(-1))
    return out


@njit(cache=True)
def _widen16(bits, table, out):
    for i in range(bits.size):
        out[i] = table[bits[i]]


def quantize_symmetric(x: np.ndarray, bits: int, amax: float | None = None) -> tuple[np.ndarray, float]:
    """Quantize ``x`` to signed ``bits``-bit integers with one scale; return (int32 array, scale).

    ``scale = amax / (2**(bits-1) - 1)`` (1.0 when ``amax`` is 0), with ``amax = max|x|`` unless a
    calibrated range is given; values are rounded to the nearest integer and clipped to
    ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]`` (so values beyond a calibrated range saturate).
    """
    if bits < 2:
        raise ValueError(f"bits must be at least 2, not {bits}")
    x = np.asarray(x, dtype=np.float32)
    qmax = (1 << (bits - 1)) - 1
    if amax is None:  # max|x| without a temporary |x| (the same value: negation is exact)
        amax = float(max(x.max(), -x.min())) if x.size else 0.0
    scale = amax / qmax if amax > 0 else 1.0
    if bits <= 24:  # float32 holds every code exactly
        t = x / np.float32(scale)
        np.rint(t, out=t)
        q = np.clip(t, -qmax, qmax, out=t).astype(np.int32)
    else:
        q = np.clip(np.rint(x.astype(np.float64) / scale), -qmax, qmax).astype(np.int32)
    return q, scale


def quantize_heads(x: np.ndarray, bits: int, amax: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Quantize each head tensor ``x[h]`` with its own scale; return (integer codes, float64 scales [heads]).

    ``amax`` [heads]: calibrated ranges (default: each head tensor's own max|x|). Codes are int16
    up to 16 bits, int32 beyond.
    """
    codes = np.empty(x.shape, np.int16 if bits <= 16 else np.int32)
    scales = np.empty(x.shape[0], np.float64)
    if bits > 16 or x.ndim < 2 or x.size == 0 or bits < 2:
        for h in range(x.shape[0]):
            codes[h], scales[h] = quantize_symmetric(x[h], bits, None if amax is None else float(amax[h]))
        return codes, scales
    # every head in one pass, element for element what quantize_symmetric does to that head: max and min
    # are exact in any order, each element is divided by its head's float32 scale, clipped, then rounded
    # half to even (clipping first to the whole number qmax gives the same code)
    x2 = np.ascontiguousarray(x, dtype=np.float32).reshape(x.shape[0], -1)
    qmax = (1 << (bits - 1)) - 1
    if amax is None:
        ranges = np.maximum(x2.max(axis=1), -x2.min(axis=1)).astype(np.float64)
    else:
        ranges = np.array([float(a) for a in amax], np.float64)
    scales[:] = np.where(ranges > 0, ranges / qmax, 1.0)
    _codes16(x2, scales.astype(np.float32), np.float32(qmax), codes.reshape(x2.shape))
    return codes, scales


#: 1.5 * 2**23: adding and subtracting it rounds a float32 of magnitude below 2**22 to a whole number,
#: half to even (the IEEE default rounding, as ``np.rint``); codes of at most 16 bits are far inside.
_ROUND = np.float32(12582912.0)


@njit(cache=True)
def _codes16(x, s32, qmax, out):
    """``out[h, i] = rint(clip(x[h, i] / s32[h], -qmax, qmax))`` in float32 (IEEE, no fast-math), as int16."""
    for h in range(x.shape[0]):
        s, row, o = s32[h], x[h], out[h]
        for i in range(row.size):
            v = row[i] / s
            if v > qmax:
                v = qmax
            elif v < -qmax:
                v = -qmax
            o[i] = np.int16((v + _ROUND) - _ROUND)


def dequantize(q: np.ndarray, scale: float) -> np.ndarray:
    """Return ``q * scale`` as float32."""
    out = q.astype(np.float32)
    out *= np.float32(scale)  # in place on the fresh copy
    return out


def drop_lsbs(q: np.ndarray, lsb_bits: int) -> np.ndarray:
    """Return ``q`` as seen when only its MSB plane is fetched: the ``lsb_bits`` low bits zero."""
    return (q >> lsb_bits) << lsb_bits


def dequantize_msb(q: np.ndarray, scale: float, lsb_bits: int) -> np.ndarray:
    """Return the float32 values the datapath sees when only the MSB plane of ``q`` is fetched."""
    return dequantize(drop_lsbs(q, lsb_bits) if lsb_bits else q, scale)


def quantize_probs(p: np.ndarray, bits: int, *, inplace: bool = False) -> np.ndarray:
    """Re-quantize probabilities in [0, 1] to unsigned ``bits``-bit fixed point; return float32 values.

    ``inplace`` overwrites ``p`` (a float32 array) with the result: the same values, no temporaries.
    """
    levels = np.float32((1 << bits) - 1)
    if inplace and isinstance(p, np.ndarray) and p.dtype == np.float32:
        if p.flags.c_contiguous:
            _quantize_probs_flat(p.reshape(-1), levels)  # one pass; bit-identical to the three below
            return p
        np.multiply(p, levels, out=p)
        np.rint(p, out=p)
        np.divide(p, levels, out=p)
        return p
    return np.rint(np.asarray(p, np.float32) * levels) / levels


@njit(cache=True)
def _quantize_probs_flat(flat, levels):
    """``flat[i] = rint(flat[i] * levels) / levels`` in float32, element by element (IEEE, no fast-math)."""
    for i in range(flat.size):
        flat[i] = np.rint(flat[i] * levels) / levels

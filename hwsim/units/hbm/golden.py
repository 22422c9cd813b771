"""Golden model of the fetcher + HBM: transactions per channel for a set of vectors, and cycles.

Microarchitecture (SpAtten §4 and the released RTL, docs/sources.md SpAtten §2.2):

* Each (layer, head, kind) tensor is stored contiguously in DRAM, vector j at byte offset
  ``j * vector_bytes`` from a base aligned to ``interleave_bytes * channels`` (so its first granule
  sits on channel 0). MSB and LSB planes of quantized K/V are separate regions ("MSBs stored
  contiguously and LSBs contiguously", SpAtten §3.4), each laid out this way.
* Addresses are interleaved across channels in ``interleave_bytes`` granules: granule g lives on
  channel ``g mod channels`` (released RTL ``Crossbar``: channel = addr[5 + log2(ch) - 1 : 5]).
  A granule is also the transaction size (32-byte AXI transactions, ``MatrixFetcher.scala``).
* A fetch of a set of vectors reads every granule any of them overlaps, each once (neighbouring
  kept vectors share granules). Channels work in parallel; each moves ``channel_bytes_per_cycle``
  per cycle, so the fetch occupies the HBM for ``ceil(max_channel_granules * interleave_bytes /
  channel_bytes_per_cycle)`` cycles, plus a fixed read latency before the first data returns.

Bytes are reported twice: ``bus_bytes`` (granules x interleave: what the HBM moves and what costs
energy) and ``payload_bytes`` (vectors x vector_bytes: what the algorithm asked for).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["vector_bytes", "transfer", "transfers", "transfers_new", "transfer_widths", "transfer_cycles", "busy_cycles"]


def vector_bytes(head_dim: int, bits: int) -> int:
    """Bytes of one stored vector of ``head_dim`` elements at ``bits`` bits (must be whole bytes)."""
    total = head_dim * bits
    if total % 8:
        raise ValueError(f"a {head_dim}-element vector at {bits} bits is not a whole number of bytes")
    return total // 8


@njit(cache=True, inline="always")
def _add_vector(counts, j, last, vec_bytes, interleave, channels):
    """Count the granules of vector ``j`` not already read (``last``: the last granule read); return the new last."""
    first = (j * vec_bytes) // interleave
    end = ((j + 1) * vec_bytes - 1) // interleave
    if first <= last:
        first = last + 1
    for g in range(first, end + 1):
        counts[g % channels] += 1
    return end if end > last else last


@njit(cache=True)
def _granules_per_channel(indices, vec_bytes, interleave, channels):
    counts = np.zeros(channels, np.int64)
    last = -1
    for i in range(indices.shape[0]):
        last = _add_vector(counts, indices[i], last, vec_bytes, interleave, channels)
    return counts


def transfer(indices: np.ndarray, vec_bytes: int, *, interleave_bytes: int, channels: int) -> tuple[np.ndarray, int, int]:
    """Return (granules per channel, bus_bytes, payload_bytes) for fetching vectors ``indices``.

    ``indices`` must be sorted ascending and unique (the top-k engine emits them in input order).
    """
    idx = np.ascontiguousarray(indices, dtype=np.int64)
    if vec_bytes <= 0 or idx.size == 0:
        return np.zeros(channels, np.int64), 0, 0
    counts = _granules_per_channel(idx, vec_bytes, interleave_bytes, channels)
    return counts, int(counts.sum()) * interleave_bytes, int(idx.size) * vec_bytes


@njit(cache=True)
def _granules_many(indices, bounds, vec_bytes, interleave, channels):
    counts = np.zeros((bounds.shape[0] - 1, channels), np.int64)
    for r in range(bounds.shape[0] - 1):
        if bounds[r + 1] > bounds[r]:
            counts[r] = _granules_per_channel(indices[bounds[r]:bounds[r + 1]], vec_bytes, interleave, channels)
    return counts


def transfers(index_sets: list, vec_bytes: int, *, interleave_bytes: int, channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`transfer` of several fetches at once: (granules [fetch, channel], bus_bytes [fetch], payload_bytes [fetch]).

    Each set must be sorted ascending and unique; row ``i`` equals ``transfer(index_sets[i], ...)``
    (one compiled call instead of one per fetch: a generation layer fetches every row's V).
    """
    sizes = np.array([len(ix) for ix in index_sets], np.int64)
    if vec_bytes <= 0 or not sizes.sum():
        return np.zeros((sizes.size, channels), np.int64), np.zeros(sizes.size, np.int64), np.zeros(sizes.size, np.int64)
    idx = np.concatenate([np.asarray(ix, np.int64) for ix in index_sets])
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    counts = _granules_many(idx, bounds, vec_bytes, interleave_bytes, channels)
    return counts, counts.sum(axis=1) * interleave_bytes, sizes * vec_bytes


@njit(cache=True)
def _granules_widths(indices, widths, interleave, channels):
    counts = np.zeros((widths.shape[0], channels), np.int64)
    for w in range(widths.shape[0]):
        if widths[w] > 0:
            counts[w] = _granules_per_channel(indices, widths[w], interleave, channels)
    return counts


def transfer_widths(indices: np.ndarray, widths, *, interleave_bytes: int,
                    channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`transfer` of the same vectors at several vector sizes (``widths`` bytes each; one layer's K,
    LSB plane and fused K pair over the same keys): (granules [width, channel], bus_bytes [width],
    payload_bytes [width]), row ``w`` equal to ``transfer(indices, widths[w], ...)``, in one compiled call."""
    idx = np.ascontiguousarray(indices, dtype=np.int64)
    w = np.maximum(np.asarray(widths, np.int64), 0)
    counts = _granules_widths(idx, w, interleave_bytes, channels)
    return counts, counts.sum(axis=1) * interleave_bytes, idx.size * w


@njit(cache=True)
def _granules_new(indices, sizes, owner, n_owners, length, vec_bytes, interleave, channels):
    n = sizes.shape[0]
    out = np.zeros((3, n), np.int64)  # busiest channel's granules, all granules, new vectors
    seen = np.zeros((n_owners, length), np.bool_)
    counts = np.zeros(channels, np.int64)
    i = 0
    for r in range(n):
        o, last = owner[r], -1
        counts[:] = 0
        for _ in range(sizes[r]):
            j = indices[i]
            i += 1
            if not seen[o, j]:
                seen[o, j] = True
                out[2, r] += 1
                last = _add_vector(counts, j, last, vec_bytes, interleave, channels)
        out[0, r] = counts.max()
        out[1, r] = counts.sum()
    return out


def transfers_new(index_sets: list, owners, vec_bytes: int, *, interleave_bytes: int, channels: int,
                  length: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each set adds to its owner's earlier sets, fetched: (busiest channel's granules [fetch],
    bus_bytes [fetch], payload_bytes [fetch]).

    Set ``i`` (sorted ascending, unique, non-negative positions below ``length``, default: their
    maximum + 1) fetches only the positions that no earlier set with the same ``owners[i]`` (a small
    non-negative int) fetched: its row is that of :func:`transfer` of ``np.setdiff1d(index_sets[i],
    union of the owner's earlier sets)`` (a generation layer's rows of one K/V group share the V
    vectors the group has fetched), in one compiled call.
    """
    sizes = np.array([len(ix) for ix in index_sets], np.int64)
    idx = np.concatenate([np.asarray(ix, np.int64) for ix in index_sets]) if index_sets else np.zeros(0, np.int64)
    if vec_bytes <= 0 or not idx.size:
        zero = np.zeros(sizes.size, np.int64)
        return zero, zero, zero
    owner = np.asarray(owners, np.int64)
    out = _granules_new(idx, sizes, owner, int(owner.max()) + 1, length or int(idx.max()) + 1, vec_bytes,
                        interleave_bytes, channels)
    return out[0], out[1] * interleave_bytes, out[2] * vec_bytes


def transfer_cycles(granules_per_channel: np.ndarray, *, interleave_bytes: int, channel_bytes_per_cycle: float,
                    latency_cycles: int) -> int:
    """Cycles the HBM is busy for a transfer (0 for an empty one): slowest channel plus read latency."""
    busiest = int(np.max(granules_per_channel)) if len(granules_per_channel) else 0
    return busy_cycles(busiest, interleave_bytes=interleave_bytes, channel_bytes_per_cycle=channel_bytes_per_cycle,
                       latency_cycles=latency_cycles)


def busy_cycles(busiest: int, *, interleave_bytes: int, channel_bytes_per_cycle: float, latency_cycles: int) -> int:
    """:func:`transfer_cycles` from the busiest channel's granule count (0 for an empty transfer)."""
    if busiest == 0:
        return 0
    return int(math.ceil(busiest * interleave_bytes / channel_bytes_per_cycle - 1e-9)) + int(latency_cycles)

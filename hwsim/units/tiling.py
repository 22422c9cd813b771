"""Rows longer than one SRAM load: the tile plan of ``design.sram.tiling`` (hwsim's extension of SpAtten).

SpAtten holds a K/V group's keys in one half of the double-buffered key SRAM and a row's
exponentials in the softmax FIFO until its sum is known (SpAtten §4, docs/sources.md SpAtten §2.2);
the paper runs nothing longer. ``tiling = "two-pass"`` says what the same units do beyond that:

* **Two passes per row** when a row's keys exceed the softmax FIFO (``fifo_depth x parallelism``)
  or one key-SRAM buffer: pass 1 streams the row's scores through the exponent and accumulate
  stages keeping the running max and sum (the online normalizer, Milakov & Gimelshein 2018,
  arXiv:1805.02867: one pass for both); the progressive-quantization decision is known after it
  (the max probability is ``1 / sum`` with the max subtracted); pass 2 recomputes the scores and
  normalizes, feeding local-V top-k and prob x V as an untiled row does. A row that needs its K
  LSBs runs a second statistics pass at full precision before pass 2: ``2 + requant`` passes of
  Q x K and softmax instead of ``1 + requant``.
* **K streamed in tiles** when a group's keys exceed one buffer (``key_tile`` keys): in
  summarization the alive queries are taken in blocks of ``query_block``, and each block streams
  the group's K MSB plane once per pass: ``2 + any_requant`` times per block, and the LSB plane
  twice per block with a requant row (both full-precision passes). In generation a block is the
  step's one query (every head of the group). The tile being computed and the next one fill the
  two halves of the key SRAM (double buffer), so a streaming group holds all of it.
  Keys that fit one buffer stay resident through both passes: nothing is re-fetched.
* **V** is fetched once per group when the V vectors its rows use fit one value-SRAM buffer
  (``value_tile``), otherwise once per query block (the union the block's rows use).

A workload whose rows fit (keys <= ``key_tile`` and <= the FIFO) runs exactly as untiled: one
pass, one fetch. ``tiling = "none"`` refuses what does not fit (:func:`hwsim.spatten.check_fits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import HwsimError
from .common import check_int

__all__ = ["TilingParams", "MODES"]

#: Values of ``design.sram.tiling``.
MODES = ("two-pass", "none")


@dataclass(frozen=True, kw_only=True)
class TilingParams:
    """The tile plan: capacities in keys (vectors) and rows (scores); see the module docstring."""

    mode: str = "two-pass"
    key_tile: int  # keys per key-SRAM buffer (one half of sram.key_bytes)
    value_tile: int  # V vectors per value-SRAM buffer
    row_capacity: int  # scores whose exponentials the softmax FIFO holds
    query_block: int = 128

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise HwsimError(f"tiling mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        for name in ("key_tile", "value_tile", "row_capacity", "query_block"):
            check_int(f"tiling {name}", getattr(self, name), 0 if name.endswith("tile") else 1, 1 << 30)

    @classmethod
    def from_design(cls, design, head_dim: int) -> "TilingParams":
        """The plan of a :class:`hwsim.config.Design` for heads of ``head_dim`` (vectors at the datapath width)."""
        vec = head_dim * design.datapath_bits // 8
        sm = design.softmax
        return cls(mode=design.sram.tiling, key_tile=design.sram.key_bytes // 2 // vec,
                   value_tile=design.sram.value_bytes // 2 // vec, row_capacity=sm.fifo_depth * sm.parallelism,
                   query_block=design.sram.query_block)

    def two_pass(self, n_keys) -> np.ndarray:
        """Rows of ``n_keys`` keys that need a statistics pass (bool, elementwise)."""
        n = np.asarray(n_keys, np.int64)
        return (n > self.row_capacity) | (n > self.key_tile)

    def passes(self, n_keys, requant) -> np.ndarray:
        """Passes of Q x K and softmax per row: ``1 + requant``, or ``2 + requant`` for a two-pass row."""
        return (1 + self.two_pass(n_keys) + np.asarray(requant, bool)).astype(np.int64)

    def streams_k(self, n_keys: int) -> bool:
        """True when a group of ``n_keys`` keys does not fit one key-SRAM buffer (its K is streamed in tiles)."""
        return int(n_keys) > self.key_tile

    def k_streams(self, n_keys: int, requant: bool) -> tuple[int, int]:
        """Times one query block reads the group's K MSB and LSB planes from DRAM: ``(msb, lsb)``."""
        if not self.streams_k(n_keys):
            return 1, int(bool(requant))
        return 2 + int(bool(requant)), 2 * int(bool(requant))

    def held_keys(self, n_keys: int) -> int:
        """Keys a group holds in the key SRAM while it computes: all of them, or both buffers when streamed."""
        return 2 * self.key_tile if self.streams_k(n_keys) else int(n_keys)

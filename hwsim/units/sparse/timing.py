"""The memory side of a sparse linear/conv layer: compressed bytes, SRAM tiling, overlap with the HBM.

What is demanded (the golden view's compute cycles and each operand's bytes) is kept apart from when it
is served (the HBM unit, :mod:`hwsim.units.hbm.golden`, turns bytes into cycles).

Storage formats (docs/sources.md Sparse §5, "Compressed storage costs"; ``b`` = value bits):

* ``dense``: ``numel * b`` bits;
* ``bitmask`` (SparTen): ``nnz * b + numel`` bits;
* ``csr`` (one row per filter): ``nnz * (b + ceil(log2 k)) + (rows + 1) * ceil(log2(nnz + 1))`` bits;
* ``nm``: ``nnz * b + nnz * ceil(log2 M)`` bits (2:4: 2 index bits per kept value).

Each engine reads its weights in one format: dense -> ``dense``, weight-sparse -> ``csr``,
dual-sparse -> ``bitmask`` (its activations too), nm -> ``nm``. Activations are otherwise dense; outputs
are written dense at ``b`` bits.

SRAM tiling (the fold loops of golden.py: column folds outer, row folds inner, SCALE-Sim's order).
The operand indexed by the outer loop is fetched once; the one re-used by every outer iteration is
fetched once if it fits its SRAM, else once per outer iteration; partial sums spill when the outputs
do not fit:

* ``os``: weights once; activations once, else ``ceil(n / C)`` times; outputs once;
* ``ws``: weights once; activations once, else ``ceil(n / C)`` times; outputs once, else written and
  read back between K folds (``2 * kfolds - 1`` passes);
* ``is``: activations once; weights once, else ``ceil(m / C)`` times; outputs as ``ws``.

Cycles: double-buffered SRAMs overlap compute with the HBM, so ``total_cycles = max(compute_cycles,
hbm_cycles)``, where ``hbm_cycles`` is the HBM unit's busy time for the layer's bytes laid out
contiguously (interleaved over the channels, plus the read latency once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import HwsimError
from ..hbm.golden import transfer, transfer_cycles
from .golden import EngineCycles
from .params import MemoryParams, SparsityParams, SystolicParams

__all__ = ["FORMATS", "ENGINE_FORMAT", "LayerTiming", "format_bits", "layer_bytes", "hbm_cycles", "layer_timing"]

FORMATS = ("dense", "bitmask", "csr", "nm")
ENGINE_FORMAT = {"dense": "dense", "weight-sparse": "csr", "dual-sparse": "bitmask", "nm": "nm"}


def _bits_for(count: int) -> int:
    """Bits of an index ``0 .. count - 1`` (at least 1)."""
    return max(1, math.ceil(math.log2(count))) if count > 1 else 1


def format_bits(fmt: str, mask: np.ndarray, value_bits: int, *, m: int = 4) -> tuple[int, int]:
    """(value bits, metadata bits) of a ``rows`` x ``k`` operand with non-zero ``mask`` stored as ``fmt``."""
    rows, k = mask.shape
    numel = rows * k
    nnz = int(np.count_nonzero(mask))
    if fmt == "dense":
        return numel * value_bits, 0
    if fmt == "bitmask":
        return nnz * value_bits, numel
    if fmt == "csr":
        return nnz * value_bits, nnz * _bits_for(k) + (rows + 1) * _bits_for(nnz + 1)
    if fmt == "nm":
        return nnz * value_bits, nnz * (math.ceil(math.log2(m)) if m > 1 else 0)
    raise HwsimError(f"Storage format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _bytes(bits: int) -> int:
    return -(-bits // 8)


@dataclass(frozen=True, kw_only=True)
class LayerTiming:
    """One layer on one engine: cycles and DRAM bytes (by operand)."""

    compute_cycles: int
    hbm_cycles: int
    weight_dram_bytes: int
    metadata_dram_bytes: int
    input_dram_bytes: int
    output_dram_bytes: int
    engine: EngineCycles

    @property
    def total_cycles(self) -> int:
        """Compute overlapped with the HBM transfer (cycles)."""
        return max(self.compute_cycles, self.hbm_cycles)

    @property
    def dram_bytes(self) -> int:
        """All off-chip bytes of the layer."""
        return self.weight_dram_bytes + self.metadata_dram_bytes + self.input_dram_bytes + self.output_dram_bytes


def layer_bytes(array: SystolicParams, sparsity: SparsityParams, memory: MemoryParams, *, m: int,
                w_mask: np.ndarray, a_mask: np.ndarray | None = None) -> dict[str, int]:
    """DRAM bytes of one layer by operand: weight values, metadata (indices/bitmasks), inputs, outputs."""
    n, k = w_mask.shape
    b = memory.value_bits
    fmt = ENGINE_FORMAT[sparsity.engine]
    w_val, w_meta = format_bits(fmt, w_mask, b, m=sparsity.m)
    if fmt == "bitmask" and a_mask is not None:
        a_val, a_meta = format_bits("bitmask", a_mask, b)
    else:
        a_val, a_meta = m * k * b, 0
    w_bytes, meta_bytes = _bytes(w_val), _bytes(w_meta)
    a_bytes, a_meta_bytes = _bytes(a_val), _bytes(a_meta)
    o_bytes = _bytes(m * n * b)
    r, c = array.rows, array.cols
    if array.dataflow == "is":
        w_pass = 1 if w_bytes + meta_bytes <= memory.filter_bytes else math.ceil(m / c)
        a_pass = 1
    else:
        w_pass = 1
        a_pass = 1 if a_bytes + a_meta_bytes <= memory.ifmap_bytes else math.ceil(n / c)
    if array.dataflow == "os" or o_bytes <= memory.ofmap_bytes:
        o_pass = 1
    else:
        o_pass = 2 * math.ceil(k / r) - 1
    return {"weight": w_bytes * w_pass, "metadata": meta_bytes * w_pass + a_meta_bytes * a_pass,
            "input": a_bytes * a_pass, "output": o_bytes * o_pass}


def hbm_cycles(nbytes: int, memory: MemoryParams) -> int:
    """Cycles the HBM unit is busy moving ``nbytes`` laid out contiguously (0 for none)."""
    if nbytes <= 0:
        return 0
    g = memory.interleave_bytes
    counts, _, _ = transfer(np.arange(-(-nbytes // g), dtype=np.int64), g, interleave_bytes=g,
                            channels=memory.channels)
    return transfer_cycles(counts, interleave_bytes=g, channel_bytes_per_cycle=memory.channel_bytes_per_cycle,
                           latency_cycles=memory.latency_cycles)


def layer_timing(engine: EngineCycles, array: SystolicParams, sparsity: SparsityParams, memory: MemoryParams, *,
                 m: int, w_mask: np.ndarray, a_mask: np.ndarray | None = None) -> LayerTiming:
    """Cycles and bytes of a layer whose compute cycles ``engine`` came from the golden view."""
    parts = layer_bytes(array, sparsity, memory, m=m, w_mask=w_mask, a_mask=a_mask)
    return LayerTiming(compute_cycles=engine.compute_cycles, hbm_cycles=hbm_cycles(sum(parts.values()), memory),
                       weight_dram_bytes=parts["weight"], metadata_dram_bytes=parts["metadata"],
                       input_dram_bytes=parts["input"], output_dram_bytes=parts["output"], engine=engine)

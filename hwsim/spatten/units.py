"""The units a SpAtten design is built from, each configured once from the design.

:meth:`SpattenUnits.from_design` is the only place the SpAtten pipeline reads a design's unit
fields: every unit gets its parameter object from its own ``from_design`` (DESIGN.md "Three views
of one unit"); the functional model, the timing model and the replay take these objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Design
from ..units.hbm import HbmParams
from ..units.pv import PVParams
from ..units.qk import QKParams
from ..units.quant import QuantParams
from ..units.softmax import SoftmaxParams
from ..units.tiling import TilingParams
from ..units.topk import TopKParams

__all__ = ["SpattenUnits"]


@dataclass(frozen=True, kw_only=True)
class SpattenUnits:
    """One design's units for heads of ``head_dim`` elements under one quantization.

    ``topk`` is both engines (token/head and local V: identical engines; ``topk.overlap`` says how
    consecutive requests share one); ``topk_engines`` (1 or 2) says how the pipeline uses them. SRAM capacities are in bytes.
    """

    head_dim: int
    datapath_bits: int
    qk: QKParams
    pv: PVParams
    softmax: SoftmaxParams
    quant: QuantParams
    hbm: HbmParams
    topk: TopKParams
    topk_engines: int
    key_sram_bytes: int
    value_sram_bytes: int
    key_release: str = "decision"  # design.sram.key_release: when a group's K leaves the key SRAM
    tiling: TilingParams  # design.sram.tiling: rows longer than one SRAM load

    @classmethod
    def from_design(cls, design: Design, head_dim: int, *, policy=None, quant: QuantParams | None = None,
                    seed: int = 0) -> "SpattenUnits":
        """Build every unit of ``design`` for ``head_dim``; quantization from ``policy`` (or ``quant``).

        With neither, Q/K/V are stored at the datapath width (the replay: bit-widths come per row).
        """
        if quant is None:
            quant = QuantParams.from_design(design, policy) if policy is not None else QuantParams(
                query_bits=design.datapath_bits, key_bits=design.datapath_bits, value_bits=design.datapath_bits,
                prob_bits=design.datapath_bits)
        return cls(
            head_dim=head_dim, datapath_bits=design.datapath_bits,
            qk=QKParams.from_design(design, head_dim), pv=PVParams.from_design(design, head_dim),
            softmax=SoftmaxParams.from_design(design), quant=quant, hbm=HbmParams.from_design(design),
            topk=TopKParams.from_design(design, seed=seed), topk_engines=design.topk.engines,
            key_sram_bytes=design.sram.key_bytes,
            value_sram_bytes=design.sram.value_bytes, key_release=design.sram.key_release,
            tiling=TilingParams.from_design(design, head_dim),
        )

    @property
    def sram_vector_bytes(self) -> int:
        """One K or V vector in SRAM, at the datapath width (bytes)."""
        return self.head_dim * self.datapath_bits // 8

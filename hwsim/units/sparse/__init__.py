"""Sparse linear/conv engines (DASS-style layers on a systolic array): parameter objects, golden, timing.

* :mod:`hwsim.units.sparse.params`: :class:`SystolicParams`, :class:`SparsityParams`,
  :class:`MemoryParams`, :class:`GemmShape`.
* Golden (:mod:`hwsim.units.sparse.golden`): the GEMM and its exact cycles on the dense systolic
  array (equal to SCALE-Sim v3), the weight-sparse, dual-sparse and N:M engines.
* Masks (:mod:`hwsim.units.sparse.masks`) and the functional layers (:mod:`hwsim.units.sparse.layers`).
* Timing (:mod:`hwsim.units.sparse.timing`): compressed bytes, SRAM tiling, overlap with the HBM.

See ``docs/sparse.md``.
"""

from .golden import EngineCycles, dense_cycles, engine_cycles
from .params import DATAFLOWS, ENGINES, GemmShape, MemoryParams, SparsityParams, SystolicParams, conv_gemm_shape

__all__ = ["DATAFLOWS", "ENGINES", "EngineCycles", "GemmShape", "MemoryParams", "SparsityParams", "SystolicParams",
           "conv_gemm_shape", "dense_cycles", "engine_cycles"]

"""One layer through one engine: its masks, golden cycles, memory timing, energy and output error.

A :class:`Layer` is a GEMM with its real (or labelled random) weight ``n`` x ``k`` and input rows
``m`` x ``k`` (a convolution's im2col rows); a depthwise layer carries one such GEMM per group.
:func:`run_layer` builds the weight mask the engine needs (DASS/HYDRA unstructured, magnitude,
random, or N:M), the activation mask from the inputs (dual-sparse), and composes the golden view
(cycles), the timing view (bytes, HBM overlap) and ``cost_models.sparse`` (energy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cost_models import sparse as cost

from ..errors import HwsimError
from ..units.sparse import golden, masks
from ..units.sparse.params import GemmShape, MemoryParams, SparsityParams, SystolicParams
from ..units.sparse.timing import layer_timing

__all__ = ["MASK_KINDS", "PATTERNS", "Layer", "LayerResult", "parse_pattern", "weight_mask", "run_layer",
           "dense_total_cycles"]

MASK_KINDS = ("hydra", "magnitude", "random")
PATTERNS = ("unstructured", "N:M")


@dataclass(frozen=True)
class Layer:
    """A linear or conv layer as GEMMs: ``weights[g]`` is ``n`` x ``k``, ``inputs[g]`` is ``m`` x ``k``."""

    name: str
    kind: str
    weights: tuple[np.ndarray, ...]
    inputs: tuple[np.ndarray, ...]

    @property
    def groups(self) -> int:
        """GEMMs run one after another (channels of a depthwise conv; 1 otherwise)."""
        return len(self.weights)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(m, k, n) of one group's GEMM."""
        return self.inputs[0].shape[0], self.weights[0].shape[1], self.weights[0].shape[0]


@dataclass(frozen=True, kw_only=True)
class LayerResult:
    """Cycles, bytes, energy and error of one layer on one engine (sums over its groups)."""

    name: str
    m: int
    k: int
    n: int
    groups: int
    weight_density: float
    activation_density: float
    compute_cycles: int
    hbm_cycles: int
    total_cycles: int
    effectual_macs: int
    dense_macs: int
    pes: int
    dram_bytes: int
    metadata_dram_bytes: int
    energy_pj: float
    output_error: float
    bernoulli_compute_cycles: float | None = None

    @property
    def utilization_fraction(self) -> float:
        """Effectual MACs / (PEs x compute cycles)."""
        return self.effectual_macs / (self.pes * self.compute_cycles) if self.compute_cycles else 0.0

    def row(self) -> dict:
        """Plain dict for JSON/CSV, every name with its unit (:data:`ROW_NAMES`), plus the utilisation."""
        d = {ROW_NAMES.get(k, k): v for k, v in self.__dict__.items()}
        d["utilization_fraction"] = self.utilization_fraction
        return d


#: Field -> output column (units in names, hwsim.outputs.UNIT_SUFFIXES).
ROW_NAMES = {"m": "input_rows", "k": "window_elements", "n": "filters_count", "groups": "groups_count",
             "weight_density": "weight_density_fraction", "activation_density": "activation_density_fraction",
             "effectual_macs": "effectual_mac_ops", "dense_macs": "dense_mac_ops", "pes": "pes_count",
             "output_error": "output_error_ratio"}


def parse_pattern(pattern: str) -> tuple[int, int] | None:
    """``unstructured`` -> None; ``N:M`` (e.g. ``2:4``) -> (N, M) checked ``1 <= N <= M <= 64``."""
    if pattern == "unstructured":
        return None
    parts = pattern.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise HwsimError(f"--pattern must be unstructured or N:M (e.g. 2:4), not {pattern!r}")
    n, m = int(parts[0]), int(parts[1])
    if not 1 <= m <= 64 or not 1 <= n:
        raise HwsimError(f"--pattern {pattern}: N and M must be integers with 1 <= N and M <= 64")
    if n > m:
        raise HwsimError(f"--pattern {pattern}: N = {n} must be at most M = {m}")
    return n, m


def weight_mask(w: np.ndarray, *, density: float, nm: tuple[int, int] | None, kind: str, seed: int) -> np.ndarray:
    """The kept weights: N:M when ``nm`` is given, else the unstructured ``kind`` mask at ``density``."""
    if nm is not None:
        return masks.nm_mask(w, *nm)
    if density == 1.0:
        return np.ones(w.shape, np.bool_)
    if kind == "hydra":
        return masks.hydra_mask(w, density)
    if kind == "magnitude":
        return masks.magnitude_mask(w, density)
    if kind == "random":
        return masks.bernoulli_mask(w.shape, density, seed=seed)
    raise HwsimError(f"--mask must be one of {', '.join(MASK_KINDS)}, not {kind!r}")


def _pad_k(x: np.ndarray, mult: int) -> np.ndarray:
    k = x.shape[1]
    kk = -(-k // mult) * mult
    return x if kk == k else np.pad(x, ((0, 0), (0, kk - k)))


def run_layer(layer: Layer, array: SystolicParams, sparsity: SparsityParams, memory: MemoryParams, *,
              density: float = 1.0, nm: tuple[int, int] | None = None, mask_kind: str = "hydra",
              act_threshold: float = 0.0, seed: int = 0, node_nm: float = 40.0,
              pad_k: bool = True) -> LayerResult:
    """Run ``layer`` on the engine; N:M layers whose K is not a multiple of M are zero-padded along K."""
    totals = dict(compute=0, hbm=0, total=0, eff=0, dense=0, dram=0, meta=0, energy=0.0, kept_w=0, numel_w=0,
                  kept_a=0, numel_a=0)
    err_num = err_den = 0.0
    bernoulli = 0.0
    estimate = sparsity.engine == "weight-sparse" and array.dataflow == "os"
    for g, (w, a) in enumerate(zip(layer.weights, layer.inputs)):
        if nm is not None and pad_k:
            w, a = _pad_k(w, nm[1]), _pad_k(a, nm[1])
        wm = weight_mask(w, density=density, nm=nm, kind=mask_kind, seed=seed + g)
        am = masks.activation_mask(a, act_threshold)
        if sparsity.engine == "dense":
            wm_eff = np.ones_like(wm)
        else:
            wm_eff = wm
        eng = golden.engine_cycles(array, sparsity, m=a.shape[0], w_mask=wm_eff,
                                   a_mask=am if sparsity.engine == "dual-sparse" else None)
        t = layer_timing(eng, array, sparsity, memory, m=a.shape[0], w_mask=wm_eff,
                         a_mask=am if sparsity.engine == "dual-sparse" else None)
        sram_bytes = math.ceil(eng.math_cycles * (array.rows + array.cols) * memory.value_bits / 8)
        e = cost.layer_energy_pj(effectual_macs=eng.effectual_macs, dram_bytes=t.dram_bytes, sram_bytes=sram_bytes,
                                 bits=memory.value_bits, node_nm=node_nm,
                                 sram_capacity_bytes=memory.ifmap_bytes + memory.filter_bytes + memory.ofmap_bytes)
        if estimate:  # §5's closed form from the mask's density alone, beside the measured cycles
            bernoulli += golden.bernoulli_weight_sparse_cycles(
                GemmShape(m=a.shape[0], k=w.shape[1], n=w.shape[0]), masks.density(wm_eff), array)
        totals["compute"] += t.compute_cycles
        totals["hbm"] += t.hbm_cycles
        totals["total"] += t.total_cycles
        totals["eff"] += eng.effectual_macs
        totals["dense"] += eng.dense_macs
        totals["dram"] += t.dram_bytes
        totals["meta"] += t.metadata_dram_bytes
        totals["energy"] += e["energy_pj"]
        totals["kept_w"] += int(wm_eff.sum())
        totals["numel_w"] += wm.size
        totals["kept_a"] += int(am.sum())
        totals["numel_a"] += am.size
        a32 = a.astype(np.float32)
        w32 = w.astype(np.float32)
        ref = a32 @ w32.T
        a_used = np.where(am, a32, 0) if sparsity.engine == "dual-sparse" else a32
        diff = a_used @ np.where(wm, w32, 0).T - ref  # the dense engine runs the pruned weights too
        err_num += float(np.square(diff, dtype=np.float64).sum())
        err_den += float(np.square(ref, dtype=np.float64).sum())
    m, k, n = layer.shape
    return LayerResult(name=layer.name, m=m, k=k, n=n, groups=layer.groups,
                       weight_density=totals["kept_w"] / totals["numel_w"],
                       activation_density=totals["kept_a"] / totals["numel_a"],
                       compute_cycles=totals["compute"], hbm_cycles=totals["hbm"], total_cycles=totals["total"],
                       effectual_macs=totals["eff"],
                       dense_macs=totals["dense"], pes=array.pes, dram_bytes=totals["dram"],
                       metadata_dram_bytes=totals["meta"], energy_pj=totals["energy"],
                       output_error=math.sqrt(err_num / err_den) if err_den else math.sqrt(err_num),
                       bernoulli_compute_cycles=bernoulli if estimate else None)


def dense_total_cycles(layer: Layer, array: SystolicParams, memory: MemoryParams) -> int:
    """Total cycles of ``layer`` on the dense engine of the same array and memory (the speed-up baseline)."""
    dense = SparsityParams(engine="dense")
    total = 0
    for w, a in zip(layer.weights, layer.inputs):
        ones = np.ones(w.shape, np.bool_)
        eng = golden.engine_cycles(array, dense, m=a.shape[0], w_mask=ones)
        total += layer_timing(eng, array, dense, memory, m=a.shape[0], w_mask=ones).total_cycles
    return total

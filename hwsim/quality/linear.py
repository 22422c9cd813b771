"""The linear layers of a real model as the design's linear engine stores them (``hwsim quality --linear``).

With ``--linear`` the quality run also puts the chip's linear-layer approximations inside the model
(:class:`hwsim.config.design.Linear`): every block's ``nn.Linear`` weight (not the LM head, not the
pooler) is stored at ``linear.weight_bits`` (symmetric, one scale per output feature as K/V
have one per head, :func:`hwsim.units.quant.golden.quantize_heads`), after the engine's mask: ``weight-sparse``
keeps the ``linear.density`` largest ``|w|`` of each layer (magnitude pruning = DASS/HYDRA's
scores at initialisation, docs/sources.md Sparse §4; no fine-tuning), ``nm`` the ``nm_n`` largest of
every ``nm_m`` along K; ``arrays`` and ``dense`` run every weight. Activations are not re-quantized
(the chip's datapath carries more bits than the weights). The approximated weights are swapped in
only while the hardware attention is installed, so the dense reference runs the original model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workloads.linear_layers import LINEAR_SKIP

from ..config import Design
from ..errors import HwsimError
from ..units.quant.golden import quantize_heads
from ..units.sparse import masks

__all__ = ["LinearWeights", "approximate_linear"]

@dataclass
class LinearWeights:
    """Approximated weights of a model's linear layers, swapped in by :meth:`install`."""

    modules: list[tuple[torch.nn.Linear, torch.Tensor]]  # (module, approximated weight)
    engine: str
    weight_bits: int
    kept_fraction: float
    _saved: list[torch.Tensor] | None = None

    def install(self) -> None:
        """Put the approximated weights in (idempotent)."""
        if self._saved is None:
            self._saved = [m.weight.data for m, _ in self.modules]
            for m, w in self.modules:
                m.weight.data = w

    def remove(self) -> None:
        """Restore the original weights."""
        if self._saved is not None:
            for (m, _), w in zip(self.modules, self._saved):
                m.weight.data = w
            self._saved = None

    def summary(self) -> dict:
        """What was approximated (for the quality result)."""
        return {"engine": self.engine, "weight_bits": self.weight_bits, "linear_layers_count": len(self.modules),
                "weights_kept_fraction": self.kept_fraction}


def approximate_linear(model: torch.nn.Module, design: Design) -> LinearWeights:
    """The model's block linear layers as ``design.linear`` stores them (module docstring)."""
    lin = design.linear
    found, kept, total = [], 0, 0
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear) or name.startswith(LINEAR_SKIP):
            continue
        w = mod.weight.detach().to(torch.float32).numpy()
        if lin.engine == "weight-sparse":
            keep = masks.magnitude_mask(w, lin.density)
        elif lin.engine == "nm":
            if w.shape[1] % lin.nm_m:
                raise HwsimError(f"--linear: layer {name} has K = {w.shape[1]} inputs, not a multiple of linear.nm_m "
                                 f"= {lin.nm_m}")
            keep = masks.nm_mask(w, lin.nm_n, lin.nm_m)
        else:
            keep = np.ones(w.shape, bool)
        codes, scales = quantize_heads(np.where(keep, w, np.float32(0)), lin.weight_bits)  # one scale per row
        approx = torch.from_numpy(codes.astype(np.float32) * scales.astype(np.float32)[:, None]).to(mod.weight.dtype)
        found.append((mod, approx))
        kept += int(keep.sum())
        total += keep.size
    if not found:
        raise HwsimError("--linear: the model has no linear layers to approximate")
    return LinearWeights(found, lin.engine, lin.weight_bits, kept / total)

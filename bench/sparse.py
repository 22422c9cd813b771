"""Speed of the weight-sparse engine on every linear layer of smollm2 (docs/sparse.md).

The 210 linear layers of SmolLM2-135M's 30 blocks (real weights; HYDRA masks at density 0.5, built
once, outside the timing) go through the weight-sparse engine's golden cycles and its memory timing
(compressed bytes, SRAM tiling, HBM overlap) on a 32 x 32 output-stationary array for a 128-token
prompt. Against it, numpy applies the same masks to the same weights (``np.where(mask, w, 0)``,
the least work any simulator of masked weights must touch). Interleaved, best of 5, one BLAS thread.

Run: ``.venv/bin/python bench/sparse.py`` (loading the model takes 10-20 s, not timed).
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from _clock import wall_times
from hwsim.units.sparse import golden, masks
from hwsim.units.sparse.params import MemoryParams, SparsityParams, SystolicParams
from hwsim.units.sparse.timing import layer_timing
from workloads.linear_layers import capture

TOKENS = 128
DENSITY = 0.5


def main() -> None:
    t0 = time.perf_counter()
    cap = capture("smollm2", tokens=TOKENS)
    weights = [lay.weights[0] for lay in cap.layers]
    mks = [masks.hydra_mask(w, DENSITY) for w in weights]
    print(f"smollm2: {len(weights)} linear layers, {sum(w.size for w in weights) / 1e6:.1f} M weights "
          f"(load + masks {time.perf_counter() - t0:.1f} s, not timed)")
    array = SystolicParams(rows=32, cols=32, dataflow="os")
    sp = SparsityParams(engine="weight-sparse")
    mem = MemoryParams()

    def engine():
        total = 0
        for mk in mks:
            eng = golden.weight_sparse_cycles(mk, TOKENS, array)
            total += layer_timing(eng, array, sp, mem, m=TOKENS, w_mask=mk).total_cycles
        return total

    def apply_masks():
        for w, mk in zip(weights, mks):
            np.where(mk, w, 0)

    ours, base = [], []
    with threadpool_limits(limits=1):
        engine()
        for _ in range(5):
            ours += wall_times(engine, 1)
            base += wall_times(apply_masks, 1)
    print(f"weight-sparse engine, all layers: {min(ours) * 1e3:7.1f} ms (total {engine():,} cycles)")
    print(f"numpy applying the masks:         {min(base) * 1e3:7.1f} ms")
    print(f"ratio engine / numpy: {min(ours) / min(base):.2f}x (best of 5, interleaved, one BLAS thread)")


if __name__ == "__main__":
    main()

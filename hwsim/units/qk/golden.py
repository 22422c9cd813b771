"""Golden timing of the Q x K array (SpAtten §4, module 7; ``references/spatten.md`` §2.2).

Microarchitecture: each cycle one SRAM line of ``multipliers / head_dim`` keys x ``head_dim``
elements enters the array; the query is broadcast ``multipliers / head_dim`` times and a
reconfigurable adder tree forms ``multipliers / head_dim`` separate ``head_dim``-way dot products.
A row of n keys therefore occupies the array ``ceil(n / keys_per_cycle)`` cycles; results leave
after a fixed pipeline depth of 1 + 1 + 9 cycles (SRAM read, multiply, 9-level adder tree: the
authors' ``bert.cpp`` drain model, ``references/spatten.md`` §7.1).
The scores themselves are computed by the functional model with numpy (a matrix product).
"""

from __future__ import annotations

import numpy as np

from ...errors import HwsimError

__all__ = ["keys_per_cycle", "qk_service_cycles", "QK_LATENCY_CYCLES"]

#: Pipeline depth of the Q x K array (cycles): SRAM read 1 + multiply 1 + adder tree 9 (bert.cpp).
QK_LATENCY_CYCLES = 11


def keys_per_cycle(multipliers: int, head_dim: int, *, unit: str = "qk") -> int:
    """Keys (or V vectors) the array handles per cycle; HwsimError when ``head_dim`` cannot be mapped."""
    if head_dim < 1 or head_dim > multipliers or multipliers % head_dim:
        raise HwsimError(
            f"head dimension {head_dim}: the {unit} array of {multipliers} multipliers cannot map it "
            f"(expected a divisor of {multipliers})"
        )
    return multipliers // head_dim


def qk_service_cycles(n_keys: np.ndarray, per_cycle: int) -> np.ndarray:
    """Cycles each row occupies the array: ``ceil(n_keys / per_cycle)`` (0 for an empty row)."""
    n = np.asarray(n_keys, np.int64)
    return (n + per_cycle - 1) // per_cycle

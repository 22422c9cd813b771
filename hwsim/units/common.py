"""What the units share: parameter checks (one message form, as Amaranth's ``SyncFIFO``) and the
stream occupancy ``ceil(n / per_cycle)`` of a unit that takes ``per_cycle`` items a cycle."""

from __future__ import annotations

import numpy as np

from ..errors import HwsimError

__all__ = ["check_int", "check_fraction", "ceil_div"]


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """Return ``value`` if it is an integer from ``lo`` to ``hi``, else raise :class:`HwsimError`."""
    if type(value) is not int or not lo <= value <= hi:
        raise HwsimError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def check_fraction(name: str, value: object) -> float:
    """Return ``value`` if it is a number in [0, 1], else raise :class:`HwsimError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise HwsimError(f"{name} must be a number from 0 to 1, not {value!r}")
    return float(value)


def ceil_div(n, per_cycle: int) -> np.ndarray:
    """Cycles a stream of ``n`` items occupies a unit taking ``per_cycle`` a cycle: ``ceil(n / per_cycle)``."""
    n = np.asarray(n, np.int64)
    return (n + per_cycle - 1) // per_cycle

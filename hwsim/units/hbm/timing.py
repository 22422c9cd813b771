"""The fetcher + HBM inside the pipeline: one transfer's channel occupancy (timing view).

The bytes and the per-channel granule counts come from the golden view
(:func:`hwsim.units.hbm.golden.transfer`); this module turns them into the cycles the channels are
busy, which the pipelines hold the HBM resource for (one transfer at a time over all channels, FIFO
order), then wait :attr:`HbmParams.latency_cycles` for the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .golden import busy_cycles, transfer, transfer_cycles, transfer_widths, transfers, transfers_new
from .params import HbmParams

__all__ = ["Fetch", "NO_FETCH", "fetch", "fetch_many", "fetch_new", "fetch_widths", "first_line_cycles"]


@dataclass(frozen=True)
class Fetch:
    """One HBM transfer: cycles the channels are busy, bytes on the bus, bytes asked for."""

    busy: int
    bus_bytes: int
    payload_bytes: int

    def __mul__(self, times: int) -> "Fetch":
        """The same transfer made ``times`` times (a re-streamed tile plan)."""
        return Fetch(self.busy * times, self.bus_bytes * times, self.payload_bytes * times)

    def asked(self, payload_bytes: int) -> "Fetch":
        """This transfer on behalf of a request for ``payload_bytes`` (a fused pair's shared fetch)."""
        return Fetch(self.busy, self.bus_bytes, int(payload_bytes))

    def __add__(self, other: "Fetch") -> "Fetch":
        """Two transfers back to back."""
        return Fetch(self.busy + other.busy, self.bus_bytes + other.bus_bytes, self.payload_bytes + other.payload_bytes)


#: The empty transfer.
NO_FETCH = Fetch(0, 0, 0)


def fetch(positions: np.ndarray, vec_bytes: int, params: HbmParams) -> Fetch:
    """The HBM transfer of the vectors at ``positions`` (sorted, unique) of ``vec_bytes`` bytes each."""
    if vec_bytes <= 0 or len(positions) == 0:
        return NO_FETCH
    counts, bus, payload = transfer(positions, vec_bytes, interleave_bytes=params.interleave_bytes,
                                    channels=params.channels)
    busy = transfer_cycles(counts, interleave_bytes=params.interleave_bytes,
                           channel_bytes_per_cycle=params.channel_bytes_per_cycle, latency_cycles=0)
    return Fetch(busy, bus, payload)


def fetch_many(position_sets: list, vec_bytes: int, params: HbmParams) -> list[Fetch]:
    """:func:`fetch` of each of ``position_sets`` (each sorted, unique), in one compiled call; the same transfers."""
    if vec_bytes <= 0:
        return [NO_FETCH] * len(position_sets)
    counts, bus, payload = transfers(position_sets, vec_bytes, interleave_bytes=params.interleave_bytes,
                                     channels=params.channels)
    return _fetches(counts.max(axis=1, initial=0), bus, payload, params)


def _busy(busiest: np.ndarray, params: HbmParams) -> list[int]:
    """HBM busy cycles of transfers from their busiest channel's granules (:func:`busy_cycles`), as Python ints."""
    il, rate = params.interleave_bytes, params.channel_bytes_per_cycle
    return [busy_cycles(c, interleave_bytes=il, channel_bytes_per_cycle=rate, latency_cycles=0) for c in busiest.tolist()]


def _fetches(busiest: np.ndarray, bus: np.ndarray, payload: np.ndarray, params: HbmParams) -> list[Fetch]:
    """One :class:`Fetch` per transfer (``NO_FETCH`` where nothing was asked for)."""
    return [Fetch(c, b, p) if p else NO_FETCH for c, b, p in zip(_busy(busiest, params), bus.tolist(), payload.tolist())]


def fetch_widths(positions: np.ndarray, widths: list[int], params: HbmParams) -> list[Fetch]:
    """:func:`fetch` of the vectors at ``positions`` (sorted, unique) at each of ``widths`` bytes per vector
    (:func:`~hwsim.units.hbm.golden.transfer_widths`), in one compiled call; the same transfers."""
    if len(positions) == 0:
        return [NO_FETCH] * len(widths)
    counts, bus, payload = transfer_widths(positions, widths, interleave_bytes=params.interleave_bytes,
                                           channels=params.channels)
    return _fetches(counts.max(axis=1), bus, payload, params)


def fetch_new(position_sets: list, owners, vec_bytes: int, params: HbmParams, *,
              length: int | None = None) -> tuple[list, list, list]:
    """Each set's transfer of the positions no earlier set of the same owner fetched
    (:func:`~hwsim.units.hbm.golden.transfers_new`; ``length`` bounds the positions), in one compiled call.

    Returns (busy cycles, bus bytes, payload bytes), one Python int per set: for set ``i`` the
    fields of :func:`fetch` of those positions (all 0 for none).
    """
    busiest, bus, payload = transfers_new(position_sets, owners, vec_bytes, interleave_bytes=params.interleave_bytes,
                                          channels=params.channels, length=length)
    return _busy(busiest, params), bus.tolist(), payload.tolist()


@njit(cache=True)
def first_line_cycles(busy: int, lines: int) -> int:
    """HBM busy cycles until the first of a transfer's ``lines`` buffer lines is in (``design.hbm.fetch =
    "stream"``): the lines land evenly over the ``busy`` cycles, so ``ceil(busy / lines)``. Compiled, so
    that the compiled generation timeline (:mod:`hwsim.spatten.engine`) calls this one too."""
    return -(-busy // max(1, lines))

"""The one parameter object of the fetcher + HBM: it configures its golden and timing views."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import HwsimError
from ..common import check_int

__all__ = ["HbmParams"]


@dataclass(frozen=True, kw_only=True)
class HbmParams:
    """HBM channels behind the fetcher's address interleaving (SpAtten §4, modules 3-6).

    Parameters
    ----------
    channels : int
        Channels working in parallel (count, 1..64). Paper: 16.
    interleave_bytes : int
        Interleave granule = transaction size (bytes). Released RTL: 32.
    channel_bytes_per_cycle : float
        Bandwidth of one channel per accelerator clock cycle (bytes/cycle). Paper: 32 GB/s at 1 GHz.
    latency_cycles : int
        Read latency before the first data returns (cycles).
    stream : bool
        Consumers read fetched lines as they arrive (``design.hbm.fetch = "stream"``, the released RTL's
        tagged buffers) instead of after the whole transfer (``"store"``).
    """

    channels: int = 16
    interleave_bytes: int = 32
    channel_bytes_per_cycle: float = 32.0
    latency_cycles: int = 40
    stream: bool = True

    def __post_init__(self) -> None:
        check_int("HBM channels", self.channels, 1, 64)
        check_int("HBM interleave_bytes", self.interleave_bytes, 1, 4096)
        check_int("HBM latency_cycles", self.latency_cycles, 0, 10**7)
        if not isinstance(self.stream, bool):
            raise HwsimError(f"HBM stream must be True or False, not {self.stream!r}")
        b = self.channel_bytes_per_cycle
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 < b <= 1e6:
            raise HwsimError(f"HBM channel_bytes_per_cycle must be a number above 0 and at most 1e6, not {b!r}")

    @classmethod
    def from_design(cls, design) -> "HbmParams":
        """The memory system of a :class:`hwsim.config.Design` (``design.hbm`` at ``design.clock_ghz``)."""
        h = design.hbm
        return cls(channels=h.channels, interleave_bytes=h.interleave_bytes,
                   channel_bytes_per_cycle=h.channel_gbytes_per_s / design.clock_ghz,
                   latency_cycles=int(math.ceil(h.read_latency_ns * design.clock_ghz)), stream=h.fetch == "stream")

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
    fuse_pairs : str
        Which planes (``"kv"``: K MSB and V, ``"k"``, ``"none"``) of at most half the datapath width are
        stored for K/V head pairs (2g, 2g+1) as one interleaved vector (``design.hbm.fuse_pairs``;
        :meth:`fuses`).
    datapath_bits : int
        The datapath width the fused pair fills (bits).
    """

    channels: int = 16
    interleave_bytes: int = 32
    channel_bytes_per_cycle: float = 32.0
    latency_cycles: int = 40
    stream: bool = True
    fuse_pairs: str = "none"
    datapath_bits: int = 12

    def __post_init__(self) -> None:
        check_int("HBM channels", self.channels, 1, 64)
        check_int("HBM interleave_bytes", self.interleave_bytes, 1, 4096)
        check_int("HBM latency_cycles", self.latency_cycles, 0, 10**7)
        if not isinstance(self.stream, bool):
            raise HwsimError(f"HBM stream must be True or False, not {self.stream!r}")
        if self.fuse_pairs not in ("kv", "k", "none"):
            raise HwsimError(f"HBM fuse_pairs must be one of kv, k, none, not {self.fuse_pairs!r}")
        check_int("HBM datapath_bits", self.datapath_bits, 1, 64)
        b = self.channel_bytes_per_cycle
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 < b <= 1e6:
            raise HwsimError(f"HBM channel_bytes_per_cycle must be a number above 0 and at most 1e6, not {b!r}")

    @classmethod
    def from_design(cls, design) -> "HbmParams":
        """The memory system of a :class:`hwsim.config.Design` (``design.hbm`` at ``design.clock_ghz``)."""
        h = design.hbm
        return cls(channels=h.channels, interleave_bytes=h.interleave_bytes,
                   channel_bytes_per_cycle=h.channel_gbytes_per_s / design.clock_ghz,
                   latency_cycles=int(math.ceil(h.read_latency_ns * design.clock_ghz)), stream=h.fetch == "stream",
                   fuse_pairs=h.fuse_pairs, datapath_bits=design.datapath_bits)

    def fuses(self, bits: int, plane: str = "k") -> bool:
        """Whether ``plane`` ("k": the K MSB plane, "v") at ``bits`` per element is stored fused for K/V head pairs."""
        return plane in self.fuse_pairs and 0 < 2 * bits <= self.datapath_bits

"""The parameter objects of the sparse linear/conv engines: they configure the golden and timing views.

One :class:`SystolicParams` describes the array (rows x cols PEs, dataflow), one :class:`SparsityParams`
the engine kind and its pattern, one :class:`MemoryParams` the on-chip buffers and the off-chip HBM
the engine shares. All are frozen, keyword-only and checked at construction (one message form:
``"<what> must be <expected>, not <value>"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import HwsimError

__all__ = ["DATAFLOWS", "ENGINES", "SystolicParams", "SparsityParams", "MemoryParams", "GemmShape", "conv_gemm_shape"]

#: The three dataflows of SCALE-Sim (output, weight, input stationary).
DATAFLOWS = ("os", "ws", "is")
#: The engines of this unit (golden.py states each one's microarchitecture).
ENGINES = ("dense", "weight-sparse", "dual-sparse", "nm")


def _check_int(name: str, value: object, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise HwsimError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class SystolicParams:
    """A ``rows`` x ``cols`` array of multiply-accumulate PEs and its dataflow.

    Parameters
    ----------
    rows, cols : int
        PEs per column and per row of the array (1..4096 each).
    dataflow : str
        ``os`` (output stationary), ``ws`` (weight stationary) or ``is`` (input stationary), with
        SCALE-Sim v3's mapping of a GEMM onto the array (golden.py).
    """

    rows: int = 32
    cols: int = 32
    dataflow: str = "os"

    def __post_init__(self) -> None:
        _check_int("Array rows", self.rows, 1, 4096)
        _check_int("Array cols", self.cols, 1, 4096)
        if self.dataflow not in DATAFLOWS:
            raise HwsimError(f"Dataflow must be one of {', '.join(DATAFLOWS)}, not {self.dataflow!r}")

    @property
    def pes(self) -> int:
        """Processing elements (count)."""
        return self.rows * self.cols


@dataclass(frozen=True, kw_only=True)
class SparsityParams:
    """Which engine runs a layer and the sparsity it exploits.

    Parameters
    ----------
    engine : str
        ``dense``, ``weight-sparse``, ``dual-sparse`` or ``nm`` (golden.py).
    n, m : int
        The N:M pattern of the ``nm`` engine: at most ``n`` non-zeros in every ``m`` consecutive
        weights along K (``1 <= n <= m <= 64``). Ignored by the other engines.
    balance : bool
        Dual-sparse only: greedy filter balancing (filters sorted by work before tiling).
    """

    engine: str = "dense"
    n: int = 2
    m: int = 4
    balance: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise HwsimError(f"Engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        _check_int("N:M block size M", self.m, 1, 64)
        _check_int("N:M non-zeros N", self.n, 1, 64)
        if self.n > self.m:
            raise HwsimError(f"N:M non-zeros N must be at most M = {self.m}, not {self.n}")
        if type(self.balance) is not bool:
            raise HwsimError(f"Balance must be a bool, not {self.balance!r}")

    @property
    def index_bits(self) -> int:
        """Bits of one N:M position index: ``ceil(log2 m)`` (0 when ``m`` is 1)."""
        return math.ceil(math.log2(self.m)) if self.m > 1 else 0


@dataclass(frozen=True, kw_only=True)
class MemoryParams:
    """On-chip buffers of the engine and the off-chip HBM it reads through (``hwsim.units.hbm``).

    Defaults: SCALE-Sim's sample configuration (64 KiB for each of ifmap, filter and ofmap SRAM)
    and SpAtten's HBM2 (16 channels x 32 GB/s, 32-byte interleave, 40 ns read latency, 1 GHz).

    Parameters
    ----------
    ifmap_bytes, filter_bytes, ofmap_bytes : int
        SRAM for activations, weights (with their metadata) and outputs (bytes, 1..2**30).
    value_bits : int
        Bits of a stored weight or activation (1..32); outputs are stored at the same width.
    channels : int
        HBM channels (1..64).
    channel_bytes_per_cycle : float
        Bytes one channel moves per engine cycle (> 0).
    interleave_bytes : int
        Address interleave granule across channels (bytes).
    latency_cycles : int
        Read latency before the first data of a transfer (cycles).
    """

    ifmap_bytes: int = 64 * 1024
    filter_bytes: int = 64 * 1024
    ofmap_bytes: int = 64 * 1024
    value_bits: int = 8
    channels: int = 16
    channel_bytes_per_cycle: float = 32.0
    interleave_bytes: int = 32
    latency_cycles: int = 40

    def __post_init__(self) -> None:
        for name in ("ifmap_bytes", "filter_bytes", "ofmap_bytes"):
            _check_int(f"SRAM {name}", getattr(self, name), 1, 1 << 30)
        _check_int("Value bits", self.value_bits, 1, 32)
        _check_int("HBM channels", self.channels, 1, 64)
        _check_int("HBM interleave bytes", self.interleave_bytes, 1, 4096)
        _check_int("HBM latency cycles", self.latency_cycles, 0, 1 << 20)
        c = self.channel_bytes_per_cycle
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < 1e6:
            raise HwsimError(f"HBM channel bytes per cycle must be a number in (0, 1e6), not {c!r}")

    @classmethod
    def from_design(cls, design, **sram) -> "MemoryParams":
        """The HBM of a :class:`hwsim.config.Design` (channels, bandwidth at its clock, interleave, latency).

        ``sram`` overrides the SRAM sizes and value bits (keywords of this class); the design has no
        linear-engine section of its own yet.
        """
        h = design.hbm
        return cls(channels=h.channels, channel_bytes_per_cycle=h.channel_gbytes_per_s / design.clock_ghz,
                   interleave_bytes=h.interleave_bytes,
                   latency_cycles=int(math.ceil(h.read_latency_ns * design.clock_ghz)), **sram)


@dataclass(frozen=True, kw_only=True)
class GemmShape:
    """One GEMM as SCALE-Sim sees it: an ``m`` x ``k`` input times a ``k`` x ``n`` weight.

    ``m`` = output pixels (tokens of a linear layer), ``k`` = window (input features; R x S x C of
    a convolution), ``n`` = filters (output features). ``groups`` > 1 is a depthwise/grouped layer
    run as ``groups`` independent GEMMs of this shape one after another (SCALE-Sim's ``DP`` layers).
    """

    m: int
    k: int
    n: int
    groups: int = 1

    def __post_init__(self) -> None:
        for name in ("m", "k", "n", "groups"):
            _check_int(f"GEMM {name.upper() if name != 'groups' else name}", getattr(self, name), 1, 1 << 31)

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates (count)."""
        return self.m * self.k * self.n * self.groups


def conv_gemm_shape(*, h: int, w: int, c: int, k: int, r: int, s: int, stride: int = 1,
                    depthwise: bool = False) -> GemmShape:
    """The im2col GEMM of a convolution as SCALE-Sim builds it (no padding: pad the input first).

    Input ``h`` x ``w`` x ``c``, ``k`` filters of ``r`` x ``s`` x ``c`` (``depthwise``: one
    ``r`` x ``s`` filter per channel, ``k`` must equal ``c``), stride in both directions. Output
    pixels ``ceil((h - r + stride) / stride) * ceil((w - s + stride) / stride)``.
    """
    for name, v in (("conv --h", h), ("conv --w", w), ("conv --c", c), ("conv --k", k), ("conv --r", r),
                    ("conv --s", s), ("conv --stride", stride)):
        _check_int(name, v, 1, 1 << 20)
    if r > h or s > w:
        raise HwsimError(f"conv filter {r}x{s} must fit the input {h}x{w}")
    oh = -(-(h - r + stride) // stride)
    ow = -(-(w - s + stride) // stride)
    if depthwise:
        if k != c:
            raise HwsimError(f"depthwise conv --k must equal --c = {c}, not {k}")
        return GemmShape(m=oh * ow, k=r * s, n=1, groups=c)
    return GemmShape(m=oh * ow, k=r * s * c, n=k)

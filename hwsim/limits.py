"""The documented bounds of every size hwsim accepts, and the one check that applies them.

Each bound keeps one run within the memory and time a workstation has; a value beyond it is
refused with one line naming the option and the bound, before any work starts. The numbers are
listed in ``docs/outputs.md`` (command options) and ``docs/trace-format.md`` (trace files).
"""

from __future__ import annotations

from .errors import HwsimError

__all__ = [
    "MAX_TOKENS",
    "MAX_SCORE_BYTES",
    "MAX_LAYERS",
    "MAX_HEADS",
    "MAX_HEAD_DIM",
    "MAX_MPC_TOKENS",
    "MAX_TOPK_TRIALS",
    "MAX_TOPK_ELEMENTS",
    "MAX_INFO_SCORE_BYTES",
    "MAX_RTL_VECTORS",
    "MAX_SEED",
    "check_count",
    "score_bytes",
    "check_attention_size",
]

#: Tokens of one traced sequence (prompt + generated): the long-context shape-only decoder's 32,768
#: positions (``llama-long``); the real models stop at their own (SmolLM2: 8,192).
MAX_TOKENS = 32768
#: Bytes of one layer's float32 score matrix (heads x tokens x tokens x 4) a workload may declare:
#: 16 GiB. The simulator computes a layer's scores in chunks of whole query blocks (bounded
#: memory, ``hwsim.spatten.functional._CHUNK_ELEMENTS``); this bounds one layer's work.
MAX_SCORE_BYTES = 16 * 1024**3
#: What ``hwsim trace info`` holds at once (one layer's whole score matrix, a few copies): 2 GiB.
MAX_INFO_SCORE_BYTES = 2 * 1024**3
#: Layers, query heads and head dimension a trace may declare.
MAX_LAYERS = 1024
MAX_HEADS = 1024
MAX_HEAD_DIM = 16384
#: Tokens of one secure inference (``hwsim mpc --tokens``): the cost model is analytic, but beyond this
#: the numbers (quadratic attention) mean nothing for a real deployment.
MAX_MPC_TOKENS = 65536
#: Random rows of ``hwsim topk --trials``, and rows x scores it may touch in all.
MAX_TOPK_TRIALS = 1_000_000
MAX_TOPK_ELEMENTS = 1 << 30
#: Random vectors of ``hwsim rtl test --vectors`` (Icarus runs about 26,000 cycles/s).
MAX_RTL_VECTORS = 100_000
#: Seeds are unsigned 32-bit (the top-k pivot LFSR's width).
MAX_SEED = 2**32 - 1


def check_count(option: str, value: object, lo: int, hi: int, *, why: str = "") -> int:
    """Return ``value`` when it is an integer in ``lo..hi``; else raise a one-line HwsimError naming ``option``."""
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        extra = f" ({why})" if why else ""
        raise HwsimError(f"{option} {value}: expected an integer from {lo:,} to {hi:,}{extra}")
    return value


def score_bytes(heads: int, tokens: int) -> int:
    """Bytes of one layer's float32 score matrix: heads x tokens x tokens x 4."""
    return 4 * heads * tokens * tokens


def check_attention_size(where: str, heads: int, tokens: int, *, limit: int = MAX_SCORE_BYTES,
                         name: str = "MAX_SCORE_BYTES") -> None:
    """Refuse a workload whose tokens or per-layer score matrix exceed :data:`MAX_TOKENS` / ``limit`` (bytes)."""
    if tokens > MAX_TOKENS:
        raise HwsimError(f"{where}: {tokens:,} tokens exceed the bound of {MAX_TOKENS:,} tokens per sequence "
                         f"(hwsim.limits.MAX_TOKENS)")
    need = score_bytes(heads, tokens)
    if need > limit:
        raise HwsimError(f"{where}: {heads} heads x {tokens:,}^2 tokens need {need / 2**30:.1f} GiB of float32 "
                         f"scores per layer, more than the bound of {limit / 2**30:g} GiB "
                         f"(hwsim.limits.{name})")

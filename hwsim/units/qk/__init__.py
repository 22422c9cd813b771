"""The Q x K broadcast-multiply-reduce array."""

from .golden import QK_LATENCY_CYCLES, keys_per_cycle, qk_service_cycles

__all__ = ["keys_per_cycle", "qk_service_cycles", "QK_LATENCY_CYCLES"]

"""The Q x K broadcast-multiply-reduce array: :class:`QKParams`, golden scores and cycles."""

from .golden import scores, service_cycles
from .params import QK_LATENCY_CYCLES, QKParams, array_rate

__all__ = ["QKParams", "scores", "service_cycles", "array_rate", "QK_LATENCY_CYCLES"]

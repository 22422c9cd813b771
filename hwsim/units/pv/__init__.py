"""The attention_prob x V array."""

from .golden import PV_LATENCY_CYCLES

__all__ = ["PV_LATENCY_CYCLES"]

"""The attention_prob x V array: :class:`PVParams`, golden output and cycles."""

from .golden import output, service_cycles
from .params import PV_LATENCY_CYCLES, PVParams

__all__ = ["PVParams", "output", "service_cycles", "PV_LATENCY_CYCLES"]

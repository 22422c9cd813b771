"""The floating-point softmax unit and the progressive-quantization check: :class:`SoftmaxParams`."""

from .golden import needs_lsb, needs_lsb_from_max, service_cycles, softmax_rows
from .params import PQ_DECISION_CYCLES, SoftmaxParams

__all__ = ["SoftmaxParams", "softmax_rows", "service_cycles", "needs_lsb", "needs_lsb_from_max", "PQ_DECISION_CYCLES"]

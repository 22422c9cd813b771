"""The floating-point softmax unit and the progressive-quantization check: :class:`SoftmaxParams`."""

from .golden import needs_lsb, service_cycles, softmax_rows
from .params import PQ_DECISION_CYCLES, SoftmaxParams

__all__ = ["SoftmaxParams", "softmax_rows", "service_cycles", "needs_lsb", "PQ_DECISION_CYCLES"]

"""The floating-point softmax unit and the progressive-quantization check."""

from .golden import needs_lsb, softmax_rows, softmax_service_cycles

__all__ = ["softmax_rows", "softmax_service_cycles", "needs_lsb"]

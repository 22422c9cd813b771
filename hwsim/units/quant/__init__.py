"""Linear symmetric quantization, MSB/LSB planes, and the bit-width converter."""

from .golden import dequantize, drop_lsbs, quantize_probs, quantize_symmetric

__all__ = ["quantize_symmetric", "dequantize", "drop_lsbs", "quantize_probs"]

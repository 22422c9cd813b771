"""Linear symmetric quantization, MSB/LSB planes and the bit-width converter: :class:`QuantParams`."""

from .golden import (dequantize, dequantize_msb, drop_lsbs, quantize_heads, quantize_probs, quantize_symmetric,
                     to_float32)
from .params import QuantParams

__all__ = ["QuantParams", "quantize_symmetric", "quantize_heads", "dequantize", "dequantize_msb", "drop_lsbs",
           "quantize_probs", "to_float32"]

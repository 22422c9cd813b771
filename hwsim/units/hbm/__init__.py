"""HBM and the Q-K-V fetcher: which 32-byte transactions a fetch needs and how long the channels take."""

from .golden import transfer, transfer_cycles, vector_bytes

__all__ = ["transfer", "transfer_cycles", "vector_bytes"]

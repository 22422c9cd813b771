"""HBM and the Q-K-V fetcher: :class:`HbmParams`, the transactions a fetch needs and how long the channels take."""

from .golden import transfer, transfer_cycles, transfers, vector_bytes
from .params import HbmParams
from .timing import NO_FETCH, Fetch, fetch, fetch_many, first_line_cycles

__all__ = ["HbmParams", "Fetch", "NO_FETCH", "fetch", "fetch_many", "first_line_cycles", "transfer", "transfers", "transfer_cycles", "vector_bytes"]

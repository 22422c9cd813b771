"""HBM and the Q-K-V fetcher: :class:`HbmParams`, the transactions a fetch needs and how long the channels take."""

from .golden import transfer, transfer_cycles, transfers, transfers_new, vector_bytes
from .params import HbmParams
from .timing import NO_FETCH, Fetch, fetch, fetch_many, fetch_new, first_line_cycles

__all__ = ["HbmParams", "Fetch", "NO_FETCH", "fetch", "fetch_many", "fetch_new", "first_line_cycles", "transfer", "transfers", "transfers_new", "transfer_cycles", "vector_bytes"]

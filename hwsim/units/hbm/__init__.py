"""HBM and the Q-K-V fetcher: :class:`HbmParams`, the transactions a fetch needs and how long the channels take."""

from .golden import transfer, transfer_cycles, transfer_widths, transfers, transfers_new, vector_bytes
from .params import HbmParams
from .timing import NO_FETCH, Fetch, fetch, fetch_many, fetch_new, fetch_widths, first_line_cycles

__all__ = ["HbmParams", "Fetch", "NO_FETCH", "fetch", "fetch_many", "fetch_new", "fetch_widths", "first_line_cycles", "transfer", "transfer_widths", "transfers", "transfers_new", "transfer_cycles", "vector_bytes"]

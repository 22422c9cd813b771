"""SpAtten's quick-select top-k engine: one parameter object, three views.

* :class:`TopKParams` configures every view.
* Golden (:mod:`hwsim.units.topk.golden`, numba): :func:`select`, :func:`select_batch`,
  :func:`select_batch_detail`, :func:`quantize_scores`, :func:`zero_eliminate`.
* Timing (:mod:`hwsim.units.topk.timing`): the two engines as a simpy unit and an in-order
  schedule recurrence.
* RTL: ``rtl/topk.py`` and ``rtl/zero_eliminator.py`` (Amaranth), checked against the golden view.
* Baselines: :mod:`hwsim.units.topk.sorter` (Batcher odd-even merge sorter) and
  :mod:`hwsim.units.topk.authors` (the authors' latency model).

See ``docs/topk.md``.
"""

from .golden import (
    DETAIL_FIELDS,
    ROUND_FIELDS,
    lfsr_draw,
    quantize_scores,
    select,
    select_batch,
    select_batch_detail,
    select_batch_params,
    select_detail,
    select_params,
    select_rounds,
    zero_eliminate,
    zero_eliminate_layers,
)
from .params import OVERLAPS, TopKParams
from .timing import (
    KINDS,
    STAGES,
    TopKRequest,
    TopKUnit,
    fill_cycles,
    schedule,
    sequence_cycles,
    sequence_schedule,
    service_cycles,
    stage_services,
)

__all__ = [
    "TopKParams",
    "OVERLAPS",
    "TopKUnit",
    "TopKRequest",
    "KINDS",
    "STAGES",
    "stage_services",
    "sequence_schedule",
    "sequence_cycles",
    "schedule",
    "fill_cycles",
    "service_cycles",
    "select",
    "select_batch",
    "select_batch_detail",
    "select_batch_params",
    "select_detail",
    "select_params",
    "select_rounds",
    "quantize_scores",
    "zero_eliminate",
    "zero_eliminate_layers",
    "lfsr_draw",
    "DETAIL_FIELDS",
    "ROUND_FIELDS",
]

"""Cost models: energy and area of the hardware, latency of MPC protocols over networks.

Energy and area (docs/energy-area.md)::

    from cost_models import EVENTS, energy_pj, power_w, area_mm2

    e = energy_pj({"qk_mults": 1e9, "hbm_read_bytes": 4e8}, design)   # pJ by module and component
    p = power_w(e, seconds)                                          # W, same keys
    a = area_mm2(design)                                             # mm^2 by module

``calibrate_energy`` and ``calibrate_area`` return the factors that put the paper's reference run
and design on SpAtten's published totals. Deeper pieces: ``cost_models.technology`` (per-operation
costs and node scaling), ``cost_models.sram`` (the CACTI-like SRAM table),
``cost_models.inventory`` (what a design instantiates).
"""

from .area import area_mm2
from .area import calibrate as calibrate_area
from .energy import EVENTS, energy_pj, power_w
from .energy import calibrate as calibrate_energy
from .energy import calibrate_static
from .sram import Sram

__all__ = [
    "EVENTS",
    "energy_pj",
    "power_w",
    "calibrate_energy",
    "calibrate_static",
    "area_mm2",
    "calibrate_area",
    "Sram",
]

"""Golden timing of the prob x V array (SpAtten §4, module 11; ``references/spatten.md`` §2.2).

Microarchitecture: probabilities are broadcast ``head_dim`` times; the adder tree forms
``head_dim`` separate ``multipliers / head_dim``-way sums, accumulated across cycles. A row with
k kept V vectors therefore occupies the array ``ceil(k / (multipliers / head_dim))`` cycles
(computed with :func:`hwsim.units.qk.qk_service_cycles`, the same broadcast-multiply-reduce block),
and the result leaves 1 + 1 + 1 cycles later (the authors' ``bert.cpp`` "V 1+1+1").
"""

__all__ = ["PV_LATENCY_CYCLES"]

#: Pipeline depth of the prob x V array (cycles): read, multiply, accumulate (bert.cpp).
PV_LATENCY_CYCLES = 3

"""The sparse linear/conv pipeline: one layer through one engine with its masks, cycles, bytes, energy and error.

It composes the units of :mod:`hwsim.units.sparse` with :mod:`cost_models.sparse` (energy), as
:mod:`hwsim.spatten` composes the attention units. See ``docs/sparse.md``.
"""

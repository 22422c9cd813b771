"""Hardware units of the accelerator, each in three views (DESIGN.md, "Three views of one unit").

Every unit lives in its own subpackage ``hwsim.units.<unit>`` with a ``golden`` module (the function
and its exact cycle count, numba), a ``timing`` module (the unit inside the pipeline) and, where one
exists, an Amaranth RTL view in ``rtl/<unit>.py``. Import the unit you need, e.g.
``from hwsim.units.topk import select``.
"""

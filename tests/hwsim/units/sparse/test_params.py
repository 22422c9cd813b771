"""Every parameter of the sparse unit changes some output (STYLE 17), and bad values are refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwsim.errors import HwsimError
from hwsim.units.sparse import masks
from hwsim.units.sparse.params import MemoryParams, SparsityParams, SystolicParams
from hwsim.sparse.run import Layer, run_layer

RNG = np.random.default_rng(0)
LAYER = Layer("l", "linear", (RNG.standard_normal((96, 512)),),
              (np.where(masks.bernoulli_mask((40, 512), 0.6, seed=1), RNG.standard_normal((40, 512)), 0.0),))


def _outputs(array, sparsity, memory, nm=None, density=0.5):
    r = run_layer(LAYER, array, sparsity, memory, density=density, nm=nm)
    return r.row()


BASE = (SystolicParams(rows=8, cols=8, dataflow="ws"), SparsityParams(engine="weight-sparse"),
        MemoryParams(ifmap_bytes=4096, filter_bytes=4096, ofmap_bytes=4096))
PERTURB = {
    (0, "rows"): 16, (0, "cols"): 4, (0, "dataflow"): "is",
    (1, "engine"): "dense",
    (2, "ifmap_bytes"): 1 << 20, (2, "filter_bytes"): 1 << 20, (2, "ofmap_bytes"): 1 << 20, (2, "value_bits"): 16,
    (2, "channels"): 1, (2, "channel_bytes_per_cycle"): 0.5, (2, "interleave_bytes"): 4096, (2, "latency_cycles"): 100000,
}


def test_every_field_is_perturbed():
    fields = {(i, f.name) for i, p in enumerate(BASE) for f in dataclasses.fields(p)}
    fields -= {(1, "n"), (1, "m"), (1, "balance")}  # checked below on the engines that read them
    assert fields == set(PERTURB)


@pytest.mark.parametrize("key", list(PERTURB), ids=lambda k: k[1])
def test_field_moves_an_output(key):
    i, name = key
    changed = list(BASE)
    changed[i] = dataclasses.replace(BASE[i], **{name: PERTURB[key]})
    assert _outputs(*changed) != _outputs(*BASE)


def test_nm_and_balance_fields_move_outputs():
    arr = SystolicParams(rows=8, cols=8, dataflow="os")
    mem = BASE[2]
    a = _outputs(arr, SparsityParams(engine="nm", n=2, m=4), mem, nm=(2, 4), density=1.0)
    b = _outputs(arr, SparsityParams(engine="nm", n=1, m=4), mem, nm=(1, 4), density=1.0)
    c = _outputs(arr, SparsityParams(engine="nm", n=2, m=8), mem, nm=(2, 8), density=1.0)
    assert a != b and a != c
    nb = _outputs(arr, SparsityParams(engine="dual-sparse"), mem)
    wb = _outputs(arr, SparsityParams(engine="dual-sparse", balance=True), mem)
    assert nb["compute_cycles"] != wb["compute_cycles"]


@pytest.mark.parametrize("make, message", [
    (lambda: SystolicParams(cols=5000), "Array cols must be an integer from 1 to 4096, not 5000"),
    (lambda: SystolicParams(rows=2.0), "Array rows must be an integer from 1 to 4096, not 2.0"),
    (lambda: SparsityParams(engine="scnn"), "Engine must be one of dense, weight-sparse, dual-sparse, nm, not 'scnn'"),
    (lambda: SparsityParams(m=0), "N:M block size M must be an integer from 1 to 64, not 0"),
    (lambda: SparsityParams(balance=1), "Balance must be a bool, not 1"),
    (lambda: MemoryParams(value_bits=0), "Value bits must be an integer from 1 to 32, not 0"),
    (lambda: MemoryParams(channel_bytes_per_cycle=0), "HBM channel bytes per cycle must be a number in (0, 1e6), not 0"),
])
def test_bad_parameters(make, message):
    with pytest.raises(HwsimError) as e:
        make()
    assert str(e.value) == message

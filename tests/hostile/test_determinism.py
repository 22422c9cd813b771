"""Same inputs, same bytes: a trace's weight statistics do not depend on torch's thread count."""

from __future__ import annotations

import math

import numpy as np


def test_weight_statistics_are_exact_float64_sums():
    from workloads.opgraph import weight_stats

    w = np.random.default_rng(0).standard_normal(3_000_001).astype(np.float32)  # three blocks and a bit
    w[::7] = 0
    x = w.astype(np.float64)
    st = weight_stats(w)
    mean = math.fsum(x) / x.size
    assert math.isclose(st["abs_mean"], math.fsum(np.abs(x)) / x.size, rel_tol=1e-12)
    assert math.isclose(st["std"], math.sqrt(math.fsum((x - mean) ** 2) / (x.size - 1)), rel_tol=1e-12)
    assert st["nonzero_fraction"] == np.count_nonzero(w) / w.size and st["abs_max"] == float(np.abs(w).max())


def test_op_graph_is_the_same_under_any_torch_thread_count():
    import torch

    from workloads.opgraph import OpGraphRecorder

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(768, 3072), torch.nn.GELU(), torch.nn.Linear(3072, 768)).eval()
    x = torch.randn(1, 8, 768)
    saved = torch.get_num_threads()
    graphs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with OpGraphRecorder(model) as rec, torch.no_grad():
                model(x)
            graphs.append(rec.nodes)
    finally:
        torch.set_num_threads(saved)
    assert graphs[0] == graphs[1] and graphs[0][0]["weight"]["numel"] == 768 * 3072

"""Masks (DASS/HYDRA, magnitude, N:M, activations) and the functional sparse layers."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.errors import HwsimError
from hwsim.units.sparse import layers, masks


def test_hydra_keeps_top_fraction_of_scores():
    w = np.random.default_rng(0).standard_normal((16, 40))
    mask = masks.hydra_mask(w, 0.25)
    assert mask.sum() == 160
    assert np.abs(w[mask]).min() >= np.abs(w[~mask]).max()
    # scores proportional to the weights (HYDRA's scaled init): same mask as magnitude pruning
    np.testing.assert_array_equal(mask, masks.magnitude_mask(w, 0.25))
    np.testing.assert_allclose(masks.hydra_scores(w), np.sqrt(6 / 40) * w / np.abs(w).max())
    # trained scores pick their own top fraction, whatever the weights
    scores = np.arange(w.size, dtype=float).reshape(w.shape)
    np.testing.assert_array_equal(masks.hydra_mask(w, 0.5, scores=scores).ravel(), np.arange(w.size) >= w.size // 2)


def test_masks_are_deterministic_with_ties():
    w = np.ones((4, 8))
    mask = masks.magnitude_mask(w, 0.5)
    assert mask.ravel()[:16].all() and not mask.ravel()[16:].any()


def test_conv_weights_flatten_im2col_order():
    w = np.random.default_rng(1).standard_normal((6, 3, 3, 3))
    assert masks.magnitude_mask(w, 0.3).shape == (6, 27)


def test_nm_mask():
    w = np.random.default_rng(2).standard_normal((5, 24))
    mask = masks.nm_mask(w, 2, 4)
    blocks = np.abs(w).reshape(5, 6, 4)
    kept = mask.reshape(5, 6, 4)
    assert (kept.sum(axis=2) == 2).all()
    assert (np.where(kept, blocks, np.inf).min(axis=2) >= np.where(kept, -np.inf, blocks).max(axis=2)).all()
    assert (masks.nm_mask(w, 3, 8).reshape(5, 3, 8).sum(axis=2) == 3).all()
    with pytest.raises(HwsimError, match="M = 5 must divide K = 24"):
        masks.nm_mask(w, 2, 5)


def test_activation_mask_and_density():
    a = np.array([[0.0, 1.0, -0.5], [0.01, 0.0, 2.0]])
    assert masks.density(masks.activation_mask(a)) == 4 / 6
    assert masks.density(masks.activation_mask(a, 0.1)) == 3 / 6


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, "x", True])
def test_density_checked(bad):
    with pytest.raises(HwsimError, match=r"--density must be a number in \(0, 1\], not"):
        masks.check_density(bad)


def test_sparse_linear_error_against_dense():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((10, 32)), rng.standard_normal((16, 32)), rng.standard_normal(16)
    dense = layers.sparse_linear(x, w, None, b)
    np.testing.assert_allclose(dense, x @ w.T + b)
    errs = [layers.relative_error(layers.sparse_linear(x, w, masks.magnitude_mask(w, d), b), dense)
            for d in (1.0, 0.7, 0.4, 0.1)]
    assert errs[0] == 0.0 and errs == sorted(errs) and errs[-1] > 0.3


def test_sparse_conv2d_matches_torch():
    import torch

    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 9, 9))
    w = rng.standard_normal((8, 4, 3, 3))
    mask = masks.magnitude_mask(w, 0.5)
    got = layers.sparse_conv2d(x, w, mask, stride=2, padding=1)
    ref = torch.nn.functional.conv2d(torch.tensor(x)[None], torch.tensor(w * mask.reshape(w.shape)),
                                     stride=2, padding=1)[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-10)
    dw = rng.standard_normal((4, 1, 3, 3))
    got = layers.sparse_conv2d(x, dw, None, groups=4, padding=1)
    ref = torch.nn.functional.conv2d(torch.tensor(x)[None], torch.tensor(dw), groups=4, padding=1)[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-10)

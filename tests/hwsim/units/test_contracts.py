"""One contract per streaming unit (Q x K, softmax, prob x V), run against its golden and timing views.

PyMTL3's way: the contract is written once (:class:`StreamContract`); each subclass only says how
the view is invoked. The golden view is the unit's ``service_cycles``; the timing view is the
unit inside the SpAtten row pipeline (:class:`hwsim.spatten.timing.Machine` building the service
table, :func:`hwsim.pipeline.schedule` timing it), observed from outside: the cycles between
consecutive rows' starts and a row's start-to-result time. The units' functions get their tests
below the contracts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwsim.config import load_design, load_policy
from hwsim.errors import HwsimError
from hwsim.pipeline import schedule
from hwsim.spatten.functional import HeadRows
from hwsim.spatten.timing import STAGES, Machine
from hwsim.spatten.units import SpattenUnits
from hwsim.units import pv, qk, softmax
from hwsim.units.hbm import HbmParams
from hwsim.units.quant import (QuantParams, dequantize, dequantize_msb, drop_lsbs, quantize_heads, quantize_probs,
                               quantize_symmetric, to_float32)

ROWS = np.array([1, 7, 8, 9, 64, 1000, 3, 0, 16])
UNITS = SpattenUnits.from_design(load_design("spatten", ["softmax.parallelism=4"]), 64)


class StreamContract:
    """A unit that takes ``rate`` items a cycle: a row of n items occupies it ceil(n / rate) cycles,
    rows follow each other back to back, and a row's result leaves ``latency`` cycles after its
    last item went in."""

    rate: int
    latency: int

    def occupancy(self, n: np.ndarray) -> np.ndarray:  # cycles per row
        raise NotImplementedError

    def start_and_result(self, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # cycles, back to back
        occ = self.occupancy(n)
        start = np.concatenate([[0], np.cumsum(occ)[:-1]])
        return start, start + occ + np.where(occ > 0, self.latency, 0)

    def test_occupancy_is_the_ceiling_of_the_rate(self):
        assert self.occupancy(ROWS).tolist() == [math.ceil(n / self.rate) for n in ROWS]

    def test_back_to_back_rows_and_latency(self):
        start, done = self.start_and_result(ROWS)
        occ = [math.ceil(n / self.rate) for n in ROWS]
        assert np.diff(start).tolist() == occ[:-1]
        assert (done - start).tolist() == [c + self.latency if c else 0 for c in occ]


class TimingView(StreamContract):
    """The unit as one stage of the row pipeline: only its own stage gets work."""

    stage: str

    def _table(self, n):
        hr = HeadRows(0, np.asarray(n), np.zeros(len(n), bool), np.asarray(n), np.zeros(len(n), np.int64),
                      np.zeros(len(n), np.int64), np.zeros(len(n), np.int64), 0.0, np.arange(0))
        service, latency, _ = Machine(UNITS).row_services(hr, 0)
        s = STAGES.index(self.stage)
        only = np.zeros_like(service)
        only[s] = service[s]
        return only, latency, s

    def occupancy(self, n):
        return self._table(n)[0][self._table(n)[2]]

    def start_and_result(self, n):
        service, latency, s = self._table(n)
        start, done = schedule(service, latency, 0, np.zeros_like(service))
        return start[s], done[s]


class TestQKGolden(StreamContract):
    rate, latency = UNITS.qk.keys_per_cycle, UNITS.qk.latency_cycles

    def occupancy(self, n):
        return qk.service_cycles(n, UNITS.qk)


class TestQKTiming(TimingView):
    rate, latency, stage = UNITS.qk.keys_per_cycle, UNITS.qk.latency_cycles, "qk"


class TestSoftmaxGolden(StreamContract):
    rate, latency = UNITS.softmax.parallelism, UNITS.softmax.latency_cycles

    def occupancy(self, n):
        return softmax.service_cycles(n, UNITS.softmax)


class TestSoftmaxTiming(TimingView):
    rate, latency, stage = UNITS.softmax.parallelism, UNITS.softmax.latency_cycles, "softmax"


class TestPVGolden(StreamContract):
    rate, latency = UNITS.pv.values_per_cycle, UNITS.pv.latency_cycles

    def occupancy(self, n):
        return pv.service_cycles(n, UNITS.pv)


class TestPVTiming(TimingView):
    rate, latency, stage = UNITS.pv.values_per_cycle, UNITS.pv.latency_cycles, "pv"


# ------------------------------------------------------------------------------- functions


def test_qk_scores_are_scaled_dot_products():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((3, 5, 64)), rng.standard_normal((11, 64))
    got = qk.scores(q, k, 0.125)
    assert got.dtype == np.float32 and got.shape == (3, 5, 11)
    np.testing.assert_allclose(got, (q @ k.T) * 0.125, rtol=1e-5, atol=1e-5)


def test_softmax_rows_masks_and_inplace():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((4, 9)).astype(np.float32)
    s[1, 3:] = -np.inf
    s[2] = -np.inf
    p = softmax.softmax_rows(s)
    ref = np.exp(s - np.where(np.isfinite(s.max(1)), s.max(1), 0)[:, None])
    ref = np.divide(ref, ref.sum(1, keepdims=True), out=np.zeros_like(ref), where=ref.sum(1, keepdims=True) > 0)
    np.testing.assert_allclose(p, ref, rtol=1e-6)
    assert (p[1, 3:] == 0).all() and (p[2] == 0).all() and np.allclose(p.sum(1), [1, 1, 0, 1])
    t = s.copy()
    out = softmax.softmax_rows(t, inplace=True)
    assert out is t and np.array_equal(out, p)
    assert softmax.needs_lsb(p, 0.5).tolist() == (p.max(1) < 0.5).tolist()
    # the row maximum comes with the probabilities, bit for bit their max (0 for the all-masked row)
    for scores in (s, rng.standard_normal((3, 7, 300)).astype(np.float32) * 8):
        probs, top = softmax.softmax_rows(scores, row_max=True)
        assert np.array_equal(top.view(np.uint32), probs.max(-1).view(np.uint32))
        assert np.array_equal(softmax.needs_lsb_from_max(top, 0.3), softmax.needs_lsb(probs, 0.3))


def test_softmax_rows_equal_numpy_bit_for_bit():
    """The compiled max/subtract and divide passes give numpy's float32 softmax exactly (masked rows, inf, any
    shape, a non-contiguous array written in place)."""
    def numpy_softmax(x):
        m = np.max(x, axis=-1, keepdims=True)
        e = np.exp(x - np.where(np.isfinite(m), m, np.float32(0)).astype(np.float32))
        z = np.sum(e, axis=-1, keepdims=True)
        z[z <= 0] = 1
        return e / z

    rng = np.random.default_rng(4)
    for _ in range(300):
        shape = tuple(int(n) for n in rng.integers(1, 6, size=int(rng.integers(0, 3)))) + (int(rng.integers(1, 600)),)
        x = (rng.standard_normal(shape) * float(rng.choice([0.1, 3.0, 40.0]))).astype(np.float32)
        if rng.random() < 0.4:
            x[rng.random(shape) < 0.3] = -np.inf
        if rng.random() < 0.1:
            x[..., 0] = np.inf  # exp(inf - 0) / inf: NaN on both sides
        with np.errstate(over="ignore", invalid="ignore"):
            assert softmax.softmax_rows(x).tobytes() == numpy_softmax(x).tobytes()
    x = rng.standard_normal((3, 8, 50)).astype(np.float32)
    view = x[:, ::2]
    want = numpy_softmax(view)
    assert softmax.softmax_rows(view, inplace=True) is view and view.tobytes() == want.tobytes()


def test_pv_output_uses_fixed_point_probabilities():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(8), size=3).astype(np.float32)
    v = rng.standard_normal((8, 64)).astype(np.float32)
    params = pv.PVParams(multipliers=512, head_dim=64, prob_bits=4)
    ref = (np.rint(p * 15) / 15) @ v
    np.testing.assert_allclose(pv.output(p, v, params), ref, rtol=1e-5, atol=1e-6)


def test_quantization_planes():
    x = np.array([[-1.0, -0.26, 0.0, 0.6, 1.0]], np.float32)
    q, scale = quantize_symmetric(x, 4)
    assert q.tolist() == [[-7, -2, 0, 4, 7]] and scale == pytest.approx(1 / 7)
    assert drop_lsbs(np.array([-7, -2, 5, 7]), 2).tolist() == [-8, -4, 4, 4]  # arithmetic shift: floor
    np.testing.assert_array_equal(dequantize_msb(q, scale, 2), dequantize(drop_lsbs(q, 2), scale))
    codes, scales = quantize_heads(np.stack([x, 2 * x]), 4)
    assert codes.dtype == np.int16 and scales.tolist() == pytest.approx([1 / 7, 2 / 7])


@pytest.mark.parametrize("bits", [2, 4, 8, 12, 16])
def test_probability_quantization_is_one_rounding_whichever_path(bits):
    """The one-pass in-place kernel, the strided in-place path and the copy give the same float32 bits
    as ``rint(p * levels) / levels`` (ties at .5 round to even)."""
    rng = np.random.default_rng(bits)
    p = (rng.random((3, 5, 257)) ** 3).astype(np.float32)
    levels = np.float32((1 << bits) - 1)
    p[0, 0, :4] = [0.0, 1.0, 0.5 / levels, 1.5 / levels]  # exact ties
    ref = np.rint(p * levels) / levels
    assert np.array_equal(quantize_probs(p, bits).view(np.uint32), ref.view(np.uint32))
    flat = p.copy()
    assert quantize_probs(flat, bits, inplace=True) is flat and np.array_equal(flat.view(np.uint32), ref.view(np.uint32))
    strided = p.copy().transpose(2, 0, 1)  # not C-contiguous: the numpy passes
    assert quantize_probs(strided, bits, inplace=True) is strided
    assert np.array_equal(strided.transpose(1, 2, 0).view(np.uint32), ref.view(np.uint32))


def test_symmetric_quantization_matches_the_plain_formula():
    """codes = clip(rint(x / scale), -qmax, qmax) with scale = max|x| / qmax, negative extremes included."""
    rng = np.random.default_rng(5)
    for x in (rng.standard_normal((7, 33)).astype(np.float32), -np.abs(rng.standard_normal((4, 9))).astype(np.float32),
              np.zeros((2, 3), np.float32)):
        for bits in (3, 8, 12):
            qmax = (1 << (bits - 1)) - 1
            amax = float(np.max(np.abs(x)))
            scale = amax / qmax if amax > 0 else 1.0
            q, got = quantize_symmetric(x, bits)
            assert got == scale
            np.testing.assert_array_equal(q, np.clip(np.rint(x / np.float32(scale)), -qmax, qmax).astype(np.int32))


@pytest.mark.parametrize("bits", [2, 6, 12, 16, 20])
def test_heads_quantized_at_once_equal_each_head_on_its_own(bits):
    rng = np.random.default_rng(bits)
    x = (rng.standard_normal((5, 17, 8)) * rng.uniform(0.1, 9, (5, 1, 1))).astype(np.float32)
    x[3] = 0.0  # an all-zero head: scale 1
    for amax in (None, np.array([0.5, 2.0, 0.0, 1.0, 100.0])):  # calibrated: saturating, 0, generous
        codes, scales = quantize_heads(x, bits, amax)
        for h in range(x.shape[0]):
            q, sc = quantize_symmetric(x[h], bits, None if amax is None else float(amax[h]))
            assert scales[h] == sc
            np.testing.assert_array_equal(codes[h], q)
    # exact halves round to even, as np.rint does (scale 1: a calibrated range of qmax)
    qmax = (1 << (bits - 1)) - 1
    halves = np.array([[[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, qmax + 0.5, -qmax - 7.0]]], np.float32)
    codes, _ = quantize_heads(halves, bits, np.array([float(qmax)]))
    assert codes[0, 0].tolist() == np.clip(np.rint(halves[0, 0]), -qmax, qmax).astype(int).tolist()


def test_float16_widening_is_numpys_bit_for_bit():
    """Every float16 bit pattern (NaNs, infinities, subnormals, -0) widens as ``astype`` does; others pass."""
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    for x in (every, every.reshape(256, 256)[:, ::3], every[::-1].reshape(16, 64, 64)):  # strided, 3-d
        got = to_float32(x)
        assert got.dtype == np.float32 and got.shape == x.shape
        assert np.array_equal(got.view(np.uint32), x.astype(np.float32).view(np.uint32))
    f32 = np.linspace(-1, 1, 7, dtype=np.float32)
    assert to_float32(f32) is f32 and to_float32([1, 2]).dtype == np.float32


def test_quant_params_from_a_policy():
    d = load_design("spatten")
    assert QuantParams.from_design(d, load_policy("none")) == QuantParams()
    gpt2 = QuantParams.from_design(d, load_policy("spatten-gpt2"))
    assert (gpt2.key_bits, gpt2.key_lsb_bits, gpt2.value_bits, gpt2.threshold) == (6, 4, 6, 0.05)
    assert gpt2.progressive and gpt2.key_total_bits == 10
    with pytest.raises(HwsimError, match="head dimension 2 at 6-bit keys is not a whole number of bytes"):
        gpt2.check_head_dim(2)


@pytest.mark.parametrize("build,message", [
    (lambda: qk.QKParams(multipliers=512, head_dim=48),
     "head dimension 48: the Q x K array of 512 multipliers cannot map it (expected a divisor of 512)"),
    (lambda: pv.PVParams(head_dim=64, prob_bits=1), "prob x V prob_bits must be an integer from 2 to 32, not 1"),
    (lambda: softmax.SoftmaxParams(parallelism=0), "softmax parallelism must be an integer from 1 to 64, not 0"),
    (lambda: QuantParams(threshold=1.5), "quantization threshold must be a number from 0 to 1, not 1.5"),
    (lambda: HbmParams(channel_bytes_per_cycle=0.0),
     "HBM channel_bytes_per_cycle must be a number above 0 and at most 1e6, not 0.0"),
])
def test_parameter_objects_validate_at_construction(build, message):
    with pytest.raises(HwsimError) as info:
        build()
    assert str(info.value) == message


def test_every_unit_is_built_from_the_design_in_one_place():
    d = load_design("spatten-eighth")
    u = SpattenUnits.from_design(d, 64, policy=load_policy("spatten-gpt2"), seed=7)
    assert (u.qk.keys_per_cycle, u.pv.values_per_cycle, u.softmax.parallelism) == (1, 1, 1)
    assert (u.topk.lanes, u.topk.in_lanes, u.topk.seed) == (16, 1, 7)
    assert (u.hbm.channels, u.hbm.channel_bytes_per_cycle, u.hbm.latency_cycles) == (2, 32.0, 40)
    assert (u.key_sram_bytes, u.softmax.row_capacity) == (24576, 128)

"""The zero eliminator: compact the kept lanes of a row to the front, in order (Amaranth 0.5).

SpAtten (HPCA 2021, Fig. "zero eliminator"; released RTL ``utils/ZeroEliminator.scala`` and
``utils/PrefixSum.scala``, `docs/sources.md (SpAtten)` §3.3): an exclusive prefix sum of the drop
flags gives every lane its zero count; then ``log2(lanes)`` shifter layers, layer ``j`` moving an
element down by ``2**j`` lanes when bit ``j`` of its count is set (the incoming element has
priority; kept elements never collide). Combinational; the golden view is
:func:`hwsim.units.topk.zero_eliminate`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .hdl_util import bits_for, lanes_of, popcount, prefix_sum

__all__ = ["ZeroEliminator"]


class ZeroEliminator(wiring.Component):
    """Compact ``lanes`` elements of ``width`` bits by a keep mask.

    Ports
    -----
    data_in : In(lanes * width)
        Lane ``i`` in bits ``[i*width, (i+1)*width)``.
    keep : In(lanes)
        Bit ``i`` keeps lane ``i``.
    data_out : Out(lanes * width)
        The kept lanes in lanes ``0 .. count-1`` in their input order; zeros above.
    count : Out(bits_for(lanes))
        Number of kept lanes.
    """

    def __init__(self, *, lanes: int, width: int):
        if type(lanes) is not int or lanes < 1 or lanes & (lanes - 1):
            raise TypeError(f"Zero eliminator lanes must be a power of two, not {lanes!r}")
        if type(width) is not int or width < 1:
            raise TypeError(f"Zero eliminator width must be a positive integer, not {width!r}")
        self.lanes = lanes
        self.width = width
        super().__init__({
            "data_in": In(unsigned(lanes * width)),
            "keep": In(unsigned(lanes)),
            "data_out": Out(unsigned(lanes * width)),
            "count": Out(unsigned(bits_for(lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        P, W = self.lanes, self.width
        keep = [self.keep[i] for i in range(P)]
        zero_cnt = prefix_sum(m, [~k for k in keep], "zcnt", exclusive=True)
        m.d.comb += self.count.eq(popcount(m, keep, "kept"))
        CW = bits_for(P)

        def register(name, values, width):
            sigs = [Signal(width, name=f"{name}_{i}") for i in range(P)]
            m.d.comb += [s.eq(v) for s, v in zip(sigs, values)]
            return sigs

        data = register("d0", [Mux(keep[i], d, 0) for i, d in enumerate(lanes_of(self.data_in, P, W))], W)
        valid = register("v0", keep, 1)
        cnt = register("c0", [Mux(keep[i], zero_cnt[i], 0) for i in range(P)], CW)
        step, j = 1, 0
        while step < P:
            nd, nv, nc = [], [], []
            for i in range(P):
                stay = valid[i] & ~cnt[i][j]
                if i + step < P:
                    take = valid[i + step] & cnt[i + step][j]
                    nd.append(Mux(take, data[i + step], Mux(stay, data[i], 0)))
                    nv.append(take | stay)
                    nc.append(Mux(take, cnt[i + step], Mux(stay, cnt[i], 0)))
                else:
                    nd.append(Mux(stay, data[i], 0))
                    nv.append(stay)
                    nc.append(Mux(stay, cnt[i], 0))
            j += 1
            data, valid, cnt = register(f"d{j}", nd, W), register(f"v{j}", nv, 1), register(f"c{j}", nc, CW)
            step *= 2
        m.d.comb += self.data_out.eq(Cat(*data))
        return m

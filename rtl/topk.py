"""SpAtten's quick-select top-k engine as an Amaranth 0.5 component.

The microarchitecture, cycle by cycle, is the one declared in :mod:`hwsim.units.topk.golden`
(fill; rounds of ``ceil(m / lanes) + 4`` cycles; filter) and this RTL must match its outputs and
cycle count exactly (``tests/rtl``). Sources: SpAtten (HPCA 2021) §4 "Top-k engine" and
Algorithm 1, the corrected termination and the fixes to the released RTL in
`docs/sources.md (SpAtten)` §3.2, §3.3 and §10.2.

Interface (``P`` = lanes, ``I`` = in_lanes, ``W`` = width, Verilog port names in brackets)

* ``inp`` [``inp__valid``, ``inp__ready``, ``inp__payload``]: input stream, payload
  :meth:`TopK.input_layout`: ``data`` (``I`` scores of ``W`` bits, lane 0 first in the stream),
  ``count`` (valid lanes of a ``last`` beat, 1..I; other beats are full; 0 or more than ``I`` is
  read as ``I``), ``last``. Ready only while the engine fills.
* ``k`` [``k``]: how many to keep, sampled on the cycle the last input beat is accepted and
  clamped to ``1 .. n``.
* ``out`` [``out__valid``, ``out__ready``, ``out__payload``]: output stream, payload
  :meth:`TopK.output_layout`: ``index`` and ``score`` (``P`` lanes each), ``count`` (valid
  lanes, 1..P), ``last``. Indices ascend within and across beats; every beat but the last is full.
* A request longer than ``max_n`` is truncated to its first ``max_n`` scores (the Python API
  rejects it instead).

Overlap (``params.overlap``, :func:`hwsim.units.topk.timing.stage_services`): the engine is two
machines. The *selector* fills and runs the quick-select rounds; at its decision it hands the
request (threshold, tie quota, n, k, where its stream lies in DATA) to a queue of
:func:`filter_queue_depth` entries and the *filter* streams the result out of DATA for the
queue's head. With ``"none"`` the selector waits until the filter has sent the last beat (one
request at a time); with ``"filter"`` (the released RTL, ``QuickSelect.scala:142,147,164``) it
takes the next request's first beat on the cycle after its decision, so the filter of one request
overlaps the fill of the next. The queue and DATA are sized so that, with no source pauses and no
sink back-pressure, neither ever stalls the selector (the bound in :func:`filter_queue_depth`), so
the cycles are exactly :func:`hwsim.units.topk.sequence_schedule`'s; under back-pressure the
selector waits for queue entries and DATA rows instead of overwriting them. ``"full"`` is not
built.

Buffers are three ``Memory`` instances with synchronous reads. FIFO_R holds ``ceil(max_n / P)``
rows of ``P * W`` bits. FIFO_L and DATA (a ring of :func:`data_rows` rows) have rows of
``B * P * W`` bits with ``B = max(1, I / P)`` (:func:`wide_rows`): every input beat is one write
(the engine keeps the ``I``-wide input when ``P < I``), the rounds and the filter read one
``P``-wide slice a cycle, and a round's write to FIFO_L enables one slice (write granularity
``P * W``). With ``I <= P``, ``B = 1`` and every buffer row is ``P`` scores. ``fault`` injects a deliberate bug for the testbench's
self-test only: ``"tie_order"`` keeps the last ties of a row first, ``"extra_cycle"`` adds one
cycle before the filter.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwsim.units.topk.params import LFSR_BITS, LFSR_STEPS_PER_DRAW, LFSR_TAPS, TopKParams

from .hdl_util import bits_for, lanes_of, lfsr_advance, popcount, prefix_sum, shift_lanes_up
from .zero_eliminator import ZeroEliminator

__all__ = ["TopK", "FAULTS", "RTL_OVERLAPS", "input_layout", "output_layout", "filter_queue_depth", "data_rows",
           "wide_rows"]

#: Deliberate bugs for the checker's self-test (never used otherwise).
FAULTS = (None, "tie_order", "extra_cycle")
#: The overlap modes this RTL builds (``TopKParams.overlap``).
RTL_OVERLAPS = ("none", "filter")


def filter_queue_depth(p: TopKParams) -> int:
    """Entries of the queue between the selector and the filter (requests).

    "none": 1. "filter": ``ceil((D + 4) / 6)`` with ``D = ceil(max_n / P)``: a request's filter
    takes at most ``ceil(n / P) + 4 <= D + 4`` cycles and its fill plus rounds at least
    ``ceil(n / I) + ceil(n / P) + 4 >= 6`` (so more than its own filter), so in the recurrence of
    :func:`hwsim.units.topk.sequence_schedule` a request waits less than ``D + 4`` cycles for the
    filter and fewer than ``(D + 4) / 6`` requests wait at once, plus the one being filtered.
    """
    return 1 if p.overlap == "none" else max(1, -(-(p.rows + 4) // 6))


def wide_rows(p: TopKParams) -> int:
    """``B``: ``P``-score rows per row of DATA and FIFO_L, ``max(1, in_lanes / lanes)``."""
    return max(1, p.in_lanes // p.lanes)


def data_rows(p: TopKParams) -> int:
    """Rows of the DATA ring (rows of ``B * lanes`` scores, :func:`wide_rows`).

    With ``Dw = ceil(D / B)`` (the rows one request of ``max_n`` scores takes): "none": ``Dw``.
    "filter": ``2 Dw + ceil(D / 2)``: when a fill starts, DATA holds the request being filtered
    (at most ``Dw`` rows) and the waiting ones (fewer than ``D / 2`` rows in all, by the bound of
    :func:`filter_queue_depth`: a request of ``w`` rows takes at least ``w`` fill cycles and a
    round of ``w + 4``, and the waiting ones' fill plus rounds sum to less than ``D + 4``), and the
    new request reserves ``Dw``. (With ``B = 1``: ``D`` and ``2 D + ceil(D / 2)``.)
    """
    dw = -(-p.rows // wide_rows(p))
    return dw if p.overlap == "none" else 2 * dw + -(-p.rows // 2)


def input_layout(p: TopKParams) -> data.StructLayout:
    """Payload of the input stream."""
    return data.StructLayout({
        "data": data.ArrayLayout(unsigned(p.width), p.in_lanes),
        "count": unsigned(bits_for(p.in_lanes)),
        "last": unsigned(1),
    })


def output_layout(p: TopKParams) -> data.StructLayout:
    """Payload of the output stream."""
    return data.StructLayout({
        "index": data.ArrayLayout(unsigned(p.index_bits), p.lanes),
        "score": data.ArrayLayout(unsigned(p.width), p.lanes),
        "count": unsigned(bits_for(p.lanes)),
        "last": unsigned(1),
    })


class _Packer:
    """Row accumulator: appends a compacted row (``cnt`` lanes, zeros above) behind ``acc_cnt``
    held lanes; ``full`` when ``P`` or more are held. Lanes above the count stay zero."""

    def __init__(self, m, name: str, lanes: int, width: int):
        self.P, self.width = lanes, width
        self.acc = Signal(lanes * width, name=f"{name}_acc")
        self.acc_cnt = Signal(bits_for(lanes), name=f"{name}_acc_cnt")
        self._m = m
        self._name = name

    def combine(self, row, cnt):
        """Return (low row, high row, total) of the accumulator followed by ``row``."""
        m, P, W = self._m, self.P, self.width
        new = lanes_of(row, P, W) + [Const(0, W)] * P
        shifted = shift_lanes_up(m, new, self.acc_cnt, W, f"{self._name}_sh")
        low = Signal(P * W, name=f"{self._name}_low")
        high = Signal(P * W, name=f"{self._name}_high")
        total = Signal(bits_for(2 * P), name=f"{self._name}_total")
        m.d.comb += [
            low.eq(self.acc | Cat(*shifted[:P])),
            high.eq(Cat(*shifted[P:])),
            total.eq(self.acc_cnt + cnt),
        ]
        return low, high, total


class TopK(wiring.Component):
    """The quick-select top-k engine (see the module docstring for the ports).

    Parameters
    ----------
    params : TopKParams
        lanes, in_lanes, width, max_n, the LFSR seed and the overlap ("none" or "filter").
    fault : None, "tie_order" or "extra_cycle"
        Deliberate bug, only for proving that the testbench catches one.
    """

    def __init__(self, params: TopKParams, *, fault: str | None = None):
        if not isinstance(params, TopKParams):
            raise TypeError(f"params must be a TopKParams, not {params!r}")
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}, not {fault!r}")
        if params.overlap not in RTL_OVERLAPS:
            raise ValueError(f"the RTL builds overlap {' or '.join(RTL_OVERLAPS)}, not {params.overlap!r}")
        self.params = params
        self.fault = fault
        super().__init__({
            "inp": In(stream.Signature(input_layout(params))),
            "k": In(unsigned(params.count_bits)),
            "out": Out(stream.Signature(output_layout(params))),
        })

    def elaborate(self, platform):
        p = self.params
        P, I, W, D = p.lanes, p.in_lanes, p.width, p.rows
        LP = (P - 1).bit_length()  # log2(P)
        CB, IB = p.count_bits, p.index_bits
        RB = bits_for(D)
        m = Module()

        # ---------------- buffers ----------------
        # DATA and FIFO_L rows hold B rows of P (one input beat); addresses below count rows of P
        B = wide_rows(p)
        LB = (B - 1).bit_length()
        DW = -(-D // B)                     # wide rows of one request of max_n scores
        S, Q = data_rows(p), filter_queue_depth(p)
        SP = S * B                          # the DATA ring in rows of P
        SB = bits_for(SP)
        m.submodules.data_mem = data_mem = Memory(shape=unsigned(B * P * W), depth=S, init=[])
        m.submodules.fifo_l = fifo_l = Memory(shape=unsigned(B * P * W), depth=DW, init=[])
        m.submodules.fifo_r = fifo_r = Memory(shape=unsigned(P * W), depth=D, init=[])
        data_rd, data_wr = data_mem.read_port(), data_mem.write_port()
        l_rd, r_rd = fifo_l.read_port(), fifo_r.read_port()
        l_wr = fifo_l.write_port(granularity=P * W) if B > 1 else fifo_l.write_port()
        r_wr = fifo_r.write_port()
        # the round pipeline's writes (row of P, data, enable), side 0 = FIFO_L, 1 = FIFO_R
        fifo_wr = [(Signal(RB, name=f"w_addr_{x}"), Signal(P * W, name=f"w_data_{x}"), Signal(name=f"w_en_{x}"))
                   for x in "lr"]

        def slice_of(word, row, name):
            """The P-wide slice of a synchronous read's wide ``word`` for ``row`` (a row of P) read last cycle."""
            if B == 1:
                return word, []
            sl = Signal(LB, name=f"{name}_slice")
            return word.word_select(sl, P * W), [sl.eq(row[:LB])]

        # ---------------- state ----------------
        n = Signal(CB)                      # scores in this request
        k1 = Signal(CB)                     # rank still sought among the current set
        k_req = Signal(CB)                  # k of this request (clamped)
        mset = Signal(CB)                   # size of the current set
        sel = Signal()                      # current set: 0 = FIFO_L, 1 = FIFO_R
        lfsr = Signal(LFSR_BITS, init=p.lfsr_init)
        pivot = Signal(W)
        piv_lane = Signal(max(LP, 1))
        fill_row = Signal(bits_for(D + B))  # next row of P the fill writes; stops at D (truncation)
        rd_row = Signal(RB)
        rows_m = Signal(RB)
        rem = Signal(CB)                    # elements of the set not yet read
        g_cnt, e_cnt, l_cnt = Signal(CB), Signal(CB), Signal(CB)
        wptr = [Signal(RB, name="wptr_l"), Signal(RB, name="wptr_r")]
        # ---------------- the queue from the selector to the filter ----------------
        QB = bits_for(max(Q - 1, 1))
        q_theta = Array(Signal(W, name=f"q_theta_{i}") for i in range(Q))
        q_quota = Array(Signal(CB, name=f"q_quota_{i}") for i in range(Q))
        q_n = Array(Signal(CB, name=f"q_n_{i}") for i in range(Q))
        q_k = Array(Signal(CB, name=f"q_k_{i}") for i in range(Q))
        q_base = Array(Signal(SB, name=f"q_base_{i}") for i in range(Q))
        q_head, q_tail = Signal(QB), Signal(QB)
        q_count = Signal(bits_for(Q))
        push, pop = Signal(), Signal()
        theta, quota, f_n, f_k, f_base = Signal(W), Signal(CB), Signal(CB), Signal(CB), Signal(SB)
        m.d.comb += [theta.eq(q_theta[q_head]), quota.eq(q_quota[q_head]), f_n.eq(q_n[q_head]),
                     f_k.eq(q_k[q_head]), f_base.eq(q_base[q_head])]
        f_active = Signal()
        m.d.comb += f_active.eq(q_count != 0)

        def wrap(v, limit, width):  # v < 2 * limit -> v mod limit
            out = Signal(width)
            m.d.comb += out.eq(Mux(v >= limit, v - limit, v))
            return out

        def step_ptr(ptr, limit):
            return Mux(ptr == limit - 1, 0, ptr + 1)

        m.d.sync += q_count.eq(q_count + push - pop)
        with m.If(pop):
            m.d.sync += q_head.eq(step_ptr(q_head, Q))
        with m.If(push):
            m.d.sync += q_tail.eq(step_ptr(q_tail, Q))
        q_room = Signal()
        m.d.comb += q_room.eq((q_count < Q) | pop)

        # ---------------- DATA ring: where each request's stream lies ----------------
        d_wp = Signal(SB)                   # next DATA row the fill writes
        d_base = Signal(SB)                 # first DATA row of the request being filled
        d_used = Signal(bits_for(SP))       # rows of P held by requests not yet filtered out
        f_rows_all = Signal(RB)             # DATA rows of P of the head request
        m.d.comb += f_rows_all.eq((f_n + (P - 1)) >> LP)
        f_alloc = Signal(bits_for(SP))      # rows of P it holds: whole beats
        m.d.comb += f_alloc.eq(f_rows_all if B == 1 else ((f_n + (I - 1)) >> (I - 1).bit_length()) << LB)

        in_p = self.inp.payload
        in_fire = Signal()
        m.d.comb += in_fire.eq(self.inp.valid & self.inp.ready)
        beat_cnt = Signal(bits_for(I))
        m.d.comb += beat_cnt.eq(Mux(~in_p.last | (in_p.count == 0) | (in_p.count > I), I, in_p.count))
        n_sum = Signal(CB + 1)
        n_next = Signal(CB)
        m.d.comb += [n_sum.eq(n + beat_cnt), n_next.eq(Mux(n_sum > p.max_n, p.max_n, n_sum))]
        k_clamped = Signal(CB)
        m.d.comb += k_clamped.eq(Mux(self.k == 0, 1, Mux(self.k > n_next, n_next, self.k)))

        # write port defaults: the fill writes DATA and FIFO_L; rounds write FIFO_L/FIFO_R
        fill_we = Signal()
        fill_row_data = Signal(B * P * W)
        m.d.comb += [
            data_wr.addr.eq(d_wp >> LB), data_wr.data.eq(fill_row_data), data_wr.en.eq(fill_we),
        ]
        with m.If(fill_we):
            m.d.sync += d_wp.eq(Mux(d_wp == SP - B, 0, d_wp + B))
        m.d.sync += d_used.eq(d_used + Mux(fill_we, B, 0) - Mux(pop, f_alloc, 0))

        # ---------------- round pipeline: compare stage (C) and write stage (W) ----------------
        c_valid = Signal()
        c_nvalid = Signal(bits_for(P))
        w_valid = Signal()
        w_eq = Signal(bits_for(P))
        rd_data = Signal(P * W)
        read_addr = Signal(RB)              # the row of P the rounds read (both FIFOs)
        l_data, l_slice = slice_of(l_rd.data, read_addr, "fifo_l")
        m.d.sync += l_slice
        m.d.comb += [l_rd.addr.eq(read_addr >> LB), r_rd.addr.eq(read_addr)]
        m.d.comb += rd_data.eq(Mux(sel, r_rd.data, l_data))
        x = lanes_of(rd_data, P, W)
        lane_ok = [Const(i, bits_for(P)) < c_nvalid for i in range(P)]
        gt = [lane_ok[i] & (x[i] > pivot) for i in range(P)]
        lt = [lane_ok[i] & (x[i] < pivot) for i in range(P)]
        eq = [lane_ok[i] & ~gt[i] & ~lt[i] for i in range(P)]
        eq_n = popcount(m, eq, "round_eq")
        ze = []
        w_row, w_cnt, packers = [], [], []
        for side, keep in ((0, lt), (1, gt)):  # 0: x < pivot -> FIFO_L, 1: x > pivot -> FIFO_R
            z = ZeroEliminator(lanes=P, width=W)
            m.submodules[f"ze_{'lr'[side]}"] = z
            m.d.comb += [z.data_in.eq(rd_data), z.keep.eq(Cat(*keep))]
            ze.append(z)
            w_row.append(Signal(P * W, name=f"w_row_{'lr'[side]}"))
            w_cnt.append(Signal(bits_for(P), name=f"w_cnt_{'lr'[side]}"))
            packers.append(_Packer(m, f"pack_{'lr'[side]}", P, W))
        m.d.sync += w_valid.eq(c_valid)
        with m.If(c_valid):
            m.d.sync += [w_row[s].eq(ze[s].data_out) for s in (0, 1)]
            m.d.sync += [w_cnt[s].eq(ze[s].count) for s in (0, 1)]
            m.d.sync += w_eq.eq(eq_n)

        decide = Signal()
        round_start = Signal()
        for s in (0, 1):
            pk = packers[s]
            low, high, total = pk.combine(w_row[s], w_cnt[s])
            full = total >= P
            w_addr, w_data, w_en = fifo_wr[s]
            m.d.comb += w_data.eq(Mux(decide, pk.acc, low))
            m.d.comb += w_addr.eq(wptr[s])
            m.d.comb += w_en.eq((w_valid & full) | (decide & (pk.acc_cnt != 0)))
            with m.If(round_start):
                m.d.sync += [pk.acc.eq(0), pk.acc_cnt.eq(0), wptr[s].eq(0)]
            with m.Elif(w_valid):
                with m.If(full):
                    m.d.sync += [pk.acc.eq(high), pk.acc_cnt.eq(total - P), wptr[s].eq(wptr[s] + 1)]
                with m.Else():
                    m.d.sync += [pk.acc.eq(low), pk.acc_cnt.eq(total)]
        (la, ld, le), (ra, rdat, re) = fifo_wr
        m.d.comb += [r_wr.addr.eq(ra), r_wr.data.eq(rdat), r_wr.en.eq(re)]
        if B == 1:
            m.d.comb += [l_wr.addr.eq(la), l_wr.data.eq(ld), l_wr.en.eq(le)]
        else:  # a round writes one slice of a wide FIFO_L row
            m.d.comb += [l_wr.addr.eq(la >> LB), l_wr.data.eq(Cat(*[ld] * B)),
                         l_wr.en.eq(Mux(le, Const(1, B) << la[:LB], 0))]
        # the fill writes FIFO_L through the same port, a whole beat at once
        with m.If(fill_we):
            m.d.comb += [l_wr.addr.eq(fill_row >> LB), l_wr.data.eq(fill_row_data),
                         l_wr.en.eq(Const((1 << B) - 1, B) if B > 1 else 1)]
        with m.If(round_start):
            m.d.sync += [g_cnt.eq(0), e_cnt.eq(0), l_cnt.eq(0)]
        with m.Elif(w_valid):
            m.d.sync += [g_cnt.eq(g_cnt + w_cnt[1]), l_cnt.eq(l_cnt + w_cnt[0]), e_cnt.eq(e_cnt + w_eq)]

        # ---------------- filter pipeline: read (FR), compare + ZE (FC), realign (FO) ----------------
        out_p = self.out.payload
        adv = Signal()
        m.d.comb += adv.eq(~self.out.valid | self.out.ready)
        f_rd = Signal(RB)
        f_rows = f_rows_all
        fc_valid = Signal()
        fc_row = Signal(RB)
        eq_carry = Signal(CB)
        fo_valid = Signal()
        sent = Signal(CB)
        pending_final = Signal()
        f_done = Signal()
        PW = W + IB
        f_row = Signal(SB)                  # the DATA row of P the filter reads
        d_word, d_slice = slice_of(data_rd.data, f_row, "data")
        fx = lanes_of(d_word, P, W)
        base = Signal(CB + 1)
        m.d.comb += base.eq(fc_row * P)
        f_ok = [(base + i) < f_n for i in range(P)]
        f_gt = [f_ok[i] & (fx[i] > theta) for i in range(P)]
        f_eq = [f_ok[i] & (fx[i] == theta) for i in range(P)]
        if self.fault == "tie_order":
            f_pre = list(reversed(prefix_sum(m, list(reversed(f_eq)), "tie_pre")))
        else:
            f_pre = prefix_sum(m, f_eq, "tie_pre")
        f_eq_n = popcount(m, f_eq, "filter_eq")
        f_keep = [f_gt[i] | (f_eq[i] & ((eq_carry + f_pre[i]) <= quota)) for i in range(P)]
        m.submodules.ze_out = ze_f = ZeroEliminator(lanes=P, width=PW)
        m.d.comb += [
            ze_f.data_in.eq(Cat(*[Cat(fx[i], (base + i)[:IB]) for i in range(P)])),
            ze_f.keep.eq(Cat(*f_keep)),
        ]
        fo_row = Signal(P * PW)
        fo_cnt = Signal(bits_for(P))
        opk = _Packer(m, "pack_out", P, PW)
        o_low, o_high, o_total = opk.combine(fo_row, fo_cnt)
        remaining = Signal(CB)
        m.d.comb += remaining.eq(f_k - sent)
        m.d.comb += data_rd.en.eq(adv)

        def load_out(row, count, last):
            pairs = lanes_of(row, P, PW)
            return [
                self.out.valid.eq(1),
                out_p.index.eq(Cat(*[pr[W:] for pr in pairs])),
                out_p.score.eq(Cat(*[pr[:W] for pr in pairs])),
                out_p.count.eq(count),
                out_p.last.eq(last),
            ]

        def reset_filter():
            return [
                f_rd.eq(0), fc_valid.eq(0), fo_valid.eq(0), eq_carry.eq(0), sent.eq(0),
                pending_final.eq(0), f_done.eq(0), opk.acc.eq(0), opk.acc_cnt.eq(0),
            ]

        # ---------------- control ----------------
        word = Signal(LFSR_BITS)
        m.d.comb += word.eq(lfsr_advance(lfsr, bits=LFSR_BITS, taps=LFSR_TAPS, steps=LFSR_STEPS_PER_DRAW))
        piv_idx = Signal(CB)
        m.d.comb += piv_idx.eq((word * mset) >> LFSR_BITS)

        # fill: regroup input beats of I scores into rows of P
        beat = in_p.data.as_value()
        if I <= P:
            G = P // I
            row_buf = Signal(P * W)
            slot = Signal(bits_for(G))
            merged = Signal(P * W)
            m.d.comb += merged.eq(Cat(*[Mux(slot == s, beat, row_buf[s * I * W:(s + 1) * I * W]) for s in range(G)]))
            m.d.comb += fill_row_data.eq(merged)
        else:
            m.d.comb += fill_row_data.eq(beat)

        # a request's first beat reserves DW wide rows of the DATA ring (never short without back-pressure)
        fresh = Signal()
        m.d.comb += fresh.eq((n == 0) & (fill_row == 0))
        room = Signal()
        m.d.comb += room.eq(~fresh | (d_used + DW * B <= SP))

        def hand_over(next_state):
            """The decision: queue the request for the filter, start the next one."""
            with m.If(q_room):
                m.d.comb += push.eq(1)
                m.d.sync += [
                    q_theta[q_tail].eq(pivot), q_quota[q_tail].eq(k1 - g_cnt), q_n[q_tail].eq(n),
                    q_k[q_tail].eq(k_req), q_base[q_tail].eq(d_base),
                    n.eq(0), fill_row.eq(0), lfsr.eq(p.lfsr_init), d_base.eq(d_wp),
                ]
                m.next = next_state

        after = "WAIT" if p.overlap == "none" else "FILL"
        with m.FSM(init="FILL"):
            with m.State("FILL"):
                m.d.comb += self.inp.ready.eq(room)
                with m.If(in_fire):
                    m.d.sync += n.eq(n_next)
                    with m.If(in_p.last):
                        m.d.sync += [k1.eq(k_clamped), k_req.eq(k_clamped), mset.eq(n_next), sel.eq(0)]
                    if I <= P:
                        # one beat per cycle; a row is written when full or at the last beat
                        m.d.sync += row_buf.eq(merged)
                        with m.If((slot == G - 1) | in_p.last):
                            m.d.comb += fill_we.eq(fill_row < D)
                            m.d.sync += [slot.eq(0), fill_row.eq(Mux(fill_row < D, fill_row + 1, fill_row))]
                        with m.Else():
                            m.d.sync += slot.eq(slot + 1)
                        with m.If(in_p.last):
                            m.next = "PIVOT"
                    else:
                        # the whole beat, B rows of P, in one wide write
                        m.d.comb += fill_we.eq(fill_row < D)
                        m.d.sync += fill_row.eq(Mux(fill_row < D, fill_row + B, fill_row))
                        with m.If(in_p.last):
                            m.next = "PIVOT"
            with m.State("PIVOT"):
                m.d.comb += [read_addr.eq(piv_idx >> LP), round_start.eq(1)]
                m.d.sync += [
                    lfsr.eq(word), piv_lane.eq(piv_idx), rd_row.eq(0),
                    rows_m.eq((mset + (P - 1)) >> LP), rem.eq(mset),
                ]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += read_addr.eq(rd_row)
                with m.If(rd_row == 0):
                    m.d.sync += pivot.eq(rd_data.word_select(piv_lane, W) if P > 1 else rd_data)
                m.d.sync += [
                    c_valid.eq(1), c_nvalid.eq(Mux(rem > P, P, rem)), rem.eq(rem - Mux(rem > P, P, rem)),
                    rd_row.eq(rd_row + 1),
                ]
                with m.If(rd_row + 1 == rows_m):
                    m.next = "DRAIN_C"
            with m.State("DRAIN_C"):
                m.d.sync += c_valid.eq(0)
                m.next = "DRAIN_W"
            with m.State("DRAIN_W"):
                m.next = "DECIDE"
            with m.State("DECIDE"):
                m.d.comb += decide.eq(1)
                with m.If(g_cnt >= k1):
                    m.d.sync += [sel.eq(1), mset.eq(g_cnt)]
                    m.next = "PIVOT"
                with m.Elif(g_cnt + e_cnt >= k1):
                    if self.fault == "extra_cycle":
                        m.next = "EXTRA"
                    else:
                        hand_over(after)
                with m.Else():
                    m.d.sync += [k1.eq(k1 - g_cnt - e_cnt), sel.eq(0), mset.eq(l_cnt)]
                    m.next = "PIVOT"
            if self.fault == "extra_cycle":
                with m.State("EXTRA"):
                    hand_over(after)
            if p.overlap == "none":
                with m.State("WAIT"):  # one request at a time: until the filter has sent the last beat
                    with m.If(pop):
                        m.next = "FILL"

        # the filter: streams the head request of the queue out of DATA
        with m.If(f_active & adv):
            # FR: read the next DATA row
            with m.If(f_rd < f_rows):
                m.d.sync += [fc_valid.eq(1), fc_row.eq(f_rd), f_rd.eq(f_rd + 1)]
            with m.Else():
                m.d.sync += fc_valid.eq(0)
            m.d.comb += [f_row.eq(wrap(f_base + f_rd, SP, SB)), data_rd.addr.eq(f_row >> LB)]
            m.d.sync += d_slice
            # FC: compare with theta, tie quota, zero-eliminate
            m.d.sync += fo_valid.eq(fc_valid)
            with m.If(fc_valid):
                m.d.sync += [fo_row.eq(ze_f.data_out), fo_cnt.eq(ze_f.count), eq_carry.eq(eq_carry + f_eq_n)]
            # FO: realign into output beats
            m.d.sync += self.out.valid.eq(0)
            with m.If(pending_final):
                m.d.sync += load_out(opk.acc, opk.acc_cnt, 1)
                m.d.sync += [pending_final.eq(0), f_done.eq(1)]
            with m.Elif(fo_valid & ~f_done):
                with m.If(o_total >= P):
                    m.d.sync += load_out(o_low, P, remaining == P)
                    m.d.sync += [sent.eq(sent + P), opk.acc.eq(o_high), opk.acc_cnt.eq(o_total - P)]
                    with m.If(remaining == P):
                        m.d.sync += f_done.eq(1)
                    with m.Elif(o_total == remaining):
                        m.d.sync += pending_final.eq(1)
                with m.Elif((o_total == remaining) & (o_total != 0)):
                    m.d.sync += load_out(o_low, o_total, 1)
                    m.d.sync += [sent.eq(sent + o_total), f_done.eq(1), opk.acc.eq(0), opk.acc_cnt.eq(0)]
                with m.Else():
                    m.d.sync += [opk.acc.eq(o_low), opk.acc_cnt.eq(o_total)]
        with m.If(self.out.valid & self.out.ready & out_p.last):
            m.d.comb += pop.eq(1)
            m.d.sync += reset_filter()
            m.d.sync += self.out.valid.eq(0)
        return m

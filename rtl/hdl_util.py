"""Small combinational building blocks shared by the RTL units (Amaranth 0.5).

Each returns Amaranth values built inside the caller's module ``m`` (``m.d.comb``); none has state.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Mux, Signal, Value

__all__ = ["bits_for", "lanes_of", "popcount", "prefix_sum", "shift_lanes_up", "lfsr_advance"]


def bits_for(value: int) -> int:
    """Bits to hold ``0 .. value`` (at least 1)."""
    return max(1, int(value).bit_length())


def lanes_of(value: Value, count: int, width: int) -> list[Value]:
    """Split a flat value into ``count`` lanes of ``width`` bits, lane 0 in the low bits."""
    return [value[i * width:(i + 1) * width] for i in range(count)]


def popcount(m, bits: list[Value], name: str) -> Signal:
    """Number of set bits, as a balanced adder tree (``bits_for(len(bits))`` bits wide)."""
    width = bits_for(len(bits))
    level = [b.as_unsigned() if isinstance(b, Value) else Value.cast(b) for b in bits]
    while len(level) > 1:
        nxt = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    out = Signal(width, name=name)
    m.d.comb += out.eq(level[0])
    return out


def prefix_sum(m, bits: list[Value], name: str, *, exclusive: bool = False) -> list[Signal]:
    """Prefix sums of 1-bit flags, Hillis-Steele: ``log2(len)`` adder layers.

    Inclusive by default (``out[i] = bits[0] + ... + bits[i]``); ``exclusive`` gives the sum of
    the flags before ``i``.
    """
    n = len(bits)
    width = bits_for(n)
    cur = []
    for i, b in enumerate(bits):
        s = Signal(width, name=f"{name}_l0_{i}")
        m.d.comb += s.eq(b)
        cur.append(s)
    step, layer = 1, 0
    while step < n:
        layer += 1
        nxt = []
        for i in range(n):
            s = Signal(width, name=f"{name}_l{layer}_{i}")
            m.d.comb += s.eq(cur[i] + cur[i - step] if i >= step else cur[i])
            nxt.append(s)
        cur = nxt
        step *= 2
    if not exclusive:
        return cur
    out = []
    for i in range(n):
        s = Signal(width, name=f"{name}_ex_{i}")
        m.d.comb += s.eq(cur[i - 1] if i else 0)
        out.append(s)
    return out


def shift_lanes_up(m, lanes: list[Value], amount: Value, width: int, name: str) -> list[Signal]:
    """Move lanes up by ``amount`` lanes (zeros shifted in), as ``len(amount)`` mux layers.

    Returns ``len(lanes)`` lanes; lanes moved past the end are dropped.
    """
    n = len(lanes)
    cur = list(lanes)
    for b in range(len(amount)):
        step = 1 << b
        nxt = []
        for i in range(n):
            s = Signal(width, name=f"{name}_l{b}_{i}")
            below = cur[i - step] if 0 <= i - step else Const(0, width)
            m.d.comb += s.eq(Mux(amount[b], below, cur[i]))
            nxt.append(s)
        cur = nxt
    return cur


def lfsr_advance(state: Value, *, bits: int, taps: int, steps: int) -> Value:
    """``steps`` shifts of a right-shifting Galois LFSR (feedback XORed in with ``taps``), unrolled."""
    cur = [state[i] for i in range(bits)]
    for _ in range(steps):
        lsb = cur[0]
        cur = [cur[i + 1] if i + 1 < bits else Const(0, 1) for i in range(bits)]
        cur = [(c ^ lsb) if (taps >> i) & 1 else c for i, c in enumerate(cur)]
    return Cat(*cur)



"""Shared pieces of the typed configuration: the strict frozen base model and value checks.

Every config object is a frozen pydantic model that forbids unknown keys and does not coerce
types (``"12"`` is not an integer). Range checks raise :class:`Expected`, whose text completes the
sentence "expected ...": the loader turns it into the one-line error users see.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

__all__ = ["Config", "Expected", "between", "power_of_two", "Fraction", "PositiveInt"]


class Expected(ValueError):
    """A value check failed; ``what`` completes "expected ...".

    ``key`` names a field below the model the validator ran on (for checks that span fields),
    so the error points at that key rather than at the enclosing table.
    """

    def __init__(self, what: str, *, key: str | None = None, got: Any = None, show_got: bool = True):
        super().__init__(what)
        self.what = what
        self.key = key
        self.got = got
        self.show_got = show_got


class Config(BaseModel):
    """Base of every config table: strict types, no unknown keys, immutable, compared by value."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def between(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False):
    """Validator: the value lies in the interval ``lo..hi`` (open or closed at each end)."""
    text = f"a number in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"

    def check(v):
        ok_lo = v > lo if lo_open else v >= lo
        ok_hi = v < hi if hi_open else v <= hi
        if not (ok_lo and ok_hi):
            raise Expected(text, got=v)
        return v

    return AfterValidator(check)


def int_between(lo: int, hi: int):
    """Validator: an integer from ``lo`` to ``hi`` inclusive."""

    def check(v):
        if not lo <= v <= hi:
            raise Expected(f"an integer from {lo} to {hi}", got=v)
        return v

    return AfterValidator(check)


def power_of_two(lo: int, hi: int):
    """Validator: a power of two from ``lo`` to ``hi`` inclusive."""

    def check(v):
        if not (lo <= v <= hi and v & (v - 1) == 0):
            raise Expected(f"a power of two from {lo} to {hi}", got=v)
        return v

    return AfterValidator(check)


Fraction = Annotated[float, between(0.0, 1.0, lo_open=True)]
PositiveInt = Annotated[int, int_between(1, 1 << 40)]

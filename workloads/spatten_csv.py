"""Replay workloads from the SpAtten authors' workload CSVs (``data/spatten_workloads/``).

One CSV row per (generation iteration, layer, head) says what the accelerator fetched for that
head: kept keys and values after cascade token pruning and local V pruning, their bit-widths,
whether the progressive-quantization LSB re-fetch happened, and token top-k events. This is how
the authors' own RTL simulation runs them (``TestSpAtten.scala``, `docs/sources.md (SpAtten)` §4.3);
the schema is in ``data/spatten_workloads/README.md``.

Trailer: the authors' files end with one row whose first field names the config that produced the
trace (``configs/gpt2/...yml``) and whose other fields are empty. Their simulator skips every row
whose ``iteration_id`` is not an integer; here that last row is accepted as
:attr:`ReplayWorkload.config`. A wholly blank last row is accepted too. Any other row with missing
fields is an error naming its line.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwsim.errors import HwsimError

__all__ = ["ReplayWorkload", "load", "COLUMNS", "KEY_BITS", "QUERY_BITS", "LSB_BITS"]

#: Columns in the authors' order (``data/spatten_workloads/README.md``).
COLUMNS = (
    "iteration_id", "layer_id", "head_id", "embedding_length_D", "sentence_length_L", "key_fetch_num",
    "quant_key_bit", "quant_query_bit", "auto_requant_thres", "if_requant", "auto_requant_incre",
    "value_fetch_num", "quant_value_bit", "if_accumulate_importance", "if_rescale_previous_importance",
    "if_topk", "topk",
)
#: Key/value bit-widths the released RTL simulation accepts (``TestSpAtten.scala``): -1 = unquantised
#: (fetched as 8-bit + requant there), 4/6/8 native DRAM profiles (``MatrixFetcher``), 10/12 mapped to 8-bit.
KEY_BITS = (-1, 4, 6, 8, 10, 12)
#: Query bit-widths: -1 unquantised, else one of these (the released traces use 16).
QUERY_BITS = (-1, 4, 6, 8, 10, 12, 16)
#: LSB bits of progressive quantization: always 4 (SpAtten §5, ``requantBitCount = 4``), -1 when off.
LSB_BITS = (-1, 4)


@dataclass(frozen=True, eq=False)
class ReplayWorkload:
    """A SpAtten trace replay: one entry per (iteration, layer, head) row, as numpy arrays.

    Counts are in vectors (one key or value vector per token); bit-widths in bits, -1 meaning
    unquantised. ``requant``: the row needed the LSB re-fetch. ``topk``/``topk_k``: a token top-k
    event on this row and its k (-1 when none).
    """

    path: Path
    config: str | None
    iteration: np.ndarray
    layer: np.ndarray
    head: np.ndarray
    embedding_dim: np.ndarray
    sentence_length: np.ndarray
    key_fetch_num: np.ndarray
    key_bits: np.ndarray
    query_bits: np.ndarray
    requant_threshold: np.ndarray
    requant: np.ndarray
    lsb_bits: np.ndarray
    value_fetch_num: np.ndarray
    value_bits: np.ndarray
    accumulate_importance: np.ndarray
    rescale_importance: np.ndarray
    topk: np.ndarray
    topk_k: np.ndarray
    digest: str = field(repr=False, default="")

    @property
    def rows(self) -> int:
        """Number of (iteration, layer, head) rows."""
        return int(self.iteration.size)

    @property
    def iterations(self) -> int:
        """Generation iterations (max iteration_id + 1)."""
        return int(self.iteration.max()) + 1

    @property
    def layers(self) -> int:
        """Layers (max layer_id + 1)."""
        return int(self.layer.max()) + 1

    @property
    def heads(self) -> int:
        """Heads per layer before head pruning (max head_id + 1)."""
        return int(self.head.max()) + 1

    @property
    def dense(self) -> bool:
        """True when nothing is quantised (every key, value and query bit-width is -1)."""
        return bool(np.all(self.key_bits == -1) and np.all(self.value_bits == -1) and np.all(self.query_bits == -1))

    @property
    def pruned(self) -> bool:
        """True when some row fetches fewer keys or values than the sentence length."""
        return bool(np.any(self.key_fetch_num < self.sentence_length) or np.any(self.value_fetch_num
                                                                                 < self.sentence_length))

    def kept_key_fraction(self) -> float:
        """Keys fetched over keys a dense run fetches (sum of key_fetch_num / sum of L)."""
        return float(self.key_fetch_num.sum() / self.sentence_length.sum())

    def kept_value_fraction(self) -> float:
        """Values fetched over values a dense run fetches."""
        return float(self.value_fetch_num.sum() / self.sentence_length.sum())

    def requant_fraction(self) -> float:
        """Fraction of rows that needed the LSB re-fetch."""
        return float(self.requant.mean())

    def per_layer(self) -> list[dict]:
        """Per layer: rows, kept key and value fractions, requant fraction, top-k events."""
        out = []
        for layer in range(self.layers):
            m = self.layer == layer
            if not m.any():
                continue
            L = self.sentence_length[m].sum()
            out.append({
                "layer": layer,
                "rows": int(m.sum()),
                "kept_key_fraction": float(self.key_fetch_num[m].sum() / L),
                "kept_value_fraction": float(self.value_fetch_num[m].sum() / L),
                "requant_fraction": float(self.requant[m].mean()),
                "topk_events": int(self.topk[m].sum()),
            })
        return out

    def topk_events(self) -> list[tuple[int, int, int, int]]:
        """Token top-k events as (iteration, layer, head, k), in file order."""
        idx = np.flatnonzero(self.topk)
        return [(int(self.iteration[i]), int(self.layer[i]), int(self.head[i]), int(self.topk_k[i])) for i in idx]

    def select(self, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The per-row arrays restricted to ``mask`` (e.g. ``w.iteration == 0``), by attribute name."""
        return {name: getattr(self, name)[mask] for name in _ARRAYS}


_ARRAYS = ("iteration", "layer", "head", "embedding_dim", "sentence_length", "key_fetch_num", "key_bits",
           "query_bits", "requant_threshold", "requant", "lsb_bits", "value_fetch_num", "value_bits",
           "accumulate_importance", "rescale_importance", "topk", "topk_k")


def _int(where: str, col: str, s: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise HwsimError(f"{where}: column {col!r}: expected an integer, got {s!r}") from None


def _integral(where: str, col: str, s: str) -> int:
    try:
        f = float(s)
    except ValueError:
        raise HwsimError(f"{where}: column {col!r}: expected a number, got {s!r}") from None
    if not f.is_integer():
        raise HwsimError(f"{where}: column {col!r}: expected a whole number, got {s!r}")
    return int(f)


def _float(where: str, col: str, s: str) -> float:
    try:
        f = float(s)
    except ValueError:
        raise HwsimError(f"{where}: column {col!r}: expected a number, got {s!r}") from None
    if not np.isfinite(f):
        raise HwsimError(f"{where}: column {col!r}: expected a finite number, got {s!r}")
    return f


def _bool(where: str, col: str, s: str) -> bool:
    low = s.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    raise HwsimError(f"{where}: column {col!r}: expected True or False, got {s!r}")


def _parse_row(where: str, r: list[str]) -> tuple:
    it, layer, head = (_int(where, c, s) for c, s in zip(COLUMNS[:3], r[:3]))
    d = _integral(where, COLUMNS[3], r[3])
    L, kf, kb, qb = (_int(where, c, s) for c, s in zip(COLUMNS[4:8], r[4:8]))
    thr = _float(where, COLUMNS[8], r[8])
    rq = _bool(where, COLUMNS[9], r[9])
    lsb, vf, vb = (_int(where, c, s) for c, s in zip(COLUMNS[10:13], r[10:13]))
    acc, resc, tk = (_bool(where, c, s) for c, s in zip(COLUMNS[13:16], r[13:16]))
    k = _int(where, COLUMNS[16], r[16])
    for col, v in (("iteration_id", it), ("layer_id", layer), ("head_id", head)):
        if v < 0:
            raise HwsimError(f"{where}: column {col!r}: expected a non-negative integer, got {v}")
    if d < 1:
        raise HwsimError(f"{where}: column 'embedding_length_D': expected a positive head dimension, got {d}")
    if L < 1:
        raise HwsimError(f"{where}: column 'sentence_length_L': expected a positive length, got {L}")
    if not 1 <= kf <= L:
        raise HwsimError(f"{where}: key_fetch_num {kf} must be in 1..sentence_length_L ({L})")
    if not 0 <= vf <= kf:
        raise HwsimError(f"{where}: value_fetch_num {vf} must be in 0..key_fetch_num ({kf}): values are "
                         f"fetched only for kept keys")
    for col, v, known in (("quant_key_bit", kb, KEY_BITS), ("quant_value_bit", vb, KEY_BITS),
                          ("quant_query_bit", qb, QUERY_BITS), ("auto_requant_incre", lsb, LSB_BITS)):
        if v not in known:
            raise HwsimError(f"{where}: column {col!r}: {v} is not a known bit-width; expected one of "
                             f"{', '.join(map(str, known))}")
    if thr != -1 and not 0 < thr < 1:
        raise HwsimError(f"{where}: column 'auto_requant_thres': expected -1 (off) or a probability in (0, 1), "
                         f"got {r[8]!r}")
    if rq and (thr == -1 or lsb == -1 or kb == -1):
        raise HwsimError(f"{where}: if_requant is True but progressive quantization is off (auto_requant_thres "
                         f"{r[8]}, auto_requant_incre {lsb}, quant_key_bit {kb})")
    if tk and not 1 <= k <= L:
        raise HwsimError(f"{where}: topk {k} must be in 1..sentence_length_L ({L}) when if_topk is True")
    if not tk and k != -1:
        raise HwsimError(f"{where}: topk must be -1 when if_topk is False, got {k}")
    return (it, layer, head, d, L, kf, kb, qb, thr, rq, lsb, vf, vb, acc, resc, tk, k)


def load(path: str | Path) -> ReplayWorkload:
    """Read and validate a SpAtten workload CSV; errors name the file, line and column."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise HwsimError(f"{path}: no such file") from None
    except (IsADirectoryError, PermissionError) as e:
        raise HwsimError(f"{path}: cannot read ({e.__class__.__name__})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HwsimError(f"{path}: not a text CSV file (not UTF-8)") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise HwsimError(f"{path}: empty file; expected a SpAtten workload CSV with header "
                         f"{','.join(COLUMNS[:3])},...")
    header = [h.strip() for h in header]
    if tuple(header) != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        detail = (f"missing {', '.join(missing)}" if missing else "") + ("; " if missing and extra else "") + \
                 (f"unexpected {', '.join(extra)}" if extra else "")
        raise HwsimError(f"{path}: line 1: header is not the SpAtten workload schema "
                         f"({detail or 'columns out of order'}); expected {','.join(COLUMNS)}")
    rows: list[tuple] = []
    config = None
    lines = list(reader)
    for i, r in enumerate(lines):
        line = i + 2
        where = f"{path}: line {line}"
        last = i == len(lines) - 1
        if not r or all(not f.strip() for f in r):
            if last:
                continue
            raise HwsimError(f"{where}: blank row before the end of the file")
        if len(r) != len(COLUMNS):
            raise HwsimError(f"{where}: expected {len(COLUMNS)} fields, got {len(r)}")
        if last and all(not f.strip() for f in r[1:]):
            try:
                int(r[0])
            except ValueError:
                config = r[0].strip()  # the authors' trailer: the config that produced the trace
                continue
        blank = [c for c, f in zip(COLUMNS, r) if not f.strip()]
        if blank:
            raise HwsimError(f"{where}: column {blank[0]!r} is empty ({len(blank)} empty fields)")
        rows.append(_parse_row(where, [f.strip() for f in r]))
    if not rows:
        raise HwsimError(f"{path}: no data rows after the header")
    cols = list(zip(*rows))
    keys = set()
    for i, key in enumerate(zip(cols[0], cols[1], cols[2])):
        if key in keys:
            raise HwsimError(f"{path}: line {i + 2}: duplicate row for iteration {key[0]}, layer {key[1]}, "
                             f"head {key[2]}")
        keys.add(key)
    dtypes = (np.int32, np.int32, np.int32, np.int32, np.int32, np.int32, np.int8, np.int8, np.float64, bool,
              np.int8, np.int32, np.int8, bool, bool, bool, np.int32)
    arrays = {name: np.array(c, dtype=dt) for name, c, dt in zip(_ARRAYS, cols, dtypes)}
    for a in arrays.values():
        a.flags.writeable = False
    return ReplayWorkload(path=path, config=config, digest=hashlib.sha256(raw).hexdigest(), **arrays)

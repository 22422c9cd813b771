"""The outputs layer every command shares: atomic JSON/CSV files, provenance, unit-bearing columns.

Files are written to a temporary file in the target folder and renamed into place, so a reader
never sees half a file and a failed run leaves nothing behind. Column names carry their unit
(``latency_cycles``, ``dram_bytes``, ``energy_pj``); :func:`check_columns` enforces it.
Nothing here adds timestamps: the same inputs give the same output bytes.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import io
import json
import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import HwsimError
from .version import __version__

__all__ = [
    "atomic_write",
    "json_hash",
    "write_json",
    "write_csv",
    "to_json",
    "provenance",
    "check_columns",
    "git_revision",
    "write_figure",
    "FIGURE_FORMATS",
    "UNIT_SUFFIXES",
    "KEY_COLUMNS",
]

#: Column-name endings that state a unit. Counts say what they count (``_tokens``, ``_rounds``).
UNIT_SUFFIXES = (
    "_cycles", "_s", "_ms", "_us", "_ns", "_ghz", "_hz",
    "_bytes", "_bits", "_kib", "_mib", "_gb", "_gbytes_per_s", "_bytes_per_s", "_bytes_per_cycle",
    "_pj", "_nj", "_uj", "_mj", "_j", "_w", "_mw", "_mm2", "_um2",
    "_flops", "_gflops", "_tflops", "_ops", "_gops", "_gops_per_s", "_tflops_per_s", "_flops_per_cycle",
    "_fraction", "_ratio", "_x", "_percent", "_count", "_rounds", "_elements", "_tokens", "_heads",
    "_keys", "_values", "_vectors", "_rows", "_layers", "_lanes", "_bits_per_elem", "_per_cycle",
    "_nats", "_gates", "_cells", "_words",
)

#: Columns that identify a row rather than measure something (no unit).
KEY_COLUMNS = frozenset({
    "workload", "design", "policy", "model", "mode", "layer", "head", "kv_head", "query", "iteration",
    "row", "step", "stage", "unit", "bound_by", "kind", "name", "op", "protocol", "network", "attention",
    "activation", "quantity", "paper", "ours", "note", "source", "seed", "point", "status", "shape",
    "parameter", "value", "description", "lanes", "width", "vector", "k", "n",
})


def check_columns(columns: Iterable[str]) -> None:
    """Raise ``ValueError`` when a column is neither a key column nor ends with a unit suffix."""
    bad = [c for c in columns if c not in KEY_COLUMNS and not c.endswith(UNIT_SUFFIXES)]
    if bad:
        raise ValueError(f"column names without a unit: {', '.join(bad)}")


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename; return the path.

    Parent folders are created. On any failure the temporary file is removed and the target is
    left as it was. Raises :class:`HwsimError` naming the path when it cannot be written.
    """
    path = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise HwsimError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise HwsimError(f"{path}: cannot write ({e.strerror or e})") from None
        raise
    return path


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json(obj: Any) -> str:
    """Render ``obj`` (dicts, lists, numpy values) as indented JSON text; NaN/Inf become null."""
    return json.dumps(_plain(obj), indent=2, allow_nan=False) + "\n"


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically."""
    return atomic_write(path, to_json(obj))


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` (dicts) as CSV to ``path`` atomically; every column name must carry a unit."""
    columns = list(columns if columns is not None else (rows[0].keys() if rows else []))
    check_columns(columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in columns])
    return atomic_write(path, buf.getvalue())


def _cell(v: Any) -> str:
    v = _plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def json_hash(value: Any) -> str:
    """Return a short stable hash of a JSON-serializable value (16 hex digits of SHA-256 of canonical JSON)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def git_revision() -> str | None:
    """Return the git commit of the hwsim source tree (``+dirty`` when modified), or None.

    Asked once per process (two ``git`` subprocesses); later calls return the cached answer.
    """
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance(*, configs: Mapping[str, Any] | None = None, seed: int | None = None,
               inputs: Mapping[str, str] | None = None) -> dict:
    """Return the provenance block of an output: version, git revision, config hashes, seed, inputs.

    ``configs`` maps a role (``design``, ``policy``) to a config object; ``inputs`` maps a role
    (``workload``) to a content hash of the input file.
    """
    block: dict[str, Any] = {"hwsim_version": __version__, "git_revision": git_revision()}
    if configs:
        block["configs"] = {
            role: {"name": getattr(c, "name", role), "hash": json_hash(c.model_dump(mode="json"))}
            for role, c in configs.items()
        }
    block["seed"] = seed
    if inputs:
        block["inputs"] = dict(inputs)
    return block


#: Figure formats :func:`write_figure` writes; PNG at 200 dpi unless told otherwise.
FIGURE_FORMATS = ("png", "svg", "pdf")


def write_figure(fig, path: str | Path, *, fmt: str = "png", dpi: int = 200) -> Path:
    """Save a matplotlib figure to ``path`` atomically (no timestamps: same figure, same bytes) and close it."""
    import matplotlib.pyplot as plt

    if fmt not in FIGURE_FORMATS:
        raise HwsimError(f"plot format {fmt!r}: expected one of {', '.join(FIGURE_FORMATS)}")
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    buf = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "hwsim"}):
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, buf.getvalue())

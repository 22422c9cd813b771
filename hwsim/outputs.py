"""The outputs layer every command shares: atomic JSON/CSV files, provenance, unit-bearing columns.

Files are written to a temporary file in the target folder and renamed into place, so a reader
never sees half a file and a failed run leaves nothing behind; ``-`` is standard output, and a
special file (a device, a FIFO) is written directly, never replaced (:func:`atomic_write`). Column names carry their unit
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
import re
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .errors import HwsimError
from .version import __version__

__all__ = [
    "atomic_write",
    "json_hash",
    "write_folder",
    "check_destination",
    "is_stdout",
    "TEMP_PREFIX",
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
    "split_unit",
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

#: Column-name endings and the unit they state, longest first.
_UNIT_WORDS = (
    ("_elements_per_cycle_per_mm2", "elements/cycle/mm²"), ("_per_cycle_per_mm2", "/cycle/mm²"),
    ("_per_cycle", "/cycle"), ("_gbytes_per_s", "GB/s"), ("_bytes_per_s", "bytes/s"), ("_cycles", "cycles"),
    ("_bytes", "bytes"), ("_mm2", "mm²"), ("_pj", "pJ"), ("_nj", "nJ"), ("_uj", "µJ"), ("_w", "W"), ("_ms", "ms"),
    ("_us", "µs"), ("_ns", "ns"), ("_s", "s"), ("_ghz", "GHz"), ("_tflops", "TFLOPS"), ("_flops", "FLOP"),
    ("_fraction", "fraction"), ("_ratio", "ratio"), ("_rounds", "rounds"), ("_bits", "bits"), ("_lanes", "lanes"),
    ("_elements", "elements"), ("_tokens", "tokens"), ("_count", "count"), ("_nm", "nm"), ("_x", "x"),
    ("_ops", "operations"),
)

def split_unit(column: str) -> tuple[str, str]:
    """A unit-suffixed name for people: ``compute_cycles`` -> ``("compute", "cycles")``; ``(name, "")`` without one."""
    for suffix, unit in _UNIT_WORDS:
        if column.endswith(suffix) and len(column) > len(suffix):
            return column[: -len(suffix)].replace("_", " "), unit
    return column.replace("_", " "), ""


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


#: Prefix of every temporary file or folder hwsim writes beside a target (``.hwsim-tmp-<name>.<pid>.<random>``).
TEMP_PREFIX = ".hwsim-tmp-"
#: A temporary entry older than this (seconds) is stale even when its process id is alive again.
STALE_AFTER_S = 24 * 3600


def is_stdout(path: str | Path | None) -> bool:
    """Whether an output option's value is ``-`` (standard output)."""
    return path is not None and str(path) == "-"


def _cannot(path, e: OSError) -> HwsimError:
    where = "-: standard output" if is_stdout(path) else str(path)
    return HwsimError(f"{where}: cannot write ({e.strerror or e})")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _clear_stale(folder: Path, name: str) -> None:
    """Remove temporary entries for ``name`` left in ``folder`` by a process that is gone (e.g. ``kill -9``)."""
    import shutil
    import time

    try:
        entries = list(folder.glob(f"{TEMP_PREFIX}{name}.*"))
    except OSError:
        return
    for entry in entries:
        parts = entry.name[len(TEMP_PREFIX) + len(name) + 1:].split(".")
        try:
            pid = int(parts[0])
            age = time.time() - entry.lstat().st_mtime
        except (ValueError, IndexError, OSError):
            continue
        alive = True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            alive = False
        except OSError:
            pass
        if pid == os.getpid() or (alive and age < STALE_AFTER_S):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            pass


def _temp_name(name: str) -> str:
    return f"{TEMP_PREFIX}{name}.{os.getpid()}."


def check_destination(path: str | Path | None, *, option: str, folder: bool = False) -> None:
    """Refuse, before any work, an output destination that cannot be what it is used for.

    ``-`` is standard output (files only). A file destination must not be an existing folder and
    its parent must not be a file; a folder destination must not be an existing file.
    Special files (devices, FIFOs, sockets) are accepted as file destinations: they are written directly.
    """
    if path is None:
        return
    if is_stdout(path):
        if folder:
            raise HwsimError(f"{option} -: standard output holds one file; expected a folder")
        return
    p = Path(path)
    if folder:
        if p.exists() and not p.is_dir():
            raise HwsimError(f"{option} {p}: exists and is not a folder; expected a folder")
    elif p.is_dir():
        raise HwsimError(f"{option} {p}: is a folder; expected a file")
    for parent in (p if folder else p.parent, *p.parent.parents):
        if parent.exists():
            if not parent.is_dir():
                raise HwsimError(f"{option} {p}: {parent} is not a folder")
            break


def _own_descriptor(path: str) -> int | None:
    """The descriptor number when ``path`` names one of this process's open descriptors, else None."""
    m = re.match(r"^/(?:dev/(stdout|stderr|fd/(\d+))|proc/(self|\d+)/fd/(\d+))$", path)
    if m is None or (m.group(3) not in (None, "self") and int(m.group(3)) != os.getpid()):
        return None
    n = {"stdout": 1, "stderr": 2}.get(m.group(1) or "", None)
    return n if n is not None else int(m.group(2) or m.group(4))


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path``; return the path.

    ``-`` writes to standard output. A target that exists and is not a regular file (a character
    device such as /dev/null, a FIFO, a socket) is opened and written directly, never replaced.
    A name of one of this process's descriptors (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``)
    is written through that descriptor, even when it is redirected to a file. Any other target is written through a temporary file in its folder (``.hwsim-tmp-<name>.<pid>.*``)
    and a rename, so a reader never sees half a file: an existing file keeps its permission bits,
    a new one gets 0666 minus the umask; a symbolic link is followed, not replaced. Stale temporary
    files of the same target left by a killed run are removed. On any failure the target is left
    as it was, and an ``OSError`` becomes one :class:`HwsimError` line naming the path.
    """
    blob = data.encode("utf-8") if isinstance(data, str) else data
    if is_stdout(path):
        import sys

        try:
            out = sys.stdout.buffer
            sys.stdout.flush()
            out.write(blob)
            out.flush()
        except OSError as e:
            raise _cannot(path, e) from None
        return Path("-")
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _cannot(path, e) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise HwsimError(f"{path}: is a folder; expected a file")
    fd = _own_descriptor(str(path))
    if fd is not None:  # /dev/stdout redirected to a file: write through the descriptor, at its offset
        import sys

        try:
            sys.stdout.flush()
            sys.stderr.flush()
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view):]
        except OSError as e:
            raise _cannot(path, e) from None
        return path
    if st is not None and not stat.S_ISREG(st.st_mode):
        try:
            with open(path, "wb") as f:
                f.write(blob)
        except OSError as e:
            raise _cannot(path, e) from None
        return path
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _clear_stale(target.parent, target.name)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_temp_name(target.name), suffix=".tmp")
    except OSError as e:
        raise _cannot(path, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _cannot(path, e) from None
        raise
    return path


def write_folder(folder: str | Path, write: Callable[[Path], Sequence[Path]]) -> list[Path]:
    """Write a set of files into ``folder`` all or nothing; return their final paths.

    ``write(staging)`` writes the files into a temporary folder beside ``folder``
    (``.hwsim-tmp-<name>.<pid>.*``) and returns their paths; they are then moved into ``folder``
    (renamed as a whole when ``folder`` does not exist yet). When ``write`` fails, nothing is left
    at ``folder`` and the temporary folder is removed.
    """
    import shutil

    folder = Path(folder)
    check_destination(folder, option=str(folder), folder=True)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _clear_stale(folder.parent, folder.name)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=_temp_name(folder.name)))
    except OSError as e:
        raise _cannot(folder, e) from None
    try:
        written = [Path(p) for p in write(staging)]
        names = [p.relative_to(staging) for p in written]
        mode = 0o777 & ~_umask()
        if not folder.exists():
            os.chmod(staging, mode)
            os.rename(staging, folder)
        else:
            for name in names:
                try:
                    os.chmod(staging / name, stat.S_IMODE(os.stat(folder / name).st_mode))
                except FileNotFoundError:
                    pass
                os.replace(staging / name, folder / name)
        return [folder / name for name in names]
    except OSError as e:
        raise _cannot(folder, e) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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

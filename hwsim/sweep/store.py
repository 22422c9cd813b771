"""The result store of a sweep: one SQLite file (WAL) in the output folder.

Table ``points``: one row per design point x workload, keyed by ``key``, the hash of the fully
resolved point (evaluation, design, policy, parameters, workload digest, seed). Columns: ``key``,
``point`` (its index in the spec), ``workload``, ``status`` (``ok`` or ``failed``), ``error`` (the
one-line error of a failed point), every input (the evaluation's parameters, ``design.<key>`` and
``policy.<key>`` for every field of the resolved configs), every output (units in the names) and
``provenance`` (JSON: hwsim version, git revision, seed, the design and policy as base plus
overrides, the workload and its digest). Table ``meta``: the spec (JSON) and its hash, the
evaluation, the column list and the specs the store was extended with.

Writes come from one process only (the sweep's), one transaction per batch of finished points, so
a sweep killed at any moment leaves every committed point whole and nothing half-written.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import HwsimError

__all__ = ["Store", "STORE_NAME", "load_results", "FIXED_COLUMNS"]

STORE_NAME = "sweep.sqlite"
FIXED_COLUMNS = ("key", "point", "workload", "status", "error")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Store:
    """An open sweep store (see the module docstring)."""

    def __init__(self, folder: str | Path, *, create: bool = False):
        self.folder = Path(folder)
        self.path = self.folder / STORE_NAME
        if not self.path.exists():
            if not create:
                raise HwsimError(f"{self.folder}: no sweep store ({STORE_NAME}); expected the -o folder of "
                                 "`hwsim sweep run`")
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise HwsimError(f"{self.folder}: cannot create the output folder ({e.strerror or e})") from None
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except sqlite3.DatabaseError as e:
            raise HwsimError(f"{self.path}: not a sweep store ({e})") from None

    # ------------------------------------------------------------------ meta
    def meta(self, name: str) -> Any:
        """A value of the meta table (decoded JSON), or None."""
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, **values: Any) -> None:
        """Write meta values (JSON) in one transaction."""
        with self._tx():
            for k, v in values.items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                (k, json.dumps(v, sort_keys=True, separators=(",", ":"))))

    @property
    def columns(self) -> list[str]:
        """The columns of the points table (empty before the first run)."""
        return list(self.meta("columns") or [])

    def create_points(self, columns: Sequence[str]) -> None:
        """Create the points table with ``columns`` (fixed ones first, provenance last)."""
        cols = ", ".join(f"{_q(c)}" + (" TEXT PRIMARY KEY" if c == "key" else "") for c in columns)
        with self._tx():
            self.db.execute(f"CREATE TABLE IF NOT EXISTS points ({cols})")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('columns', ?)", (json.dumps(list(columns)),))

    # ------------------------------------------------------------------ rows
    def done_keys(self) -> set[str]:
        """Keys of the points evaluated successfully (failed points are retried)."""
        if not self.columns:
            return set()
        return {r[0] for r in self.db.execute("SELECT key FROM points WHERE status = 'ok'")}

    def write(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert (or replace) ``rows`` in one transaction; return how many."""
        cols = self.columns
        sql = f"INSERT OR REPLACE INTO points ({', '.join(map(_q, cols))}) VALUES ({', '.join('?' * len(cols))})"
        data = [tuple(_sql_value(r.get(c)) for c in cols) for r in rows]
        if data:
            with self._tx():
                self.db.executemany(sql, data)
        return len(data)

    def rows(self) -> list[tuple]:
        """Every row, ordered by point and workload (the same order on every run)."""
        if not self.columns:
            return []
        return self.db.execute("SELECT * FROM points ORDER BY point, workload, key").fetchall()

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        if not self.columns:
            return {}
        return dict(self.db.execute("SELECT status, COUNT(*) FROM points GROUP BY status ORDER BY status"))

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def _tx(self):
        db = self.db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, typ, exc, tb):
                db.execute("COMMIT" if typ is None else "ROLLBACK")
                return False

        return _Tx()


def _sql_value(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    return v


def load_results(folder: str | Path, *, status: str | None = "ok"):
    """Return a sweep's rows as a pandas DataFrame (one row per point x workload).

    ``status="ok"`` (the default) keeps the successful points; ``None`` returns every row,
    failed points included (their ``error`` column says why).
    """
    import pandas as pd

    store = Store(folder)
    try:
        cols = store.columns
        rows = store.rows()
        flags = store.meta("bool_columns") or []
    finally:
        store.close()
    df = pd.DataFrame.from_records(rows, columns=cols)
    for c in flags:
        if c in df.columns and df[c].notna().all():
            df[c] = df[c].astype(bool)
    if status is not None and len(df):
        df = df[df["status"] == status].reset_index(drop=True)
    return df

"""Helpers of the sweep tests (tests/hwsim/sweep): small specs, the store's rows as exact values."""

from __future__ import annotations

import sqlite3
from pathlib import Path

TOPK_SPEC = """
evaluation = "topk"
seed = 3
design = "spatten"
constraints = ["topk.in_lanes <= 2 * topk.lanes"]
[params]
trials = 8
[[axes]]
name = "topk.lanes"
log_range = [1, 64, 2]
[[axes]]
name = "topk.in_lanes"
values = [4, 8]
[[axes]]
name = "n"
range = [64, 1024, 64]
[[axes]]
name = "k_fraction"
values = [0.25, 0.5, 0.75]
[[axes]]
name = "topk.overlap"
values = ["none", "full"]
[objectives]
minimize = ["topk_area_mm2"]
maximize = ["elements_per_cycle"]
"""

SMALL_SPEC = """
evaluation = "topk"
seed = 1
[params]
trials = 4
[[axes]]
name = "topk.lanes"
values = [2, 8, 32]
[[axes]]
name = ["n", "k"]
values = [[128, 16], [256, 200], [512, 100]]
[[axes]]
name = "topk.overlap"
values = ["none", "full"]
"""


def store_rows(folder: Path) -> list[tuple]:
    """Every row of a sweep store, in key order, as Python tuples (exact values)."""
    db = sqlite3.connect(Path(folder) / "sweep.sqlite")
    try:
        return db.execute("SELECT * FROM points ORDER BY key").fetchall()
    finally:
        db.close()


def store_count(folder: Path) -> int:
    """Rows committed so far (0 before the table exists)."""
    path = Path(folder) / "sweep.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()

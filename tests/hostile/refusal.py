"""What a refusal is: exit status 2, one ``hwsim: error:`` line naming the problem, no traceback."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    """Exit status and captured output of one ``hwsim`` run."""

    code: int
    out: str
    err: str


def assert_refused(o: Outcome, *names: str, nothing_at: Path | str | None = None) -> None:
    """Exit 2, one ``hwsim: error:`` line naming every ``names``, no traceback, nothing at ``nothing_at``."""
    lines = o.err.strip().splitlines()
    assert o.code == 2, (o.code, o.err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("hwsim: error: "), o.err[-2000:]
    assert "Traceback" not in o.err
    for name in names:
        assert name in lines[0], (name, lines[0])
    if nothing_at is not None:
        assert not os.path.lexists(nothing_at), f"{nothing_at} was written"

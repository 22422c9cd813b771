"""Where the project's shared, read-only material lives (``shared/``: data, references)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["SHARED_ENV", "shared_candidates", "shared_dir"]

#: Environment variable naming the shared folder explicitly.
SHARED_ENV = "HWSIM_SHARED"

_ROOT = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    """The checkout this one was cloned from, when its ``origin`` is a local path."""
    if not (_ROOT / ".git").exists():
        return None
    try:
        r = subprocess.run(["git", "-C", str(_ROOT), "remote", "get-url", "origin"],
                           capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    url = r.stdout.strip()
    if r.returncode != 0 or not url or "://" in url or ":" in url.split("/")[0]:
        return None  # no origin, or a remote URL
    path = Path(url)
    return path if path.is_absolute() else (_ROOT / path).resolve()


def shared_candidates() -> list[Path]:
    """Folders tried in order: ``$HWSIM_SHARED``, ``../shared`` beside this checkout, and
    ``../shared`` beside the local checkout it was cloned from (a fresh clone in a temp folder)."""
    out = []
    if os.environ.get(SHARED_ENV):
        out.append(Path(os.environ[SHARED_ENV]))
    out.append(_ROOT.parent / "shared")
    origin = _origin_checkout()
    if origin is not None:
        out.append(origin.parent / "shared")
    return out


def shared_dir() -> Path:
    """The first existing candidate of :func:`shared_candidates` (the first candidate if none exists)."""
    candidates = shared_candidates()
    return next((c for c in candidates if c.is_dir()), candidates[0])

"""Run ``hwsim`` in this process (fast) and check that a refusal is what the CLI promises.

A refusal: exit status 2, exactly one line on stderr (``hwsim: error: ...``) naming what is wrong,
no traceback, and nothing written at the destination. Cases where the process boundary matters
(signals, standard output, a real exit status) run the installed command in a subprocess instead.
"""

from __future__ import annotations

import pytest

from hostile.refusal import Outcome


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """``cli(*args, env={...})``: run hwsim's ``main`` in-process in ``tmp_path``; return an :class:`Outcome`."""
    from hwsim.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict | None = None) -> Outcome:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run

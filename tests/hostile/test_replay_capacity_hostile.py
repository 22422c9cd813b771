"""Replay and capacity (issue 14): a SpAtten CSV on a design too small for it is refused in one line.

The shipped GPT-2 CSV once deadlocked simpy on ``spatten-eighth`` and on ``--set sram.key_bytes=90000``
(the replay had no SRAM fit check); a 64-byte value SRAM was accepted; the capacity message named a
key that does not exist (``topk.fifo_depth``).
"""

from __future__ import annotations

import pytest
from conftest import SHARED
from hostile.refusal import assert_refused

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"


@pytest.mark.parametrize("args,names", [
    (["--design", "spatten-eighth"], ["993 kept keys", "sram.key_bytes allows at most 128"]),
    (["--set", "sram.key_bytes=90000"], ["sram.key_bytes allows at most 468"]),
    (["--set", "sram.value_bytes=64"], ["kept V vectors", "sram.value_bytes"]),
    (["--set", "topk.max_n=512"], ["scores exceed design", "topk.max_n allows at most 512"]),
    (["--set", "policy.local_v.keep=0.1"], ["--policy / --set policy.*", "CSV replay"]),
    (["--set", "policy.bogus=1"], ["--policy / --set policy.*"]),
])
def test_a_replay_that_does_not_fit_is_refused(cli, tmp_path, args, names):
    out = tmp_path / "s.json"
    assert_refused(cli("simulate", "--workload", CSV, *args, "--json", out), *names, nothing_at=out)

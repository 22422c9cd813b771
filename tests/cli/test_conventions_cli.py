"""``hwsim simulate --conventions``: the authors' testbench charges on a CSV replay, refused on a trace."""

from __future__ import annotations

import json

from conftest import SHARED, run_hwsim

CSV = SHARED / "data" / "spatten_workloads" / "summary-gpt2-small-wikitext2-per8.csv"


def test_authors_conventions_run_record_and_rerun(tmp_path):
    r = run_hwsim("simulate", "-w", str(CSV), "--conventions", "authors", "--out-dir", str(tmp_path / "a"),
                  env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "the authors' testbench conventions" in r.stdout  # the table's title says so
    doc = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert doc["conventions"] == "authors" and doc["provenance"]["run"]["conventions"] == "authors"
    assert doc["selection_cycles"] == 0
    # --from reruns the same conventions; the same bytes come out
    r = run_hwsim("simulate", "--from", str(tmp_path / "a" / "summary.json"), "--out-dir", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    again = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert again["latency_cycles"] == doc["latency_cycles"] and again["conventions"] == "authors"
    # and --conventions beside --from wins
    r = run_hwsim("simulate", "--from", str(tmp_path / "a" / "summary.json"), "--conventions", "hardware",
                  "--json", str(tmp_path / "h.json"))
    assert r.returncode == 0, r.stderr
    hw = json.loads((tmp_path / "h.json").read_text())
    assert hw["conventions"] == "hardware" and hw["latency_cycles"] > doc["latency_cycles"]


def test_bad_conventions_exit_2_with_one_line():
    for args, expected in ((("-w", "bert-base", "--tokens", "8", "--conventions", "authors"), "runs under the hardware"),
                           (("-w", str(CSV), "--conventions", "paper"), "--conventions: expected one of")):
        r = run_hwsim("simulate", *args)
        assert r.returncode == 2, r.stderr
        assert expected in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1

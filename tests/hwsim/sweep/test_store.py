"""The sweep store: kill -9 and resume, failed points retried, changed specs refused, load_results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import hwsim_executable, run_hwsim
from sweep_specs import SMALL_SPEC, TOPK_SPEC, store_count, store_rows
from hwsim.sweep import evaluate, load_results, run_sweep


def test_kill_9_then_resume_equals_an_uninterrupted_run(write_spec, tmp_path):
    spec = write_spec(TOPK_SPEC)
    whole = tmp_path / "whole"
    assert run_hwsim("sweep", "run", str(spec), "-o", str(whole), "--jobs", "2").returncode == 0
    total = len(store_rows(whole))
    assert total == 1056  # 7 lanes x 2 in_lanes - 3 (constraint) = 11, x 16 n x 3 k x 2 overlap modes

    cut = tmp_path / "cut"
    proc = subprocess.Popen([hwsim_executable(), "sweep", "run", str(spec), "-o", str(cut), "--jobs", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while store_count(cut) == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the pool's workers, orphaned by the kill
        except ProcessLookupError:
            pass
    done = store_count(cut)
    assert 0 < done < total, "the kill came before the first commit or after the last"
    r = run_hwsim("sweep", "run", str(spec), "-o", str(cut), "--jobs", "2")
    assert r.returncode == 0, r.stderr
    assert f"{done} already done, {total - done} evaluated now" in r.stdout
    assert store_rows(cut) == store_rows(whole)


def test_serial_and_parallel_rows_are_identical(write_spec, tmp_path):
    spec = write_spec(SMALL_SPEC)
    run_sweep(spec, tmp_path / "a", jobs=1)
    run_sweep(spec, tmp_path / "b", jobs=2)
    assert store_rows(tmp_path / "a") == store_rows(tmp_path / "b")


def test_failing_point_is_stored_and_retried(write_spec, tmp_path, monkeypatch):
    spec = write_spec(SMALL_SPEC)
    topk = evaluate.EVALUATIONS["topk"]
    real_run = type(topk).run
    calls = []

    def flaky(self, design, policy, params, workload, seed):
        calls.append((design.topk.lanes, params.n))
        if design.topk.lanes == 8 and params.n == 256:
            raise RuntimeError("engine on fire\nsecond line")
        return real_run(self, design, policy, params, workload, seed)

    monkeypatch.setattr(type(topk), "run", flaky)
    r = run_sweep(spec, tmp_path / "out", jobs=1)
    assert (r.total, r.evaluated, r.failed) == (18, 18, 2) and r.counts == {"failed": 2, "ok": 16}
    df = load_results(tmp_path / "out", status=None)
    failed = df[df["status"] == "failed"]
    assert list(failed["error"]) == ["RuntimeError: engine on fire second line"] * 2
    assert failed["mean_cycles"].isna().all() and df[df["status"] == "ok"]["mean_cycles"].notna().all()
    assert len(load_results(tmp_path / "out")) == 16

    monkeypatch.setattr(type(topk), "run", real_run)
    calls.clear()
    r = run_sweep(spec, tmp_path / "out", jobs=1)
    assert (r.skipped, r.evaluated, r.failed) == (16, 2, 0) and r.counts == {"ok": 18}
    run_sweep(spec, tmp_path / "clean", jobs=1)
    assert store_rows(tmp_path / "out") == store_rows(tmp_path / "clean")


def test_cli_reports_failed_points_and_goes_on(write_spec, tmp_path):
    # k = 200 > n = 128 for the zipped pair (128, 200): those points fail, the others run
    spec = write_spec(SMALL_SPEC.replace("[[128, 16], [256, 200], [512, 100]]", "[[128, 200], [256, 16]]"))
    r = run_hwsim("sweep", "run", str(spec), "-o", str(tmp_path / "out"), "--jobs", "1")
    assert r.returncode == 1
    assert "failed: point 0: k = 200 exceeds n = 128" in r.stderr
    assert "12 points: 0 already done, 12 evaluated now (6 failed); store: 6 failed, 6 ok" in r.stdout


def test_changed_spec_is_refused_unless_extend(write_spec, tmp_path):
    spec = write_spec(SMALL_SPEC)
    out = tmp_path / "out"
    assert run_hwsim("sweep", "run", str(spec), "-o", str(out), "--jobs", "1").returncode == 0
    before = store_rows(out)
    changed = write_spec(SMALL_SPEC.replace("values = [2, 8, 32]", "values = [2, 8, 32, 64]"), "changed.toml")
    r = run_hwsim("sweep", "run", str(changed), "-o", str(out), "--jobs", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "holds the results of a different spec" in r.stderr and "pass --extend" in r.stderr
    assert store_rows(out) == before
    r = run_hwsim("sweep", "run", str(changed), "-o", str(out), "--jobs", "1", "--extend")
    assert r.returncode == 0, r.stderr
    assert "24 points: 18 already done, 6 evaluated now" in r.stdout
    other = write_spec('evaluation = "mpc"\n', "mpc.toml")
    r = run_hwsim("sweep", "run", str(other), "-o", str(out), "--extend")
    assert r.returncode == 2 and "holds a topk sweep" in r.stderr


def test_rows_carry_inputs_outputs_and_provenance(write_spec, tmp_path):
    spec = write_spec(SMALL_SPEC)
    run_sweep(spec, tmp_path / "out", jobs=1)
    df = load_results(tmp_path / "out")
    assert len(df) == 18 and df["key"].is_unique
    row = df.iloc[0]
    assert row["design.topk.lanes"] == 2 and row["n"] == 128 and row["k"] == 16 and row["k_elements"] == 16
    assert row["design.topk.overlap"] == "none"
    assert row["design.hbm.channels"] == 16 and row["mean_cycles"] > 0 and row["topk_area_mm2"] > 0
    prov = json.loads(row["provenance"])
    assert prov["design"] == {"base": "spatten", "set": ["topk.lanes=2", 'topk.overlap="none"']}
    assert prov["seed"] == 1 and prov["evaluation"] == "topk" and prov["hwsim_version"]
    # the three-stage pipeline overlaps the phases: more throughput for the same engine
    a = df[(df["design.topk.lanes"] == 8) & (df["n"] == 512)].set_index("design.topk.overlap")
    assert a.loc["full", "elements_per_cycle"] > a.loc["none", "elements_per_cycle"]


@pytest.mark.parametrize("folder_exists", [False, True])
def test_load_results_of_a_folder_without_store(tmp_path, folder_exists):
    from hwsim.errors import HwsimError

    if folder_exists:
        (tmp_path / "x").mkdir()
    with pytest.raises(HwsimError, match="no sweep store"):
        load_results(tmp_path / "x")


def test_unknown_workload_fails_before_the_store_exists(write_spec, tmp_path):
    spec = write_spec('evaluation = "simulate"\nworkloads = ["no-such-model"]\n')
    r = run_hwsim("sweep", "run", str(spec), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no-such-model" in r.stderr
    assert not (tmp_path / "out").exists()

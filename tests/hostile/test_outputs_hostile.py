"""Outputs never replace a special file, honour modes, are all-or-nothing, and ``-`` is standard output."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from conftest import run_hwsim
from hostile.refusal import assert_refused
from hwsim.errors import HwsimError
from hwsim.outputs import TEMP_PREFIX, atomic_write, write_folder

TOPK = ("topk", "--n", "16", "--max-n", "16", "--trials", "4")


def test_a_character_device_is_written_not_replaced(cli):
    before = os.stat("/dev/null")
    o = cli(*TOPK, "--json", "/dev/null")
    assert o.code == 0, o.err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_a_write_error_on_a_device_is_one_line(cli):
    assert_refused(cli(*TOPK, "--json", "/dev/full"), "/dev/full", "No space left on device")


def test_a_fifo_is_written_directly(cli, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    o = cli(*TOPK, "--json", fifo)
    reader.join(timeout=60)
    assert o.code == 0, o.err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got[0])["params"]["n"] == 16


def test_dash_is_standard_output_holding_only_the_json():
    r = run_hwsim(*TOPK, "--json", "-")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout holds the JSON and nothing else (the tables are not printed then)
    assert doc["params"]["trials"] == 4 and "Traceback" not in r.stderr


def test_dash_is_refused_for_a_folder(cli):
    assert_refused(cli("simulate", "--workload", "bert-base", "--out", "-"), "--out-dir -", "folder")


def test_existing_modes_are_kept_and_new_files_follow_the_umask(tmp_path):
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o600)
    atomic_write(kept, "[]")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and kept.read_text() == "[]"
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new.json", "[]")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_a_symlink_is_followed_not_replaced(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write(link, "[1]")
    assert link.is_symlink() and target.read_text() == "[1]"


def test_stale_temporary_files_of_a_killed_run_are_cleared(tmp_path):
    dead = 2**22 + 12345  # above the default pid_max: no such process
    stale = tmp_path / f"{TEMP_PREFIX}out.json.{dead}.abc.tmp"
    stale.write_bytes(b"x" * 100)
    mine = tmp_path / f"{TEMP_PREFIX}out.json.{os.getpid()}.abc.tmp"  # this process's: kept
    mine.write_bytes(b"x")
    atomic_write(tmp_path / "out.json", "{}")
    assert not stale.exists() and mine.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out.json", mine.name])


def test_a_folder_of_outputs_is_all_or_nothing(tmp_path):
    out = tmp_path / "run"

    def fails(folder):
        atomic_write(folder / "summary.json", "{}")
        atomic_write(folder / "layers.csv", "layer\n")
        raise HwsimError("disk full (simulated)")

    with pytest.raises(HwsimError, match="simulated"):
        write_folder(out, fails)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one
    paths = write_folder(out, lambda folder: [atomic_write(folder / "a.csv", "a\n"), atomic_write(folder / "b.csv",
                                                                                                   "b\n")])
    assert paths == [out / "a.csv", out / "b.csv"] and (out / "b.csv").read_text() == "b\n"
    (out / "a.csv").chmod(0o600)
    write_folder(out, lambda folder: [atomic_write(folder / "a.csv", "A\n")])
    assert (out / "a.csv").read_text() == "A\n" and stat.S_IMODE((out / "a.csv").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("args, names", [
    (("rtl", "synth", "topk", "--lanes", "1", "--max-n", "4", "-o", "{file}"), ("-o", "not a folder")),
    (("rtl", "test", "topk", "--lanes", "1", "--max-n", "4", "--vectors", "1", "-o", "{file}"), ("-o", "not a folder")),
    (("simulate", "--workload", "bert-base", "--out", "{file}"), ("--out", "not a folder")),
    (("simulate", "--workload", "bert-base", "--json", "{dir}"), ("--json", "is a folder")),
    (("topk", "--json", "{dir}"), ("--json", "is a folder")),
    (("mpc", "--workload", "vit-cifar", "--csv", "{file}/x.csv"), ("--csv", "is not a folder")),
])
def test_unusable_destinations_are_refused_before_any_work(cli, tmp_path, args, names):
    (tmp_path / "file").write_text("keep")
    (tmp_path / "dir").mkdir()
    o = cli(*[a.format(file=tmp_path / "file", dir=tmp_path / "dir") for a in args],
            env={"HWSIM_CACHE_DIR": str(tmp_path / "cache")})
    assert_refused(o, *names, nothing_at=tmp_path / "cache")
    assert (tmp_path / "file").read_text() == "keep" and list((tmp_path / "dir").iterdir()) == []


def test_dev_stdout_redirected_to_a_file_keeps_every_byte(tmp_path):
    out = tmp_path / "stdout.txt"
    with open(out, "w") as f:
        import subprocess

        from conftest import hwsim_executable

        r = subprocess.run([hwsim_executable(), *TOPK, "--json", "/dev/stdout"], stdout=f, stderr=subprocess.PIPE,
                           text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    start = text.index('{\n  "params"')
    assert json.loads(text[start:text.index("\n}\n", start) + 2])["params"]["n"] == 16
    assert "Top-k engine" in text[:start] and "wrote /dev/stdout" in text  # the table before, the message after

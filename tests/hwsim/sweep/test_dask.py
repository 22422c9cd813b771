"""The same spec gives byte-identical rows on a Dask cluster (a real LocalCluster over TCP) and locally."""

from __future__ import annotations

from conftest import run_hwsim
from sweep_specs import SMALL_SPEC, store_rows


def test_dask_rows_equal_local_rows(write_spec, tmp_path):
    from distributed import LocalCluster

    spec = write_spec(SMALL_SPEC)
    assert run_hwsim("sweep", "run", str(spec), "-o", str(tmp_path / "local"), "--jobs", "2").returncode == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp", dashboard_address=None,
                      host="127.0.0.1") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        r = run_hwsim("sweep", "run", str(spec), "-o", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address)
    assert r.returncode == 0, r.stderr
    assert "18 evaluated now (0 failed)" in r.stdout
    assert store_rows(tmp_path / "dask") == store_rows(tmp_path / "local")


def test_bad_scheduler_address(write_spec, tmp_path):
    r = run_hwsim("sweep", "run", str(write_spec(SMALL_SPEC)), "-o", str(tmp_path / "o"), "--scheduler", "localhost:1")
    assert r.returncode == 2 and "--scheduler localhost:1: expected an address such as tcp://HOST:8786" in r.stderr

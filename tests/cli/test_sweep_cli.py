"""``hwsim sweep run|pareto|plot`` and ``hwsim compare`` as a user runs them."""

from __future__ import annotations

import pytest

from conftest import REPO, SHARED, run_hwsim

EXAMPLE = REPO / "examples" / "sweeps" / "topk.toml"


@pytest.fixture(scope="module")
def example_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    r = run_hwsim("sweep", "run", str(EXAMPLE), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "135 points: 0 already done, 135 evaluated now (0 failed)" in r.stdout
    return out


def test_pareto_uses_the_spec_objectives(example_out):
    r = run_hwsim("sweep", "pareto", str(example_out))
    assert r.returncode == 0, r.stderr
    assert "Pareto front (min topk_area_mm2, max elements_per_cycle): 13 of 135 points" in " ".join(r.stdout.split())
    r2 = run_hwsim("sweep", "pareto", str(example_out), "--minimize", "topk_area_mm2", "--maximize",
                   "elements_per_cycle", "--csv", str(example_out / "front.csv"))
    assert r2.returncode == 0 and r2.stdout.startswith(r.stdout)  # the same front, and the CSV written
    front = (example_out / "front.csv").read_text().splitlines()
    assert front[0] == ("point,design.topk.lanes,design.topk.in_lanes,design.topk.width_bits,design.topk.overlap,"
                        "topk_area_mm2,elements_per_cycle") and len(front) == 14  # the varied inputs, the objectives
    # along the front, more area buys more throughput
    area = [float(x.split(",")[-2]) for x in front[1:]]
    eps = [float(x.split(",")[-1]) for x in front[1:]]
    assert area == sorted(area) and eps == sorted(eps) and eps[0] < eps[-1]


def test_pareto_bad_column(example_out):
    r = run_hwsim("sweep", "pareto", str(example_out), "--minimize", "area")
    assert r.returncode == 2
    assert r.stderr.startswith("hwsim: error: --minimize/--maximize: 'area' is not a column of the results; expected")


def test_plot_writes_png_and_svg(example_out, tmp_path):
    stem = tmp_path / "front"
    args = ("sweep", "plot", str(example_out), "--x", "topk_area_mm2", "--y", "elements_per_cycle", "--color",
            "design.topk.lanes", "-o", str(stem))
    r = run_hwsim(*args)
    assert r.returncode == 0, r.stderr
    png, svg = stem.with_suffix(".png").read_bytes(), stem.with_suffix(".svg").read_text()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "topk area (mm²)" in svg and "throughput (elements/cycle)" in svg and "Pareto front" in svg
    first = png
    assert run_hwsim(*args).returncode == 0
    assert stem.with_suffix(".png").read_bytes() == first  # same results, same bytes
    r = run_hwsim("sweep", "plot", str(example_out), "--x", "nope", "--y", "elements_per_cycle")
    assert r.returncode == 2 and "'nope' is not a column of the results" in r.stderr


def test_readme_sweep_section_runs_as_written(tmp_path):
    import re
    import shlex

    text = (REPO / "README.md").read_text()
    section = text[text.index("## Design-space sweeps"):]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("hwsim ")]
    assert [c.split()[1:3] for c in commands][:3] == [["sweep", "run"], ["sweep", "pareto"], ["sweep", "plot"]]
    for command in commands:  # one after another in one folder, as a user types them at the repository root
        args = [a.replace("../shared/", f"{SHARED}/").replace("examples/", f"{REPO}/examples/")
                for a in shlex.split(command)[1:]]
        r = run_hwsim(*args, cwd=tmp_path)
        assert r.returncode == 0, f"{command}\n{r.stderr}"
    assert (tmp_path / "out" / "pareto_elements_per_cycle_vs_topk_area_mm2.png").exists()
    # the last command, hwsim compare: both designs, B / A, and the config difference
    assert commands[-1].startswith("hwsim compare spatten spatten --set-b topk.lanes=1")
    line = next(x for x in r.stdout.splitlines() if "selection_cycles" in x)
    a, b, ratio = [c.strip() for c in line.split("│")[2:5]]
    assert float(ratio) == pytest.approx(int(b.replace(",", "")) / int(a.replace(",", "")), rel=1e-3)
    assert float(ratio) > 3  # one comparator lane selects far more slowly than sixteen
    diff = r.stdout[r.stdout.index("Config difference"):]
    assert "design.topk.lanes" in diff and "design.hbm.channels" not in diff

"""Every `hwsim ...` command in the README's sh blocks runs as written (the make targets excepted)."""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import REPO, SHARED, run_hwsim


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("hwsim "):
                cmds.append(line)
    return cmds


def test_readme_has_commands():
    assert len(readme_commands()) >= 5


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command(command, tmp_path):
    # commands run in an empty folder; paths into the shared data (written relative to the
    # repository root in the README) are made absolute
    args = [a.replace("../shared/", f"{SHARED}/") for a in shlex.split(command)[1:]]
    r = run_hwsim(*args, cwd=tmp_path)
    assert r.returncode == 0, f"{command}\n{r.stderr}"

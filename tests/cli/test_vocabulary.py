"""One option vocabulary across every ``hwsim`` command (hwsim/cli/app.py states it).

The test walks every registered command through the Typer/Click application object, so a command
added later is checked too.
"""

from __future__ import annotations

import subprocess
import sys

import typer

from hwsim.cli import app, bare_json
from hwsim.cli.app import ALIASES

#: long option -> the one short flag it may have (none listed: it has none)
SHORT = {"--workload": "-w", "--design": "-d", "--policy": "-p", "--output": "-o", "--tokens": "-t",
         "--generate": "-g", "--network": "-n", "--shape": "-s", "--quiet": "-q", "--help": "-h"}
#: spellings the vocabulary replaced: never visible
RETIRED = {"--model": "--workload", "--out": "--out-dir", "--json-out": "--json", "--output-dir": "--out-dir"}
#: options that take a value, with the metavar it must show
METAVAR = {"--json": "FILE", "--output": "FILE", "--out-dir": "DIR", "--set": "KEY=VALUE"}
LIST_COMMANDS = ("designs", "policies", "workloads", "mpc list")


def _commands(cmd, path=()):
    yield " ".join(path), cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _commands(sub, path + (name,))


def _options(cmd):
    for p in cmd.params:
        if getattr(p, "param_type_name", "") == "option":
            yield p


ROOT = typer.main.get_command(app)
COMMANDS = dict(_commands(ROOT))


def test_every_command_was_found():
    for name in ("simulate", "trace", "trace info", "workloads", "designs", "policies", "show design", "mpc",
                 "mpc op", "mpc list", "topk", "rtl verilog", "rtl synth", "rtl test", "reproduce spatten",
                 "reproduce mpcvit", "version"):
        assert name in COMMANDS, name


def test_short_flags_mean_one_thing():
    problems = []
    for path, cmd in COMMANDS.items():
        for opt in _options(cmd):
            if opt.hidden:
                continue
            longs = [o for o in opt.opts if o.startswith("--")]
            shorts = [o for o in opt.opts if not o.startswith("--")]
            for s in shorts:
                owner = [lg for lg, sh in SHORT.items() if sh == s]
                if owner != longs[:1]:
                    problems.append(f"{path or 'hwsim'}: {s} is {longs}, the vocabulary gives it to {owner}")
            for lg in longs:
                if lg in SHORT and shorts and shorts != [SHORT[lg]]:
                    problems.append(f"{path}: {lg} has {shorts}, expected {SHORT[lg]}")
    assert not problems, "\n".join(problems)


def test_retired_spellings_are_hidden_aliases_only():
    problems = []
    for path, cmd in COMMANDS.items():
        for opt in _options(cmd):
            if opt.hidden:
                allowed = ALIASES.get(path, {})
                for o in opt.opts:
                    if o not in allowed:
                        problems.append(f"{path}: hidden {o} is not a declared alias (hwsim.cli.app.ALIASES)")
                continue
            for o in opt.opts:
                if o in RETIRED:
                    problems.append(f"{path}: {o} is visible; the vocabulary says {RETIRED[o]}")
    assert not problems, "\n".join(problems)


def test_value_options_show_their_metavar_and_every_option_has_help():
    problems = []
    for path, cmd in COMMANDS.items():
        for opt in _options(cmd):
            if not opt.hidden and not opt.help:
                problems.append(f"{path}: {opt.opts} has no help")
            for o in opt.opts:
                if o in METAVAR:
                    if getattr(opt, "is_flag", False):
                        problems.append(f"{path}: {o} is a bare flag; expected {o} {METAVAR[o]}")
                    elif not opt.hidden and opt.metavar != METAVAR[o]:
                        problems.append(f"{path}: {o} shows {opt.metavar!r}, expected {METAVAR[o]}")
    assert not problems, "\n".join(problems)


def test_workload_is_named_the_same_everywhere():
    for path, cmd in COMMANDS.items():
        for opt in _options(cmd):
            if "workload" in (opt.name or "") and not opt.hidden:
                assert "--workload" in opt.opts, f"{path}: {opt.opts}"


def test_list_commands_have_json():
    for path in LIST_COMMANDS:
        assert any("--json" in o.opts for o in _options(COMMANDS[path])), path


def test_aliases_name_real_commands_and_options():
    for path, table in ALIASES.items():
        cmd = COMMANDS[path]
        opts = {o for opt in _options(cmd) for o in opt.opts}
        for old, new in table.items():
            assert old in opts and new in opts, (path, old, new)


def test_bare_json_means_stdout():
    assert bare_json(["mpc", "op", "x", "--json"]) == ["mpc", "op", "x", "--json", "-"]
    assert bare_json(["designs", "--json", "--quiet"]) == ["designs", "--json", "-", "--quiet"]
    assert bare_json(["designs", "--json", "d.json"]) == ["designs", "--json", "d.json"]


def test_version_option_and_completion():
    r = subprocess.run([sys.executable, "-m", "hwsim", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("hwsim "), r.stderr
    assert any("--install-completion" in o.opts for o in _options(ROOT))

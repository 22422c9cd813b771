"""The package layers, enforced by an AST scan of every module (DESIGN.md "Top-level layout").

Ground: ``hwsim.errors``, ``hwsim.outputs``, ``hwsim.paths``, ``hwsim.version``, ``hwsim.limits`` import nothing of
the project; then ``hwsim.config``; then ``hwsim.units``, ``hwsim.pipeline`` and ``workloads``; then
``cost_models`` and ``rtl``; then the pipelines (``hwsim.spatten``); the roof is ``hwsim.cli``,
``hwsim.reproduce`` and the package's lazy public API (``hwsim/__init__.py``). A module may import
its own layer or lower ones. A function-level import of a project module outside the roof needs a
comment on its line saying why (imports inside functions were the way cycles were dodged).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("hwsim", "workloads", "cost_models", "rtl")

#: (module prefix, layer); the longest matching prefix wins.
LAYERS = {
    "hwsim.errors": 0, "hwsim.outputs": 0, "hwsim.paths": 0, "hwsim.version": 0, "hwsim.limits": 0,
    "hwsim.config": 1,
    "hwsim.units": 2, "hwsim.pipeline": 2, "workloads": 2,
    "cost_models": 3, "rtl": 3,
    "hwsim.spatten": 4, "hwsim.sparse": 4, "hwsim.quality": 4,
    "hwsim.reproduce": 5, "hwsim.sweep": 5, "hwsim.cli": 5, "hwsim.__main__": 5, "hwsim": 5,
}
ROOF = 5


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    assert best is not None, f"{module}: no layer assigned in tests/test_layers.py"
    return LAYERS[best]


def modules():
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("")
            parts = list(rel.parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            yield ".".join(parts), path, is_pkg


def project_imports(name: str, path: Path, is_pkg: bool):
    """(imported module, line number, inside a function) for every import of a project module."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if is_pkg else name.rpartition(".")[0]
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    in_func = {id(sub) for f in funcs for sub in ast.walk(f) if sub is not f}
    type_checking = {id(sub) for n in ast.walk(tree) if isinstance(n, ast.If)
                     and "TYPE_CHECKING" in ast.unparse(n.test) for sub in ast.walk(n)}
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` names a module when pkg/sub exists
            targets = []
            for a in node.names:
                sub = f"{mod}.{a.name}"
                targets.append(sub if (REPO / Path(*sub.split("."))).with_suffix(".py").exists()
                               or (REPO / Path(*sub.split("."))).is_dir() else mod)
        else:
            continue
        for t in targets:
            if t.split(".")[0] in PACKAGES:
                yield t, node.lineno, id(node) in in_func


CASES = list(modules())


@pytest.mark.parametrize("name,path,is_pkg", CASES, ids=[c[0] for c in CASES])
def test_no_upward_import(name, path, is_pkg):
    mine = layer_of(name)
    lines = path.read_text().splitlines()
    bad = []
    for target, line, inside in project_imports(name, path, is_pkg):
        if layer_of(target) > mine:
            bad.append(f"{path.relative_to(REPO)}:{line} imports {target} (layer {layer_of(target)} > {mine})")
        if inside and mine < ROOF and "#" not in lines[line - 1]:
            bad.append(f"{path.relative_to(REPO)}:{line}: function-level import of {target} without a comment "
                       f"saying why")
    assert not bad, "\n".join(bad)


def test_import_hwsim_is_cheap():
    import subprocess
    import sys

    code = ("import sys, hwsim, hwsim.errors; "
            "print(sorted(m for m in ('pydantic', 'numpy', 'torch', 'simpy', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_curated_api():
    import hwsim

    from hwsim import HwsimError, SimResult, load_design, load_policy, load_workload, simulate  # noqa: F401

    for name in hwsim.__all__:
        assert getattr(hwsim, name) is not None
    with pytest.raises(AttributeError):
        hwsim.no_such_name  # noqa: B018

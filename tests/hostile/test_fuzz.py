"""Property-based fuzzing of the three parsers: every mutated input loads or is one HwsimError, nothing else.

Mutations of valid files (``tests/hostile/files.py`` and the shipped presets): truncation, flipped
and inserted bytes, values replaced by other JSON/TOML values (other types, deep nesting, huge
numbers), keys added and removed. The example budget is fixed and the search derandomized (the
same examples every run); set ``HWSIM_FUZZ_EXAMPLES`` for a longer search (docs/trace-format.md).
"""

from __future__ import annotations

import copy
import json
import os
from importlib import resources

import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile import files
from hwsim.errors import HwsimError

EXAMPLES = int(os.environ.get("HWSIM_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

NUMBERS = st.one_of(st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans())
SCALARS = st.one_of(st.none(), NUMBERS, st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def _paths(node, prefix=()):
    """Every key path of a JSON-like value."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _replace(node, path, value):
    if not path:
        return value
    node = copy.deepcopy(node)
    parent = node
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return node


def _nested(depth: int):
    return "[" * depth + "]" * depth


@st.composite
def mutated_manifest(draw):
    m = files.manifest()
    paths = list(_paths(m))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        m = _replace(m, path, draw(VALUES))
        if not isinstance(m, dict):
            break
        paths = list(_paths(m))
    return m


def _mutate_bytes(draw, blob: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "none"]))
    if kind == "none" or not blob:
        return blob
    i = draw(st.integers(0, len(blob) - 1))
    if kind == "truncate":
        return blob[:i]
    if kind == "flip":
        return blob[:i] + bytes([blob[i] ^ draw(st.integers(1, 255))]) + blob[i + 1:]
    return blob[:i] + draw(st.binary(min_size=1, max_size=16)) + blob[i:]


@st.composite
def trace_files(draw):
    how = draw(st.sampled_from(["manifest", "bytes", "nest", "text"]))
    if how == "manifest":
        blob = files.trace_bytes(draw(mutated_manifest()))
    elif how == "nest":
        blob = files.trace_bytes(_nested(draw(st.sampled_from([10, 1000, 100_000]))))
    elif how == "text":
        blob = files.trace_bytes(json.dumps(files.manifest())[:draw(st.integers(0, 3000))])
    else:
        blob = files.trace_bytes()
    return _mutate_bytes(draw, blob) if how in ("bytes", "manifest") and draw(st.booleans()) else blob


def _outcome(load, path, use=None):
    """Load ``path`` and, when it loads, ``use`` the result: only HwsimError (one line) may escape."""
    try:
        obj = load(path)
        if use is not None:
            use(obj)
    except HwsimError as e:
        assert "\n" not in str(e)


def _use_trace(trace):
    """What ``trace info`` and ``mpc`` do with a loaded trace."""
    from cost_models.mpc import estimate

    for layer in range(trace.layers):
        trace.concentration(layer)
    estimate(trace)


@FUZZ
@given(blob=trace_files())
def test_trace_parser(tmp_path, blob):
    import workloads

    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(blob)
    _outcome(workloads.load, path, _use_trace)


CELLS = st.one_of(st.integers(-(2**70), 2**70).map(str), st.floats().map(repr), st.text(max_size=12),
                  st.sampled_from(["True", "False", "-1", "", "nan", "inf", "1e400", '"', "4", "8"]))


@st.composite
def csv_files(draw):
    rows = files.csv_rows()
    for _ in range(draw(st.integers(1, 4))):
        r = draw(st.integers(0, len(rows) - 1))
        how = draw(st.sampled_from(["cell", "drop", "add", "dup"]))
        if how == "cell":
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(CELLS)
        elif how == "drop" and rows[r]:
            rows[r].pop(draw(st.integers(0, len(rows[r]) - 1)))
        elif how == "add":
            rows[r].append(draw(CELLS))
        else:
            rows.append(list(rows[r]))
    text = files.csv_text(rows).encode()
    return _mutate_bytes(draw, text) if draw(st.booleans()) else text


@FUZZ
@given(blob=csv_files())
def test_spatten_csv_parser(tmp_path, blob):
    from workloads import spatten_csv

    path = tmp_path / "fuzz.csv"
    path.write_bytes(blob)
    _outcome(spatten_csv.load, path)


TOML_VALUES = st.recursive(
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.booleans(), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.text(alphabet="abcdefgh_", min_size=1, max_size=6), inner, max_size=3)), max_leaves=6)


def _preset(kind: str, name: str) -> dict:
    text = (resources.files("hwsim.config") / "presets" / kind / f"{name}.toml").read_text()
    return tomlkit.parse(text).unwrap()


@st.composite
def toml_files(draw):
    kind = draw(st.sampled_from(["designs", "policies", "network"]))
    if kind == "network":
        doc = {"base": "lan", "bandwidth_gbit_per_s": 1.0}
    else:
        doc = _preset(kind, draw(st.sampled_from(["spatten", "dense"] if kind == "designs" else
                                                 ["spatten-bert", "none"])))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p and all(isinstance(x, str) for x in p)]
        how = draw(st.sampled_from(["value", "base", "add"]))
        if how == "value" and paths:
            doc = _replace(doc, draw(st.sampled_from(paths)), draw(TOML_VALUES))
        elif how == "base":
            doc["base"] = draw(st.one_of(TOML_VALUES, st.sampled_from(["spatten", "nosuch", "fuzz.toml", "lan"])))
        else:
            doc[draw(st.text(alphabet="xyz", min_size=1, max_size=3))] = draw(TOML_VALUES)
    text = tomlkit.dumps(doc).encode()
    if draw(st.booleans()):
        text = _mutate_bytes(draw, text)
    return kind, text


@FUZZ
@given(case=toml_files())
def test_config_and_network_parsers(tmp_path, case):
    from cost_models.mpc import load_network
    from hwsim.config import load_design, load_policy

    kind, blob = case
    path = tmp_path / "fuzz.toml"
    path.write_bytes(blob)
    _outcome({"designs": load_design, "policies": load_policy, "network": load_network}[kind], path)

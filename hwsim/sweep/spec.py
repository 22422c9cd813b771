"""Sweep specs: a TOML file -> schema check -> a frozen spec -> the list of design points.

A spec names an evaluation (``topk``, ``simulate``, ``quality``, ``sparse``, ``mpc``), a base (design and policy presets or files, ``--set`` style overrides, workloads,
the evaluation's parameters), axes and constraints::

    evaluation = "topk"
    seed = 0
    design = "spatten"
    constraints = ["topk.in_lanes <= topk.lanes"]
    [params]
    n = 1024
    [[axes]]
    name = "topk.lanes"
    log_range = [1, 64, 2]          # 1, 2, 4, ..., 64 (start, stop, factor)
    [[axes]]
    name = "n"
    range = [128, 1024, 128]        # start, stop (included when reached), step
    [[axes]]
    name = ["topk.in_lanes", "topk.max_n"]   # a zipped axis: its values move together
    values = [[8, 1024], [16, 2048]]

An axis name is a parameter of the evaluation (``n``, ``k``, ...), a policy field (``policy.`` +
its dotted key) or a design field (its dotted key, as ``--set`` takes it). Points are the
cartesian product of the axes (the last axis varies fastest), minus those a constraint rejects,
optionally thinned to a seeded random ``sample``. Every problem is one :class:`HwsimError` line
naming the file and key.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
import operator
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, Field, model_validator

from ..config.base import Config, Expected, int_between
from ..config.design import Design
from ..config.loader import read_toml, validate_config
from ..config.policy import Policy
from ..errors import HwsimError

__all__ = ["SweepSpec", "Axis", "Point", "load_spec", "expand", "spec_hash", "EVALUATION_NAMES", "AVAILABLE"]

#: Every evaluation a spec may name; only those in :data:`AVAILABLE` run today.
EVALUATION_NAMES = ("topk", "simulate", "mpc", "quality", "sparse")
AVAILABLE = ("topk", "simulate", "quality", "sparse", "mpc")

Scalar = Union[bool, int, float, str]


class RandomAxis(Config):
    """``samples`` values drawn uniformly (or log-uniformly) from ``low .. high`` with ``seed``."""

    low: float | int
    high: float | int
    samples: Annotated[int, int_between(1, 1_000_000)]
    seed: Annotated[int, int_between(0, 2**63 - 1)] = 0
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _order(self) -> "RandomAxis":
        if not self.high > self.low:
            raise Expected(f"more than low ({self.low})", key="high", got=self.high)
        if self.log and self.low <= 0:
            raise Expected("a number > 0 when log = true", key="low", got=self.low)
        return self


class Axis(Config):
    """One axis: a field name (or a list of names: a zipped axis) and exactly one way to give values."""

    name: str | list[str]
    values: list[Scalar] | list[list[Scalar]] | None = None
    range: list[float | int] | None = Field(None, description="[start, stop, step]; stop included when reached.")
    log_range: list[float | int] | None = Field(None, description="[start, stop, factor]: start, start*factor, ...")
    random: RandomAxis | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "Axis":
        given = [k for k in ("values", "range", "log_range", "random") if getattr(self, k) is not None]
        if len(given) != 1:
            raise Expected("exactly one of values, range, log_range, random", key="values" if not given else given[1],
                           show_got=False)
        zipped = isinstance(self.name, list)
        if zipped:
            if not self.name or len(set(self.name)) != len(self.name):
                raise Expected("a non-empty list of distinct field names", key="name", got=self.name)
            if self.values is None:
                raise Expected("values = [[...], ...] for a zipped axis (one inner list per point)", key="values",
                               show_got=False)
            for row in self.values:
                if not isinstance(row, list) or len(row) != len(self.name):
                    raise Expected(f"lists of {len(self.name)} values (one per name)", key="values", got=row)
        elif self.values is not None:
            if not self.values or any(isinstance(v, list) for v in self.values):
                raise Expected("a non-empty list of plain values", key="values", got=self.values)
        for key in ("range", "log_range"):
            v = getattr(self, key)
            if v is not None and len(v) != 3:
                raise Expected("three numbers [start, stop, step]" if key == "range"
                               else "three numbers [start, stop, factor]", key=key, got=v)
        if self.range is not None and not self.range[2] > 0:
            raise Expected("a step > 0", key="range", got=self.range)
        if self.log_range is not None and not (self.log_range[0] > 0 and self.log_range[2] > 1):
            raise Expected("start > 0 and factor > 1", key="log_range", got=self.log_range)
        return self

    @property
    def names(self) -> list[str]:
        """The field names this axis sets (one unless zipped)."""
        return list(self.name) if isinstance(self.name, list) else [self.name]

    def rows(self) -> list[tuple]:
        """The axis's values as tuples (one entry per name)."""
        if self.values is not None:
            return [tuple(v) if isinstance(v, list) else (v,) for v in self.values]
        if self.range is not None:
            return [(v,) for v in _range(*self.range)]
        if self.log_range is not None:
            return [(v,) for v in _log_range(*self.log_range)]
        r = self.random
        rng = np.random.default_rng(r.seed)
        if r.log:
            x = np.exp(rng.uniform(math.log(r.low), math.log(r.high), r.samples))
        else:
            x = rng.uniform(r.low, r.high, r.samples)
        if r.integer:
            return [(int(v),) for v in np.floor(x).astype(np.int64).clip(int(math.ceil(r.low)), int(r.high))]
        return [(float(v),) for v in x]


def _clean(v: float) -> float:
    return float(f"{v:.12g}")


def _range(start, stop, step) -> list:
    if all(isinstance(x, int) for x in (start, stop, step)):
        return list(range(start, stop + 1, step))
    n = int(math.floor((stop - start) / step + 1e-9)) + 1
    return [_clean(start + i * step) for i in range(max(n, 0))]


def _log_range(start, stop, factor) -> list:
    out = []
    v = start
    exact = isinstance(start, int) and isinstance(factor, int)
    while v <= stop * (1 + 1e-9):
        out.append(v if exact else _clean(v))
        v = v * factor
    return out


class Sample(Config):
    """Keep ``points`` of the points (after constraints), drawn without replacement with ``seed``."""

    points: Annotated[int, int_between(1, 10_000_000)]
    seed: Annotated[int, int_between(0, 2**63 - 1)] = 0


class Objectives(Config):
    """Output columns a Pareto front minimises and maximises (the defaults of ``hwsim sweep pareto``)."""

    minimize: list[str] = []
    maximize: list[str] = []


class WorkloadSpec(Config):
    """A workload: a bundled name, a trace file or a SpAtten CSV, with its token counts."""

    name: str
    tokens: Annotated[int, int_between(1, 1 << 20)] | None = None
    generate: Annotated[int, int_between(0, 1 << 20)] | None = None

    @property
    def label(self) -> str:
        """The workload's name in result rows (``minilm``, ``minilm@64``, ``gpt2-small@32+8``)."""
        extra = "" if self.tokens is None else f"@{self.tokens}"
        if self.generate is not None:
            extra += f"+{self.generate}" if extra else f"@+{self.generate}"
        return self.name + extra


def _workload(v):
    return {"name": v} if isinstance(v, str) else v


class SweepSpec(Config):
    """A validated sweep spec (see the module docstring)."""

    evaluation: Literal["topk", "simulate", "mpc", "quality", "sparse"]
    description: str = ""
    seed: Annotated[int, int_between(0, 2**32 - 1)] = 0
    design: str = "spatten"
    policy: str | None = None
    set: list[str] = Field(default_factory=list, description="--set style overrides of every point.")
    workloads: list[WorkloadSpec] = Field(default_factory=list)
    params: dict[str, Scalar] = Field(default_factory=dict)
    axes: list[Axis] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    sample: Sample | None = None
    objectives: Objectives = Field(default_factory=Objectives)

    @property
    def workload_specs(self) -> list[WorkloadSpec]:
        """The workloads, each as a :class:`WorkloadSpec`."""
        return list(self.workloads)


def spec_hash(spec: SweepSpec) -> str:
    """A stable hash of a spec's values (16 hex digits)."""
    blob = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------- names


def field_path_exists(model: type[BaseModel], parts: list[str]) -> bool:
    """Whether the dotted ``parts`` name a leaf field of ``model`` (a value, not a table)."""
    cls = model
    for i, part in enumerate(parts):
        field = cls.model_fields.get(part)
        if field is None:
            return False
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            cls = ann
            continue
        return i == len(parts) - 1
    return False


def leaf_field(model: type[BaseModel], parts: list[str]):
    """The pydantic FieldInfo of the leaf field the dotted ``parts`` name in ``model``."""
    cls = model
    for part in parts[:-1]:
        cls = cls.model_fields[part].annotation
    return cls.model_fields[parts[-1]]


def check_value_type(name: str, kind: str, value: Any, evaluation) -> str | None:
    """The "expected ..." text when ``value`` has the wrong type for the field ``name`` (range not checked)."""
    from pydantic import ConfigDict, TypeAdapter, ValidationError

    from ..config.loader import _TYPE_WORDS

    if kind == "param":
        field = evaluation.params_model.model_fields[name]
    elif kind == "policy":
        field = leaf_field(Policy, name.split(".")[1:])
    else:
        field = leaf_field(Design, name.split("."))
    try:
        TypeAdapter(field.annotation, config=ConfigDict(strict=True)).validate_python(value)
    except ValidationError as e:
        err = e.errors()[0]
        if err["type"] == "literal_error":
            return f"expected one of {err.get('ctx', {}).get('expected')}"
        return f"expected {_TYPE_WORDS.get(err['type'], err['msg'].lower())}"
    return None


def classify(name: str, evaluation) -> str:
    """``param``, ``policy`` or ``design`` for an axis name; HwsimError text when it names nothing."""
    if name in evaluation.params_model.model_fields:
        return "param"
    if name.startswith("policy."):
        if not evaluation.uses_policy:
            raise ValueError(f"the {evaluation.name} evaluation takes no policy")
        if field_path_exists(Policy, name.split(".")[1:]):
            return "policy"
        raise ValueError(f"{name[len('policy.'):]!r} is not a policy field")
    if not evaluation.uses_design:
        params = ", ".join(evaluation.params_model.model_fields)
        raise ValueError(f"{name!r} is not a parameter of the {evaluation.name} evaluation; expected one of: {params}")
    if field_path_exists(Design, name.split(".")):
        return "design"
    params = ", ".join(evaluation.params_model.model_fields)
    raise ValueError(f"{name!r} is neither a design field (as --set takes it, e.g. topk.lanes), a policy field "
                     f"(policy.local_v.keep) nor a parameter of the {evaluation.name} evaluation ({params})")


# --------------------------------------------------------------------------------------------- constraints

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_CMPOPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
           ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b}


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


class Constraint:
    """A boolean expression over point values: numbers, names, arithmetic, comparisons, and/or/not."""

    def __init__(self, text: str):
        self.text = text
        try:
            self.tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            raise ValueError("not an expression (expected e.g. 'topk.in_lanes <= topk.lanes')") from None
        self.names: set[str] = set()
        self._check(self.tree)

    def _check(self, node) -> None:
        name = _dotted(node)
        if name is not None:
            self.names.add(name)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return
        if isinstance(node, ast.BoolOp) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub))):
            for v in (node.values if isinstance(node, ast.BoolOp) else [node.operand]):
                self._check(v)
            return
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left)
            self._check(node.right)
            return
        if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
            for v in [node.left, *node.comparators]:
                self._check(v)
            return
        if isinstance(node, (ast.List, ast.Tuple)):
            for v in node.elts:
                self._check(v)
            return
        raise ValueError(f"unsupported syntax {ast.unparse(node)!r} (expected names, numbers, arithmetic, "
                         "comparisons, and/or/not)")

    def __call__(self, values: dict[str, Any]) -> bool:
        return bool(self._eval(self.tree, values))

    def _eval(self, node, values):
        name = _dotted(node)
        if name is not None:
            return values[name]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BoolOp):
            items = (self._eval(v, values) for v in node.values)
            return all(items) if isinstance(node.op, ast.And) else any(items)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, values)
            return (not v) if isinstance(node.op, ast.Not) else -v
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, values), self._eval(node.right, values))
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, values)
            for op, right_node in zip(node.ops, node.comparators):
                right = self._eval(right_node, values)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        return [self._eval(v, values) for v in node.elts]


# --------------------------------------------------------------------------------------------- loading


def load_spec(source: str | Path | dict, *, label: str | None = None) -> SweepSpec:
    """Load and validate a sweep spec from a TOML file (or a dict); one HwsimError line on bad input."""
    from .evaluate import get_evaluation

    if isinstance(source, dict):
        data, where = dict(source), label or "sweep spec"
    else:
        data, where = read_toml(Path(source)), label or str(source)
    if isinstance(data.get("workloads"), list):
        data["workloads"] = [_workload(w) for w in data["workloads"]]
    spec = validate_config(SweepSpec, data, where, {})
    if spec.evaluation not in AVAILABLE:
        raise HwsimError(f"{where}: evaluation: {spec.evaluation!r} is not available yet (its model has not landed); "
                         f"expected one of {', '.join(AVAILABLE)}")
    ev = get_evaluation(spec.evaluation)
    ev.check_spec(spec, where)
    seen: dict[str, int] = {}
    for i, axis in enumerate(spec.axes):
        for name in axis.names:
            try:
                classify(name, ev)
            except ValueError as e:
                raise HwsimError(f"{where}: axes[{i}].name: {e}") from None
            if name in seen:
                raise HwsimError(f"{where}: axes[{i}].name: {name!r} is already set by axes[{seen[name]}]")
            seen[name] = i
        for j, name in enumerate(axis.names):
            kind = classify(name, ev)
            for row in axis.rows()[:1000]:
                problem = check_value_type(name, kind, row[j], ev)
                if problem is not None:
                    raise HwsimError(f"{where}: axes[{i}].values: {name} = {json.dumps(row[j])}: {problem}")
    for i, text in enumerate(spec.constraints):
        try:
            c = Constraint(text)
        except ValueError as e:
            raise HwsimError(f"{where}: constraints[{i}]: {e}") from None
        for name in sorted(c.names):
            if name in seen or name in ev.params_model.model_fields:
                continue
            try:
                classify(name, ev)
            except ValueError as e:
                raise HwsimError(f"{where}: constraints[{i}]: {e}") from None
    for key in ("minimize", "maximize"):
        for col in getattr(spec.objectives, key):
            if col not in ev.output_columns(spec):
                raise HwsimError(f"{where}: objectives.{key}: {col!r} is not an output of the {spec.evaluation} "
                                 f"evaluation; expected one of: {', '.join(ev.output_columns(spec))}")
    return spec


def flatten(prefix: str, data: dict) -> dict[str, Any]:
    """``{"topk": {"lanes": 16}}`` -> ``{"<prefix>.topk.lanes": 16}``; lists become JSON text."""
    out = {}
    for k, v in data.items():
        name = f"{prefix}.{k}"
        if isinstance(v, dict):
            out.update(flatten(name, v))
        else:
            out[name] = json.dumps(v) if isinstance(v, (list, tuple)) else v
    return out


def base_values(spec: SweepSpec, design=None, policy=None) -> dict[str, Any]:
    """Values of every name a constraint may read that no axis sets: parameters, base design/policy fields.

    ``design`` and ``policy`` default to the spec's base (its presets plus its ``set`` overrides).
    """
    from ..config import load_design, load_policy
    from .evaluate import get_evaluation

    ev = get_evaluation(spec.evaluation)
    values = dict(ev.params_model.model_validate({}).model_dump())
    values.update(spec.params)
    if design is None and ev.uses_design:
        design = load_design(spec.design, [s for s in spec.set if not s.startswith("policy.")])
    if policy is None and ev.uses_policy:
        policy = load_policy(spec.policy or "none", [s[7:] for s in spec.set if s.startswith("policy.")])
    if design is not None:
        values.update({k[len("design."):]: v for k, v in flatten("design", design.model_dump(mode="json")).items()})
    if policy is not None:
        values.update(flatten("policy", policy.model_dump(mode="json")))
    return values


class Point(BaseModel):
    """One design point before evaluation: its index and the value of every axis name."""

    index: int
    values: dict[str, Any]


def expand(spec: SweepSpec, base: dict[str, Any] | None = None, where: str = "sweep spec") -> list[Point]:
    """The spec's points: the product of its axes, filtered by its constraints, sampled.

    ``base`` gives the value of any name a constraint reads that no axis sets (default
    :func:`base_values`: parameters and fields of the base design and policy).
    """
    base = base_values(spec) if base is None else base
    constraints = [Constraint(t) for t in spec.constraints]
    names = [n for a in spec.axes for n in a.names]
    out = []
    for combo in itertools.product(*(a.rows() for a in spec.axes)):
        values = dict(zip(names, itertools.chain.from_iterable(combo)))
        env = {**base, **values}
        keep = True
        for i, c in enumerate(constraints):
            try:
                ok = c(env)
            except (TypeError, ZeroDivisionError, KeyError) as e:
                raise HwsimError(f"{where}: constraints[{i}]: {c.text!r} cannot be evaluated on {values} "
                                 f"({e.__class__.__name__})") from None
            if not ok:
                keep = False
                break
        if keep:
            out.append(values)
    if spec.sample is not None and spec.sample.points < len(out):
        rng = np.random.default_rng(spec.sample.seed)
        chosen = np.sort(rng.choice(len(out), size=spec.sample.points, replace=False))
        out = [out[i] for i in chosen]
    return [Point(index=i, values=v) for i, v in enumerate(out)]

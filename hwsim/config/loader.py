"""Load designs and policies: TOML file or preset name -> schema check -> frozen typed object.

A config file may start from a preset with ``base = "NAME"`` and change only some keys (a design
point is a baseline plus small named overrides). Command-line overrides (``--set topk.lanes=32``)
are applied last. Every problem becomes one :class:`~hwsim.errors.HwsimError` line naming the
file (or the ``--set`` argument), the dotted key and what was expected.
"""

from __future__ import annotations

import copy
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Sequence, TypeVar

import tomlkit
from pydantic import BaseModel, ValidationError

from ..errors import HwsimError
from ..outputs import json_hash
from .base import Config, Expected
from .design import Design
from .policy import Policy, check_compatible

__all__ = [
    "load_design",
    "load_policy",
    "design_presets",
    "policy_presets",
    "dump_toml",
    "config_hash",
    "check_pair",
    "read_toml",
    "validate_config",
]

C = TypeVar("C", bound=Config)

_KINDS: dict[type, str] = {Design: "design", Policy: "policy"}
_PRESET_DIRS = {"design": "designs", "policy": "policies"}


def _preset_dir(kind: str):
    return resources.files("hwsim.config") / "presets" / _PRESET_DIRS[kind]


def _presets(kind: str) -> dict[str, str]:
    out = {}
    for entry in sorted(_preset_dir(kind).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text())
            out[entry.name[: -len(".toml")]] = data.get("description", "")
    return out


def design_presets() -> dict[str, str]:
    """Return the design presets as ``{name: one-line description}``, sorted by name."""
    return _presets("design")


def policy_presets() -> dict[str, str]:
    """Return the policy presets as ``{name: one-line description}``, sorted by name."""
    return _presets("policy")


# --------------------------------------------------------------------------------------------- errors

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}


def _fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """Names of the keys allowed in the table at ``loc`` of ``model``."""
    cls = model
    for part in loc:
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            break
        cls = ann
    return list(cls.model_fields)


def _got(value: Any, *, verbatim: bool = False) -> str:
    if verbatim and isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (list, tuple)) else str(value)


def _describe(model: type[BaseModel], err: dict) -> tuple[str, str]:
    """Return (dotted key, "expected ..." text) for one pydantic error."""
    loc = list(err["loc"])
    typ = err["type"]
    ctx = err.get("ctx") or {}
    inp = err.get("input")
    exc = ctx.get("error")
    if isinstance(exc, Expected):
        if exc.key:
            loc = list(loc) + exc.key.split(".")
        text = f"expected {exc.what}"
        if exc.show_got:
            text += f", got {_got(exc.got, verbatim=True) if exc.got is not None else _got(inp)}"
    elif typ == "extra_forbidden":
        allowed = ", ".join(_fields_at(model, loc[:-1]))
        text = f"unknown key; expected one of: {allowed}"
    elif typ == "missing":
        text = "missing required key"
    elif typ == "literal_error":
        text = f"expected one of {ctx.get('expected')}, got {_got(inp)}"
    elif typ in _TYPE_WORDS:
        text = f"expected {_TYPE_WORDS[typ]}, got {_got(inp)}"
    else:  # any other pydantic check: keep its own words
        text = err["msg"][0].lower() + err["msg"][1:]
    key = ".".join(str(p) for p in loc) or "(top level)"
    return key, text


def validate_config(cls: type[C], data: dict, source: str, set_sources: dict[str, str]) -> C:
    """Validate raw ``data`` into ``cls``; on failure one HwsimError line naming ``source`` and the key.

    ``set_sources`` maps overridden dotted keys to the ``--set`` argument that set them, so an error
    in such a key names that argument instead of ``source``.
    """
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        key, text = _describe(cls, e.errors()[0])
        src = source
        for k, s in set_sources.items():  # an error in an overridden key is the override's fault
            if key == k or key.startswith(k + ".") or k.startswith(key + "."):
                src = s
        raise HwsimError(f"{src}: {key}: {text}") from None


# --------------------------------------------------------------------------------------------- loading


def read_toml(path: Path) -> dict:
    """Read a TOML file; a missing, unreadable or invalid file is one HwsimError line naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HwsimError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HwsimError(f"{path}: cannot read as UTF-8 text ({e.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise HwsimError(f"{path}: invalid TOML: {e}") from None


def _deep_merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise HwsimError(f"--set {item}: expected KEY=VALUE with a dotted key, e.g. topk.lanes=32")
    key, raw = item.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not all(p.strip() for p in parts):
        raise HwsimError(f"--set {item}: expected a dotted key such as topk.lanes, got {key!r}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string: --set quantization.mode=static
    return parts, value


def _apply_overrides(data: dict, overrides: Sequence[str]) -> dict[str, str]:
    sources = {}
    for item in overrides:
        parts, value = _parse_override(item)
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise HwsimError(f"--set {item}: {'.'.join(parts[: i + 1])} is a value, not a table")
            node = child
        node[parts[-1]] = value
        sources[".".join(parts)] = f"--set {item}"
    return sources


def _raw(kind: str, spec: str | Path, seen: tuple[str, ...] = ()) -> tuple[dict, str]:
    """Return the merged raw table for a preset name or file, and the label naming its source."""
    spec_s = str(spec)
    presets = _presets(kind)
    path = Path(spec_s)
    if spec_s in presets and not (path.suffix == ".toml" and path.exists()):
        data = tomllib.loads((_preset_dir(kind) / f"{spec_s}.toml").read_text())
        label = f"{kind} preset '{spec_s}'"
    elif path.suffix == ".toml" or path.exists():
        data = read_toml(path)
        label = str(path)
        data.setdefault("name", path.stem)
    else:
        raise HwsimError(
            f"unknown {kind} {spec_s!r}; expected a preset ({', '.join(presets)}) or a .toml file"
        )
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise HwsimError(f"{label}: base: expected a preset name or file, got {_got(base)}")
        if base in seen:
            raise HwsimError(f"{label}: base: {base!r} includes itself")
        parent, _ = _raw(kind, base, seen + (spec_s,))
        parent.pop("description", None)
        data = _deep_merge(parent, data)
    return data, label


def _load(cls: type[C], spec: str | Path | C, overrides: Sequence[str]) -> C:
    kind = _KINDS[cls]
    if isinstance(spec, cls):
        if not overrides:
            return spec
        data, label = spec.model_dump(exclude_none=True), f"{kind} '{spec.name}'"
    else:
        data, label = _raw(kind, spec)
    sources = _apply_overrides(data, overrides)
    return validate_config(cls, data, label, sources)


def load_design(spec: str | Path | Design = "spatten", overrides: Sequence[str] = ()) -> Design:
    """Load a design from a preset name or a TOML file, then apply ``--set`` style overrides.

    Raises :class:`~hwsim.errors.HwsimError` with one line naming the file and key on bad input.
    """
    return _load(Design, spec, overrides)


def load_policy(spec: str | Path | Policy = "none", overrides: Sequence[str] = ()) -> Policy:
    """Load a policy from a preset name or a TOML file, then apply ``--set`` style overrides."""
    return _load(Policy, spec, overrides)


def check_pair(design: Design, policy: Policy) -> None:
    """Raise a one-line :class:`HwsimError` when ``policy`` needs hardware that ``design`` lacks."""
    try:
        check_compatible(design, policy)
    except Expected as e:
        got = f", got {_got(e.got, verbatim=True)}" if e.show_got else ""
        raise HwsimError(f"policy '{policy.name}': {e.key}: expected {e.what}{got}") from None


# --------------------------------------------------------------------------------------------- output


def _add_table(table, model: BaseModel) -> None:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        if isinstance(value, BaseModel):
            sub = tomlkit.table()
            if field.description:
                sub.add(tomlkit.comment(field.description))
            _add_table(sub, value)
            table.add(name, sub)
        else:
            if field.description:
                table.add(tomlkit.comment(field.description))
            table.add(name, tomlkit.item(list(value) if isinstance(value, tuple) else value))


def dump_toml(config: Config) -> str:
    """Render a config as TOML with each field's unit and source as a comment; it loads back equal."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"hwsim {_KINDS.get(type(config), 'config')}: {config.name}"))
    _add_table(doc, config)
    return tomlkit.dumps(doc)


def config_hash(config: Config) -> str:
    """Return a short stable hash of a config's values (16 hex digits of SHA-256 of canonical JSON)."""
    return json_hash(config.model_dump(mode="json"))

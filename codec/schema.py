"""Dataclass configs <-> plain dicts: typed, range-checked parsing, YAML with `base:` and dotted overrides.

A field's allowed range is declared where the field is (`bounded(...)`) and checked by `from_dict`
before any object is built. A field typed `Annotated[..., OneOf(...)]` holds the config of one
registered kind (an encoder, a quantizer...), chosen by the mapping's `kind` key.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
MAX_SEQUENCE = 64  # tuples/lists in model configs (strides, dilations, levels) are short


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a number (or of each element of a tuple of numbers)."""

    low: float
    high: float

    def check(self, value: Any, where: str) -> None:
        """Raise ValueError naming `where` when `value` (or an element of it) is outside the range."""
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, (int, float)) and not isinstance(item, bool) and not self.low <= item <= self.high:
                raise ValueError(f"{where}: {item!r} is outside [{_num(self.low)}, {_num(self.high)}]")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def bounded(default: Any, low: float, high: float) -> Any:
    """A dataclass field with a default and an inclusive range for its value (or its elements)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"range": Range(low, high)})
    return field(default=default, metadata={"range": Range(low, high)})


def check_ranges(obj: Any, where: str = "") -> None:
    """Check every `bounded` field of dataclass `obj` (and of nested dataclasses)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        path = f"{where}.{f.name}" if where else f.name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_ranges(value, path)
        elif "range" in f.metadata:
            f.metadata["range"].check(value, path)


@dataclass(frozen=True)
class OneOf:
    """`Annotated` marker: the field holds the config of one kind, picked by the mapping's `kind` key.

    `registry` maps each kind to an entry whose `config` is the kind's dataclass (read at parse time,
    so a kind registered later is known); `legacy` lists keys of the old flat config that some kind
    used: given to a kind that lacks them, they are ignored instead of refused.
    """

    what: str
    registry: Mapping[str, Any]
    default: str
    legacy: frozenset[str] = frozenset()

    @property
    def kinds(self) -> dict[str, type]:
        """Kind -> config dataclass."""
        return {kind: entry.config for kind, entry in self.registry.items()}

    def make(self, kind: str, values: Mapping[str, Any]) -> Any:
        """The config of `kind` from Python keyword values (legacy keys the kind lacks are ignored)."""
        kinds = self.kinds
        if kind not in kinds:
            raise ValueError(f"{self.what}.kind: {kind!r} is not a known {self.what} kind; known: {sorted(kinds)}")
        names = {f.name for f in dataclasses.fields(kinds[kind])}
        return kinds[kind](kind=kind, **{k: v for k, v in values.items() if k in names or k not in self.legacy})

    def parse(self, value: Any, where: str) -> Any:
        """The config of `value['kind']` (default kind when absent) from a mapping."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
        kinds = self.kinds
        kind = value.get("kind", self.default)
        if not isinstance(kind, str) or kind not in kinds:
            raise ValueError(f"{where}.kind: {kind!r} is not a known {self.what} kind; known: {sorted(kinds)}")
        cls = kinds[kind]
        names = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in value.items() if k in names or k not in self.legacy}
        return from_dict(cls, {**data, "kind": kind}, where)


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass `cls` from a nested dict: unknown keys, wrong types and out-of-range values raise ValueError."""
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    upgrade = getattr(cls, "upgrade_dict", None)
    if upgrade is not None:
        data = upgrade(data)
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where or cls.__name__}: unknown keys {unknown}; allowed: {sorted(fields)}")
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        kwargs[key] = _coerce(hints[key], value, path)
        if "range" in fields[key].metadata:
            fields[key].metadata["range"].check(kwargs[key], path)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if typing.get_origin(hint) is typing.Annotated:
        base, *extras = typing.get_args(hint)
        marker = next((e for e in extras if isinstance(e, OneOf)), None)
        return marker.parse(value, where) if marker is not None else _coerce(base, value, where)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value or {}, where)  # type: ignore[arg-type]
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ValueError(f"{where}: expected one of {list(typing.get_args(hint))}, got {value!r}")
        return value
    if origin is tuple or origin is list:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and len(value) > MAX_SEQUENCE:
            raise ValueError(f"{where}: at most {MAX_SEQUENCE} items, got {len(value)}")
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis} or {Any}
        items = [_coerce(item, v, where) for v in value]
        return tuple(items) if origin is tuple else items
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _coerce(args[0], value, where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if hint in (int, str, bool) and (not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) for JSON/YAML."""

    def convert(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(dataclasses.asdict(cfg))


def load_yaml(path: str | os.PathLike, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read YAML with an optional `base:` (relative path, one level) and `a.b=value` overrides."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    base = data.pop("base", None)
    if base is not None:
        base_data = yaml.safe_load((path.parent / base).read_text()) or {}
        if "base" in base_data:
            raise ValueError(f"{path}: base config {base} has its own base; only one level is allowed")
        data = merge(base_data, data)
    for item in overrides or []:
        data = merge(data, parse_override(item))
    return data


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge `update` into a copy of `base`."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(item: str) -> dict[str, Any]:
    """`a.b.c=value` -> {'a': {'b': {'c': value}}} with the value parsed as YAML."""
    if "=" not in item:
        raise ValueError(f"override {item!r} must look like key.subkey=value")
    key, raw = item.split("=", 1)
    value: Any = yaml.safe_load(raw)
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    return value

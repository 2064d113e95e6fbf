"""The platform model: what each MNN backend does with each precision mode, as data.

The table lives in ``data/platforms.yaml`` (validated by ``data/platforms.schema.json``).  Users add or override
platforms with extra files (``--platforms-file``, same layout) and with ``platform_overrides`` from their config
(platform id -> one platform entry).  Merging is field by field: a mapping merges into the built-in mapping, any
other value replaces it; a new platform may start from another with ``extends: ID``.

    >>> table = load_platforms()
    >>> p = table["ios-cpu"]
    >>> p.modes["low"].storage
    'fp16'
    >>> p.formats_for("low", finding).accumulation       # per-op facts applied (e.g. Softmax rows in fp32)

This module reads and merges the YAML; the types it builds live in :mod:`.platform_model`.  Nothing here
imports MNN.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..resources import data_path
from .platform_model import (  # noqa: F401  (the data types, re-exported: callers import them from here)
    FORWARD_TYPE_VALUE,
    MODES,
    PRECISION_ENUM,
    PRECISION_VALUE,
    Approximation,
    Mode,
    OpException,
    OpFormats,
    OpMatch,
    OpRef,
    Platform,
    PlatformTable,
    parse_mode,
)

_PLATFORM_REQUIRED = ("name", "backend", "forward_type", "modes")
_MODE_REQUIRED = ("speed", "storage", "arithmetic", "accumulation")
# Texts that back a mode's conversion / accumulation facts (shown by `precision-lint platforms -v` and the docs).
_MODE_FACTS = ("conversion_source", "conversion_measured", "accumulation_measured", "fallback_conversion")


def builtin_platforms_file() -> Path:
    return data_path("platforms.yaml")


@lru_cache(maxsize=1)
def _validator():
    import jsonschema  # lazy

    schema = json.loads(data_path("platforms.schema.json").read_text("utf-8"))
    return jsonschema.Draft7Validator(schema)


def _validate(doc: Any, where: str) -> None:
    import jsonschema

    errors = list(_validator().iter_errors(doc))
    if errors:
        e = jsonschema.exceptions.best_match(errors)
        path = ".".join(str(p) for p in e.absolute_path)
        msg = e.message if len(e.message) <= 300 else e.message[:297] + "..."
        raise ConfigError(f"{where}: {path + ': ' if path else ''}{msg}")


def _read_yaml(path: str, shipped: bool = False) -> Any:
    from .. import safe_yaml
    from ..workflow.files import read_user_text

    text = read_user_text(path, "platform file")

    try:
        # --platforms-file is untrusted: aliases and nesting bounded (the shipped table is checked by the tests)
        return safe_yaml.load(text, path, ConfigError, shipped=shipped)
    except safe_yaml.YAMLError as exc:  # PyYAML is imported only to match it (the shipped table is cached)
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None


@lru_cache(maxsize=1)
def _builtin_doc(validate: bool = False) -> Dict[str, Any]:
    """The shipped table.  Run time skips jsonschema for it (importing jsonschema and validating cost ~0.13 s of
    every run); tests/test_platforms.py validates it, as tests do for the shipped rule files.  User platform files
    and overrides are still validated on every run."""
    path = builtin_platforms_file()
    doc = _read_yaml(str(path), shipped=not validate)
    if validate:
        _validate(doc, str(path))
    return doc


def _merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key; anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def load_platforms(
    files: Sequence[str] = (),
    overrides: Optional[Mapping[str, Any]] = None,
    overrides_origin: str = "platform_overrides",
    builtin: bool = True,
) -> PlatformTable:
    """The built-in table, then each platform file in order, then ``overrides`` (platform id -> entry).

    Raises ConfigError naming the file (or ``overrides_origin``) for anything invalid.
    """
    base = copy.deepcopy(_builtin_doc()) if builtin else {"platforms": []}
    raw: Dict[str, Dict[str, Any]] = {}
    origins: Dict[str, str] = {}
    runtime_types: Dict[str, str] = dict(base.get("mnn_runtime_types", {}))
    lowp_lists: Dict[str, List[str]] = dict(base.get("lowp_op_lists", {}))

    def add(entry: Dict[str, Any], where: str) -> None:
        pid = entry["id"]
        if pid in raw:
            merged = _merge(raw[pid], {k: v for k, v in entry.items() if k != "extends"})
        elif entry.get("extends"):
            if entry["extends"] not in raw:
                raise ConfigError(f"{where}: platform {pid!r} extends unknown platform {entry['extends']!r}")
            parent = {k: v for k, v in raw[entry["extends"]].items() if k != "id"}
            # a mode the new platform gives replaces the parent's whole mode: its sources and measurements describe
            # another build (an inherited `measured:` or `same_as:` would be wrong for it)
            parent["modes"] = {m: v for m, v in parent.get("modes", {}).items() if m not in entry.get("modes", {})}
            merged = _merge(parent, {k: v for k, v in entry.items() if k != "extends"})
        else:
            merged = copy.deepcopy(entry)
        raw[pid] = merged
        origins[pid] = where

    for entry in base["platforms"]:  # the shipped table may use `extends` too
        add(entry, str(builtin_platforms_file()))

    for path in files:
        doc = _read_yaml(path)
        _validate(doc, path)
        runtime_types.update(doc.get("mnn_runtime_types", {}))
        lowp_lists.update(doc.get("lowp_op_lists", {}))
        for entry in doc["platforms"]:
            add(entry, f"{path}: platform {entry['id']}")
    for pid, entry in (overrides or {}).items():
        where = f"{overrides_origin}.{pid}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping (a platform entry), got {type(entry).__name__}")
        full = dict(entry, id=entry.get("id", pid))
        if full["id"] != pid:
            raise ConfigError(f"{where}: id {full['id']!r} differs from its key {pid!r}")
        _validate({"platforms": [full]}, where)
        add(full, where)
    platforms = [_build(pid, raw[pid], origins[pid], runtime_types, lowp_lists) for pid in raw]
    return PlatformTable(platforms, runtime_types, _builtin_doc().get("mnn_version"))


def options_table(options: Any) -> PlatformTable:
    """The table an api.Options names: the built-in one, its ``platform_files``, then its ``platform_overrides``
    (errors name where the overrides were set).  What check, verify and `precision-lint platforms` read."""
    return load_platforms(
        tuple(options.platform_files),
        options.platform_overrides,
        overrides_origin=options.origins.get("platform_overrides", "platform_overrides"),
    )


def _match(d: Mapping[str, Any]) -> OpMatch:
    return OpMatch(
        ops=frozenset(d.get("ops", ())),
        mnn_types=frozenset(d.get("mnn_types", ())),
        rank=d.get("rank"),
        rules=frozenset(d.get("rules", ())),
    )


def _approximations(items: Iterable[Mapping[str, Any]]) -> Tuple[Approximation, ...]:
    return tuple(
        Approximation(a["id"], a["what"], _match(a), a.get("source", ""), a.get("measured", "")) for a in items
    )


def _exceptions(items: Iterable[Mapping[str, Any]]) -> Tuple[OpException, ...]:
    return tuple(
        OpException(
            _match(e),
            e["what"],
            e.get("source", ""),
            e.get("storage"),
            e.get("arithmetic"),
            e.get("accumulation"),
            e.get("measured", ""),
        )
        for e in items
    )


def _resolve_mode(name: str, modes: Mapping[str, Any], where: str, seen: Tuple[str, ...] = ()) -> Dict[str, Any]:
    d = modes.get(name)
    if d is None:
        raise ConfigError(f"{where}: mode {name!r} is not defined")
    ref = d.get("same_as")
    if ref is None:
        return dict(d)
    if ref in seen or ref == name:
        raise ConfigError(f"{where}: modes.{name}: same_as forms a cycle ({' -> '.join(seen + (name, ref))})")
    base = {
        k: v
        for k, v in _resolve_mode(ref, modes, where, seen + (name,)).items()
        if k not in ("source", "what", "same_as")
    }
    out = _merge(base, d)
    return out


def _build(
    pid: str,
    d: Mapping[str, Any],
    where: str,
    runtime_types: Mapping[str, str],
    lowp_lists: Mapping[str, Sequence[str]],
) -> Platform:
    missing = [k for k in _PLATFORM_REQUIRED if k not in d]
    if missing:
        raise ConfigError(
            f"{where}: a new platform needs {', '.join(missing)} (or `extends: ID` to start from an existing platform)"
        )
    raw_modes = d["modes"]
    absent = [m for m in MODES if m not in raw_modes]
    if absent:
        raise ConfigError(
            f"{where}: modes: every precision mode must be described (missing: {', '.join(absent)}; "
            f"use `same_as: normal` or `supported: false`)"
        )
    modes: Dict[str, Mode] = {}
    for name in MODES:
        m = _resolve_mode(name, raw_modes, where)
        supported = m.get("supported", True)
        if supported:
            lacking = [k for k in _MODE_REQUIRED if k not in m]
            if lacking:
                raise ConfigError(f"{where}: modes.{name}: missing {', '.join(lacking)}")
        lowp = m.get("lowp_only")
        if lowp is not None and lowp not in lowp_lists:
            raise ConfigError(
                f"{where}: modes.{name}: lowp_only {lowp!r} is not a lowp_op_lists entry "
                f"(known: {', '.join(sorted(lowp_lists))})"
            )
        modes[name] = Mode(
            name=name,
            supported=supported,
            speed=m.get("speed", 0),
            storage=m.get("storage", "fp32"),
            arithmetic=m.get("arithmetic", "fp32"),
            accumulation=m.get("accumulation", "fp32"),
            lowp_only=lowp,
            lowp_types=frozenset(lowp_lists[lowp]) if lowp else None,
            op_exceptions=_exceptions(m.get("op_exceptions", ())),
            approximations=_approximations(m.get("approximations", ())),
            what=m.get("what", ""),
            source=m.get("source", ""),
            same_as=raw_modes[name].get("same_as"),
            conversion=m.get("conversion", "unknown"),
            accumulation_order=m.get("accumulation_order", "unknown"),
            kernels=m.get("kernels"),
            measured=m.get("measured", ""),
            facts={k: m[k] for k in _MODE_FACTS if k in m},
        )
    return Platform(
        id=pid,
        name=d["name"],
        backend=d["backend"],
        forward_type=d["forward_type"],
        modes=modes,
        description=d.get("description", ""),
        os=d.get("os", ""),
        source=d.get("source", ""),
        notes=tuple(d.get("notes", ())),
        approximations=_approximations(d.get("approximations", ())),
        cpu_fallback=_exceptions(d.get("cpu_fallback", ())),
        runtime_types=runtime_types,
        origin=where,
    )

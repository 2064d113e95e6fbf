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

Nothing here imports MNN.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .errors import ConfigError

# MNN's BackendConfig::PrecisionMode, in MNN's order (include/MNN/MNNForwardType.h; mnn-precision.md:7-8).
MODES = ("normal", "high", "low", "low_bf16")
PRECISION_ENUM = {"normal": "Precision_Normal", "high": "Precision_High", "low": "Precision_Low",
                  "low_bf16": "Precision_Low_BF16"}
PRECISION_VALUE = {"normal": 0, "high": 1, "low": 2, "low_bf16": 3}
# MNNForwardType values (include/MNN/MNNForwardType.h), for MNN's command-line tools' forwardType argument.
FORWARD_TYPE_VALUE = {"MNN_FORWARD_CPU": 0, "MNN_FORWARD_METAL": 1, "MNN_FORWARD_CUDA": 2, "MNN_FORWARD_OPENCL": 3,
                      "MNN_FORWARD_AUTO": 4, "MNN_FORWARD_NN": 5, "MNN_FORWARD_OPENGL": 6, "MNN_FORWARD_VULKAN": 7,
                      "MNN_FORWARD_USER_0": 8, "MNN_FORWARD_USER_1": 9}

_MODE_ALIASES = {"normal": "normal", "precision_normal": "normal", "0": "normal",
                 "high": "high", "precision_high": "high", "1": "high",
                 "low": "low", "precision_low": "low", "2": "low",
                 "low_bf16": "low_bf16", "lowbf16": "low_bf16", "low-bf16": "low_bf16", "precision_low_bf16": "low_bf16",
                 "bf16": "low_bf16", "3": "low_bf16"}
_PLATFORM_REQUIRED = ("name", "backend", "forward_type", "modes")
_MODE_REQUIRED = ("speed", "storage", "arithmetic", "accumulation")
# Texts that back a mode's conversion / accumulation facts (shown by `precision-lint platforms -v` and the docs).
_MODE_FACTS = ("conversion_source", "conversion_measured", "accumulation_measured", "fallback_conversion")


def parse_mode(text: str) -> str:
    """'low', 'Low_BF16', 'Precision_High', 'lowbf16', '2' ... -> one of MODES; ValueError otherwise."""
    key = str(text).strip().lower()
    if key not in _MODE_ALIASES:
        raise ValueError(f"unknown precision mode {text!r} (known: {', '.join(MODES)})")
    return _MODE_ALIASES[key]


@dataclass(frozen=True)
class OpMatch:
    """Which operators an exception, fallback or approximation concerns."""

    ops: frozenset = frozenset()  # canonical (ONNX spelling) op names, or source_op spellings; "*" for all
    mnn_types: frozenset = frozenset()  # MNN op types, compared with the op's MNN runtime type
    rank: Optional[int] = None  # only inputs of this rank (from the finding's evidence)
    rules: frozenset = frozenset()  # rule ids (approximations only)

    def matches(self, op: "OpRef") -> bool:
        hit = ("*" in self.ops or bool(self.ops & op.names)
               or (op.mnn_type is not None and op.mnn_type in self.mnn_types)
               or (op.rule_id is not None and op.rule_id in self.rules))
        if hit and self.rank is not None:
            return op.rank == self.rank
        return hit


@dataclass(frozen=True)
class OpRef:
    """The operator a finding is about, as platform facts see it."""

    names: frozenset  # canonical op, source_op and source_op's head ("BinaryOp/ADD" -> "BinaryOp")
    mnn_type: Optional[str]  # the MNN op type the backend sees, when known
    rank: Optional[int] = None
    rule_id: Optional[str] = None

    @property
    def label(self) -> str:
        return sorted(self.names)[0] if self.names else "?"


@dataclass(frozen=True)
class Approximation:
    id: str
    what: str
    match: OpMatch
    source: str = ""
    measured: str = ""  # where it was measured on the real kernels ("" = read from source)


@dataclass(frozen=True)
class OpException:
    match: OpMatch
    what: str
    source: str = ""
    storage: Optional[str] = None
    arithmetic: Optional[str] = None
    accumulation: Optional[str] = None
    measured: str = ""


@dataclass(frozen=True)
class OpFormats:
    """The formats one operator really gets on one platform in one mode, after the per-op facts."""

    storage: str
    arithmetic: str
    accumulation: str
    approximations: Tuple[Approximation, ...] = ()
    cpu_fallback: Optional[str] = None  # why the op runs on an fp32 CPU backup (None: on the platform's backend)
    applied: Tuple[str, ...] = ()  # the per-op facts that changed the mode's formats
    sources: Tuple[str, ...] = ()  # where those facts come from (same order)
    conversion: str = "unknown"  # fp32 -> fp16 beyond +-65504: saturate, overflow or unknown (judged as overflow)
    kernels: Optional[str] = None  # the kernel set the op runs (None: an fp32 CPU backup), for known kernel bugs

    @property
    def saturates(self) -> bool:
        return self.conversion == "saturate"

    def get(self, role: str) -> str:
        return getattr(self, role)


@dataclass(frozen=True)
class Mode:
    name: str
    supported: bool = True
    speed: int = 0
    storage: str = "fp32"
    arithmetic: str = "fp32"
    accumulation: str = "fp32"
    lowp_only: Optional[str] = None  # name of the list of MNN op types that run at this mode's formats
    lowp_types: Optional[frozenset] = None
    op_exceptions: Tuple[OpException, ...] = ()
    approximations: Tuple[Approximation, ...] = ()
    what: str = ""
    source: str = ""
    same_as: Optional[str] = None
    conversion: str = "unknown"  # see OpFormats.conversion
    accumulation_order: str = "unknown"  # sequential: the GEMM sums K products one by one in its accumulation format
    kernels: Optional[str] = None  # kernel set id for known_issues.yaml kernel_bugs
    measured: str = ""  # where the mode was measured on the real kernels ("" = read from source)
    facts: Mapping[str, str] = field(default_factory=dict, compare=False)  # conversion_source, *_measured...

    @property
    def precision_enum(self) -> str:
        return PRECISION_ENUM[self.name]

    @property
    def precision_value(self) -> int:
        return PRECISION_VALUE[self.name]

    def signature(self) -> Tuple[Any, ...]:
        """What the mode does numerically: two modes with equal signatures behave identically."""
        return (self.supported, self.storage, self.arithmetic, self.accumulation, self.lowp_types,
                self.op_exceptions, tuple(a.id for a in self.approximations), self.conversion,
                self.accumulation_order, self.kernels)

    def reduced(self) -> int:
        """How many of storage/arithmetic/accumulation are below fp32 (0 = all fp32)."""
        return sum(1 for f in (self.storage, self.arithmetic, self.accumulation) if f != "fp32")

    def formats_dict(self) -> Dict[str, str]:
        return {"storage": self.storage, "arithmetic": self.arithmetic, "accumulation": self.accumulation}


@dataclass(frozen=True)
class Platform:
    id: str
    name: str
    backend: str  # MNN's Python backend name: CPU, OPENCL, METAL, VULKAN, CUDA, TRT, NN...
    forward_type: str  # MNNForwardType enumerator
    modes: Mapping[str, Mode]
    description: str = ""
    os: str = ""
    source: str = ""
    notes: Tuple[str, ...] = ()
    approximations: Tuple[Approximation, ...] = ()
    cpu_fallback: Tuple[OpException, ...] = ()
    runtime_types: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    origin: str = ""  # the file (or config key) that defined or last changed it

    @property
    def forward_type_value(self) -> int:
        return FORWARD_TYPE_VALUE[self.forward_type]

    @property
    def supported_modes(self) -> List[Mode]:
        return [self.modes[m] for m in MODES if m in self.modes and self.modes[m].supported]

    def op_ref(self, finding: Any) -> OpRef:
        """The operator of a finding (anything with op, source_op, rule_id and evidence).

        A finding whose numerics are decided by another operator names it in its evidence as ``judged_op``
        (canonical op): R006's sum of squares is judged on the Reduction that sums them, not on the Mul."""
        evidence = getattr(finding, "evidence", {}) or {}
        op = getattr(finding, "op", "") or ""
        source_op = getattr(finding, "source_op", "") or ""
        judged = evidence.get("judged_op")
        if isinstance(judged, str) and judged and judged != op:
            op, source_op = judged, ""
        head = source_op.split("/", 1)[0].split(":")[-1]
        names = frozenset(n for n in (op, source_op, head) if n)
        mnn_type = self.runtime_types.get(op)
        if mnn_type is None and head and head != op:
            mnn_type = self.runtime_types.get(head, head)
        return OpRef(names=names, mnn_type=mnn_type, rank=_rank(getattr(finding, "evidence", {}) or {}),
                     rule_id=getattr(finding, "rule_id", None))

    def formats_for(self, mode: str, finding: Any) -> OpFormats:
        """The formats the finding's operator really runs with in ``mode`` on this platform."""
        return self.formats_for_op(mode, self.op_ref(finding))

    def formats_for_op(self, mode: str, op: OpRef) -> OpFormats:
        """formats_for with the operator already described (the recommender computes it once per finding)."""
        m = self.modes[mode]
        storage, arith, acc = m.storage, m.arithmetic, m.accumulation
        applied: List[str] = []
        sources: List[str] = []
        fallback: Optional[str] = None
        kernels = m.kernels
        if m.lowp_types is not None and op.mnn_type is not None and op.mnn_type not in m.lowp_types:
            if (arith, acc) != ("fp32", "fp32"):
                fallback = (f"MNN op type {op.mnn_type} is not in the {m.lowp_only} low-precision list: it runs on "
                            f"an fp32 CPU backup")
                arith, acc = "fp32", "fp32"
                kernels = None
                applied.append(fallback)
                sources.append(m.facts.get("fallback_conversion") or m.source)
        for ex in m.op_exceptions:
            if ex.match.matches(op):
                storage = ex.storage or storage
                arith = ex.arithmetic or arith
                acc = ex.accumulation or acc
                applied.append(ex.what)
                sources.append(ex.source)
        for ex in self.cpu_fallback:
            if ex.match.matches(op):
                # the op runs on an fp32 CPU backend; its inputs were already stored at this backend's precision
                fallback = f"{ex.what}: runs on the fp32 CPU backup"
                arith, acc = "fp32", "fp32"
                kernels = None
                applied.append(fallback)
                sources.append(ex.source)
        approx = tuple(a for a in self.approximations + m.approximations if a.match.matches(op))
        return OpFormats(storage, arith, acc, approx, fallback, tuple(applied), tuple(sources), m.conversion, kernels)

    def equivalent_groups(self) -> List[List[str]]:
        """Supported modes grouped by identical numerics, in MNN's mode order."""
        groups: Dict[Tuple[Any, ...], List[str]] = {}
        for m in self.supported_modes:
            groups.setdefault(m.signature(), []).append(m.name)
        return list(groups.values())

    def to_dict(self) -> Dict[str, Any]:
        """Plain, sorted data for `precision-lint platforms --format json` and the docs."""
        modes = {}
        for name in MODES:
            if name not in self.modes:
                continue
            m = self.modes[name]
            modes[name] = {
                "precision": m.precision_enum, "supported": m.supported, "speed": m.speed,
                "formats": m.formats_dict(), "same_as": m.same_as, "what": m.what, "source": m.source,
                "lowp_only": m.lowp_only, "conversion": m.conversion, "accumulation_order": m.accumulation_order,
                "kernels": m.kernels, "measured": m.measured, "facts": dict(sorted(m.facts.items())),
                "op_exceptions": [_exception_dict(e) for e in m.op_exceptions],
                "approximations": [_approx_dict(a) for a in m.approximations],
            }
        return {"id": self.id, "name": self.name, "description": self.description, "os": self.os,
                "backend": self.backend, "forward_type": self.forward_type, "source": self.source,
                "notes": list(self.notes), "approximations": [_approx_dict(a) for a in self.approximations],
                "cpu_fallback": [_exception_dict(e) for e in self.cpu_fallback], "modes": modes}


def _exception_dict(e: OpException) -> Dict[str, Any]:
    d: Dict[str, Any] = {"ops": sorted(e.match.ops), "mnn_types": sorted(e.match.mnn_types), "what": e.what,
                         "source": e.source}
    if e.match.rank is not None:
        d["rank"] = e.match.rank
    for k in ("storage", "arithmetic", "accumulation", "measured"):
        if getattr(e, k):
            d[k] = getattr(e, k)
    return d


def _approx_dict(a: Approximation) -> Dict[str, Any]:
    return {"id": a.id, "ops": sorted(a.match.ops), "mnn_types": sorted(a.match.mnn_types),
            "rules": sorted(a.match.rules), "what": a.what, "source": a.source, "measured": a.measured}


def _rank(evidence: Mapping[str, Any]) -> Optional[int]:
    r = evidence.get("rank")
    if isinstance(r, int) and not isinstance(r, bool):
        return r
    for key in ("input_shape", "shape"):
        s = evidence.get(key)
        if isinstance(s, (list, tuple)):
            return len(s)
    return None


class PlatformTable(Mapping[str, Platform]):
    """Platforms by id, in table order (built-ins first, then user additions)."""

    def __init__(self, platforms: Sequence[Platform], runtime_types: Mapping[str, str],
                 mnn_version: Optional[str] = None):
        self._by_id = {p.id: p for p in platforms}
        self.runtime_types = dict(runtime_types)
        self.mnn_version = mnn_version  # the MNN version the built-in table was checked against

    def __getitem__(self, key: str) -> Platform:
        return self._by_id[key]

    def __iter__(self):
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def get_platform(self, name: str, where: str = "platform") -> Platform:
        """The platform called ``name`` or a ConfigError naming the known ones."""
        if name in self._by_id:
            return self._by_id[name]
        raise ConfigError(f"{where}: unknown platform {name!r} (known: {', '.join(self._by_id)}; "
                          f"see `precision-lint platforms`)")

    def select(self, names: Iterable[str] = (), where: str = "--platform") -> List[Platform]:
        names = list(dict.fromkeys(names))
        if not names:
            return list(self._by_id.values())
        return [self.get_platform(n, where) for n in names]


# ---------------------------------------------------------------------------------------------------------- loading

def builtin_platforms_file() -> Path:
    return Path(__file__).resolve().parent / "data" / "platforms.yaml"


@lru_cache(maxsize=1)
def _validator():
    import jsonschema  # lazy

    schema = json.loads((Path(__file__).resolve().parent / "data" / "platforms.schema.json").read_text("utf-8"))
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
    import yaml  # lazy

    from . import safe_yaml
    from .files import read_user_text

    text = read_user_text(path, "platform file")

    try:
        # --platforms-file is untrusted: aliases and nesting bounded (the shipped table is checked by the tests)
        return safe_yaml.load(text, path, ConfigError, shipped=shipped)
    except yaml.YAMLError as exc:
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


def load_platforms(files: Sequence[str] = (), overrides: Optional[Mapping[str, Any]] = None,
                   overrides_origin: str = "platform_overrides", builtin: bool = True) -> PlatformTable:
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


def _match(d: Mapping[str, Any]) -> OpMatch:
    return OpMatch(ops=frozenset(d.get("ops", ())), mnn_types=frozenset(d.get("mnn_types", ())),
                   rank=d.get("rank"), rules=frozenset(d.get("rules", ())))


def _approximations(items: Iterable[Mapping[str, Any]]) -> Tuple[Approximation, ...]:
    return tuple(Approximation(a["id"], a["what"], _match(a), a.get("source", ""), a.get("measured", ""))
                 for a in items)


def _exceptions(items: Iterable[Mapping[str, Any]]) -> Tuple[OpException, ...]:
    return tuple(OpException(_match(e), e["what"], e.get("source", ""), e.get("storage"), e.get("arithmetic"),
                             e.get("accumulation"), e.get("measured", "")) for e in items)


def _resolve_mode(name: str, modes: Mapping[str, Any], where: str, seen: Tuple[str, ...] = ()) -> Dict[str, Any]:
    d = modes.get(name)
    if d is None:
        raise ConfigError(f"{where}: mode {name!r} is not defined")
    ref = d.get("same_as")
    if ref is None:
        return dict(d)
    if ref in seen or ref == name:
        raise ConfigError(f"{where}: modes.{name}: same_as forms a cycle ({' -> '.join(seen + (name, ref))})")
    base = {k: v for k, v in _resolve_mode(ref, modes, where, seen + (name,)).items()
            if k not in ("source", "what", "same_as")}
    out = _merge(base, d)
    return out


def _build(pid: str, d: Mapping[str, Any], where: str, runtime_types: Mapping[str, str],
           lowp_lists: Mapping[str, Sequence[str]]) -> Platform:
    missing = [k for k in _PLATFORM_REQUIRED if k not in d]
    if missing:
        raise ConfigError(f"{where}: a new platform needs {', '.join(missing)} (or `extends: ID` to start from "
                          f"an existing platform)")
    raw_modes = d["modes"]
    absent = [m for m in MODES if m not in raw_modes]
    if absent:
        raise ConfigError(f"{where}: modes: every precision mode must be described (missing: {', '.join(absent)}; "
                          f"use `same_as: normal` or `supported: false`)")
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
            raise ConfigError(f"{where}: modes.{name}: lowp_only {lowp!r} is not a lowp_op_lists entry "
                              f"(known: {', '.join(sorted(lowp_lists))})")
        modes[name] = Mode(
            name=name, supported=supported, speed=m.get("speed", 0), storage=m.get("storage", "fp32"),
            arithmetic=m.get("arithmetic", "fp32"), accumulation=m.get("accumulation", "fp32"), lowp_only=lowp,
            lowp_types=frozenset(lowp_lists[lowp]) if lowp else None,
            op_exceptions=_exceptions(m.get("op_exceptions", ())),
            approximations=_approximations(m.get("approximations", ())), what=m.get("what", ""),
            source=m.get("source", ""), same_as=raw_modes[name].get("same_as"),
            conversion=m.get("conversion", "unknown"), accumulation_order=m.get("accumulation_order", "unknown"),
            kernels=m.get("kernels"), measured=m.get("measured", ""),
            facts={k: m[k] for k in _MODE_FACTS if k in m})
    return Platform(
        id=pid, name=d["name"], backend=d["backend"], forward_type=d["forward_type"], modes=modes,
        description=d.get("description", ""), os=d.get("os", ""), source=d.get("source", ""),
        notes=tuple(d.get("notes", ())), approximations=_approximations(d.get("approximations", ())),
        cpu_fallback=_exceptions(d.get("cpu_fallback", ())), runtime_types=runtime_types, origin=where)

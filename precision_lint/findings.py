"""Findings: immutable records of what a rule saw, with the error estimate per number format."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional, Tuple

LEVELS = ("none", "info", "warning", "error")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
# Formats a rule is judged for.  fp32 is the reference: a rule never fires for it unless it says so.
FORMATS = ("fp16", "bf16")


def max_level(*levels: str) -> str:
    return max(levels, key=LEVEL_RANK.__getitem__) if levels else "none"


def at_least(level: str, threshold: str) -> bool:
    return LEVEL_RANK[level] >= LEVEL_RANK[threshold]


@dataclass(frozen=True)
class Estimate:
    """How large the error gets in one number format, and what that means for this rule."""

    fmt: str
    value: Optional[float]  # None when the rule cannot quantify it (e.g. unknown shape)
    unit: str
    level: str

    def to_dict(self) -> Dict[str, Any]:
        v = self.value
        if v is not None and (v != v or v in (float("inf"), float("-inf"))):
            v = str(v)  # JSON has no inf/nan: "inf" says it overflows
        elif v is not None:
            v = float(f"{v:.6g}")  # stable text across platforms and numpy versions
        return {"value": v, "unit": self.unit, "level": self.level}


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule_name: str
    level: str  # the level judged for the formats in force (fp16 unless targets are declared)
    path: str
    node: str  # operator name as in the model file
    op: str
    source_op: str
    failure_class: str
    message: str
    fix: str
    scope: str = ""  # subgraph path, "" for the main graph
    estimates: Mapping[str, Estimate] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    assumptions: Tuple[str, ...] = ()  # what the rule assumed rather than proved (conditional findings)
    notes: Tuple[str, ...] = ()  # e.g. what MNN's converter does to this pattern
    judged_for: Tuple[str, ...] = ("fp16",)
    # Where to find the node when its name says nothing (MNN's '6', 'LayerNorm44'), filled by neighbourhood.locate:
    # a short path from a graph input or a named ancestor, and the tensor it writes (the name a converted model keeps)
    node_path: str = ""
    output: str = ""
    # What `verify` measured for this node, per target ("ios-cpu:low"): {"verdict": confirmed / inherited / refuted /
    # not observed, "basis": measured / emulated, "on": what ran, "rel_l2", "max_abs", ...}.  Empty for a plain lint.
    measured: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "estimates", MappingProxyType(dict(self.estimates)))
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))
        object.__setattr__(self, "measured", MappingProxyType({k: MappingProxyType(dict(v))
                                                               for k, v in self.measured.items()}))

    # Pickling (parallel runs send findings between processes): a mappingproxy cannot be pickled, its dict can.
    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["estimates"], state["evidence"] = dict(self.estimates), dict(self.evidence)
        state["measured"] = {k: dict(v) for k, v in self.measured.items()}
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
        self.__post_init__()

    @property
    def conditional(self) -> bool:
        return bool(self.assumptions)

    def level_for(self, fmt: str) -> str:
        """The level this finding has when values are held in ``fmt`` (fp32 never fails)."""
        est = self.estimates.get(fmt)
        return est.level if est is not None else "none"

    def labelled_estimates(self) -> Tuple[Tuple[str, Estimate], ...]:
        """Estimates in reading order with human labels: the judged formats, the others, then the storage-only
        variants ('fp16-storage' reads 'fp16 storage only', i.e. fp32 arithmetic)."""
        def key(item):
            name = item[0]
            base = name.split("-")[0]
            return ("-" in name, base not in self.judged_for, base)
        return tuple((k.replace("-storage", " storage only").replace("-sat", " saturating"), e)
                     for k, e in sorted(self.estimates.items(), key=key))

    def with_level(self, level: str, judged_for: Tuple[str, ...]) -> "Finding":
        return replace(self, level=level, judged_for=judged_for)

    @property
    def fingerprint(self) -> str:
        """Stable identity across re-exports: rule, path, graph scope and node name, never an index."""
        key = "\x1f".join((self.rule_id, self.path.replace("\\", "/"), self.scope, self.node))
        return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]  # file names need not be UTF-8

    def sort_key(self) -> Tuple[Any, ...]:
        return (self.path, -LEVEL_RANK[self.level], self.rule_id, self.scope, self.node)

    def to_dict(self) -> Dict[str, Any]:
        d = {
            "rule": self.rule_id,
            "name": self.rule_name,
            "level": self.level,
            "judged_for": list(self.judged_for),
            "path": self.path,
            "node": self.node,
            "scope": self.scope,
            "op": self.op,
            "source_op": self.source_op,
            "class": self.failure_class,
            "message": self.message,
            "estimates": {k: v.to_dict() for k, v in sorted(self.estimates.items())},
            "evidence": _plain(self.evidence),
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "fix": self.fix,
            "fingerprint": self.fingerprint,
            "node_path": self.node_path,
            "output": self.output,
        }
        if self.measured:  # only after a verify run: a plain lint's JSON is unchanged
            d["measured"] = _plain(self.measured)
        return d

    def measured_lines(self) -> Tuple[str, ...]:
        """One plain-text line per target: 'measured on ios-cpu:low (MNN 3.6.1 Arm82 kernels under QEMU, fp16:1):
        confirmed, rel-L2 0.29'; an emulated result says 'emulated', never 'measured'."""
        return tuple(measured_line(target, m) for target, m in sorted(self.measured.items()))


def measured_line(target: str, m: Mapping[str, Any]) -> str:
    how = "emulated" if m.get("basis") == "emulated" else "measured"
    on = f" ({m['on']})" if m.get("on") else ""
    line = f"{how} on {target}{on}: {m.get('verdict', '?')}"
    rel = m.get("rel_l2")
    if rel is not None:
        line += f", rel-L2 {_g(rel)}"
        if m.get("max_abs") is not None:
            line += f", max abs {_g(m['max_abs'])}"
    if m.get("why"):
        line += f" ({m['why']})"
    return line


def _g(v: Any) -> str:
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        return str(v)


def _plain(value: Any) -> Any:
    """Evidence as JSON-ready values with sorted keys (deterministic output)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _plain(value.item())
    if isinstance(value, float):
        return float(f"{value:.6g}") if value == value and abs(value) != float("inf") else str(value)
    return value


@dataclass(frozen=True)
class FileError:
    """A model that could not be read: one line, and the run goes on."""

    path: str
    message: str

    def to_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "error": self.message}

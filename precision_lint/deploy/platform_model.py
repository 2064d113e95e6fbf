"""The platform model as data types: MNN's precision modes, per-op formats, a platform's modes with their per-op
exceptions, approximations and fallbacks, and the table of platforms.  Built from YAML by
:mod:`precision_lint.deploy.platforms`; nothing here reads files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError

# MNN's BackendConfig::PrecisionMode, in MNN's order (include/MNN/MNNForwardType.h; mnn-precision.md:10-11).
MODES = ("normal", "high", "low", "low_bf16")
PRECISION_ENUM = {
    "normal": "Precision_Normal",
    "high": "Precision_High",
    "low": "Precision_Low",
    "low_bf16": "Precision_Low_BF16",
}
PRECISION_VALUE = {"normal": 0, "high": 1, "low": 2, "low_bf16": 3}
# MNNForwardType values (include/MNN/MNNForwardType.h), for MNN's command-line tools' forwardType argument.
FORWARD_TYPE_VALUE = {
    "MNN_FORWARD_CPU": 0,
    "MNN_FORWARD_METAL": 1,
    "MNN_FORWARD_CUDA": 2,
    "MNN_FORWARD_OPENCL": 3,
    "MNN_FORWARD_AUTO": 4,
    "MNN_FORWARD_NN": 5,
    "MNN_FORWARD_OPENGL": 6,
    "MNN_FORWARD_VULKAN": 7,
    "MNN_FORWARD_USER_0": 8,
    "MNN_FORWARD_USER_1": 9,
}
_MODE_ALIASES = {
    "normal": "normal",
    "precision_normal": "normal",
    "0": "normal",
    "high": "high",
    "precision_high": "high",
    "1": "high",
    "low": "low",
    "precision_low": "low",
    "2": "low",
    "low_bf16": "low_bf16",
    "lowbf16": "low_bf16",
    "low-bf16": "low_bf16",
    "precision_low_bf16": "low_bf16",
    "bf16": "low_bf16",
    "3": "low_bf16",
}


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
        hit = (
            "*" in self.ops
            or bool(self.ops & op.names)
            or (op.mnn_type is not None and op.mnn_type in self.mnn_types)
            or (op.rule_id is not None and op.rule_id in self.rules)
        )
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
        return (
            self.supported,
            self.storage,
            self.arithmetic,
            self.accumulation,
            self.lowp_types,
            self.op_exceptions,
            tuple(a.id for a in self.approximations),
            self.conversion,
            self.accumulation_order,
            self.kernels,
        )

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
        return OpRef(
            names=names,
            mnn_type=mnn_type,
            rank=_rank(getattr(finding, "evidence", {}) or {}),
            rule_id=getattr(finding, "rule_id", None),
        )

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
                fallback = (
                    f"MNN op type {op.mnn_type} is not in the {m.lowp_only} low-precision list: it runs on "
                    f"an fp32 CPU backup"
                )
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
                "precision": m.precision_enum,
                "supported": m.supported,
                "speed": m.speed,
                "formats": m.formats_dict(),
                "same_as": m.same_as,
                "what": m.what,
                "source": m.source,
                "lowp_only": m.lowp_only,
                "conversion": m.conversion,
                "accumulation_order": m.accumulation_order,
                "kernels": m.kernels,
                "measured": m.measured,
                "facts": dict(sorted(m.facts.items())),
                "op_exceptions": [_exception_dict(e) for e in m.op_exceptions],
                "approximations": [_approx_dict(a) for a in m.approximations],
            }
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "os": self.os,
            "backend": self.backend,
            "forward_type": self.forward_type,
            "source": self.source,
            "notes": list(self.notes),
            "approximations": [_approx_dict(a) for a in self.approximations],
            "cpu_fallback": [_exception_dict(e) for e in self.cpu_fallback],
            "modes": modes,
        }


def _exception_dict(e: OpException) -> Dict[str, Any]:
    d: Dict[str, Any] = {
        "ops": sorted(e.match.ops),
        "mnn_types": sorted(e.match.mnn_types),
        "what": e.what,
        "source": e.source,
    }
    if e.match.rank is not None:
        d["rank"] = e.match.rank
    for k in ("storage", "arithmetic", "accumulation", "measured"):
        if getattr(e, k):
            d[k] = getattr(e, k)
    return d


def _approx_dict(a: Approximation) -> Dict[str, Any]:
    return {
        "id": a.id,
        "ops": sorted(a.match.ops),
        "mnn_types": sorted(a.match.mnn_types),
        "rules": sorted(a.match.rules),
        "what": a.what,
        "source": a.source,
        "measured": a.measured,
    }


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

    def __init__(
        self, platforms: Sequence[Platform], runtime_types: Mapping[str, str], mnn_version: Optional[str] = None
    ):
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
        raise ConfigError(
            f"{where}: unknown platform {name!r} (known: {', '.join(self._by_id)}; see `precision-lint platforms`)"
        )

    def select(self, names: Iterable[str] = (), where: str = "--platform") -> List[Platform]:
        names = list(dict.fromkeys(names))
        if not names:
            return list(self._by_id.values())
        return [self.get_platform(n, where) for n in names]

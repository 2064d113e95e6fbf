"""MNN's known defects as data (``data/known_issues.yaml``): kernel bugs with version ranges, and issue reports.

One loader for the rules' levels, the recommender and the reporters.  A kernel bug applies to a finding when the
deployed MNN version is in its range, the finding's operator runs the bug's kernels on the target (or its backend)
and the finding's evidence matches the bug's ``when`` values.

    >>> bug = kernel_bug("arm82-gridsample-align-corners")
    >>> bug.affects_version(parse_version("3.6.1")), bug.affects_version(parse_version("2.9.0"))
    (True, False)

Nothing here imports MNN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError
from ..resources import data_path

Version = Tuple[int, ...]
_VERSION = re.compile(r"^\s*v?(\d{1,4}(?:\.\d{1,6}){0,3})\s*$")


def parse_version(text: Any, where: str = "--mnn-version") -> Version:
    """'3.6.1' -> (3, 6, 1); ConfigError naming ``where`` for anything else."""
    m = _VERSION.match(str(text)) if isinstance(text, (str, int, float)) and not isinstance(text, bool) else None
    if m is None:
        shown = str(text)[:40]
        raise ConfigError(f"{where}: expected an MNN version such as 3.6.1, got {shown!r}")
    parts = tuple(int(p) for p in m.group(1).split("."))
    return parts + (0,) * (3 - len(parts)) if len(parts) < 3 else parts


def version_text(v: Version) -> str:
    return ".".join(str(p) for p in v)


@dataclass(frozen=True)
class KernelBug:
    id: str
    title: str
    ops: frozenset
    level: str
    symptom: str
    workaround: str
    source: str
    evidence: str
    rules: frozenset = frozenset()  # the rules whose findings it decides (none: listed only, never attached)
    kernels: frozenset = frozenset()  # platform modes' `kernels` ids
    backends: frozenset = frozenset()  # or whole backends (every mode)
    rank: Optional[int] = None
    when: Tuple[Tuple[str, Tuple[Any, ...]], ...] = ()  # evidence key -> accepted values
    dtypes: Tuple[str, ...] = ()  # only for data of these types (not checked statically: said in the text)
    first_affected: Optional[Version] = None  # None: unknown, assumed every earlier version
    last_affected: Optional[Version] = None  # None: not fixed as of checked_at
    checked_at: str = ""
    fixed_by: str = ""
    unstable: bool = False  # the result changes from run to run
    adds: Optional[Tuple[float, str]] = None  # (value, unit): at most this much on top of the rule's estimate

    def affects_version(self, v: Version) -> bool:
        if self.first_affected is not None and v < self.first_affected:
            return False
        return self.last_affected is None or v <= self.last_affected

    def versions(self) -> str:
        """'3.0.1 to 3.6.1', 'up to 3.6.1 (fixed by ...)', '3.0.1 and later (not fixed as of ...)'"""
        first = version_text(self.first_affected) if self.first_affected else None
        if self.last_affected is None:
            tail = f", not fixed as of {self.checked_at}" if self.checked_at else ""
            return f"{first} and later{tail}" if first else f"every version{tail}"
        last = version_text(self.last_affected)
        fix = f"; fixed by {self.fixed_by}" if self.fixed_by else ""
        return (f"{first} to {last}" if first else f"up to {last}") + fix

    def concerns(self, rule_id: str, op_names: frozenset, rank: Optional[int], evidence: Mapping[str, Any]) -> bool:
        """True when a finding of ``rule_id`` on this operator (with this evidence) is what the bug decides, whatever
        the platform.  Bugs whose condition no rule sees (integer data, pads) name no rules: they are listed by
        `precision-lint platforms`, not attached to findings."""
        if rule_id not in self.rules or not self.ops & op_names:
            return False
        if self.rank is not None and rank is not None and rank != self.rank:
            return False
        for key, values in self.when:
            if key not in evidence or evidence[key] not in values:
                return False
        return True

    def runs_on(self, kernels: Optional[str], backend: str) -> bool:
        return (kernels is not None and kernels in self.kernels) or backend in self.backends

    def to_dict(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "versions": self.versions(),
            "symptom": self.symptom,
            "workaround": self.workaround,
            "unstable": self.unstable,
            "adds": {"value": self.adds[0], "unit": self.adds[1]} if self.adds else None,
            "source": self.source,
            "evidence": self.evidence,
        }


@lru_cache(maxsize=1)
def data() -> Dict[str, Any]:
    """The whole file (shipped data: read with the safe loader's shipped fast path)."""
    from .. import safe_yaml

    path = data_path("known_issues.yaml")
    return safe_yaml.load(path.read_text(encoding="utf-8"), str(path), ConfigError, shipped=True)


def issue_reports() -> List[Dict[str, Any]]:
    return list(data().get("issues", []))


@lru_cache(maxsize=1)
def kernel_bugs() -> Tuple[KernelBug, ...]:
    out = []
    for b in data().get("kernel_bugs", []):
        where = f"known_issues.yaml: kernel bug {b.get('id')}"
        out.append(
            KernelBug(
                id=b["id"],
                title=b["title"],
                ops=frozenset(b["ops"]),
                level=b["level"],
                symptom=b["symptom"],
                workaround=b["workaround"],
                source=b["source"],
                evidence=b["evidence"],
                rules=frozenset(b.get("rules", ())),
                kernels=frozenset(b.get("kernels", ())),
                backends=frozenset(b.get("backends", ())),
                rank=b.get("rank"),
                when=tuple((k, tuple(v)) for k, v in sorted((b.get("when") or {}).items())),
                dtypes=tuple(b.get("dtypes", ())),
                first_affected=parse_version(b["first_affected"], where) if b.get("first_affected") else None,
                last_affected=parse_version(b["last_affected"], where) if b.get("last_affected") else None,
                checked_at=b.get("checked_at", ""),
                fixed_by=b.get("fixed_by", ""),
                unstable=bool(b.get("unstable")),
                adds=(float(b["adds"]["value"]), str(b["adds"]["unit"])) if b.get("adds") else None,
            )
        )
    return tuple(out)


def kernel_bug(bug_id: str) -> KernelBug:
    for b in kernel_bugs():
        if b.id == bug_id:
            return b
    raise KeyError(bug_id)


def bugs_for_version(version: Version) -> Tuple[KernelBug, ...]:
    return tuple(b for b in kernel_bugs() if b.affects_version(version))


def bugs_on(platform: Any, bugs: Sequence[KernelBug] = ()) -> List[Tuple[KernelBug, List[str]]]:
    """The kernel bugs (default: all) that run on some mode of ``platform``, with those modes."""
    out = []
    for b in bugs or kernel_bugs():
        modes = [m.name for m in platform.supported_modes if b.runs_on(m.kernels, platform.backend)]
        if modes:
            out.append((b, modes))
    return out


def may_concern(
    rule_id: str, op: str, source_op: str, rank: Optional[int], evidence: Mapping[str, Any], bugs: Sequence[KernelBug]
) -> bool:
    """Whether any of ``bugs`` decides this rule candidate on some platform (the runner keeps such candidates)."""
    names = frozenset(n for n in (op, source_op) if n)
    return any(b.concerns(rule_id, names, rank, evidence) for b in bugs)


__all__ = [
    "KernelBug",
    "parse_version",
    "version_text",
    "kernel_bugs",
    "kernel_bug",
    "bugs_for_version",
    "bugs_on",
    "issue_reports",
    "data",
    "may_concern",
]

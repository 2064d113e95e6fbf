"""Declared deployment targets: ``PLATFORM:MODE`` (``--target ios-cpu:low``, repeatable, or ``targets`` in config).

With targets declared, each finding's level is the worst level it has on those configurations (per-op platform
facts included: ARMv8.2 Low computes Softmax rows in fp32, reductions run on an fp32 CPU backup there, OpenCL
reductions accumulate in fp16 below High...), so the exit code reflects exactly the deployment.  Without targets,
levels are judged for fp16, and the recommendation is advice.

    >>> judged_formats_for(["ios-cpu:low"])
    ('fp16',)
    >>> judged_formats_for(["x86-cpu:low"])       # fp32 throughout: fp16 rules have nothing to say
    ()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple, Union

from ..errors import ConfigError
from ..results import FORMATS
from .platforms import PlatformTable, load_platforms, parse_mode


@dataclass(frozen=True)
class Target:
    platform: str
    mode: str  # one of platforms.MODES

    def __str__(self) -> str:
        return f"{self.platform}:{self.mode}"


def parse_target(text: Union[str, Target], table: Optional[PlatformTable] = None, where: str = "--target") -> Target:
    """``"ios-cpu:low"`` -> Target; ConfigError naming ``where`` for an unknown platform or mode."""
    if isinstance(text, Target):
        return text
    table = table if table is not None else load_platforms()
    pid, sep, mode = str(text).strip().partition(":")
    if not sep or not pid or not mode:
        raise ConfigError(f"{where}: expected PLATFORM:MODE (e.g. ios-cpu:low), got {text!r}")
    platform = table.get_platform(pid.strip(), where)
    try:
        m = parse_mode(mode)
    except ValueError as exc:
        raise ConfigError(f"{where}: {text!r}: {exc}") from None
    if not platform.modes[m].supported:
        raise ConfigError(f"{where}: {text!r}: {platform.name} has no {m} mode ({platform.modes[m].what})")
    return Target(platform.id, m)


def parse_targets(
    texts: Iterable[Union[str, Target]], table: Optional[PlatformTable] = None, where: str = "--target"
) -> Tuple[Target, ...]:
    table = table if table is not None else load_platforms()
    out: List[Target] = []
    for t in texts:
        target = parse_target(t, table, where)
        if target not in out:
            out.append(target)
    return tuple(out)


def judged_formats_for(targets: Iterable[Union[str, Target]], table: Optional[PlatformTable] = None) -> Tuple[str, ...]:
    """The reduced formats (fp16, bf16) any op can get on the declared targets, in ``findings.FORMATS`` order.

    This is the coarse view the rule runner uses for a first level; ``engine/decide.py`` then applies the per-op
    facts of each target.  An empty tuple means every target computes in fp32: rules about fp16/bf16 report nothing.
    """
    table = table if table is not None else load_platforms()
    used = set()
    for t in parse_targets(targets, table):
        p = table[t.platform]
        m = p.modes[t.mode]
        used.update((m.storage, m.arithmetic, m.accumulation))
        for ex in m.op_exceptions + p.cpu_fallback:
            used.update(f for f in (ex.storage, ex.arithmetic, ex.accumulation) if f)
    return tuple(f for f in FORMATS if f in used)


__all__ = ["Target", "parse_target", "parse_targets", "judged_formats_for"]

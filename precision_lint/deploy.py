"""The deployment stage of the Linter: platforms, declared targets, recommendation and snippets.

The Linter builds one :class:`DeploymentStage` from its Options and calls it twice per file:

* :meth:`DeploymentStage.judge` right after the rules ran: with declared targets each finding's level becomes the
  level it has on those configurations (``targets.rejudge``); without targets nothing changes (fp16 as judged);
* :meth:`DeploymentStage.annotate` at the end: ``result.extras["recommendation"]`` (layout in ``recommend.py``) and,
  when snippet kinds were asked for, ``result.extras["snippets"]`` (layout in ``snippets.py``).

Options read here: ``platforms`` (ids; default: the declared targets' platforms, else all), ``targets``
("platform:mode"), ``platform_files`` and ``platform_overrides`` (extra or changed platform entries), ``recommend``,
``snippets`` (kinds: python, cpp_session, cpp_module, cli), ``fail_level``; ``judged_formats`` is replaced by the
formats of the declared targets.  Errors name where a bad value came from (``Options.origins``).
"""
from __future__ import annotations

import functools

from typing import Any, Callable, List, Optional, Sequence

from .errors import ConfigError
from .findings import Finding
from .platforms import PlatformTable, load_platforms
from .targets import judged_formats_for, parse_targets, rejudge


class DeploymentStage:
    def __init__(self, options: Any):
        self.options = options
        origins = getattr(options, "origins", {}) or {}
        self.table: PlatformTable = load_platforms(
            tuple(getattr(options, "platform_files", ()) or ()), getattr(options, "platform_overrides", None),
            overrides_origin=origins.get("platform_overrides", "platform_overrides"))
        self.targets = parse_targets(options.targets, self.table, origins.get("targets", "--target"))
        names = tuple(options.platforms) or tuple(dict.fromkeys(t.platform for t in self.targets))
        self.platforms = self.table.select(names, origins.get("platforms", "--platform"))
        if self.targets:
            options.judged_formats = judged_formats_for(self.targets, self.table)
        from .snippets import kinds_for

        try:
            self.kinds = kinds_for(getattr(options, "snippets", ()) or ())
        except ValueError as exc:
            raise ConfigError(f"{origins.get('snippets', '--snippets')}: {exc}") from None

    def judge(self, findings: Sequence[Finding]) -> List[Finding]:
        """Levels for the declared targets (unchanged without targets)."""
        if not self.targets:
            return list(findings)
        return [rejudge(f, self.targets, self.table) for f in findings]

    def annotate(self, result: Any, override: Optional[Callable[[Finding], Finding]] = None) -> None:
        """Fill ``result.extras`` with the recommendation and the snippets."""
        if not getattr(self.options, "recommend", True) or result.error is not None:
            return
        from .recommend import recommend

        level_override = None
        if override is not None and getattr(self.options, "level_overrides", None):
            level_override = functools.partial(_overridden_level, override)

        rec = recommend(result.findings, self.platforms, self.options.fail_level, self.targets, level_override)
        result.extras["recommendation"] = rec
        if self.kinds:
            from .snippets import snippets_for_recommendation

            result.extras["snippets"] = snippets_for_recommendation(
                result.path, result.metadata.get("format", ""), rec, self.table, self.kinds)


def _overridden_level(override: Callable[[Finding], Finding], f: Finding, level: str) -> str:
    """The config's per-rule level override applied to a level the recommender judged for one mode."""
    return override(f.with_level(level, f.judged_for)).level

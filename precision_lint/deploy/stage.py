"""The deployment stage of the Linter: platforms, declared targets, recommendation and snippets.

The Linter builds one :class:`DeploymentStage` from its Options and calls it twice per file:

* :meth:`DeploymentStage.judge` right after the rules ran: with declared targets each finding's level becomes the
  level it has on those configurations (``targets.rejudge``); without targets nothing changes (fp16 as judged);
* :meth:`DeploymentStage.annotate` at the end: ``result.extras["recommendation"]`` (layout in ``recommend.py``) and,
  when snippet kinds were asked for, ``result.extras["snippets"]`` (layout in ``snippets.py``).

Options read here: ``platforms`` (ids; default: the declared targets' platforms, else all), ``targets``
("platform:mode"), ``platform_files`` and ``platform_overrides`` (extra or changed platform entries), ``recommend``,
``snippets`` (kinds: python, cpp_session, cpp_module, cli), ``fail_level``, ``mnn_version`` (the MNN version
deployed: which known kernel bugs apply; default: the version the platform table was checked against);
``judged_formats`` is replaced by the formats of the declared targets.  Errors name where a bad value came from
(``Options.origins``).
"""
from __future__ import annotations

import functools

from typing import Any, Callable, List, Optional, Sequence

from ..errors import ConfigError
from ..findings import Finding
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
        from .known_issues import bugs_for_version, parse_version, version_text

        declared = getattr(options, "mnn_version", None)
        default = str(self.table.mnn_version or "")
        self.mnn_version = version_text(parse_version(declared if declared is not None else default,
                                                      origins.get("mnn_version", "--mnn-version")))
        self.bugs = bugs_for_version(parse_version(self.mnn_version))
        # the declared targets' platforms are always listed (their verdict decides the exit code), then --platform's
        names = tuple(dict.fromkeys(tuple(options.platforms) + tuple(t.platform for t in self.targets)))
        self.platforms = self.table.select(names, origins.get("platforms", "--platform"))
        if self.targets:
            options.judged_formats = judged_formats_for(self.targets, self.table)
        from .snippets import kinds_for

        try:
            self.kinds = kinds_for(getattr(options, "snippets", ()) or ())
        except ValueError as exc:
            raise ConfigError(f"{origins.get('snippets', '--snippets')}: {exc}") from None

    def bug_may_concern(self, rule_id: str, op: str, source_op: str, rank: Any, evidence: Any) -> bool:
        """Whether a known kernel bug of the deployed version concerns this rule candidate on some platform: the
        rule runner keeps such candidates even when no format flags them (the bug decides per target)."""
        from .known_issues import may_concern

        return bool(self.bugs) and may_concern(rule_id, op, source_op, rank, evidence, self.bugs)

    def judge(self, findings: Sequence[Finding]) -> List[Finding]:
        """Levels for the declared targets (unchanged without targets)."""
        if not self.targets:
            return list(findings)
        return [rejudge(f, self.targets, self.table, self.bugs) for f in findings]

    def annotate(self, result: Any, override: Optional[Callable[[Finding], Finding]] = None) -> None:
        """Fill ``result.extras`` with the recommendation and the snippets."""
        if not getattr(self.options, "recommend", True) or result.error is not None:
            return
        from .recommend import recommend

        level_override = None
        if override is not None and getattr(self.options, "level_overrides", None):
            level_override = functools.partial(_overridden_level, override)

        rec = recommend(result.findings, self.platforms, self.options.fail_level, self.targets, level_override,
                        self.bugs, self.mnn_version)
        result.extras["recommendation"] = rec
        if self.kinds:
            from .snippets import snippets_for_recommendation

            result.extras["snippets"] = snippets_for_recommendation(
                result.path, result.metadata.get("format", ""), rec, self.table, self.kinds)


def _overridden_level(override: Callable[[Finding], Finding], f: Finding, level: str) -> str:
    """The config's per-rule level override applied to a level the recommender judged for one mode."""
    return override(f.with_level(level, f.judged_for)).level

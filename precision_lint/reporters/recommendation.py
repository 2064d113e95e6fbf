"""Text for the deployment side: the per-platform recommendation section of the text report, the snippets, and the
`precision-lint platforms` table.  Reads only ``LintResult.recommendation`` and ``LintResult.snippets`` (typed
records in results.py) and platform data; never analyses anything.

The text reporter calls :func:`text_section` for every file when the CLI puts it into ``options["text_sections"]``.
"""

from __future__ import annotations

import json
from typing import Any, List, Mapping, Sequence, Tuple, Union

from ..deploy.known_issues import bugs_on
from ..deploy.platforms import MODES, PRECISION_ENUM, Platform
from ..deploy.snippets import KINDS, LANGUAGE, TITLE
from ..results import CpuFallback, DeclaredMode, PlatformChoice, PlatformSnippets, Recommendation, Verdict

MAX_REASONS = 3  # blocking findings shown per rejected mode (the JSON has all)
_SHORT = {"normal": "Normal", "high": "High", "low": "Low", "low_bf16": "Low_BF16"}


def _formats(f: Mapping[str, str]) -> str:
    s, a, c = f["storage"], f["arithmetic"], f["accumulation"]
    if s == a == c:
        return f"{s} throughout"
    return f"{s} storage, {a} arithmetic, {c} accumulation"


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def verdict_text(v: Verdict) -> str:
    """``C001 node 'warp_sample' (GridSample, coordinate): fp16 storage/arithmetic -> error, estimate 0.375 px``"""
    f = v.finding
    where = f"node '{f.node}'" + (f" in {f.scope}" if f.scope else "")
    how = f"{v.fmt} {v.role}" if v.fmt else v.role
    est = v.estimate_view()
    est_text = f", estimate {_num(est['value'])}{(' ' + est['unit']) if est.get('unit') else ''}" if est else ""
    if est and est.get("with_known_bugs") is not None:
        unit = f" {est['unit']}" if est.get("unit") else ""
        est_text += f" (up to {_num(est['with_known_bugs'])}{unit} with the known bug)"
    facts = [x for x in v.formats.applied if x != v.formats.cpu_fallback]
    why = f" [{'; '.join(facts)}]" if facts else ""
    level, bugs = v.level, "".join(f"; known MNN bug {b.id}: {b.title}" for b in v.known_bugs)
    if v.raised_by_bugs:  # the formats alone give less: say that the bug decided
        level = v.level_before_bugs
        bugs = "".join(f"; known MNN bug {b.id} ({b.title}) -> {b.level}" for b in v.known_bugs)
    return f"{f.rule_id} {where} ({f.op}, {f.failure_class}): {how} -> {level}{est_text}{why}{bugs}"


def _names(modes: Sequence[str]) -> str:
    names = [_SHORT[m] for m in modes]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _groups_fastest_first(p: PlatformChoice) -> List[List[str]]:
    order = [m.mode for m in p.modes]
    groups = [sorted(g, key=order.index) for g in p.equivalent_groups]
    return sorted(groups, key=lambda g: order.index(g[0]))


def _declared_text(p: PlatformChoice, d: DeclaredMode, color) -> str:
    why = p.rejected_by_run(d.mode) or f"worst finding: {d.max_level}"
    state = "safe" if d.safe else color("error", f"UNSAFE ({why})")
    return f"declared target {p.platform}:{d.mode} ({d.precision}) is {state}"


def recommendation_lines(rec: Recommendation, color=lambda key, text: text) -> List[str]:
    """The recommendation section for one file, as lines (no trailing newlines)."""
    lines: List[str] = []
    if rec.advisory:
        head = (
            f"MNN precision per platform (advice: the fastest mode with no finding at {rec.fail_level} level; "
            f"declare --target PLATFORM:MODE to judge your deployment):"
        )
    else:
        head = f"MNN precision per platform (declared targets: {', '.join(rec.targets)}):"
    lines.append(head)
    width = max((len(p.platform) for p in rec.platforms), default=0)
    for p in rec.platforms:
        mark = "" if p.safe else color("error", "  [no safe mode]")
        lines.append(f"  {color('bold', p.platform.ljust(width))}  {p.precision:<18} {_formats(p.formats)}{mark}")
        detail: List[str] = []
        if not p.modes_differ:
            detail.append(f"every precision mode computes the same on {p.name}: the setting makes no difference")
        elif p.equivalent:
            detail.append(f"{_names([p.mode, *p.equivalent])} are the same here ({_formats(p.formats)})")
        by_mode = {m.mode: m for m in p.modes}
        for group in _groups_fastest_first(p):
            if p.mode in group or by_mode[group[0]].status != "rejected":
                continue
            m = by_mode[group[0]]
            shown = m.blocking[:MAX_REASONS]
            more = len(m.blocking) - len(shown)
            verb = "is" if len(group) == 1 else "are"
            reasons = ([m.rejected_by_run] if m.rejected_by_run else []) + [verdict_text(v) for v in shown]
            detail.append(f"{_names(group)} ({_formats(m.formats)}) {verb} unsafe: {reasons[0]}")
            detail += [f"    also {r}" for r in reasons[1:]]
            if more:
                detail.append(f"    and {more} more (see --format json)")
        chosen = by_mode[p.mode]
        if not p.safe:
            for v in chosen.blocking[:MAX_REASONS]:
                detail.append(f"still at {_names([p.mode, *p.equivalent])}: {verdict_text(v)}")
            detail.append(
                f"no precision mode fixes this on {p.name}: run these ops on another backend, or change the model"
            )
        if p.safe:
            concerns = chosen.concerns
            for v in concerns[:MAX_REASONS]:
                detail.append(f"at {_SHORT[p.mode]}, below the fail level: {verdict_text(v)}")
            if len(concerns) > MAX_REASONS:
                detail.append(f"    and {len(concerns) - MAX_REASONS} more (see --format json)")
        for po in chosen.per_op:
            detail.append(f"{po.rule} node '{po.node}' ({po.op}) at {_SHORT[p.mode]}: {'; '.join(po.facts)}")
        for v in p.mode_independent[:MAX_REASONS]:
            detail.append(f"in every mode (converter): {verdict_text(v)}")
        for fb in p.cpu_fallbacks:
            modes = (
                "all modes"
                if len(fb.modes) >= len([m for m in p.modes if m.supported])
                else ", ".join(_SHORT[m] for m in fb.modes)
            )
            detail.append(f"{fb.rule} node '{fb.node}' ({fb.op}) runs on the CPU ({modes}): {fb.why}")
        for d in p.declared:
            detail.append(_declared_text(p, d, color))
        for b in p.known_bugs:
            modes = _names([m for m in MODES if m in b.modes])
            detail.append(
                f"known MNN bug {b.id} at {modes} (MNN {b.versions}): {b.symptom}; workaround: {b.workaround}"
            )
        for n in p.notes:
            detail.append(f"note: {n}")
        lines += [color("dim", f"      {d}") for d in detail]
    return lines


def _who(items: Sequence[Union[Verdict, CpuFallback]]) -> str:
    """``C001 'warp_sample'``, ``R001 '/Mul' and 2 more``: the findings behind a verdict, in a few words."""
    seen: List[str] = []
    for x in items:
        rule, node = (x.finding.rule_id, x.finding.node) if isinstance(x, Verdict) else (x.rule, x.node)
        key = f"{rule} '{node}'"
        if key not in seen:
            seen.append(key)
    if not seen:
        return "?"
    return seen[0] + (f" and {len(seen) - 1} more" if len(seen) > 1 else "")


def short_reason(p: PlatformChoice) -> Tuple[str, bool]:
    """Why this platform gets its mode, in a few words, and whether anything limits it (False: the fastest mode,
    nothing to say)."""
    by_mode = {m.mode: m for m in p.modes}
    chosen = by_mode[p.mode]
    if not p.safe:
        why = chosen.rejected_by_run if chosen.rejected_by_run and not chosen.blocking else _who(chosen.blocking)
        reason, limited = f"no mode is safe: {why}", True
    else:
        rejected = [g for g in _groups_fastest_first(p) if p.mode not in g and by_mode[g[0]].status == "rejected"]
        if rejected:
            g = rejected[0]
            m = by_mode[g[0]]
            why = m.rejected_by_run if m.rejected_by_run and not m.blocking else _who(m.blocking)
            reason, limited = f"{_names(g)} {'is' if len(g) == 1 else 'are'} unsafe: {why}", True
        elif not p.modes_differ:
            reason, limited = "every mode computes the same here", False
        elif chosen.concerns:
            reason, limited = f"fastest mode; below the fail level: {_who(chosen.concerns)}", True
        else:
            reason, limited = "fastest mode; nothing limits it", False
    extra = []
    if p.mode_independent:
        extra.append(f"in every mode (converter): {_who(p.mode_independent)}")
    if p.cpu_fallbacks:
        extra.append(f"CPU fallback: {_who(p.cpu_fallbacks)}")
    for d in p.declared:  # every declared mode of this platform
        state = "safe" if d.safe else f"UNSAFE ({p.rejected_by_run(d.mode) or d.max_level})"
        extra.append(f"declared {_SHORT[d.mode]}: {state}")
    if extra:
        if not limited and p.modes_differ:
            reason = "fastest mode"
        reason, limited = "; ".join([reason] + extra), True
    return reason, limited


def compact_lines(rec: Recommendation, every_row: bool, color=lambda key, text: text) -> List[str]:
    """One short table: platform, recommended precision, the reason in a few words.  Platforms where nothing limits
    the fastest mode are folded into one line unless ``every_row`` (platforms named with --platform/--target)."""
    rows = [(p, *short_reason(p)) for p in rec.platforms]
    shown = rows if every_row else [r for r in rows if r[2]]
    if not shown:
        return []
    advice = "advice" if rec.advisory else f"declared targets: {', '.join(rec.targets)}"
    lines = [f"MNN precision per platform ({advice}; --explain says why):"]
    width = max(len(p.platform) for p, _, _ in shown)
    for p, reason, _ in shown:
        mark = color("error", reason) if not p.safe else reason
        lines.append(f"  {color('bold', p.platform.ljust(width))}  {p.precision:<18} {mark}")
    folded = len(rows) - len(shown)
    if folded:
        lines.append(
            color(
                "dim",
                f"  {folded} other platform{'s' if folded != 1 else ''}: the fastest mode, nothing "
                f"limits it (--explain or --platform NAME lists {'them' if folded != 1 else 'it'})",
            )
        )
    return lines


def mnn_version_line(rec: Recommendation, metadata: Mapping[str, Any]) -> str:
    """``MNN 3.6.1 deployed (the platform table's version; --mnn-version to change); file converted by MNN 3.6.1``"""
    version = rec.mnn_version
    if not version:
        return ""
    text = f"MNN {version} deployed (known kernel bugs judged for it; --mnn-version or config mnn_version)"
    converted = metadata.get("mnn_version") if metadata.get("format") == "mnn" else None
    if converted:
        text += f"; this file was converted by MNN {converted}"
    return text


def snippet_blocks(snippets: Mapping[str, PlatformSnippets], kinds: Sequence[str] = KINDS) -> List[str]:
    """Fenced code blocks (```python ... ```), one per platform and kind, each runnable as printed."""
    lines: List[str] = []
    for pid in snippets:
        entry = snippets[pid]
        for kind in kinds:
            if kind not in entry.code:
                continue
            lines.append(f"{TITLE[kind]} for {pid} ({entry.precision}):")
            lines.append(f"```{LANGUAGE[kind]}")
            lines += entry.code[kind].rstrip("\n").split("\n")
            lines.append("```")
    return lines


def text_section(reporter: Any, result: Any) -> None:
    """The text reporter hook: the recommendation, then the snippets, for one file."""
    if reporter.options.get("quiet") or result.error is not None:
        return
    rec = result.recommendation
    explain = reporter.options.get("explain")
    if rec and rec.platforms:
        if explain:
            lines = recommendation_lines(rec, reporter._c)
        else:
            opts = reporter.options.get("options")
            named = bool(getattr(opts, "platforms", ()) or getattr(opts, "targets", ()))
            lines = compact_lines(rec, named, reporter._c)
        if lines:
            reporter.write(f"{result.path}: {lines[0]}")
        # the MNN version judged (kernel bugs) matters once a deployment is declared; --explain always shows it
        version = mnn_version_line(rec, result.metadata) if explain or not rec.advisory else ""
        for line in lines[1:]:
            reporter.write(line)
        if version:  # under the table: the version the kernel-bug verdicts above were judged for
            reporter.write(reporter._c("dim", f"  {version}"))
    snippets = result.snippets
    if snippets:
        for line in snippet_blocks(snippets):
            reporter.write(line)
    elif explain and rec and rec.platforms and reporter.options.get("snippet_hint"):
        reporter.write(reporter._c("dim", "      (deployment code: --snippets python|cpp|cli|all)"))


# ------------------------------------------------------------------------------------------- `precision-lint platforms`


def platforms_text(platforms: Sequence[Platform], verbose: bool = False) -> str:
    """The platform table: per platform and mode, storage/arithmetic/accumulation formats and speed rank."""
    out: List[str] = []
    for p in platforms:
        out.append(f"{p.id}: {p.name}  [{p.backend}, {p.forward_type}]")
        if p.description and verbose:
            out.append(f"    {p.description}")
        groups = {name: g for g in p.equivalent_groups() for name in g}
        for name in MODES:
            m = p.modes[name]
            if not m.supported:
                out.append(
                    f"    {PRECISION_ENUM[name]:<19} not supported ({m.what})"
                    if m.what
                    else f"    {PRECISION_ENUM[name]:<19} not supported"
                )
                continue
            same = [n for n in groups.get(name, [name]) if n != name]
            extra = f"  = {', '.join(_SHORT[n] for n in same)}" if same else ""
            conv = ""
            if "fp16" in (m.storage, m.arithmetic) or any(
                e.storage == "fp16" or e.arithmetic == "fp16" for e in m.op_exceptions
            ):
                conv = (
                    "  fp32->fp16 "
                    + {"saturate": "saturates", "overflow": "overflows"}.get(m.conversion, "overflow assumed")
                    + (" (measured)" if m.facts.get("conversion_measured") else "")
                )
            out.append(
                f"    {PRECISION_ENUM[name]:<19} S {m.storage:<4} C {m.arithmetic:<4} Acc {m.accumulation:<4} "
                f"speed {m.speed}{extra}{conv}"
            )
            if verbose:
                if m.what:
                    out.append(f"        {m.what}")
                if m.measured:
                    out.append(f"        measured: {m.measured}")
                for key, label in (
                    ("conversion_source", "conversion (source)"),
                    ("conversion_measured", "conversion (measured)"),
                    ("fallback_conversion", "fallback"),
                    ("accumulation_measured", f"accumulation ({m.accumulation_order}, measured)"),
                ):
                    if m.facts.get(key):
                        out.append(f"        {label}: {m.facts[key]}")
                for e in m.op_exceptions:
                    out.append(
                        f"        per-op: {', '.join(sorted(e.match.ops or e.match.mnn_types))}: {e.what}"
                        + (f" (measured: {e.measured})" if e.measured else "")
                    )
                if m.lowp_only:
                    out.append(f"        ops outside the {m.lowp_only} low-precision list run on an fp32 CPU backup")
                for a in m.approximations:
                    out.append(f"        approximation: {a.what}")
                if m.source:
                    out.append(f"        source: {m.source}")
        for b, modes in bugs_on(p):
            out.append(f"    known bug at {_names(modes)}: {b.id} ({b.title}; MNN {b.versions()})")
            if verbose:
                out.append(f"        {b.symptom}; workaround: {b.workaround}")
                out.append(f"        source: {b.source}")
                out.append(f"        evidence: {b.evidence}")
        if verbose:
            for e in p.cpu_fallback:
                rank = f" (rank {e.match.rank})" if e.match.rank is not None else ""
                out.append(f"    CPU fallback: {', '.join(sorted(e.match.ops or e.match.mnn_types))}{rank}: {e.what}")
            for a in p.approximations:
                out.append(f"    always: {a.what}")
            for n in p.notes:
                out.append(f"    note: {n}")
            if p.source:
                out.append(f"    source: {p.source}")
    out.append("")
    out.append(
        "S = storage of activations, C = arithmetic, Acc = accumulation (GEMM/conv/reductions); higher speed "
        "is faster; fp32->fp16: what a value beyond +-65504 becomes in fp16 (overflow is assumed where it was "
        "not measured). Known bugs: data/known_issues.yaml. Use -v for per-op facts, sources and measurements."
    )
    return "\n".join(out) + "\n"


def platforms_json(platforms: Sequence[Platform]) -> str:
    items = []
    for p in platforms:
        d = p.to_dict()
        d["known_bugs"] = [dict(b.to_dict(), modes=modes) for b, modes in bugs_on(p)]
        items.append(d)
    return json.dumps({"platforms": items}, indent=2, sort_keys=True) + "\n"


def platforms_output(platforms: Sequence[Platform], fmt: str = "text", verbose: bool = False) -> str:
    return platforms_json(platforms) if fmt == "json" else platforms_text(platforms, verbose)


__all__ = [
    "text_section",
    "recommendation_lines",
    "compact_lines",
    "short_reason",
    "snippet_blocks",
    "verdict_text",
    "platforms_output",
]

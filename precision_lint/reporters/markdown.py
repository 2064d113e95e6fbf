"""Markdown design-review checklist: one document, a section per model, a checkbox for everything a reviewer ticks.

Per model:
1. a header table (file, format, operators, producer, the file's sha256 and size, inputs and outputs with shapes
   (``LintResult.extras["identity"]``), the MNN version, what the levels were judged for, the result, the HTML
   report);
2. **Findings**: one checkbox per finding, with its estimate per number format, the fix and where to read more;
3. **MNN precision per platform**: when the recommender ran (``LintResult.recommendation``, layout in
   recommend.py), a summary table and one section per platform (the declared targets', or every known platform),
   with the precision to deploy, the modes that are unsafe and why, CPU fallbacks and notes; otherwise a checklist
   judged for fp16;
4. **Before release**: the cross-platform consistency checks (data/review_checks.yaml) for the model's failure classes;
5. **MNN version notes**: the converter version read from an .mnn file, what the converter does to this model's
   operators, and the known MNN issue reports that apply to them (data/known_issues.yaml, with links);
6. **Sign-off**: reviewer, date and the decision, left blank for the reviewer.

Everything shown comes from the results, the rule files and those data files; nothing is analysed here.
The output is deterministic (no dates, no absolute paths inside the repository).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import __version__
from ..api import LintResult
from ..results import LEVELS, Finding, ModeAssessment, PlatformChoice, PlatformSnippets, Verdict
from ..deploy.platforms import PRECISION_ENUM
from .base import Reporter, RunSummary, report_path
from .escape import PLAIN_URL, visible
from ..resources import data_path

_SPECIAL = re.compile(r"([\\`*_<>\[\]|])")
LEVEL_BADGE = {"error": "**error**", "warning": "**warning**", "info": "info"}


def md(text: str) -> str:
    """Free text made safe for Markdown (``x*x`` must not start emphasis, ``|`` must not end a table cell, ``<``
    must not open HTML, a blank line must not end the paragraph)."""
    return md_inline(" ".join(str(text).split()))


def md_inline(text: str) -> str:
    """``md`` of one line's piece, its spaces kept (next to a code span they separate it from the words)."""
    return _SPECIAL.sub(r"\\\1", visible(text))


def code(text: str) -> str:
    """A code span that holds ``text`` whatever it contains: the fence is longer than any run of backticks in it
    (CommonMark), and line breaks are shown as ``\\n``, so a name cannot close the span or end the paragraph."""
    t = visible(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", t)), default=0) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") or (t.startswith(" ") and t.endswith(" ") and t.strip()) else ""
    return f"{fence}{pad}{t}{pad}{fence}"


@lru_cache(maxsize=1)
def _data(name: str) -> Dict[str, Any]:
    from .. import safe_yaml

    path = data_path(name)
    return safe_yaml.load(path.read_text(encoding="utf-8"), str(path), ValueError, shipped=True)


def _num(v: Any) -> str:
    if v is None:
        return "?"
    if isinstance(v, str):  # the recommendation is JSON-ready: an overflow arrives as "inf"
        return v
    if v == float("inf"):
        return "inf"
    return f"{v:.3g}"


def _formats(f: Mapping[str, str]) -> str:
    s, a, c = f["storage"], f["arithmetic"], f["accumulation"]
    return f"{s} throughout" if s == a == c else f"{s} storage, {a} arithmetic, {c} accumulation"


_SHORT = {"normal": "Normal", "high": "High", "low": "Low", "low_bf16": "Low_BF16"}
_REFS = re.compile(r"\s*\((?:ref|MNN):[^)]*\)")


def _strip_refs(text: str) -> str:
    """Drop the platform table's source markers, e.g. "(ref:42-43)": they point into the team's notes."""
    return _REFS.sub("", text)


def _verdict(v: Verdict) -> str:
    """A recommender verdict for a reader: C001 `warp_sample` (GridSample): fp16 storage/arithmetic → error, 0.375 px"""
    f = v.finding
    where = code(f.node) + (f" in {code(f.scope)}" if f.scope else "")
    how = f"{v.fmt} {v.role}" if v.fmt else v.role
    est = v.estimate_view()
    est_text = (
        f", {_num(est['value'])}{(' ' + est['unit']) if est.get('unit') else ''}"
        if est and est.get("value") is not None
        else ""
    )
    if v.raised_by_bugs:  # the formats alone give less: the known bug decided
        bugs = "".join(f"; known MNN bug {code(b.id)} ({md(b.title)}) → {md(b.level)}" for b in v.known_bugs)
        return f"{md(f.rule_id)} {where} ({md(f.op)}): {md(how)} → {md(v.level_before_bugs)}{md(est_text)}{bugs}"
    bugs = "".join(f"; known MNN bug {code(b.id)}" for b in v.known_bugs)
    return f"{md(f.rule_id)} {where} ({md(f.op)}): {md(how)} → {md(v.level)}{md(est_text)}{bugs}"


def _or(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class MarkdownReporter(Reporter):
    def stop(self, summary: RunSummary) -> None:
        root = self.options.get("root") or "."
        rules = {r.id: r for r in self.options.get("rules") or []}
        opts = self.options.get("options")
        many = len(self.results) > 1
        out: List[str] = []
        if many:
            c = summary.counts
            out += [
                "# Precision review",
                "",
                f"{_plural(summary.files, 'model')}: {_plural(c.get('error', 0), 'error')}, "
                f"{_plural(c.get('warning', 0), 'warning')}, {c.get('info', 0)} info "
                f"({md(summary.judged_text())}).  precision-lint {__version__}.",
                "",
            ]
            if self.options.get("html_link"):
                out += [_html_link(self.options["html_link"]), ""]
            for res in self.results:
                out.append(
                    f"- [{md(report_path(res.path, root))}](#{_anchor(_title(res, root))})"
                    + (f" — {_counts_text(res)}" if res.error is None else " — unreadable")
                )
            out.append("")
        from ..model.neighbourhood import onnx_origins

        origins = onnx_origins(self.results)
        for res in self.results:
            out += ModelSection(
                res,
                root,
                rules,
                opts,
                summary,
                level=2 if many else 1,
                html_link=None if many else self.options.get("html_link"),
                origins=origins,
            ).lines()
        if summary.unused_suppressions:
            h = "##" if many else "#"
            out += [f"{h} Unused suppressions", ""]
            out += [
                f"- [ ] Remove or fix {md(s.origin)} ({md(s.describe())}): it matched no finding"
                for s in summary.unused_suppressions
            ]
            out.append("")
        self.stream.write("\n".join(out).rstrip() + "\n")


def _title(res: LintResult, root: str) -> str:
    return f"Precision review: {os.path.basename(report_path(res.path, root))}"


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _counts_text(res: LintResult) -> str:
    counts = {lvl: 0 for lvl in ("error", "warning", "info")}
    for f in res.reported:
        counts[f.level] += 1
    if not any(counts.values()):
        return "no findings"
    return f"{_plural(counts['error'], 'error')}, {_plural(counts['warning'], 'warning')}, {counts['info']} info"


class ModelSection:
    def __init__(
        self,
        res: LintResult,
        root: str,
        rules: Mapping[str, Any],
        options: Any,
        summary: RunSummary,
        level: int = 1,
        html_link: Optional[str] = None,
        origins: Optional[Mapping[Any, Any]] = None,
    ):
        self.res = res
        self.html_link = html_link
        self.origins = origins or {}
        self.root = root
        self.rules = rules
        self.options = options
        self.summary = summary
        self.h = "#" * level
        self.sub = "#" * (level + 1)
        self.subsub = "#" * (level + 2)
        self.rec = res.recommendation
        self.path = report_path(res.path, root)

    # ---------------------------------------------------------------- the whole section
    def lines(self) -> List[str]:
        res = self.res
        out = [f"{self.h} Precision review: {code(os.path.basename(self.path))}", ""]
        if res.error is not None:
            return out + [f"- [ ] **The model could not be read:** {md(res.error.message)}", ""]
        out += self._header()
        out += self._findings()
        out += self._verify()
        if self.rec and self.rec.platforms:
            out += self._platforms()
        elif not _not_linted(self.res):  # without the rules there is nothing to say about fp16 here
            out += self._fp16_fallback()
        out += self._consistency()
        out += self._mnn_notes()
        out += self._sign_off()
        return out

    def _header(self) -> List[str]:
        m = self.res.metadata
        fmt = (m.get("format") or "?").upper()
        if m.get("linted") is False:  # verify --no-lint: the file was not read for the rules
            what = fmt
        elif fmt == "ONNX":
            what = f"ONNX, opset {m.get('opset', '?')}"
        elif fmt == "MNN":
            what = f"MNN, converted from {m.get('source_type', '?')} by MNN {self._mnn_version() or '?'}"
        else:
            what = fmt
        producer = " ".join(str(x) for x in (m.get("producer"), m.get("producer_version")) if x)
        if self.rec and not self.rec.advisory:
            judged = "the declared targets " + ", ".join(code(t) for t in self.rec.targets)
        elif self.summary.targets:
            judged = "the declared targets " + ", ".join(code(t) for t in self.summary.targets)
        else:
            judged = (
                "fp16, the reduced format most mobile targets use (declare targets with `--target` for your deployment)"
            )
        size = (
            "not linted (`verify --no-lint`)"
            if m.get("linted") is False
            else _plural(m.get("operators", 0), "operator")
        )
        rows = [("Format", f"{md(what)}, {size}")]
        if producer:
            rows.append(("Producer", md(producer)))
        ident = self.res.extras.get("identity") or {}
        if ident.get("sha256"):
            rows += [("sha256", code(ident["sha256"])), ("Size", f"{ident.get('size', 0):,} bytes")]
        for key, title in (("inputs", "Inputs"), ("outputs", "Outputs")):
            if ident.get(key):
                rows.append((title, ", ".join(f"{code(t['name'])} {md(_tensor_type(t))}" for t in ident[key])))
        rows.append(("MNN version", self._mnn_version_text()))
        rows += [
            ("Levels judged for", judged),
            ("Result", self._result_text()),
            ("Checked with", f"precision-lint {__version__}"),
        ]
        if self.html_link:
            rows.append(("HTML report", _html_link(self.html_link, bare=True)))
        hidden = []
        if self.res.suppressed:
            hidden.append(f"{len(self.res.suppressed)} suppressed in the config")
        if self.res.baselined:
            hidden.append(f"{len(self.res.baselined)} recorded in the baseline")
        if hidden:
            rows.append(("Not listed", "; ".join(hidden)))
        return [f"| Model | {code(self.path)} |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + [""]

    def _mnn_version_text(self) -> str:
        """The converter's version for an .mnn file; the version the deployment declares (when the options
        carry one); the version the platform facts were taken from."""
        parts = []
        if self.res.metadata.get("format") == "mnn":
            parts.append(f"converted by MNN {md(self._mnn_version() or 'unknown')}")
        declared = getattr(self.options, "mnn_version", None)
        if declared:
            parts.append(f"deployed with MNN {md(declared)}")
        table = _platform_table_version()
        if table:
            parts.append(f"platform facts for MNN {md(table)}")
        return "; ".join(parts) or "not recorded"

    def _result_text(self) -> str:
        rep = self.res.reported
        if not rep:
            return "the rules did not run (`verify --no-lint`)" if _not_linted(self.res) else "no findings"
        text = _counts_text(self.res)
        fail = getattr(self.options, "fail_level", "error")
        failing = sum(1 for f in rep if LEVELS.index(f.level) >= LEVELS.index(fail))
        return f"**{text}**" + (f" ({failing} at or above the fail level, {fail})" if failing else "")

    # ---------------------------------------------------------------- findings
    def _findings(self) -> List[str]:
        rep = self.res.reported
        out = [f"{self.sub} Findings", ""]
        if not rep and _not_linted(self.res):
            return out + ["The rules did not run (`verify --no-lint`): only what the runs below measured.", ""]
        if not rep:
            return out + [
                "No operator in this model changes its result beyond the rules' tolerances in the formats judged.",
                "",
            ]
        out += [
            "Tick a finding when it is fixed in the model, or accepted: then add a suppression with the reason "
            "to the project's configuration so that CI stays green.",
            "",
        ]
        for f in rep:
            out += self._finding(f)
        out.append("")
        return out

    def _finding(self, f: Finding) -> List[str]:
        where = f"node {code(f.node)}" + (f" in {code(f.scope)}" if f.scope else "")
        op = f.op if f.op == f.source_op or not f.source_op else f"{f.op}, MNN {f.source_op}"
        lines = [
            f"- [ ] **{f.rule_id} {md(f.rule_name)}** · {LEVEL_BADGE.get(f.level, f.level)} · {where} ({md(op)})  ",
            f"  {md(f.message)}",
        ]
        locator = ([f"path {code(f.node_path)}"] if f.node_path else []) + (
            [f"writes tensor {code(f.output)}"] if f.output else []
        )
        origin = self.origins.get((self.res.path, f.fingerprint))
        if origin:
            locator.append(f"converted from ONNX node {code(origin[1])} in {code(report_path(origin[0], self.root))}")
        if locator:
            lines.append(f"  - Where: {' · '.join(locator)}")
        est = self._estimate(f)
        if est:
            lines.append(f"  - Estimate: {est}")
        for line in f.measured_lines():  # what `verify` ran says, and on what
            lines.append(f"  - {md(line)}")
        if f.evidence:
            items = sorted(f.evidence.items(), key=lambda kv: str(kv[0]))
            lines.append("  - Evidence: " + ", ".join(f"{md(k)} {code(_plain(v))}" for k, v in items))
        for a in f.assumptions:
            lines.append(f"  - Assumes: {md(a)}")
        for n in f.notes:
            lines.append(f"  - Note: {md(n)}")
        if f.fix:
            lines.append(f"  - Fix: {md(f.fix)}")
        more = [f"`precision-lint rule {f.rule_id}`"]
        rule = self.rules.get(f.rule_id)
        if rule is not None:
            # a repository's rule may hold anything: only a plain http(s) URL becomes a link
            more += [_link(r) if PLAIN_URL.fullmatch(r) else md(r) for r in rule.references[:3]]
        lines.append(f"  - More: {' · '.join(more)}")
        return lines

    def _verify(self) -> List[str]:
        """What `precision-lint verify` ran per target (extras["verify"]["runs"]): measured, emulated or neither."""
        v = self.res.extras.get("verify") or {}
        runs = [r for r in v.get("runs") or [] if isinstance(r, Mapping)]
        if not runs:
            return []
        out = [f"{self.sub} Measured by precision-lint verify", ""]
        for r in runs:
            status = str(r.get("status", ""))
            verdict = (
                {True: "over tolerance", False: "within tolerance"}[bool(r.get("exceeded"))]
                if status in ("measured", "emulated")
                else "no measurement"
            )
            unsettled = r.get("unsettled") or []
            if unsettled and not r.get("exceeded"):  # verify exits 1: a later run may not miss the bug
                verdict += f", not cleared (known MNN bug {', '.join(map(str, unsettled))} changes from run to run)"
            how = "emulated" if status == "emulated" else status  # the message names what was emulated
            out.append(f"- {code(str(r.get('target', '')))}: {md(how)}, {verdict}: {md(str(r.get('message', '')))}")
        inputs = v.get("inputs") or {}
        for name, how in inputs.items() if isinstance(inputs, Mapping) else ():
            out.append(f"- input {code(str(name))}: {md(str(how))}")
        for o in v.get("outputs") or []:
            out.append(
                f"- output {code(str(o.get('name', '')))} on {code(str(v.get('target', '')))}: rel-L2 "
                f"{_num(o.get('rel_error'))} (tolerance {_num(o.get('tolerance'))})"
            )
        return out + [""]

    def _estimate(self, f: Finding) -> str:
        parts = []
        for fmt, e in f.labelled_estimates():
            if e.value is None:
                parts.append(f"{fmt} unknown ({e.level})")
            else:
                unit = f" {e.unit}" if e.unit else ""
                parts.append(f"{fmt} {_num(e.value)}{unit} ({e.level if e.level != 'none' else 'fine'})")
        tol = self._tolerance(f)
        return " · ".join(parts) + (f" — tolerance {tol}" if parts and tol else "")

    def _tolerance(self, f: Finding) -> str:
        rule = self.rules.get(f.rule_id)
        if rule is None or len(rule.tolerances) != 1:
            return ""
        name, spec = next(iter(rule.tolerances.items()))
        value = (getattr(self.options, "tolerances", {}) or {}).get(name, spec.get("default"))
        unit = f" {spec['unit']}" if spec.get("unit") else ""
        return f"{_num(float(value))}{unit} ({code(name)})"

    # ---------------------------------------------------------------- platforms
    def _platforms(self) -> List[str]:
        rec = self.rec
        out = [f"{self.sub} MNN precision per platform", ""]
        if rec.advisory:
            out += [
                f"The fastest precision mode with no finding at {rec.fail_level} level, for "
                f"every platform below.  Declare your deployment (`--target ios-cpu:low`, or `targets` in the "
                f"configuration) to judge it instead of getting advice.",
                "",
            ]
        else:
            out += [f"Declared targets: {', '.join(code(t) for t in rec.targets)}.", ""]
        out += ["| Platform | Deploy with | Numerics | Unsafe here |", "|---|---|---|---|"]
        for p in rec.platforms:
            unsafe = [m for m in p.modes if m.status == "rejected"]
            unsafe_text = ", ".join(_SHORT[m.mode] for m in unsafe) or "—"
            deploy = code(p.precision) + ("" if p.safe else " ⚠ no safe mode")
            out.append(f"| {md(p.name)} ({code(p.platform)}) | {deploy} | {md(_formats(p.formats))} | {unsafe_text} |")
        out.append("")
        snippets = self.res.snippets or {}
        for p in rec.platforms:
            out += self._platform(p, snippets.get(p.platform))
        return out

    def _platform(self, p: PlatformChoice, snippet: Optional[PlatformSnippets]) -> List[str]:
        out = [f"{self.subsub} {md(p.name)} · {code(p.platform)}", ""]
        chosen = p.chosen
        on = f" on {code(p.forward_type)}" if p.forward_type else ""
        if not p.modes_differ:
            out.append(f"- [ ] Any precision{on}: every mode computes the same here ({md(_formats(p.formats))})")
        else:
            same = [_SHORT[m] for m in p.equivalent]
            extra = f" ({_and(same)} {'computes' if len(same) == 1 else 'compute'} the same here)" if same else ""
            verb = "Deploy with" if p.safe else "No mode is safe here; the least bad is"
            out.append(f"- [ ] {verb} {code(p.precision)}{on}: {md(_formats(p.formats))}{extra}")
        if p.basis:  # after `verify`: what the choice rests on (measured, emulated or estimated) and why
            out.append(f"- Basis: {p.basis} ({md(p.why or '')})")
        for d in p.declared:  # every declared mode of this platform
            ok = "safe" if d.safe else f"**unsafe** ({md(p.rejected_by_run(d.mode)) or 'reaches ' + d.max_level})"
            out.append(f"- [ ] The declared target {code(p.platform + ':' + d.mode)} is {ok}")
        # rejected modes with the same numerics and the same reasons are one item
        groups: Dict[tuple, List[ModeAssessment]] = {}
        equivalent = set(p.equivalent)
        for m in p.modes:
            if m.status == "rejected" and m.mode not in equivalent:
                run = (md(m.rejected_by_run),) if m.rejected_by_run else ()
                key = (_formats(m.formats), run + tuple(_verdict(v) for v in m.blocking))
                groups.setdefault(key, []).append(m)
        if not p.safe:
            reasons = ([md(chosen.rejected_by_run)] if chosen.rejected_by_run else []) + [
                _verdict(v) for v in chosen.blocking
            ]
            out.append(
                f"- [ ] Unsafe even at {code(p.precision)}: {'; '.join(reasons)} — no precision mode "
                f"fixes this here: run these operators on another backend, or change the model"
            )
        for (formats, reasons), ms in groups.items():
            names = _or([code(m.precision) for m in ms])
            shown = "; ".join(reasons[:3]) + (f" (and {len(reasons) - 3} more)" if len(reasons) > 3 else "")
            out.append(f"- [ ] Not {names} ({md(formats)}): {shown}")
        for v in chosen.concerns:
            out.append(f"- [ ] Still reported at {code(p.precision)}: {_verdict(v)}")
        for v in p.mode_independent:
            out.append(f"- [ ] Whatever the mode: {_verdict(v)}")
        for fb in p.cpu_fallbacks:
            out.append(
                f"- [ ] CPU fallback: {md(fb.rule)} node {code(fb.node)} "
                f"({md(fb.op)}) runs on the CPU in {', '.join(fb.modes)}: "
                f"{md(_strip_refs(fb.why))}"
            )
        for n in p.notes:
            out.append(f"- Note: {md(_strip_refs(n))}")
        if snippet:
            from ..deploy.snippets import LANGUAGE, TITLE

            for kind in ("cpp_session", "cpp_module", "python", "cli"):
                if snippet.code.get(kind):
                    out += [
                        "",
                        f"<details><summary>{TITLE[kind]} for {code(p.precision)}</summary>",
                        "",
                        f"```{LANGUAGE[kind]}",
                        snippet.code[kind].rstrip(),
                        "```",
                        "",
                        "</details>",
                    ]
        out.append("")
        return out

    def _fp16_fallback(self) -> List[str]:
        rep = self.res.reported
        out = [f"{self.sub} Precision (judged for fp16)", ""]
        if not rep:
            return out + [
                "- [ ] No finding in fp16: the model can run with fp16 activations (GPU backends at "
                "Normal or Low, ARMv8.2 CPUs at Low) as far as the rules can tell",
                "",
            ]
        return out + [
            "- [ ] Backends that store or compute activations in fp16 (MNN's GPU backends at Precision_Normal and "
            "Precision_Low, ARMv8.2 CPUs at Precision_Low) need the fixes above, or Precision_High for this model",
            "- [ ] Run `precision-lint --platform NAME` (see `precision-lint platforms`) for the precision to deploy "
            "with on each of your platforms",
            "",
        ]

    # ---------------------------------------------------------------- release checks
    def _consistency(self) -> List[str]:
        checks = _data("review_checks.yaml")
        out = [f"{self.sub} Before release: cross-platform consistency checks", ""]
        out += [f"- [ ] {md(c)}" for c in checks["always"]]
        classes = sorted({f.failure_class for f in self.res.reported})
        for cls in classes:
            text = checks["classes"].get(cls)
            if text:
                nodes = sorted({f.node for f in self.res.reported if f.failure_class == cls})
                shown = ", ".join(code(n) for n in nodes[:4]) + (
                    f" and {len(nodes) - 4} more" if len(nodes) > 4 else ""
                )
                out.append(f"- [ ] {md(text)} (here: {shown})")
        out.append("")
        return out

    # ---------------------------------------------------------------- MNN versions and known issues
    def _mnn_version(self) -> Optional[str]:
        m = self.res.metadata
        return (
            m.get("converter_version")
            or m.get("mnn_version")
            or (m.get("producer_version") if m.get("format") == "mnn" else None)
        )

    def _mnn_notes(self) -> List[str]:
        m = self.res.metadata
        # matched in analysis (deploy/mnn_notes.py: the Linter and verify put them in extras): rendered, not matched
        from ..results import MnnNotes

        notes = self.res.extras.get("mnn_notes") or MnnNotes()
        out = [f"{self.sub} MNN version notes", ""]
        table_version = _platform_table_version()
        facts = f"the platform facts behind this review are for MNN {table_version}" if table_version else ""
        if m.get("format") == "mnn":
            v = self._mnn_version()
            out.append(
                f"- Converted by MNN **{md(v or 'unknown')}** (from the file){'; ' + facts if facts else ''}."
                f"  Run it with the same MNN version on every platform."
            )
            if m.get("fp16_converted"):
                out.append(
                    "- [ ] The file was converted with `--fp16`: every float constant is stored as fp16 "
                    "(clamped to ±65504, tiny values flushed to 0) whatever precision it runs at"
                )
        else:
            out.append(
                f"- Not converted yet: record the MNN version you convert with and use the same version at "
                f"run time on every platform{'; ' + facts if facts else ''}."
            )
            for c in notes.converter:
                out.append(f"- Conversion ({', '.join(c.ops)}): {md(c.note)}")
            for note in notes.converter_always:
                out.append(f"- Conversion: {md(note)}")
        bugs: Dict[str, List[str]] = {}
        texts: Dict[str, str] = {}
        for plat in self.rec.platforms if self.rec else ():
            for b in plat.known_bugs:
                modes = ", ".join(PRECISION_ENUM.get(m, m) for m in b.modes)
                bugs.setdefault(b.id, []).append(f"{plat.platform} at {modes}")
                texts[b.id] = f"{b.title} (MNN {b.versions}): {b.symptom}; workaround: {b.workaround}"
        if bugs:
            out += [
                "",
                f"Known MNN kernel bugs that apply to this model on MNN "
                f"{md(str(self.rec.mnn_version or '?'))} (--mnn-version):",
                "",
            ]
            for bid in sorted(bugs):
                out.append(f"- [ ] {code(bid)} on {md('; '.join(bugs[bid]))}: {md(texts[bid])}")
        issues = [(g.summary, g.topic, g.reports) for g in notes.issue_reports]
        if issues:
            out += [
                "",
                "Known MNN issue reports that apply to this model's operators, findings or platforms "
                "(check whether your MNN version has the fix):",
                "",
            ]
            topics: Dict[str, List[str]] = {}
            for summary, topic, items in issues:
                links = ", ".join(f"[{it.id}]({it.url})" for it in items)
                fixed = [it.fixed_after for it in items if it.fixed_after]
                tail = f"; fixed after MNN {fixed[0]}" if fixed else ""
                topics.setdefault(topic, []).append(f"{md(summary)} ({links}{tail})")
            for topic, lines in topics.items():
                if len(lines) == 1:
                    out.append(f"- **{md(topic)}**: {lines[0]}")
                else:
                    out.append(f"- **{md(topic)}**")
                    out += [f"  - {line}" for line in lines]
        out.append("")
        return out

    # ---------------------------------------------------------------- sign-off
    def _sign_off(self) -> List[str]:
        targets = (list(self.rec.targets) if self.rec else []) or list(self.summary.targets)
        scope = f"for {', '.join(code(t) for t in targets)}" if targets else "for the platforms above"
        return [
            f"{self.sub} Sign-off",
            "",
            f"- [ ] Every item above is ticked, or accepted with a suppression and its reason, {scope}",
            "- Reviewer: _name_",
            "- Date: _YYYY-MM-DD_",
            "- Decision: _approved / changes needed_",
            "",
        ]


def _html_link(url: str, bare: bool = False) -> str:
    """The HTML report of the same run: the graph around each finding."""
    link = f"[{md(os.path.basename(url) or url)}](<{url.replace('>', '%3E').replace(' ', '%20')}>)"
    return link if bare else f"The HTML report draws the graph around each finding: {link}"


def _tensor_type(t: Mapping[str, Any]) -> str:
    shape = t.get("shape")
    dtype = t.get("dtype") or "?"
    return dtype if shape is None else f"{dtype}[{', '.join('?' if d is None else str(d) for d in shape)}]"


def _plain(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_plain(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _link(url: str) -> str:
    """Short link text: ``owner/repo#123`` for issues and pull requests, ``host: last path segment`` otherwise."""
    m = re.match(r"https://github\.com/([^/]+/[^/]+)/(?:issues|pull)/(\d+)", url)
    if m:
        label = f"{m.group(1)}#{m.group(2)}"
    else:
        m = re.match(r"https?://(?:www\.)?([^/]+)(/[^?#]*)?", url)
        if m:
            host, path = m.group(1), (m.group(2) or "").rstrip("/")
            gh = re.match(r"/([^/]+/[^/]+)/", path) if host == "github.com" else None
            tail = path.rsplit("/", 1)[-1]
            label = f"{gh.group(1) if gh else host}: {tail}" if tail else host
        else:
            label = url
        label = label if len(label) <= 70 else label[:67] + "..."
    return f"[{md(label)}](<{url}>)"  # <...>: a ')' in the URL cannot end the link


@lru_cache(maxsize=1)
def _platform_table_version() -> Optional[str]:
    try:
        return str(_data("platforms.yaml").get("mnn_version") or "") or None
    except (OSError, AttributeError):
        return None


def _not_linted(res) -> bool:
    """A review of `verify --no-lint`: the rules did not run, so no finding means nothing."""
    return res.metadata.get("linted") is False

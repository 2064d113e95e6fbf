"""One self-contained HTML page for the run: inline CSS and SVG, no script, nothing fetched from the network.

* a summary table: per model its findings per level and the verdict per declared target;
* per model: its identity (``extras["identity"]``: sha256, size, inputs, outputs), the MNN precision per platform
  (``LintResult.recommendation``, with the deployment code of ``LintResult.snippets`` in collapsed blocks), and per
  finding its message, where the node is (``Finding.node_path``), the estimate per number format, the evidence,
  the fix and a drawing of the graph around it (``extras["neighbourhoods"][fingerprint]``, laid out by
  graph_layout.py);
* when a ``verify`` run measured the model, ``extras["verify"]`` = ``{"nodes": [{"node", "depth", "rel_error",
  "tolerance", "op"?}], "outputs": [{"name", "rel_error", "tolerance"}], "target"?, "on"?, "basis"?}``: a chart of
  the error along the graph with the first node over tolerance marked, and a table per output, headed by what ran
  ("Emulated" when ``basis`` is ``emulated``); per finding, its ``Finding.measured`` verdicts.

Everything comes from the results; every text from a model file is escaped.  Same results, same bytes (the layout is
deterministic for a given layout engine: Graphviz ``dot`` when installed, the built-in layered layout otherwise).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import __version__
from ..api import LintResult
from ..results import Finding, Recommendation
from .base import Reporter, RunSummary, report_path
from .error_chart import error_chart
from .escape import markup as escape
from .graph_svg import draw

LEVELS_SHOWN = ("error", "warning", "info")

CSS = """
:root{--err:#c62828;--warn:#b26a00;--info:#1565c0;--ok:#2e7d32;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;padding-top:12px;border-top:2px solid #1f2328}
h3{font-size:16px;margin:22px 0 8px}
code,.mono{font:12.5px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;overflow-wrap:anywhere}
p.sub{color:var(--muted);margin:0 0 16px}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px}
th,td{border:1px solid var(--line);padding:4px 9px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
td code{overflow-wrap:normal}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;
background:var(--muted)}
.badge.error,.verdict.unsafe{background:var(--err)}.badge.warning{background:var(--warn)}
.badge.info{background:var(--info)}
.verdict{display:inline-block;border-radius:10px;padding:0 8px;color:#fff;font-size:12px;font-weight:600}
.verdict.safe,.badge.none{background:var(--ok)}
td.error{color:var(--err);font-weight:600}td.warning{color:var(--warn);font-weight:600}
article.finding{background:#fff;border:1px solid var(--line);border-left:5px solid var(--muted);border-radius:6px;
padding:10px 14px 12px;margin:14px 0}
article.finding.error{border-left-color:var(--err)}article.finding.warning{border-left-color:var(--warn)}
article.finding.info{border-left-color:var(--info)}
article.finding h4{margin:0 0 4px;font-size:15px}
.where{color:var(--muted);margin:2px 0 6px}
.message{margin:6px 0}
.fix{white-space:pre-line;background:#f3f8f3;border:1px solid #cfe3cf;border-radius:4px;padding:6px 10px;margin:8px 0}
.facts{display:flex;flex-wrap:wrap;gap:4px 36px;align-items:flex-start}
dl.evidence{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}
dl.evidence dt{color:var(--muted)}dl.evidence dd{margin:0}dl.evidence dt.head{color:#1f2328;font-weight:600}
figure{margin:10px 0 0;overflow:auto;max-height:1100px;border:1px solid var(--line);border-radius:4px;
background:#fcfcfd}
figcaption{font-size:12px;color:var(--muted);padding:4px 8px;border-bottom:1px solid var(--line);background:#fff;
position:sticky;left:0;top:0}
svg.graph text{font:11px ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;text-anchor:middle}
svg.graph text.t{font-weight:700}svg.graph text.d{fill:#57606a}
svg.graph .node rect{fill:#eef3fb;stroke:#5b7fb5;stroke-width:1.2}
svg.graph .node.io rect{fill:#e6f4ea;stroke:#2e7d32}
svg.graph .node.const rect{fill:#f4f4f4;stroke:#9a9a9a}
svg.graph .node.chain rect{fill:#fff;stroke:#5b7fb5;stroke-dasharray:5 3}
svg.graph .node.more rect{fill:none;stroke:#bbb;stroke-dasharray:2 3}
svg.graph .node.culprit rect{fill:#fde2e1;stroke:var(--err);stroke-width:3}
svg.graph .node.culprit text.t{fill:var(--err)}
svg.graph path.edge{fill:none;stroke:#8c959f;stroke-width:1.3}
svg.graph .arrowhead{fill:#8c959f}
svg.graph text.elabel{font-size:10px;fill:#444;text-anchor:start;paint-order:stroke;stroke:#fcfcfd;stroke-width:3px}
svg.chart{background:#fff;border:1px solid var(--line)}
svg.chart text{font:11px system-ui,sans-serif;fill:#444}svg.chart .ctitle{font-weight:600;font-size:12px}
svg.chart .grid{stroke:#e5e8eb}svg.chart .series{fill:none;stroke:#5b7fb5;stroke-width:1.5}
svg.chart .tolerance{fill:none;stroke:var(--err);stroke-dasharray:6 4}
svg.chart circle.ok{fill:#5b7fb5}svg.chart circle.over{fill:var(--err)}
svg.chart circle.first{fill:none;stroke:var(--err);stroke-width:2}svg.chart text.first{fill:var(--err);font-weight:600}
svg.chart .leader{stroke:var(--err);stroke-dasharray:2 3}svg.chart text.tol{fill:var(--err)}
ul.notes{margin:4px 0;padding-left:20px}
details{margin:4px 0}pre{background:#fff;border:1px solid var(--line);border-radius:4px;padding:8px 10px;overflow:auto}
footer{color:var(--muted);font-size:12px;margin-top:32px}
"""


class HtmlReporter(Reporter):
    def stop(self, summary: RunSummary) -> None:
        root = self.options.get("root") or "."
        use_dot = self.options.get("use_dot", True)
        out = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Precision review: {escape(self._title(root))}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            "<main>",
            "<h1>Precision review</h1>",
            f'<p class="sub">{escape(summary.judged_text())}. precision-lint {escape(__version__)}.</p>',
        ]
        out += self._summary(summary, root)
        from ..model.neighbourhood import onnx_origins

        origins = onnx_origins(self.results)
        for k, res in enumerate(self.results):
            out += ModelPage(res, k, root, self.options, use_dot, origins).lines()
        if summary.unused_suppressions:
            out += ["<h2>Unused suppressions</h2>", "<ul>"]
            out += [
                f"<li>{escape(s.origin)} ({escape(s.describe())}): it matched no finding</li>"
                for s in summary.unused_suppressions
            ]
            out.append("</ul>")
        out += [
            "<footer>Generated by precision-lint. Static estimates unless a section says measured.</footer>",
            "</main>",
            "</body>",
            "</html>",
        ]
        self.stream.write("\n".join(out) + "\n")

    def _title(self, root: str) -> str:
        if len(self.results) == 1:
            return os.path.basename(report_path(self.results[0].path, root))
        return f"{len(self.results)} models"

    def _summary(self, summary: RunSummary, root: str) -> List[str]:
        targets = list(summary.targets)
        head = "".join(f"<th>{escape(t.capitalize())}</th>" for t in LEVELS_SHOWN)
        head += "".join(f"<th>Target <code>{escape(t)}</code></th>" for t in targets)
        if not targets:
            head += "<th>Deploy with (per platform)</th>"
        out = ['<table class="summary">', f"<thead><tr><th>Model</th><th>Format</th>{head}</tr></thead>", "<tbody>"]
        for k, res in enumerate(self.results):
            name = f'<a href="#model-{k}"><code>{escape(report_path(res.path, root))}</code></a>'
            if res.error is not None:
                span = len(LEVELS_SHOWN) + max(len(targets), 1) + 1
                out.append(
                    f'<tr><td>{name}</td><td colspan="{span}" class="error">unreadable: '
                    f"{escape(res.error.message)}</td></tr>"
                )
                continue
            counts = {lvl: sum(1 for f in res.reported if f.level == lvl) for lvl in LEVELS_SHOWN}
            cells = "".join(
                f'<td class="n{" " + lvl if counts[lvl] else ""}">{counts[lvl]}</td>' for lvl in LEVELS_SHOWN
            )
            rec = res.recommendation
            platforms = rec.platforms if rec is not None else ()
            declared = {f"{p.platform}:{d.mode}": d for p in platforms for d in p.declared}
            runs = {r.get("target"): r for r in (res.extras.get("verify") or {}).get("runs") or []}
            for t in targets:
                d = declared.get(t)
                if d is None and t in runs:  # a verify report: what the run showed, never a measurement it was not
                    cells += f"<td>{_run_verdict(runs[t])}</td>"
                elif d is None:
                    cells += "<td>—</td>"
                elif d.safe:
                    cells += '<td><span class="verdict safe">safe</span></td>'
                else:
                    owner = next(p for p in platforms if d in p.declared)
                    why = owner.rejected_by_run(d.mode) or f"reaches {d.max_level}"
                    cells += (
                        f'<td><span class="verdict unsafe">unsafe</span> {escape(why)}; '
                        f"use <code>{escape(_deploy(rec, t))}</code></td>"
                    )
            if not targets:  # platforms grouped by the precision to deploy with
                groups: Dict[str, List[str]] = {}
                for p in platforms:
                    groups.setdefault(p.precision, []).append(p.platform)
                cells += (
                    "<td>"
                    + (
                        "<br>".join(
                            f"<code>{escape(prec)}</code>: {escape(', '.join(names))}" for prec, names in groups.items()
                        )
                        or "—"
                    )
                    + "</td>"
                )
            fmt = escape(str(res.metadata.get("format", "?")).upper())
            out.append(f"<tr><td>{name}</td><td>{fmt}</td>{cells}</tr>")
        out += ["</tbody>", "</table>"]
        return out


def _run_verdict(run: Mapping[str, Any]) -> str:
    status = str(run.get("status", ""))
    if status not in ("measured", "emulated"):
        return escape(status.replace("-", " ") or "—")
    how = "measured" if status == "measured" else "emulated (not measured)"
    if run.get("exceeded"):
        return f'<span class="verdict unsafe">{how}: over tolerance</span>'
    unsettled = run.get("unsettled") or []
    if unsettled:  # verify exits 1: a later run may not miss the bug
        bugs = escape(", ".join(map(str, unsettled)))
        return (
            f'<span class="verdict unsafe">{how}: within tolerance, not cleared</span> '
            f"(known MNN bug {bugs} changes from run to run)"
        )
    return f'<span class="verdict safe">{how}: within tolerance</span>'


def _deploy(rec: Recommendation, target: str) -> str:
    p = rec.platform(target.split(":", 1)[0])
    return p.precision if p is not None else "?"


class ModelPage:
    def __init__(
        self,
        res: LintResult,
        k: int,
        root: str,
        options: Mapping[str, Any],
        use_dot: bool,
        origins: Optional[Mapping[Any, Any]] = None,
    ):
        self.res, self.k, self.root, self.use_dot = res, k, root, use_dot
        self.origins = origins or {}
        self.rules = {r.id: r for r in options.get("rules") or []}
        self.path = report_path(res.path, root)

    def lines(self) -> List[str]:
        res = self.res
        out = [f'<section class="model" id="model-{self.k}">', f"<h2>{escape(self.path)}</h2>"]
        if res.error is not None:
            return out + [
                f'<p class="error">The model could not be read: {escape(res.error.message)}</p>',
                "</section>",
            ]
        out += self._identity()
        out += self._platforms()
        rep = res.reported
        out.append(f"<h3>Findings ({len(rep)})</h3>")
        if not rep and res.metadata.get("linted") is False:
            out.append("<p>The rules did not run (<code>verify --no-lint</code>): only what the runs measured.</p>")
        elif not rep:
            out.append(
                "<p>No operator in this model changes its result beyond the rules' tolerances in the "
                "formats judged.</p>"
            )
        hoods = res.extras.get("neighbourhoods") or {}
        for i, f in enumerate(rep):
            out += self._finding(f, i, hoods.get(f.fingerprint))
        out += self._measured()
        if res.notes:
            out += ["<h3>Loader notes</h3>", '<ul class="notes">']
            out += [f"<li>{escape(n)}</li>" for n in res.notes]
            out.append("</ul>")
        out.append("</section>")
        return out

    def _identity(self) -> List[str]:
        m = self.res.metadata
        ident = self.res.extras.get("identity") or {}
        fmt = str(m.get("format") or "?").upper()
        n = m.get("operators", 0)
        what = fmt
        if m.get("linted") is False:  # verify --no-lint: the file was not read for the rules
            pass
        elif fmt == "ONNX":
            what = f"ONNX, opset {m.get('opset', '?')}"
        elif fmt == "MNN":
            what = f"MNN, converted from {m.get('source_type', '?')} by MNN {m.get('mnn_version') or '?'}" + (
                " with --fp16" if m.get("fp16_converted") else ""
            )
        size = "not linted (verify --no-lint)" if m.get("linted") is False else f"{n} operator{'' if n == 1 else 's'}"
        rows = [("Format", escape(f"{what}, {size}"))]
        producer = " ".join(str(x) for x in (m.get("producer"), m.get("producer_version")) if x)
        if producer:
            rows.append(("Producer", escape(producer)))
        if ident.get("sha256"):
            rows.append(("File", f"sha256 <code>{escape(ident['sha256'])}</code>, {ident.get('size', 0):,} bytes"))
        out = ['<table class="identity">']
        out += [f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows]  # v is escaped above
        for key, title in (("inputs", "Inputs"), ("outputs", "Outputs")):
            items = ident.get(key)
            if items:
                cell = "<br>".join(f"<code>{escape(t['name'])}</code> {escape(_tensor_type(t))}" for t in items)
                out.append(f"<tr><th>{title}</th><td>{cell}</td></tr>")
        out.append("</table>")
        return out

    def _platforms(self) -> List[str]:
        rec = self.res.recommendation
        if rec is None or not rec.platforms:
            return []
        out = ["<h3>MNN precision per platform</h3>"]
        if rec.advisory:
            out.append(
                f"<p>The fastest precision mode with no finding at {escape(str(rec.fail_level))} "
                f"level. Declare your deployment (<code>--target ios-cpu:low</code>) to judge it.</p>"
            )
        out += [
            '<table class="platforms"><thead><tr><th>Platform</th><th>Deploy with</th><th>Numerics</th>'
            "<th>Unsafe here</th><th>Declared target</th></tr></thead><tbody>"
        ]
        for p in rec.platforms:
            unsafe = ", ".join(m.precision for m in p.modes if m.status == "rejected") or "—"
            f = p.formats
            numerics = (
                f"{f['storage']} throughout"
                if f["storage"] == f["arithmetic"] == f["accumulation"]
                else f"{f['storage']} storage, {f['arithmetic']} arithmetic, {f['accumulation']} accumulation"
            )
            verdicts = []
            for d in p.declared:  # every declared mode of this platform
                verdict = (
                    '<span class="verdict safe">safe</span>'
                    if d.safe
                    else f'<span class="verdict unsafe">unsafe</span> '
                    f"{escape(p.rejected_by_run(d.mode) or 'reaches ' + str(d.max_level))}"
                )
                verdicts.append(f"<code>{escape(d.precision)}</code> {verdict}")
            declared = "<br>".join(verdicts) or "—"
            warn = "" if p.safe else " ⚠ no safe mode"
            out.append(
                f"<tr><td>{escape(p.name)} (<code>{escape(p.platform)}</code>)</td>"
                f"<td><code>{escape(p.precision)}</code>{warn}</td><td>{escape(numerics)}</td>"
                f"<td>{escape(unsafe)}</td><td>{declared}</td></tr>"
            )
        out += ["</tbody></table>"]
        from ..deploy.snippets import TITLE

        snippets = self.res.snippets or {}
        for p in rec.platforms:  # one collapsed block per platform, a titled listing per kind inside
            snippet = snippets.get(p.platform)
            code = snippet.code if snippet is not None else {}
            blocks = [
                f"<p>{escape(TITLE[kind])}</p><pre><code>{escape(code[kind].rstrip())}</code></pre>"
                for kind in ("cpp_session", "cpp_module", "python", "cli")
                if code.get(kind)
            ]
            if blocks:
                out.append(
                    f"<details><summary>Deployment code for <code>{escape(p.platform)}</code> "
                    f"(<code>{escape(p.precision)}</code>)</summary>{''.join(blocks)}</details>"
                )
        return out

    def _finding(self, f: Finding, i: int, hood: Optional[Mapping[str, Any]]) -> List[str]:
        uid = f"m{self.k}-f{i}"
        where = f" in {escape(f.scope)}" if f.scope else ""
        op = escape(f.op) + (f", MNN {escape(f.source_op)}" if f.source_op and f.source_op != f.op else "")
        rule = self.rules.get(f.rule_id)
        out = [
            f'<article class="finding {escape(f.level)}" id="{uid}" data-node="{escape(f.node)}">',
            f'<h4><span class="badge {escape(f.level)}">{escape(f.level)}</span> {escape(f.rule_id)} '
            f"{escape(f.rule_name)} · node <code>{escape(f.node)}</code>{where} ({op})</h4>",
        ]
        loc = []
        if f.node_path:
            loc.append(f"Path: <code>{escape(f.node_path)}</code>")
        if f.output:
            loc.append(f"output tensor <code>{escape(f.output)}</code>")
        origin = self.origins.get((self.res.path, f.fingerprint))
        if origin:
            loc.append(
                f"converted from ONNX node <code>{escape(origin[1])}</code> in "
                f"<code>{escape(report_path(origin[0], self.root))}</code>"
            )
        if loc:
            out.append(f'<p class="where">{" · ".join(loc)}</p>')
        out.append(f'<p class="message">{escape(f.message)}</p>')
        facts = _estimates(f) + _measured_rows(f)
        if f.evidence:
            facts.append(
                '<dl class="evidence"><dt class="head">Evidence</dt><dd></dd>'
                + "".join(
                    f"<dt>{escape(str(k))}</dt><dd><code>{escape(_plain(v))}</code></dd>"
                    for k, v in sorted(f.evidence.items(), key=lambda kv: str(kv[0]))
                )
                + "</dl>"
            )
        out += ['<div class="facts">'] + facts + ["</div>"]
        items = [("Assumes", a) for a in f.assumptions] + [("Note", n) for n in f.notes]
        if items:
            out.append('<ul class="notes">' + "".join(f"<li>{k}: {escape(v)}</li>" for k, v in items) + "</ul>")
        if f.fix:
            out.append(f'<div class="fix"><b>Fix:</b> {escape(" ".join(f.fix.split()))}</div>')
        refs = list(rule.references[:3]) if rule is not None else []
        more = [f"<code>precision-lint rule {escape(f.rule_id)}</code>"]
        more += [f'<a href="{escape(r)}">{escape(r)}</a>' for r in refs if r.startswith(("https://", "http://"))]
        out.append(f"<p>More: {' · '.join(more)}</p>")
        if hood and hood.get("nodes"):
            drawn = hood.get("operators", 0)
            n_cut = hood.get("cut", 0)
            cut = f"; {n_cut} input{'s come' if n_cut != 1 else ' comes'} from further up (drawn as …)" if n_cut else ""
            caption = (
                f"The graph around <code>{escape(f.node)}</code> (red): {drawn} operator"
                f"{'' if drawn == 1 else 's'}, their inputs and constants{cut}; tensor types on the edges, "
                f"names on hover."
            )
            out += [
                "<figure>",
                f"<figcaption>{caption}</figcaption>",
                draw(hood, uid, use_dot=self.use_dot),
                "</figure>",
            ]
        out.append("</article>")
        return out

    def _measured(self) -> List[str]:
        v = self.res.extras.get("verify")
        if not isinstance(v, Mapping):
            return []
        out = []
        # what ran ("target", "on"; "basis": "emulated" for the platform-table emulation, never called measured)
        how = "Emulated" if v.get("basis") == "emulated" else "Measured"
        ran = ""
        if v.get("target"):
            ran = (
                f'<p class="where">{how} on <code>{escape(str(v["target"]))}</code>'
                + (f": {escape(str(v['on']))}" if v.get("on") else "")
                + "</p>"
            )
        nodes = v.get("nodes") or []
        chart = error_chart(nodes, f"{how} relative error per node") if isinstance(nodes, Sequence) else ""
        if chart:
            out += [f"<h3>{how} error along the graph</h3>", ran, f"<figure>{chart}</figure>"]
            ran = ""
        runs = v.get("runs") or []
        if runs:  # what ran for each target: QEMU's version, MNN's device line, or why nothing was measured
            out += [
                "<h3>What ran</h3>",
                '<table class="runs"><thead><tr><th>Target</th><th>Result</th><th>Ran on</th></tr></thead><tbody>',
            ]
            out += [
                f"<tr><td><code>{escape(str(r.get('target', '')))}</code></td><td>{_run_verdict(r)}</td>"
                f"<td>{escape(str(r.get('message', '')))}</td></tr>"
                for r in runs
                if isinstance(r, Mapping)
            ]
            out.append("</tbody></table>")
        inputs = v.get("inputs") or {}
        if isinstance(inputs, Mapping) and inputs:  # what the runs were fed: --inputs, seeded noise, the photograph
            out += ["<h3>Inputs</h3>", "<ul>"]
            out += [f"<li><code>{escape(str(k))}</code>: {escape(str(how))}</li>" for k, how in inputs.items()]
            out.append("</ul>")
        outputs = v.get("outputs") or []
        if outputs:
            out += [
                f"<h3>{how} error per output</h3>",
                ran,
                "<table><thead><tr><th>Output</th><th>Relative error</th><th>Tolerance</th></tr></thead><tbody>",
            ]
            for o in outputs:
                over = _over(o)
                out.append(
                    f"<tr><td><code>{escape(str(o.get('name', '')))}</code></td>"
                    f'<td class="n{" error" if over else ""}">{escape(_g(o.get("rel_error")))}</td>'
                    f'<td class="n">{escape(_g(o.get("tolerance")))}</td></tr>'
                )
            out.append("</tbody></table>")
        return out


def _estimates(f: Finding) -> List[str]:
    rows = []
    for fmt, e in f.labelled_estimates():
        value = "unknown" if e.value is None else f"{_g(e.value)}{(' ' + e.unit) if e.unit else ''}"
        level = e.level if e.level != "none" else "fine"
        rows.append(
            f'<tr><td>{escape(fmt)}</td><td class="n">{escape(value)}</td>'
            f'<td class="{escape(e.level)}">{escape(level)}</td></tr>'
        )
    if not rows:
        return []
    return [
        '<table class="estimates"><thead><tr><th>Format</th><th>Estimated error</th><th>Level</th></tr></thead>'
        "<tbody>" + "".join(rows) + "</tbody></table>"
    ]


def _measured_rows(f: Finding) -> List[str]:
    """What `verify` ran for this finding, per target: measured or emulated, on what, verdict and error."""
    if not f.measured:
        return []
    rows = []
    for target, m in sorted(f.measured.items()):
        how = "Emulated" if m.get("basis") == "emulated" else "Measured"
        rel = m.get("rel_l2")
        err = (
            "—"
            if rel is None
            else f"rel-L2 {_g(rel)}" + (f", max abs {_g(m['max_abs'])}" if m.get("max_abs") is not None else "")
        )
        verdict = str(m.get("verdict", "?"))
        cls = {"confirmed": "error", "inherited": "warning"}.get(verdict, "")
        rows.append(
            f"<tr><td>{how} on <code>{escape(target)}</code><br><small>{escape(str(m.get('on', '')))}"
            f'</small></td><td class="{cls}">{escape(verdict)}</td><td class="n">{escape(err)}</td></tr>'
        )
    return [
        '<table class="measured"><thead><tr><th>Run</th><th>Verdict</th><th>Error</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    ]


def _tensor_type(t: Mapping[str, Any]) -> str:
    dtype = t.get("dtype") or "?"
    shape = t.get("shape")
    return dtype if shape is None else f"{dtype}[{', '.join('?' if d is None else str(d) for d in shape)}]"


def _plain(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_plain(x) for x in v) + "]"
    if isinstance(v, float):
        return _g(v)
    return str(v)


def _g(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "?" if v is None else str(v)
    return f"{f:.3g}"


def _over(o: Mapping[str, Any]) -> bool:
    try:
        return float(o.get("rel_error")) > float(o.get("tolerance"))
    except (TypeError, ValueError):
        return False

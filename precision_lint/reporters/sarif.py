"""SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer).

What GitHub needs, and what this writes:
- artifact URIs relative to the repository root (the enclosing git work tree), with ``region.startLine: 1`` since a
  model file has no lines; the node is named in ``logicalLocations`` and in the message, its path from a named
  ancestor and the tensor it writes in ``properties.nodePath`` and ``properties.outputTensor``;
- our own ``partialFingerprints`` from rule id + repository-relative path + graph scope + node name: without them GitHub
  hashes line 1 of the file and every finding in one model would collide;
- ``tool.driver.rules`` from the rule YAML: the help text is the text of ``precision-lint rule ID``;
- suppressed and baselined findings are left out (GitHub ignores SARIF ``suppressions`` by default); unreadable models
  and unused suppressions become tool execution notifications;
- per model, what MNN's converter does to it and the MNN issue reports that concern it (``LintResult.extras
  ["mnn_notes"]``, the list JSON and Markdown carry) in the run's ``properties.mnnNotes``.

The output is deterministic: sorted keys, no timestamps, no absolute paths for files inside the repository.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, List
from urllib.parse import quote

from .. import __version__
from ..results import Finding
from .base import Reporter, RunSummary, report_path

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT_KEY = "precisionLint/v1"


def artifact_uri(path: str, root: str) -> Dict[str, Any]:
    rel = report_path(path, root)
    # a file name that is not UTF-8 (surrogate escapes) is percent-encoded byte for byte, as URIs do
    if rel.startswith("/"):  # outside the repository: an absolute file URI
        return {"uri": "file://" + quote(rel, errors="surrogateescape")}
    return {"uri": quote(rel, errors="surrogateescape"), "uriBaseId": "%SRCROOT%"}


def fingerprint(f: Finding, root: str) -> str:
    key = "\x1f".join((f.rule_id, report_path(f.path, root), f.scope, f.node))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]  # file names need not be UTF-8


def rule_descriptor(rule, level: str) -> Dict[str, Any]:
    """``level``: the rule's default level as decided (engine/decide.Decider.rule_level: its override, if any)."""
    from .explain import rule_doc_uri, rule_help

    d: Dict[str, Any] = {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": " ".join(rule.description.split())},
        "help": {"text": rule_help(rule, with_source=False), "markdown": _help_markdown(rule)},
        "defaultConfiguration": {"level": SARIF_LEVEL[level]},
        "properties": {"tags": ["precision", rule.failure_class], "failure-class": rule.failure_class},
    }
    uri = rule_doc_uri(rule)  # our own catalogue; the references (other projects' issues) stay in the help text
    if uri:
        d["helpUri"] = uri
    return d


_CODE_SPAN = re.compile(r"(`[^`]+`)")


def _help_markdown(rule) -> str:
    """The rule's help as Markdown (code scanning renders it): a rule file from a repository is untrusted, so every
    text is escaped paragraph by paragraph, the example is fenced longer than any backtick run in it, and only a
    plain URL becomes a link."""
    from .escape import PLAIN_URL, visible
    from .markdown import code, md, md_inline

    def prose(text: str) -> str:
        # `code spans` stay code spans (the shipped rules use them; their content renders as literal text), the
        # rest is escaped
        pieces = _CODE_SPAN.split(" ".join(text.split()))
        return "".join(code(p[1:-1]) if i % 2 else md_inline(p) for i, p in enumerate(pieces))

    def paragraphs(text: str) -> str:
        return "\n\n".join(prose(p) for p in re.split(r"\n\s*\n", text.strip()) if p.strip())

    parts = [f"**{md(rule.id)} {md(rule.name)}** ({md(rule.failure_class)})", "", prose(rule.summary), ""]
    for title, body in (("What it finds", rule.description), ("Why it matters", rule.why), ("Fix", rule.fix)):
        if body:
            parts += [f"#### {title}", "", paragraphs(body), ""]
    if rule.example:
        lines = [visible(line) for line in rule.example.rstrip().split("\n")]
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", "\n".join(lines))), default=0))
        parts += ["#### Example", "", fence, *lines, fence, ""]
    if rule.references:
        refs = [f"<{r}>" if PLAIN_URL.fullmatch(r) else md(r) for r in rule.references]
        parts += ["#### References", ""] + [f"- {r}" for r in refs] + [""]
    return "\n".join(parts).rstrip() + "\n"


class SarifReporter(Reporter):
    def stop(self, summary: RunSummary) -> None:
        root = self.options.get("root") or "."
        from ..engine.decide import rule_level

        decider = self.options.get("decider")  # the Linter's: its level overrides
        overrides = decider.options.level_overrides if decider is not None else {}
        rules = sorted(self.options.get("rules") or [], key=lambda r: r.id)
        index = {r.id: i for i, r in enumerate(rules)}
        results: List[Dict[str, Any]] = []
        notifications: List[Dict[str, Any]] = []
        mnn_notes: List[Dict[str, Any]] = []  # what the converter does, MNN issue reports: as JSON and Markdown have
        for res in self.results:
            if res.error is not None:
                notifications.append(
                    {
                        "level": "error",
                        "message": {"text": res.error.message},
                        "locations": [{"physicalLocation": {"artifactLocation": artifact_uri(res.path, root)}}],
                        "descriptor": {"id": "unreadable-model"},
                    }
                )
                continue
            for f in res.reported:
                results.append(self._result(f, root, index))
            notes = res.extras.get("mnn_notes")
            if notes:
                mnn_notes.append({"artifactLocation": artifact_uri(res.path, root), "notes": notes.to_dict()})
        for s in summary.unused_suppressions:
            notifications.append(
                {
                    "level": "warning",
                    "message": {"text": f"{s.origin}: suppression ({s.describe()}) matched no finding"},
                    "descriptor": {"id": "unused-suppression"},
                }
            )
        for message in summary.input_problems:
            notifications.append({"level": "error", "message": {"text": message}, "descriptor": {"id": "bad-input"}})
        invocation: Dict[str, Any] = {"executionSuccessful": summary.unreadable == 0 and not summary.input_problems}
        if notifications:
            invocation["toolExecutionNotifications"] = notifications
        doc = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "precision-lint",
                            "version": __version__,
                            "semanticVersion": __version__,
                            "rules": [rule_descriptor(r, rule_level(r, overrides)) for r in rules],
                        }
                    },
                    "invocations": [invocation],
                    "results": results,
                    "properties": {
                        "judgedFor": list(summary.judged_for),
                        "targets": list(summary.targets),
                        **({"mnnNotes": mnn_notes} if mnn_notes else {}),
                    },
                }
            ],
        }
        self.stream.write(
            json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False, default=str) + "\n"
        )

    def _result(self, f: Finding, root: str, index: Dict[str, int]) -> Dict[str, Any]:
        where = f"node '{f.node}'" + (f" in {f.scope}" if f.scope else "")
        fp = fingerprint(f, root)
        r: Dict[str, Any] = {
            "ruleId": f.rule_id,
            "level": SARIF_LEVEL[f.level],
            "message": {"text": f"{where} ({f.op}): {f.message}"},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": artifact_uri(f.path, root), "region": {"startLine": 1}},
                    "logicalLocations": [
                        {
                            "name": f.node,
                            "fullyQualifiedName": f"{f.scope}/{f.node}" if f.scope else f.node,
                            "kind": "member",
                        }
                    ],
                }
            ],
            # primaryLocationLineHash too: GitHub's uploader fills it from line 1 when it is missing
            "partialFingerprints": {FINGERPRINT_KEY: fp, "primaryLocationLineHash": f"{fp[:16]}:1"},
            "properties": {
                "op": f.op,
                "sourceOp": f.source_op,
                "failureClass": f.failure_class,
                "judgedFor": list(f.judged_for),
                "estimates": {k: v.to_dict() for k, v in sorted(f.estimates.items())},
                "fix": f.fix,
            },
        }
        if f.node_path:  # how to find a node whose name says nothing ('6', 'LayerNorm44')
            r["properties"]["nodePath"] = f.node_path
        if f.output:
            r["properties"]["outputTensor"] = f.output
        if f.assumptions:
            r["properties"]["assumptions"] = list(f.assumptions)
        if f.notes:
            r["properties"]["notes"] = list(f.notes)
        if f.measured:  # `verify`: per target the verdict, what ran ("on") and the measured error
            r["properties"]["measured"] = f.to_dict()["measured"]
        if f.rule_id in index:
            r["ruleIndex"] = index[f.rule_id]
        return r

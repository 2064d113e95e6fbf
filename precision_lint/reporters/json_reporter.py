"""Machine output: one JSON document for the run, deterministic (sorted keys, no timestamps, stable order)."""

from __future__ import annotations

import json
from typing import Any, Dict

from .. import __version__
from ..api import LintResult
from .base import Reporter, RunSummary

SCHEMA_VERSION = 1


def _hidden(f) -> Dict[str, Any]:
    return {"rule": f.rule_id, "node": f.node, "scope": f.scope, "level": f.level, "fingerprint": f.fingerprint}


def result_to_dict(result: LintResult) -> Dict[str, Any]:
    d: Dict[str, Any] = {"path": result.path}
    if result.error is not None:
        d["error"] = result.error.message
        return d
    d["format"] = result.metadata.get("format")
    d["metadata"] = {k: v for k, v in sorted(result.metadata.items()) if k != "format"}
    d["findings"] = [f.to_dict() for f in result.reported]
    d["suppressed"] = [dict(_hidden(f), reason=s.reason, suppression=s.origin) for f, s in result.suppressed]
    d["baselined"] = [_hidden(f) for f in result.baselined]
    d["notes"] = list(result.notes)
    if result.recommendation is not None:
        d["recommendation"] = result.recommendation.to_dict()
    if result.snippets is not None:
        d["snippets"] = {pid: s.to_dict() for pid, s in result.snippets.items()}
    for key, value in sorted(result.extras.items()):
        d[key] = value.to_dict() if hasattr(value, "to_dict") else value  # typed records (results.py) as JSON
    return d


class JsonReporter(Reporter):
    def stop(self, summary: RunSummary) -> None:
        doc = {
            "tool": "precision-lint",
            "version": __version__,
            "schema_version": SCHEMA_VERSION,
            "judged_for": list(summary.judged_for),
            "targets": list(summary.targets),
            "fail_level": summary.fail_level,
            "files": [result_to_dict(r) for r in self.results],
            "unused_suppressions": [s.to_dict() for s in summary.unused_suppressions],
            "summary": {
                "files": summary.files,
                "unreadable": summary.unreadable,
                **summary.counts,
                "suppressed": summary.suppressed,
                "baselined": summary.baselined,
                "failed": summary.failed,
            },
        }
        self.stream.write(json.dumps(doc, indent=2, sort_keys=True, allow_nan=False, default=_default) + "\n")


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, frozenset, tuple)):
        return sorted(o) if isinstance(o, (set, frozenset)) else list(o)
    return str(o)

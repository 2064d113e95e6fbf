"""GitLab Code Quality (``artifacts: reports: codequality``): a JSON array of issues, each with ``description``,
``check_name``, ``fingerprint``, ``severity`` and ``location.path`` / ``location.lines.begin``.

Paths are relative to the repository root (what GitLab resolves against); a model has no lines, so ``begin`` is 1
and the node is named in the description.  Fingerprints are the SARIF ones (rule id, path, graph scope, node name):
stable across runs and re-exports, distinct for two findings in one model.  Unreadable models are issues too, so a
merge request shows them.  Deterministic: sorted keys, input order.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, List

from .base import Reporter, RunSummary, report_path
from .sarif import fingerprint

# ESLint's GitLab formatter maps error -> major, warning -> minor; GitLab's scale is info < minor < major < critical
SEVERITY = {"error": "major", "warning": "minor", "info": "info"}


class GitlabReporter(Reporter):
    def stop(self, summary: RunSummary) -> None:
        root = self.options.get("root") or "."
        issues: List[Dict[str, Any]] = []
        for res in self.results:
            path = report_path(res.path, root)
            if res.error is not None:
                key = "\x1f".join(("unreadable-model", path))
                issues.append(
                    {
                        "type": "issue",
                        "check_name": "precision-lint/unreadable-model",
                        "description": res.error.message,
                        "severity": "major",
                        "fingerprint": hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32],
                        "location": {"path": path, "lines": {"begin": 1}},
                    }
                )
                continue
            for f in res.reported:
                where = f"node '{f.node}'" + (f" in {f.scope}" if f.scope else "")
                issues.append(
                    {
                        "type": "issue",
                        "check_name": f.rule_id,
                        "description": f"{f.rule_id} {where} ({f.op}): {f.message}",
                        "categories": ["Bug Risk"],
                        "severity": SEVERITY[f.level],
                        "fingerprint": fingerprint(f, root),
                        "location": {"path": path, "lines": {"begin": 1}},
                    }
                )
        self.stream.write(json.dumps(issues, indent=2, sort_keys=True, ensure_ascii=True) + "\n")

"""Baselines: record today's findings, report only new ones later.

A baseline entry is keyed by rule id, model path, graph scope and node name - never by node index, which shifts when a
model is re-exported.  Paths are stored relative to the baseline file's directory, so a baseline written from the
repository root still matches when the linter runs from a subdirectory.  The file is sorted JSON: it diffs well and is
byte-identical when the findings are.
"""

from __future__ import annotations

import json
import os
from typing import FrozenSet, Iterable, List, Tuple

from ..errors import ConfigError
from .files import check_numbers, read_user_text, value_problem
from ..results import Finding
from .suppress import relative_path

BASELINE_VERSION = 1
Key = Tuple[str, str, str, str]
MAX_BASELINE_BYTES = 64 << 20  # a baseline lists findings: ~300 bytes each


def finding_key(f: Finding, baseline_dir: str) -> Key:
    return (f.rule_id, relative_path(f.path, baseline_dir), f.scope, f.node)


class Baseline:
    def __init__(self, path: str, keys: FrozenSet[Key]):
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        self.keys = keys

    def __contains__(self, f: Finding) -> bool:
        return finding_key(f, self.dir) in self.keys

    def __len__(self) -> int:
        return len(self.keys)


def load_baseline(path: str) -> Baseline:
    if not os.path.lexists(path):
        raise ConfigError(f"{path}: baseline file not found (create it with --write-baseline {path})")
    text = read_user_text(path, "baseline file", limit=MAX_BASELINE_BYTES)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: baseline is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:  # a baseline from a pull request is untrusted input
        raise ConfigError(f"{path}: baseline nests too deeply to be a precision-lint baseline") from None
    except ValueError as exc:  # after JSONDecodeError, its subclass: a 5000-digit integer
        raise ConfigError(f"{path}: {value_problem(text, exc)}") from None
    check_numbers(doc, path, ConfigError)
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise ConfigError(f"{path}: not a precision-lint baseline (no 'findings' list)")
    version = doc.get("baseline_version")
    if isinstance(version, bool) or version != BASELINE_VERSION:  # True == 1 in Python
        raise ConfigError(
            f"{path}: baseline_version {doc.get('baseline_version')!r} is not supported "
            f"(expected {BASELINE_VERSION}); write it again with --write-baseline"
        )
    keys = set()
    for i, e in enumerate(doc["findings"]):
        key = (e.get("rule"), e.get("path"), e.get("scope", ""), e.get("node")) if isinstance(e, dict) else (None,)
        if not all(isinstance(part, str) for part in key):  # str() would make keys like "None" that match nothing
            raise ConfigError(f"{path}: findings[{i}]: needs 'rule', 'path' and 'node' as strings")
        keys.add(key)
    return Baseline(path, frozenset(keys))


def baseline_document(findings: Iterable[Finding], baseline_path: str) -> dict:
    base_dir = os.path.dirname(os.path.abspath(baseline_path))
    entries = {}
    for f in findings:
        rule, path, scope, node = finding_key(f, base_dir)
        entries[(path, rule, scope, node)] = {
            "rule": rule,
            "path": path,
            "scope": scope,
            "node": node,
            "level": f.level,
            "message": f.message,
        }
    return {
        "tool": "precision-lint",
        "baseline_version": BASELINE_VERSION,
        "findings": [entries[k] for k in sorted(entries)],
    }


def write_baseline(path: str, findings: Iterable[Finding]) -> int:
    """Write ``findings`` as the baseline at ``path``; returns how many entries it holds."""
    doc = baseline_document(findings, path)
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # a file name that is not UTF-8 holds lone surrogates: written as JSON's own \udcXX escapes, read back the same
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write baseline: {exc.strerror or exc}") from None
    return len(doc["findings"])


def all_findings(results) -> List[Finding]:
    """What a new baseline records: every reported finding, including the ones an old baseline hid."""
    out: List[Finding] = []
    for r in results:
        out += r.reported + [f for f in r.baselined if f.level != "none"]
    return out

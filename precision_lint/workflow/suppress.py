"""Suppressions and per-path ignores from configuration: which findings a project has decided not to see.

A model file cannot hold comments, so suppressions live in the configuration (the detekt model): each names a rule
(id or prefix), a path glob, a node-name glob and a required reason.  Path globs are matched against the model's path
relative to the project root (the configuration file's directory): ``*`` and ``?`` stay inside one path segment, ``**``
crosses directories, and a pattern without ``/`` matches the file name in any directory (as in .gitignore).  Node
globs are matched against the whole node name (``*`` matches ``/`` there, since
exporters put scopes in node names).  Both are matched in linear time (see globs.py): a glob from a pull request
cannot hang the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

from .globs import compile_name_glob, compile_path_glob


@dataclass(frozen=True)
class Suppression:
    rule: str  # rule id or prefix
    path: str  # path glob, relative to the project root
    reason: str
    node: str = "*"  # node-name glob
    origin: str = ""  # where it was declared, e.g. "pyproject.toml: tool.precision-lint.suppressions[0]"

    def matches_path(self, relpath: str) -> bool:
        return path_matches(self.path, relpath)

    def matches(self, rule_id: str, relpath: str, node: str, rule_name: str = "") -> bool:
        from .selectors import matches

        return (
            matches(rule_id, rule_name, (self.rule,))
            and self.matches_path(relpath)
            and compile_name_glob(self.node).match(node)
        )

    def describe(self) -> str:
        return f"rule {self.rule}, path {self.path!r}, node {self.node!r}"

    def to_dict(self) -> dict:
        return {"rule": self.rule, "path": self.path, "node": self.node, "reason": self.reason, "origin": self.origin}


def relative_path(path: str, root: Optional[str]) -> str:
    """``path`` relative to ``root`` with forward slashes; the absolute path when it lies outside ``root``."""
    absolute = os.path.abspath(path)
    base = os.path.abspath(root or os.getcwd())
    try:
        rel = os.path.relpath(absolute, base)
    except ValueError:  # another drive on Windows
        rel = absolute
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        rel = absolute
    return rel.replace(os.sep, "/")


def path_matches(pattern: str, relpath: str) -> bool:
    return compile_path_glob(pattern).match(relpath)


def ignored_rules(per_path_ignores, relpath: str) -> List[str]:
    """Rule ids or prefixes that per-path ignores switch off for ``relpath``."""
    out: List[str] = []
    for pattern, rules in per_path_ignores.items():
        if path_matches(pattern, relpath):
            out += list(rules)
    return out


def unused_suppressions(
    suppressions: Sequence[Suppression], used: Iterable[Suppression], linted: Sequence[str], root: Optional[str]
) -> List[Suppression]:
    """Suppressions that hid nothing in this run.  One whose path glob matches none of the linted files is unused
    only if it matches no model file under the project root either: a run over a few changed files (pre-commit)
    does not call the suppressions for the other models unused, but a mistyped glob is reported."""
    used = set(used)
    rel = [relative_path(p, root) for p in linted]
    out: List[Suppression] = []
    on_disk: Optional[List[str]] = None
    for s in suppressions:
        if s in used:
            continue
        if any(s.matches_path(p) for p in rel):
            out.append(s)
            continue
        if on_disk is None:
            on_disk = _models_under(root or os.getcwd())
        if not any(s.matches_path(p) for p in on_disk):
            out.append(s)
    return out


def _models_under(root: str) -> List[str]:
    from .files import collect

    return [relative_path(p, root) for p in collect([root])]

"""Loading rule files: safe YAML, schema validation, expression compilation, clear errors.  What a rule may
name is checked in :mod:`.rule_checks`; which rules run is chosen in :mod:`precision_lint.workflow.selectors`.

A rule file holds one rule (a mapping) or several (a list of mappings).  Every problem is reported as
``<file>: rule <id>: <field>: <problem>`` so the author knows where to look.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import RuleError
from ..resources import data_path
from .functions import FUNCTIONS
from .expr import ExprError, Expression
from .rule_checks import (
    BUILTIN_NAMES,
    FORMAT_NAMES,
    LEVEL_NAMES,
    MATCH_NAMES,
    RENDER_NAMES,
    ESTIMATE_NAMES,
    check_bound_names,
    check_expression,
    check_names_in_matcher,
    check_ops,
    check_template,
)

MAX_RULE_FILE_BYTES = 1 << 20
MAX_RULE_NODES = 50_000  # YAML nodes in a rule file with aliases expanded (the largest shipped rule has ~300)
MAX_RULE_DEPTH = 40  # YAML nesting levels
# Syntax nodes in the expressions a rule evaluates for each finding (let, estimate, level, when): a bound on the work
# per matched operator, since the language has no loops (the largest shipped rule has about 200).
MAX_FINDING_EXPRESSION_NODES = 5000
RELATIONS = ("producer", "consumer", "upstream", "downstream")
DEFAULT_DEPTH = 6


@dataclass
class Matcher:
    ops: Optional[frozenset] = None
    source_ops: Optional[frozenset] = None
    where: Optional[Expression] = None
    bind: Optional[str] = None
    input: Optional[int] = None
    depth: int = DEFAULT_DEPTH
    through: Optional[frozenset] = None
    relations: List[Tuple[str, "Matcher"]] = field(default_factory=list)
    all: List["Matcher"] = field(default_factory=list)
    any: List["Matcher"] = field(default_factory=list)
    not_: Optional["Matcher"] = None

    def can_match(self, has_op: Callable[[str], bool]) -> bool:
        """False when the graph lacks an op this pattern needs (its own op, or one a relation, an ``all`` part or
        every ``any`` branch needs): the rule is skipped without visiting an anchor.  C002 on a model without
        GridSample walked 12 operators downstream of every large Add."""
        if self.ops is not None and "*" not in self.ops and not any(has_op(o) for o in self.ops):
            return False
        if self.source_ops is not None and not any(has_op(o) for o in self.source_ops):
            return False
        if not all(sub.can_match(has_op) for _, sub in self.relations):
            return False
        if not all(sub.can_match(has_op) for sub in self.all):
            return False
        return not self.any or any(sub.can_match(has_op) for sub in self.any)

    def bound_names(self) -> List[str]:
        names = [self.bind] if self.bind else []
        for _, m in self.relations:
            names += m.bound_names()
        for m in self.all + self.any:
            names += m.bound_names()
        return names


@dataclass
class ConditionalText:
    when: Optional[Expression]
    text: str


@dataclass
class Rule:
    id: str
    name: str
    failure_class: str
    summary: str
    description: str
    fix: str
    match: Matcher
    message: str
    source: str  # file the rule came from
    why: str = ""
    example: str = ""
    references: Tuple[str, ...] = ()
    formats: Tuple[str, ...] = ("fp16", "bf16")
    applies_to: Tuple[str, ...] = ("onnx", "mnn")
    tolerances: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    let: List[Tuple[str, Expression]] = field(default_factory=list)
    estimate_value: Optional[Expression] = None
    estimate_storage: Optional[Expression] = None  # error with storage in the format but fp32 arithmetic
    saturation_sensitive: bool = False  # its estimate or levels read `saturating`: an 'fp16-sat' variant is kept
    estimate_unit: str = ""
    estimate_quantity: str = ""
    levels: List[Tuple[str, Expression]] = field(default_factory=list)
    unknown_level: str = "none"
    evidence: Tuple[str, ...] = ()
    assumptions: List[ConditionalText] = field(default_factory=list)
    notes: List[ConditionalText] = field(default_factory=list)
    tests: List[Dict[str, Any]] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def anchor_ops(self) -> List[str]:
        return sorted((self.match.ops or frozenset()) | (self.match.source_ops or frozenset()))

    def default_tolerances(self) -> Dict[str, float]:
        return {k: float(v["default"]) for k, v in self.tolerances.items()}


@lru_cache(maxsize=1)
def _validator():
    import jsonschema  # lazy: only rule loading needs it

    schema_path = data_path("rule.schema.json")
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def builtin_rules_dir() -> Path:
    """The shipped rules: package data when installed, the repository's rules/ in a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for d in (here / "rules", here.parent / "rules"):  # installed; source checkout (no importlib.resources import)
        if (d / "__init__.py").is_file() and any(d.glob("*.yaml")):
            return d
    try:
        from importlib.resources import files  # an editable install that maps the package elsewhere

        d = files("precision_lint.rules")
        p = Path(str(d))
        if p.is_dir() and any(p.glob("*.yaml")):
            return p
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent.parent / "rules"


def rule_files(directory: Path) -> List[Path]:
    """The rule files of a rule directory, sorted."""
    return sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml")))


def load_rules(extra_dirs: Sequence[str] = (), builtin: bool = True) -> List[Rule]:
    """Built-in rules plus those in ``extra_dirs``; ids must be unique across all of them."""
    files: List[Path] = []
    if builtin:
        files += sorted(builtin_rules_dir().glob("*.yaml"))
    n_builtin = len(files)
    for d in extra_dirs:
        p = Path(d)
        if p.is_dir():
            found = rule_files(p)
            if not found:  # a directory of the wrong name or extension would lint with no rule of its own
                raise RuleError(f"{d}: no rule file (.yaml or .yml) found there")
            files += found
        elif os.path.lexists(p):  # a file; load_rule_file refuses what is not a regular one
            files.append(p)
        else:
            raise RuleError(f"{d}: rule directory not found")
    rules: List[Rule] = []
    seen: Dict[str, str] = {}
    names: Dict[str, str] = {}
    loaded = set()  # one file named twice (rule_dirs in the config and --rules, a file and its directory) is read once
    for i, f in enumerate(files):
        if os.path.realpath(f) in loaded:
            continue
        loaded.add(os.path.realpath(f))
        # The shipped rules are validated against the schema by the test suite; skipping jsonschema for them keeps
        # its import (~0.1 s) and the validation off every run.  Rule files from elsewhere are always validated.
        for rule in load_rule_file(f, validate=i >= n_builtin, shipped=i < n_builtin):
            if rule.id in seen:
                raise RuleError(f"{f}: rule {rule.id}: id already defined in {seen[rule.id]}")
            if rule.name in names:  # names select rules too: two rules with one name are ambiguous
                raise RuleError(f"{f}: rule {rule.id}: name {rule.name!r} is already rule {names[rule.name]}'s")
            seen[rule.id] = str(f)
            names[rule.name] = f"{rule.id} ({f})"
            rules.append(rule)
    return sorted(rules, key=lambda r: r.id)


def load_rule_file(path: Path, validate: bool = True, shipped: bool = False) -> List[Rule]:
    """``shipped``: a rule file of the package (read with libyaml without the untrusted-input bounds; the tests
    load every shipped file with them)."""
    from ..workflow.files import read_user_text

    text = read_user_text(str(path), "rule file", RuleError, MAX_RULE_FILE_BYTES)
    docs = _parse_rule_yaml(text, path, shipped)
    if docs is None:
        raise RuleError(f"{path}: empty rule file")
    docs = docs if isinstance(docs, list) else [docs]
    return [parse_rule(doc, str(path), validate) for doc in docs]


def _parse_rule_yaml(text: str, path: Path, shipped: bool) -> Any:
    """The YAML documents of a rule file (a shipped one from safe_yaml's cache of the package's YAML)."""
    from .. import safe_yaml

    try:
        return _safe_load_bounded(text, path, shipped)
    except safe_yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise RuleError(f"{path}: invalid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise RuleError(f"{path}: YAML nests too deeply (at most {MAX_RULE_DEPTH} levels)") from None


def _safe_load_bounded(text: str, path: Path, shipped: bool = False) -> Any:
    """yaml.safe_load with aliases, nesting and alias cycles bounded (see safe_yaml)."""
    from .. import safe_yaml

    return safe_yaml.load(text, str(path), RuleError, MAX_RULE_NODES, MAX_RULE_DEPTH, shipped=shipped)


def parse_rule(doc: Any, source: str, validate: bool = True) -> Rule:
    rid = doc.get("id", "?") if isinstance(doc, dict) else "?"
    where = f"{source}: rule {rid}"
    if not isinstance(doc, dict):
        raise RuleError(f"{where}: a rule must be a mapping, not {type(doc).__name__}")
    if not validate:
        try:
            return _build(doc, source)
        except ExprError as exc:
            raise RuleError(f"{where}: {exc}") from None
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            pass  # malformed after all: the schema says exactly where
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = _best_error(errors)
        field_path = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise RuleError(f"{where}: field {field_path}: {_short(e.message)}")
    try:
        return _build(doc, source)
    except ExprError as exc:
        raise RuleError(f"{where}: {exc}") from None


def _best_error(errors):
    import jsonschema

    return jsonschema.exceptions.best_match(errors)


def _short(msg: str) -> str:
    return msg if len(msg) < 300 else msg[:297] + "..."


def _ops(value: Any) -> Optional[frozenset]:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)


def _expr(value: Any, field_path: str) -> Expression:
    try:
        return Expression(value, FUNCTIONS)
    except ExprError as exc:
        raise ExprError(f"field {field_path}: {exc}") from None


def _matcher(doc: Mapping[str, Any], path: str) -> Matcher:
    check_ops(_ops(doc.get("op")), f"{path}.op")
    check_ops(_ops(doc.get("through")), f"{path}.through")
    m = Matcher(
        ops=_ops(doc.get("op")),
        source_ops=_ops(doc.get("source_op")),
        bind=doc.get("as"),
        input=doc.get("input"),
        depth=doc.get("depth", DEFAULT_DEPTH),
        through=_ops(doc.get("through")),
    )
    if "where" in doc:
        m.where = _expr(doc["where"], f"{path}.where")
    for rel in RELATIONS:
        if rel in doc:
            m.relations.append((rel, _matcher(doc[rel], f"{path}.{rel}")))
    m.all = [_matcher(d, f"{path}.all.{i}") for i, d in enumerate(doc.get("all", ()))]
    m.any = [_matcher(d, f"{path}.any.{i}") for i, d in enumerate(doc.get("any", ()))]
    if "not" in doc:
        m.not_ = _matcher(doc["not"], f"{path}.not")
    return m


def _build(doc: Dict[str, Any], source: str) -> Rule:
    match = _matcher(doc["match"], "match")
    rule = Rule(
        id=doc["id"],
        name=doc["name"],
        failure_class=doc["class"],
        summary=doc["summary"].strip(),
        description=doc["description"].strip(),
        fix=doc["fix"].strip(),
        match=match,
        message=doc["message"].strip(),
        source=source,
        why=doc.get("why", "").strip(),
        example=doc.get("example", "").rstrip(),
        references=tuple(doc.get("references", ())),
        formats=tuple(doc.get("formats", ("fp16", "bf16"))),
        applies_to=tuple(doc.get("applies_to", ("onnx", "mnn"))),
        tolerances=dict(doc.get("tolerances", {})),
        tests=list(doc["tests"]),
        raw=doc,
    )
    bound = check_bound_names(match)
    # `known`: what match, let, assumptions and notes may read; estimates add the format, levels the estimate.
    known = set(MATCH_NAMES) | set(bound)

    def _check_names(e: Expression, names: Iterable[str], field_path: str) -> None:
        check_expression(e, names, field_path, rule.tolerances, match.bound_names())

    for name, text in (doc.get("let") or {}).items():
        if name in BUILTIN_NAMES | ESTIMATE_NAMES:  # the runner sets these itself: the let's value would be lost
            raise ExprError(f"field let.{name}: {name!r} is a built-in name; choose another")
        if name in bound:
            raise ExprError(f"field let.{name}: {name!r} is bound by the match ({bound[name]}); choose another")
        e = _expr(text, f"let.{name}")
        _check_names(e, known, f"let.{name}")
        rule.let.append((name, e))
        known.add(name)
    check_names_in_matcher(match, known, "match", rule.tolerances)
    if "estimate" in doc:
        rule.estimate_value = _expr(doc["estimate"]["value"], "estimate.value")
        _check_names(rule.estimate_value, known | FORMAT_NAMES, "estimate.value")
        if "storage_value" in doc["estimate"]:
            rule.estimate_storage = _expr(doc["estimate"]["storage_value"], "estimate.storage_value")
            _check_names(rule.estimate_storage, known | FORMAT_NAMES, "estimate.storage_value")
        rule.estimate_unit = doc["estimate"]["unit"]
        rule.estimate_quantity = doc["estimate"].get("quantity", "")
    for lvl in ("error", "warning", "info"):
        if lvl in doc.get("level", {}):
            e = _expr(doc["level"][lvl], f"level.{lvl}")
            _check_names(e, known | FORMAT_NAMES | LEVEL_NAMES, f"level.{lvl}")
            rule.levels.append((lvl, e))
    if not rule.levels:
        rule.levels.append(("warning", _expr("true", "level")))
    rule.unknown_level = doc.get("level", {}).get("unknown", "none")
    exprs = [e for _, e in rule.levels] + [e for e in (rule.estimate_value,) if e is not None]
    rule.saturation_sensitive = any("saturating" in e.names for e in exprs)
    rule.evidence = tuple(doc.get("evidence", ()))
    for name in rule.evidence:
        if name not in known:
            raise ExprError(f"field evidence: {name!r} is not a let name")
    # Assumptions are decided (and rendered) before the estimates, which they cap; notes and the message after.
    rendered = known | RENDER_NAMES
    for key in ("assumptions", "notes"):
        for i, item in enumerate(doc.get(key, ())):
            when = _expr(item["when"], f"{key}.{i}.when") if "when" in item else None
            if when is not None:
                _check_names(when, known if key == "assumptions" else rendered, f"{key}.{i}.when")
            names = rendered - {"err_fp16", "err_bf16"} if key == "assumptions" else rendered
            check_template(item["text"], names, f"{key}.{i}.text")
            getattr(rule, key).append(ConditionalText(when, item["text"].strip()))
    template_names = rendered
    check_template(rule.message, template_names, "message")
    per_finding = (
        [e for _, e in rule.let]
        + [e for _, e in rule.levels]
        + [e for e in (rule.estimate_value, rule.estimate_storage) if e is not None]
        + [c.when for c in rule.assumptions + rule.notes if c.when is not None]
    )
    size = sum(e.size for e in per_finding)
    if size > MAX_FINDING_EXPRESSION_NODES:
        raise ExprError(
            f"its expressions are too large ({size} syntax nodes in let, estimate, level and when; "
            f"at most {MAX_FINDING_EXPRESSION_NODES})"
        )
    return rule

"""Rule selectors: a rule id (``C001``), an id prefix (``C``, ``C0``) or a rule name (``gridsample-coordinates``).

Every place that matches rules by selector (select/ignore, level overrides, per-path ignores, suppressions, SARIF's
default levels, which rules run) uses these functions, so one precedence holds everywhere: the most specific selector wins
(an exact id or name beats every prefix, a longer prefix beats a shorter one), as in ruff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence

from ..errors import RuleError

if TYPE_CHECKING:
    from ..engine.rules import Rule

EXACT = 1000  # an id or name: more specific than any prefix


def specificity(rule_id: str, rule_name: str, selector: str) -> int:
    """0 when ``selector`` does not name the rule; otherwise how specifically it does."""
    if selector == rule_id or (rule_name and selector == rule_name):
        return EXACT
    if selector and rule_id.startswith(selector):
        return len(selector)
    return 0


def matches(rule_id: str, rule_name: str, selectors: Iterable[str]) -> bool:
    return any(specificity(rule_id, rule_name, s) for s in selectors)


def most_specific(rule_id: str, rule_name: str, selectors: Iterable[str]) -> Optional[str]:
    """The selector that names the rule most specifically (None when none does); ties go to the first given."""
    best, best_score = None, 0
    for s in selectors:
        score = specificity(rule_id, rule_name, s)
        if score > best_score:
            best, best_score = s, score
    return best


def is_selected(rule: Rule, select: Sequence[str] = (), ignore: Sequence[str] = ()) -> bool:
    """``select`` empty selects every rule.  When both lists name the rule, the more specific one wins
    (``--select C001 --ignore C`` keeps C001; ``--select C --ignore C001`` drops it); on a tie, ignore wins."""
    chosen = max((specificity(rule.id, rule.name, p) for p in select), default=0) if select else 1
    if chosen == 0:
        return False
    ignored = max((specificity(rule.id, rule.name, p) for p in ignore), default=0)
    return ignored < chosen if select else ignored == 0


def select_rules(rules: Sequence[Rule], select: Sequence[str] = (), ignore: Sequence[str] = ()) -> List[Rule]:
    """ruff-style selection by id, id prefix (``C`` selects every coordinate rule) or rule name."""
    return [r for r in rules if is_selected(r, select, ignore)]


def check_rule_ids(rules: Sequence[Rule], patterns: Sequence[str], where: str) -> None:
    """Unknown rule ids or prefixes are errors, not silent no-ops."""
    for p in patterns:
        if not any(matches(r.id, r.name, (p,)) for r in rules):
            raise RuleError(f"{where}: unknown rule id or prefix {p!r}")

"""Rule selectors: a rule id (``C001``), an id prefix (``C``, ``C0``) or a rule name (``gridsample-coordinates``).

Every place that matches rules by selector (select/ignore, level overrides, per-path ignores, suppressions, SARIF's
default levels) uses these two functions, so one precedence holds everywhere: the most specific selector wins
(an exact id or name beats every prefix, a longer prefix beats a shorter one), as in ruff."""
from __future__ import annotations

from typing import Iterable, Optional

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

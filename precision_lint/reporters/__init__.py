"""Reporters turn lint results into text, JSON, SARIF, Markdown, HTML...  They never analyse anything.

Each reporter has the flake8 formatter life: ``start()``, ``file(result)`` per model, ``stop(summary)``.
They are looked up by name and imported lazily, so `--format text` never imports the SARIF code.
"""

from __future__ import annotations

import importlib
from typing import Dict, Tuple

# name -> (module, class)
REPORTERS: Dict[str, Tuple[str, str]] = {
    "text": ("precision_lint.reporters.text", "TextReporter"),
    "json": ("precision_lint.reporters.json_reporter", "JsonReporter"),
    "sarif": ("precision_lint.reporters.sarif", "SarifReporter"),
    "github": ("precision_lint.reporters.github", "GithubReporter"),
    "junit": ("precision_lint.reporters.junit", "JunitReporter"),
    "gitlab": ("precision_lint.reporters.gitlab", "GitlabReporter"),
    "markdown": ("precision_lint.reporters.markdown", "MarkdownReporter"),
    "html": ("precision_lint.reporters.html", "HtmlReporter"),
}


def get_reporter(name: str):
    try:
        module, cls = REPORTERS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r} (known: {', '.join(sorted(REPORTERS))})") from None
    return getattr(importlib.import_module(module), cls)

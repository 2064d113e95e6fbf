"""Which files a run lints: explicit paths as given, directories walked for models, globs expanded."""
from __future__ import annotations

import glob
import os
from typing import Iterable, List

from .loaders import MODEL_EXTENSIONS

_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox"}


def collect(paths: Iterable[str]) -> List[str]:
    """Explicit files are linted whatever their extension (the content decides the format); directories
    contribute their .onnx/.mnn files, sorted; a pattern with no match is kept so the user hears about it."""
    out: List[str] = []
    seen = set()

    def add(p: str) -> None:
        key = os.path.normpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                for name in sorted(files):
                    if name.lower().endswith(MODEL_EXTENSIONS):
                        add(os.path.join(root, name))
        elif not os.path.exists(p) and any(ch in p for ch in "*?["):
            matches = sorted(glob.glob(p, recursive=True))
            for m in matches:
                if os.path.isfile(m):
                    add(m)
            if not matches:
                add(p)
        else:
            add(p)
    return out

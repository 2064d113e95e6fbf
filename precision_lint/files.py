"""Which files a run lints: explicit paths as given, directories walked for models, globs expanded."""
from __future__ import annotations

import glob
import os
from typing import Callable, Iterable, List, Optional

from .loaders import MODEL_EXTENSIONS

_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox"}


def collect(paths: Iterable[str], on_error: Optional[Callable[[str, OSError], None]] = None) -> List[str]:
    """Explicit files are linted whatever their extension (the content decides the format); directories
    contribute their .onnx/.mnn files, sorted; a pattern with no match is kept so the user hears about it.
    ``on_error(directory, exc)`` hears about a directory that cannot be listed (the walk goes on without it)."""
    out: List[str] = []
    seen = set()

    def add(p: str) -> None:
        key = os.path.normpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for p in paths:
        if os.path.isdir(p):
            for f in _walk(p, on_error):
                add(f)
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


def _walk(top: str, on_error: Optional[Callable[[str, OSError], None]]) -> Iterable[str]:
    """Model files under ``top`` in os.walk's top-down order (a directory's files, then its subdirectories by
    name), with an explicit stack: a tree 1,500 levels deep is walked, not a RecursionError.  Symlinked directories
    are not entered (as os.walk does not)."""
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError as exc:
            if on_error is not None:
                on_error(d, exc)
            continue
        files, dirs = [], []
        for e in entries:
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                if e.name.lower().endswith(MODEL_EXTENSIONS):
                    files.append(e.name)
            elif e.name not in _SKIP_DIRS and not e.is_symlink():
                dirs.append(e.name)
        for name in sorted(files):
            yield os.path.join(d, name)
        stack.extend(os.path.join(d, name) for name in sorted(dirs, reverse=True))

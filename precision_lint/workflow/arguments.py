"""What the command line's MODEL arguments stand for: model files, directories and globs (files.collect), a
configuration file (the models it governs: how the pre-commit hook re-lints when only the configuration changed),
and ``-`` (a model read from standard input)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Dict, List, Optional

from ..errors import ModelLoadError

CONFIG_NAMES = (".precision-lint.yaml", ".precision-lint.yml", "pyproject.toml")
STDIN = "-"
MAX_STDIN_BYTES = 4 << 30  # a model on stdin is held in a temporary file; more than this is refused, not read on


@dataclass
class Inputs:
    paths: List[str] = field(default_factory=list)  # what to lint, in argument order, each once
    empty: List[str] = field(default_factory=list)  # directories and globs that hold no model file
    display: Dict[str, str] = field(default_factory=dict)  # temporary path -> the name to report (stdin)
    tmpdir: Optional[str] = None

    def cleanup(self) -> None:
        if self.tmpdir is not None:
            import shutil

            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def is_config_file(arg: str) -> bool:
    return os.path.basename(arg) in CONFIG_NAMES and os.path.isfile(arg)


def _configures_precision_lint(path: str) -> bool:
    """A pyproject.toml counts only with a [tool.precision-lint] table (any other change to it lints nothing)."""
    if os.path.basename(path) != "pyproject.toml":
        return True
    from pathlib import Path

    from .config import has_tool_table

    return has_tool_table(Path(path))  # parsed, not searched: a comment naming the table is not the table


def resolve(
    args: List[str],
    stdin: Optional[BinaryIO] = None,
    stdin_filename: Optional[str] = None,
    on_error: Optional[Callable[[str, OSError], None]] = None,
) -> Inputs:
    """``on_error(directory, exc)`` hears about a directory the walk cannot list (see files.collect)."""
    from .files import collect

    out = Inputs()
    seen = set()

    def add(p: str) -> None:
        key = os.path.normpath(p)
        if key not in seen:
            seen.add(key)
            out.paths.append(p)

    for arg in args:
        if arg == STDIN:
            if STDIN not in out.display.values():
                add(_stdin_to_file(out, stdin, stdin_filename))
            continue
        if is_config_file(arg):
            if _configures_precision_lint(arg):
                for p in collect([os.path.dirname(arg) or "."], on_error):
                    add(p)
            continue
        found = collect([arg], on_error)
        if not found:
            out.empty.append(arg)
        for p in found:
            add(p)
    return out


def _stdin_to_file(out: Inputs, stdin: Optional[BinaryIO], name: Optional[str]) -> str:
    """Stdin's bytes into a temporary file (the loaders read files, ONNX's external data included); the content,
    not the name, decides ONNX or MNN, as for any file.  The report names it ``name`` or ``-``."""
    import sys

    stream = stdin if stdin is not None else sys.stdin.buffer
    if out.tmpdir is None:
        import tempfile  # only for a model read from stdin (with shutil, bz2, lzma and random: 4 ms of start-up)

        out.tmpdir = tempfile.mkdtemp(prefix="precision-lint-stdin-")
    ext = os.path.splitext(name or "")[1].lower()
    path = os.path.join(out.tmpdir, "stdin" + (ext if ext in (".onnx", ".mnn") else ".model"))
    total = 0
    with open(path, "wb") as fh:
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_STDIN_BYTES:
                raise ModelLoadError(
                    f"{name or STDIN}: more than {MAX_STDIN_BYTES >> 30} GiB on standard input; not read"
                )
            fh.write(chunk)
    out.display[path] = name or STDIN
    return path

"""Which files a run lints (explicit paths as given, directories walked for models, globs expanded), and how the
user's other files (configuration, rule files, baselines, platform tables) are read."""

from __future__ import annotations

import glob
import os
import stat
from typing import Callable, Iterable, List, Optional

from ..errors import ConfigError

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


MAX_USER_FILE_BYTES = 1 << 20  # configuration, rule, baseline and platform files are text of a few KiB


def read_user_bytes(
    path: str,
    what: str,
    error: Callable[[str], Exception] = ConfigError,
    limit: int = MAX_USER_FILE_BYTES,
    shown: str = "",
) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; anything else is ``error(one line)``
    naming the file (``shown``, default ``path``) and what it should have been (``what``: "baseline file").

    A FIFO would block the run and ``/dev/zero`` (or a symlink to it) would be read until memory runs out: the file
    is opened without blocking, checked to be regular on the open descriptor (no race with a swap), and read no
    further than the limit whatever its size claims."""
    shown = shown or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise error(f"{shown}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{shown}: is a directory, not a {what}") from None
    except OSError as exc:
        raise error(f"{shown}: cannot read {what}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{shown}: is a directory, not a {what}")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{shown}: {what} is not a regular file (a device, pipe or socket); not read")
        if st.st_size > limit:
            raise error(f"{shown}: {what} is {st.st_size} bytes, larger than the {limit} allowed")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew while read
            raise error(f"{shown}: {what} is larger than the {limit} bytes allowed")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{shown}: cannot read {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_user_text(
    path: str,
    what: str,
    error: Callable[[str], Exception] = ConfigError,
    limit: int = MAX_USER_FILE_BYTES,
    shown: str = "",
) -> str:
    """:func:`read_user_bytes` decoded as UTF-8 (a BOM is dropped); bytes that are not UTF-8 are one line."""
    data = read_user_bytes(path, what, error, limit, shown)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{shown or path}: {what} is not UTF-8 text (byte {exc.start})") from None


_LONG_NUMBER = None


def value_problem(text: str, exc: ValueError) -> str:
    """What a parser's ValueError (not a syntax error) means, for a one-line message: Python refuses to convert
    integers of more than a few thousand digits (int_max_str_digits), which YAML, JSON and TOML files can hold."""
    import re
    import sys

    global _LONG_NUMBER
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    if limit:
        if _LONG_NUMBER is None:
            _LONG_NUMBER = re.compile(r"\d{%d,}" % (limit + 1))
        if _LONG_NUMBER.search(text):
            return f"holds a number with more than {limit} digits"
    return f"holds a value that cannot be read ({(str(exc).splitlines() or [''])[0][:120]})"


MAX_INT_BITS = 64


def check_numbers(doc, where: str, error: Callable[[str], Exception]) -> None:
    """Refuse an integer beyond 64 bits anywhere in a parsed document: no setting, id or count needs one, and a
    4000-digit number (below Python's conversion limit) ends in an OverflowError wherever it is used as a float."""
    todo, seen = [doc], set()
    while todo:
        v = todo.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            if v.bit_length() > MAX_INT_BITS:
                raise error(f"{where}: holds an integer beyond {MAX_INT_BITS} bits ({v.bit_length()} bits)")
        elif isinstance(v, (dict, list, tuple)):
            if id(v) in seen:  # YAML aliases share objects: visit each once
                continue
            seen.add(id(v))
            todo.extend(v.keys() if isinstance(v, dict) else ())
            todo.extend(v.values() if isinstance(v, dict) else v)


def check_output_path(path: str, what: str, root: str) -> None:
    """Refuse to write ``path`` (``what``: "report", "baseline") when a symlink on the way takes it out of the
    project ``root``: a repository that plants ``report.json -> ~/.bashrc`` must not have CI overwrite the target.
    A path the user names outside the project is theirs to write; devices and pipes (``/dev/stdout``) are fine."""
    lexical = os.path.abspath(path)
    real = os.path.realpath(path)
    if _inside(lexical, root) and not _inside(real, root):
        try:
            st = os.stat(real)
        except OSError:
            st = None
        if st is None or stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            raise ConfigError(
                f"{path}: is a symlink (or under one) that leads outside the project "
                f"{root}; the {what} is not written through it"
            )


def _inside(path: str, root: str) -> bool:
    root = os.path.realpath(root)
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # another drive on Windows
        return False


class ReportFile:
    """The ``-o`` file.  A write that fails (``/dev/full``, a disk that fills up) is kept as ``problem`` instead of
    raised, so the run ends normally (the terminal summary still prints) and the CLI reports one line."""

    def __init__(self, path: str, errors: str = "strict"):
        self.path = path
        self.problem = ""
        try:
            self._fh = open(path, "w", encoding="utf-8", errors=errors, newline="\n")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write the report: {exc.strerror or exc}") from None

    def _guard(self, action, *args):
        if self.problem:
            return None
        try:
            return action(*args)
        except OSError as exc:
            self.problem = f"{self.path}: cannot write the report: {exc.strerror or exc}"
            return None

    def write(self, text: str) -> None:
        self._guard(self._fh.write, text)

    def flush(self) -> None:
        self._guard(self._fh.flush)

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        self._guard(self._fh.close)
        if not self._fh.closed:  # close failed on flushing: drop the buffer
            try:
                self._fh.close()
            except OSError:
                pass


def _walk(top: str, on_error: Optional[Callable[[str, OSError], None]]) -> Iterable[str]:
    """Model files under ``top`` in os.walk's top-down order (a directory's files, then its subdirectories by
    name), with an explicit stack: a tree 1,500 levels deep is walked, not a RecursionError.  Symlinked directories
    are not entered (as os.walk does not)."""
    from ..model.loaders import MODEL_EXTENSIONS

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

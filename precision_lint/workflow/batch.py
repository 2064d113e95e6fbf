"""Linting many files: in parallel where it pays, results always in input order, with a progress line on a TTY.

When to go parallel is decided by measurement, not guessed from file sizes: lint cost depends on both the weight
bytes and the operator count (a 150 KB ONNX file with 3,000 operators takes as long as a 40 MB one with ten).
So an automatic run lints in this process and, once the files done so far predict that the rest needs at least
``PARALLEL_MIN_REMAINING`` seconds, hands the rest to a pool of worker processes.  Measured on the 2-core machine
this project is developed on: a worker costs about 0.5 s to import and 0.2 s to load the rules, and two workers
win from about 1.5 s of remaining single-process work on (details in docs/integrations.md).  Output does not depend
on where a file was linted: results are yielded in input order either way.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Dict, Iterator, List, Optional, Sequence

from ..api import Linter, LintResult, Options

PARALLEL_MIN_FILES = 3  # fewer files than this never start workers
PARALLEL_MIN_REMAINING = 2.0  # seconds of predicted single-process work left before workers pay
PARALLEL_CHECK_AFTER = 0.5  # seconds: how long to measure before predicting

_WORKER: Optional[Linter] = None
_PRELOAD = ["precision_lint.api", "precision_lint.engine.runner", "precision_lint.model.loaders"]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _init_worker(options: Options) -> None:
    global _WORKER
    _WORKER = Linter(options)


def _lint_in_worker(path: str) -> LintResult:
    assert _WORKER is not None
    return _WORKER.lint_file(path)


def lint_paths(
    linter: Linter, paths: Sequence[str], jobs: Optional[int] = 1, names: Optional[Dict[str, str]] = None
) -> Iterator[LintResult]:
    """Lint ``paths`` and yield their results in the order given.

    ``jobs``: 1 (or 0) lints in this process; N > 1 uses N worker processes; None decides from the run itself
    (the CLI's default).  Worker processes start with ``forkserver`` (``spawn`` where there is none), so a script
    that calls this with ``jobs`` other than 1 needs the usual ``if __name__ == "__main__":`` guard.
    """
    paths = list(paths)
    if names:  # models reported under another name (stdin) are linted here, in order
        for p in paths:
            yield linter.lint_file(p, names.get(p))
        return
    if jobs is not None and jobs > 1:
        yield from _pool(linter, paths, jobs)
        return
    if jobs is not None or cpu_count() < 2 or len(paths) < PARALLEL_MIN_FILES:
        for p in paths:
            yield linter.lint_file(p)
        return
    start = time.monotonic()
    for i, p in enumerate(paths):
        yield linter.lint_file(p)
        done, left = i + 1, len(paths) - i - 1
        elapsed = time.monotonic() - start
        if left >= 2 and elapsed >= PARALLEL_CHECK_AFTER and elapsed / done * left >= PARALLEL_MIN_REMAINING:
            yield from _pool(linter, paths[done:], min(cpu_count(), left))
            return


def _pool(linter: Linter, paths: List[str], jobs: int) -> Iterator[LintResult]:
    import multiprocessing  # only when workers start: its import costs a tenth of a small lint's start-up
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(_PRELOAD)  # workers fork from a server that has imported these once
    done = 0
    try:
        with ProcessPoolExecutor(
            max_workers=min(jobs, len(paths)), mp_context=ctx, initializer=_init_worker, initargs=(linter.options,)
        ) as pool:
            # map keeps the input order; chunks of one spread uneven model sizes across the workers
            for result in pool.map(_lint_in_worker, paths, chunksize=1):
                done += 1
                yield result
    except (BrokenProcessPool, OSError):
        # workers could not start (an unguarded __main__, no /dev/shm...): finish in this process
        for p in paths[done:]:
            yield linter.lint_file(p)


class Progress:
    """``[ 12/340] models/foo.onnx`` on one stderr line, redrawn in place; cleared before other output."""

    def __init__(self, total: int, stream: Optional[IO[str]] = None, min_interval: float = 0.1, delay: float = 0.0):
        self.total = total
        self.stream = sys.stderr if stream is None else stream  # at call time: a host may replace sys.stderr
        self.done = 0
        self.min_interval = min_interval
        self._start = time.monotonic()
        self._delay = delay  # a run that ends sooner never shows the line (no flicker for short runs)
        self._last = 0.0
        self._shown = False

    @staticmethod
    def wanted(choice: Optional[bool], total: int, stream: Optional[IO[str]] = None) -> bool:
        if choice is not None:
            return choice
        stream = sys.stderr if stream is None else stream
        if total < 2 or os.environ.get("PRE_COMMIT") or os.environ.get("CI"):
            return False  # pre-commit gives hooks a pty but shows their output afterwards
        return hasattr(stream, "isatty") and stream.isatty() and os.environ.get("TERM") != "dumb"

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = False

    def advance(self, path: str) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self._start < self._delay:
            return
        if self.done < self.total and now - self._last < self.min_interval:
            return
        self._last = now
        width = len(str(self.total))
        from ..reporters.escape import visible

        path = visible(path)
        name = path if len(path) <= 60 else "..." + path[-57:]
        self.stream.write(f"\r\033[K[{self.done:>{width}}/{self.total}] {name}")
        self.stream.flush()
        self._shown = True

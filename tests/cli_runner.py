"""Run the CLI in this process, with click's test runner, for tests where the process boundary is not the point.

A fresh ``python -m precision_lint`` costs a second or more per call in the test suite (interpreter, numpy, and
onnx with ml_dtypes when a model lacks stored shapes); the suite made hundreds.  ``run_cli`` calls the same entry
point (``precision_lint.cli.commands.main``: the one-line errors, the exit codes) with stdout and stderr captured
separately, in ``cwd`` and with ``env`` set for the call, and returns what ``subprocess.run`` would: an exception
that escapes ``main`` is printed to the captured stderr as a traceback and exits 1, as the interpreter would.

Tests of what a process does (imports, file descriptor 1, signals, the installed console script) keep using
subprocesses: tests/test_no_side_effects.py, tests/test_startup.py, tests/test_precommit.py, the snippet runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from typing import Mapping, Optional

from click.testing import CliRunner


def run_cli(*args, cwd=None, env: Optional[Mapping[str, str]] = None, input=None) -> subprocess.CompletedProcess:
    from precision_lint.cli.commands import main

    argv = [os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args]
    runner = CliRunner()
    overrides = None
    if env is not None:  # the whole environment, as subprocess.run(env=...) gives it
        overrides = {k: None for k in os.environ if k not in env}
        overrides.update(env)
    old_cwd = os.getcwd()
    with runner.isolation(input=input, env=overrides) as (out, err, _mixed):
        code = 0
        try:
            if cwd is not None:
                os.chdir(cwd)
            main(argv)
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        except BaseException:  # noqa: BLE001 - what the interpreter would do with it
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            os.chdir(old_cwd)
            sys.stdout.flush()
            sys.stderr.flush()
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return subprocess.CompletedProcess(["precision-lint", *argv], code, stdout, stderr)

"""GitHub Actions workflow commands: one annotation per finding, shown on the run and the pull request.

    ::error file=models/warp.onnx,title=C001 gridsample-coordinates (node warp_sample)::GridSample reads ...

Levels map to ``error``, ``warning`` and ``notice``.  Escaping follows the runner's rules: in the message ``%``,
``\\r`` and ``\\n`` become ``%25``, ``%0D`` and ``%0A``; in properties ``:`` and ``,`` are escaped too (``%3A``,
``%2C``); every other control character is shown as an escape (``\\x1b``).  Paths are relative to the repository root, which is what the runner resolves ``file=`` against.
"""

from __future__ import annotations

from .base import Reporter, RunSummary, report_path
from .escape import visible

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    """The runner's escapes, then every other control character made visible (ANSI codes in a node name)."""
    return visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **props: str) -> str:
    p = ",".join(f"{k}={escape_property(v)}" for k, v in props.items() if v is not None)
    return f"::{kind}{' ' + p if p else ''}::{escape_data(message)}"


class GithubReporter(Reporter):
    def file(self, result) -> None:
        super().file(result)
        root = self.options.get("root") or "."
        path = report_path(result.path, root)
        if result.error is not None:
            self.write(command("error", result.error.message, file=path, title="precision-lint: unreadable model"))
            return
        for f in result.reported:
            where = f"node '{f.node}'" + (f" in {f.scope}" if f.scope else "")
            message = f"{where} ({f.op}): {f.message}" + (f"\nFix: {' '.join(f.fix.split())}" if f.fix else "")
            self.write(
                command(COMMAND[f.level], message, file=path, line="1", title=f"{f.rule_id} {f.rule_name} ({f.node})")
            )

    def stop(self, summary: RunSummary) -> None:
        for s in summary.unused_suppressions:
            self.write(
                command(
                    "warning",
                    f"suppression ({s.describe()}) matched no finding",
                    title=f"precision-lint: unused suppression {s.origin}",
                )
            )

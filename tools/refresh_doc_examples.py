"""Re-run every documented `$ precision-lint ...` example (README.md, docs/platforms.md, docs/integrations.md) and
write what it prints now under it.  tests/test_usability.py fails while an example is stale; review the diff.

    python tools/refresh_doc_examples.py"""

import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = re.compile(r"^```\n\$ (precision-lint [^\n;|]*)\n((?:(?!```)[^\n]*\n)*?)```", re.M)


def refresh(name: str) -> int:
    path = os.path.join(ROOT, name)
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    changed = 0

    def rerun(m):
        nonlocal changed
        proc = subprocess.run(
            [sys.executable, "-m", "precision_lint", *shlex.split(m.group(1))[1:]],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT),
        )
        changed += proc.stdout != m.group(2)
        return f"```\n$ {m.group(1)}\n{proc.stdout}```"

    new = EXAMPLE.sub(rerun, text)
    if new != text:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(new)
    return changed


if __name__ == "__main__":
    for doc in ("README.md", "docs/platforms.md", "docs/integrations.md"):
        print(f"{doc}: {refresh(doc)} example(s) updated")

#!/usr/bin/env python3
"""Precompute the estimator series the shipped rules use into precision_lint/data/estimates.json.

The sum and dot-product estimators simulate fp16 accumulation at every power of two up to 2**21 terms.  At lint
time a small simulation budget keeps each call to milliseconds; this table holds the same series simulated with a
64 times larger budget (more rows, a steadier RMS), so the shipped rules get the accurate values instantly.  The
simulations are seeded: rerunning gives the same file.  tests/test_estimators.py checks the table against fresh
simulations.

    python tools/gen_estimator_tables.py
"""

import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from precision_lint.numerics import accumulation as numerics  # noqa: E402


def main() -> int:
    t = time.time()
    tables = numerics.build_tables()
    with open(numerics._TABLE_PATH, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(tables, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(f"wrote {numerics._TABLE_PATH} in {time.time() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

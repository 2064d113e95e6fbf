"""Where a lint's time goes, per operator: each phase of ``Linter.lint_file`` timed on its own in one process.

    python benchmarks/phases.py MODEL [--repeat 3]

CPU seconds, best of ``--repeat``, with the cyclic garbage collector paused as ``Linter.lint_file`` pauses it.
The phases overlap (the rules compute the value ranges and the constants' statistics themselves on a fresh
graph); each row is what that phase costs from a freshly loaded graph, so they do not add up.  docs/performance.md
puts these beside the floor of benchmarks/floor.py.
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Callable, Dict, List


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from precision_lint.api import Linter
    from precision_lint.engine import constants
    from precision_lint.engine.bounds import Bounds
    from precision_lint.model.loaders import load_model

    linter = Linter()
    times: Dict[str, List[float]] = {}

    def timed(label: str, run: Callable[..., object], *args: object) -> object:
        start = time.process_time()
        out = run(*args)
        times.setdefault(label, []).append(time.process_time() - start)
        return out

    def ranges(graph) -> None:
        bounds = Bounds(graph)
        for op in graph.operators():
            for name in op.outputs:
                if name:
                    bounds.bound(name)

    gc.disable()
    n_ops = 0
    for _ in range(args.repeat):
        graph = timed("load_model", load_model, args.model)
        n_ops = len(graph.ops)
        timed("constant statistics", lambda g: [constants.constant_stats(t) for t in g.tensors.values()], graph)
        timed("value ranges of every output (statistics known)", ranges, graph)
        timed("the rules (ranges and statistics included)", linter.runner.run, load_model(args.model))
        timed("Linter.lint_file", linter.lint_file, args.model)
    print(f"{args.model}: {n_ops} operators, best of {args.repeat}, CPU seconds")
    for label, values in times.items():
        best = min(values)
        print(f"{label:50s} {best:7.3f} s {best / n_ops * 1e6:7.1f} us per operator")


if __name__ == "__main__":
    main()

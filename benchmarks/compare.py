"""Before/after on fixed rules: load a model and run one rule directory on it, in this process, GC paused.

Prints load and rule CPU seconds, the findings count and the peak memory growth.  To compare with an older commit
(rules and code of that commit, run from outside the work tree so that its package is the one imported):

    git archive COMMIT | tar -x -C /tmp/before && ln -sfn ../rules /tmp/before/precision_lint/rules
    cd /tmp && PYTHONPATH=/tmp/before python /path/to/benchmarks/compare.py MODEL /tmp/before/rules
    cd /tmp && python /path/to/benchmarks/compare.py MODEL /tmp/before/rules
"""

import gc
import json
import sys
import time


def rss(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    path, rules_dir = sys.argv[1], sys.argv[2]
    import precision_lint
    from precision_lint.engine.rules import load_rules
    from precision_lint.engine.runner import RuleRunner
    from precision_lint.model.loaders import load_model

    runner = RuleRunner(load_rules([rules_dir], builtin=False))
    try:
        import onnx  # noqa: F401 - imported before the baseline, as the linter has it loaded after the first file
    except ImportError:
        pass
    gc.collect()
    base = rss("VmRSS")
    gc.disable()
    c = time.process_time()
    graph = load_model(path)
    load = time.process_time() - c
    c = time.process_time()
    findings, _ = runner.run(graph)
    rules = time.process_time() - c
    print(
        json.dumps(
            {
                "package": precision_lint.__file__,
                "load_cpu_s": round(load, 3),
                "rules_cpu_s": round(rules, 3),
                "findings": len(findings),
                "peak_growth_mb": round((rss("VmHWM") - base) / 1e6, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

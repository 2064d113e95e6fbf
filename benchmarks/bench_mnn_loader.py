"""Benchmark: precision-lint's MNN reader against MNN's own loader on a ~50 MB .mnn.

    /work/venv/bin/python benchmarks/bench_mnn_loader.py [--out DIR] [--repeat N]

Generates (once) an ONNX model with large conv and matmul weights and a few hundred small ops, converts it with
MNN's converter (the ``_tools`` extension; never MNN.tools) into DIR (default: a directory under the system temp
dir, never the repository), then times each loader in its own fresh process:

* ours: ``precision_lint.model.loaders.load_model`` (what ``precision-lint x.mnn`` does before running rules), and the
  same plus decoding every constant (the worst case, when rules read every value);
* MNN: ``MNN.expr.load_as_dict`` (MNN's Python view of a model).

Reported: best wall time of N runs, peak resident memory growth during the load (ru_maxrss) and, for ours, the
tracemalloc peak of Python allocations.  Ratios are ours / MNN.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# Runs in a fresh interpreter: imports first (not timed), then the load.
_CHILD = r"""
import json, os, resource, sys, time
kind, path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
if kind == "mnn":
    fd = os.dup(1); devnull = os.open(os.devnull, os.O_WRONLY); os.dup2(devnull, 1)
    import MNN.expr as F
    load = F.load_as_dict
else:
    sys.path.insert(0, sys.argv[4])
    from precision_lint.model.loaders import load_model
    if kind == "ours+values":
        def load(p):
            g = load_model(p)
            for t in g.tensors.values():
                t.value
            return g
    else:
        load = load_model
base = rss_mb()
times = []
for _ in range(repeat):
    t0 = time.perf_counter(); obj = load(path); times.append(time.perf_counter() - t0); del obj
peak = rss_mb() - base
result = {"best_s": min(times), "rss_growth_mb": peak}
if kind == "ours":
    import tracemalloc
    tracemalloc.start(); g = load(path); result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop(); result["operators"] = len(g)
if kind == "mnn":
    os.dup2(fd, 1)
print(json.dumps(result))
"""


def build_model(onnx_path: str) -> None:
    """~50 MB of weights: 7 3x3 convs (384 channels), 3 constant-weight MatMuls (1024x1024), 300 small ops."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []
    c = 384
    x = "image"
    for i in range(7):
        w = numpy_helper.from_array((rng.standard_normal((c, c, 3, 3)) * 0.02).astype(np.float32), f"conv{i}.w")
        b = numpy_helper.from_array(np.zeros(c, np.float32), f"conv{i}.b")
        inits += [w, b]
        nodes.append(helper.make_node("Conv", [x, w.name, b.name], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"))
        nodes.append(helper.make_node("Add", [f"r{i}", x], [f"res{i}"], name=f"res{i}"))
        x = f"res{i}"
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat"))
    pad = numpy_helper.from_array((rng.standard_normal((c, 1024)) * 0.02).astype(np.float32), "proj.w")
    inits.append(pad)
    nodes.append(helper.make_node("MatMul", ["flat", "proj.w"], ["h0"], name="proj"))
    h = "h0"
    for i in range(3):
        w = numpy_helper.from_array((rng.standard_normal((1024, 1024)) * 0.02).astype(np.float32), f"fc{i}.w")
        inits.append(w)
        nodes.append(helper.make_node("MatMul", [h, w.name], [f"m{i}"], name=f"fc{i}"))
        h = f"m{i}"
    for i in range(100):  # small ops: what the reader spends its per-op time on
        k = numpy_helper.from_array(np.full((1024,), 1.0 + i * 1e-3, np.float32), f"k{i}")
        inits.append(k)
        nodes.append(helper.make_node("Mul", [h, k.name], [f"s{i}"], name=f"scale{i}"))
        nodes.append(helper.make_node("Sigmoid", [f"s{i}"], [f"g{i}"], name=f"gate{i}"))
        nodes.append(helper.make_node("Mul", [h, f"g{i}"], [f"t{i}"], name=f"silu{i}"))
        h = f"t{i}"
    graph = helper.make_graph(
        nodes,
        "bench",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, c, 32, 32])],
        [helper.make_tensor_value_info(h, TensorProto.FLOAT, [1, 1024])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, onnx_path)


def ensure_model(out_dir: str) -> str:
    mnn_path = os.path.join(out_dir, "bench_50mb.mnn")
    if os.path.exists(mnn_path):
        return mnn_path
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "bench_50mb.onnx")
    build_model(onnx_path)
    sys.path.insert(0, os.path.join(REPO, "sample_models"))
    from build import convert_to_mnn  # the _tools extension, chatter kept off stdout

    convert_to_mnn(onnx_path, mnn_path)
    return mnn_path


def measure(kind: str, path: str, repeat: int) -> dict:
    # Each loader runs in a fresh process.  ru_maxrss survives fork+exec, so this process stays small (the model
    # is built in a child process too) and the child's own baseline is taken after its imports.
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, path, str(repeat), REPO], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "precision-lint-bench"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        print(ensure_model(args.out))
        return
    path = os.path.join(args.out, "bench_50mb.mnn")
    if not os.path.exists(path):
        subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--build-only", "--out", args.out],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    size_mb = os.path.getsize(path) / 2**20
    ours = measure("ours", path, args.repeat)
    values = measure("ours+values", path, args.repeat)
    mnn = measure("mnn", path, args.repeat)
    print(f"model: {path} ({size_mb:.1f} MB, {ours['operators']} operators after reading)")
    print(f"{'loader':34s} {'best time':>10s} {'RSS growth':>11s}")
    print(
        f"{'precision-lint load_model':34s} {ours['best_s'] * 1000:8.1f} ms {ours['rss_growth_mb']:8.1f} MB"
        f"   (tracemalloc peak {ours['tracemalloc_peak_mb']:.1f} MB)"
    )
    print(f"{'precision-lint + every value':34s} {values['best_s'] * 1000:8.1f} ms {values['rss_growth_mb']:8.1f} MB")
    print(f"{'MNN.expr.load_as_dict':34s} {mnn['best_s'] * 1000:8.1f} ms {mnn['rss_growth_mb']:8.1f} MB")
    print(
        f"ratios (ours / MNN): time {ours['best_s'] / mnn['best_s']:.2f}, "
        f"time with every value {values['best_s'] / mnn['best_s']:.2f}, "
        f"memory {ours['rss_growth_mb'] / max(mnn['rss_growth_mb'], 1e-9):.2f}"
    )


if __name__ == "__main__":
    main()

"""Duplicate operator names (issue 11, item 4): N ONNX nodes all named ``dup`` against the same graph with unique
names, and an .mnn whose op list references one op table N times against N distinct ops.  Prints the time ratios
(each load in a fresh process, best CPU seconds of ``--repeat``); linear id assignment keeps them near 1.

    /work/venv/bin/python benchmarks/bench_duplicates.py [--nodes 20000] [--repeat 3]

Nothing here is a test: no timing is asserted anywhere (tests/test_hostile_models.py counts the work instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from run import measure  # noqa: E402


def onnx_chain(path: str, n: int, duplicate: bool) -> str:
    import onnx
    from onnx import TensorProto, helper

    vi = helper.make_tensor_value_info
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name="dup" if duplicate else f"n{i}") for i in range(n)]
    g = helper.make_graph(nodes, "g", [vi("t0", TensorProto.FLOAT, [4])], [vi(f"t{n}", TensorProto.FLOAT, [4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def mnn_refs(path: str, n: int, same: bool) -> str:
    import flatbuffers
    import mnn_fb as fb

    b = flatbuffers.Builder(1024)
    inp = fb.op(b, fb.INPUT, "x", outputs=[0], param=(fb.P_INPUT, fb.input_param(b, [1, 8])))

    def unary(name):
        return fb.op(b, fb.UNARY_OP, name, inputs=[0], outputs=[1], param=(fb.P_UNARY, fb.table(b, {0: ("i32", 0)})))

    ops = [inp] + ([unary("u")] * n if same else [unary(f"u{i}") for i in range(n)])
    with open(path, "wb") as fh:
        fh.write(fb.net(b, ops, ["x", "y"], outputs=["y"]))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pl-bench-dup-")
    n = args.nodes
    cases = [
        (
            "onnx",
            onnx_chain(os.path.join(work, "dup.onnx"), n, True),
            onnx_chain(os.path.join(work, "unique.onnx"), n, False),
        ),
        (
            "mnn",
            mnn_refs(os.path.join(work, "same.mnn"), n, True),
            mnn_refs(os.path.join(work, "distinct.mnn"), n, False),
        ),
    ]
    print(f"| load of {n} operators | duplicate names (CPU s) | unique names (CPU s) | ratio |")
    print("|---|---|---|---|")
    for label, dup, uniq in cases:
        d = measure("load", dup, args.repeat)["seconds"]
        u = measure("load", uniq, args.repeat)["seconds"]
        print(f"| {label} | {d:.3f} | {u:.3f} | {d / u:.2f} |")


if __name__ == "__main__":
    main()

"""What bounding ONNX data propagation costs (issue 11, item 1): plain shape inference, then a scan of the 1-D
integer tensors, before data propagation, on the benchmark transformer (12 layers) with its value_info removed, so
that inference runs.  Best CPU time of 5 in this process; nothing here is a test.

    PYTHONPATH=. /work/venv/bin/python benchmarks/bench_shape_inference.py
"""

import sys, time

sys.path.insert(0, __import__("os").path.dirname(__file__))
import models, onnx, onnx.shape_inference
from precision_lint.model.loaders.onnx_loader import _Builder, _propagated_size

m = models.transformer(12, 12, 192)
del m.graph.value_info[:]  # as a file without stored shapes: inference runs
b = _Builder("x", m)
sk = b._skeleton()


def best(f):
    r = 9
    for _ in range(5):
        t = time.process_time()
        out = f()
        r = min(r, time.process_time() - t)
    return r, out


tp, plain = best(lambda: onnx.shape_inference.infer_shapes(sk, check_type=False, strict_mode=False, data_prop=False))
td, _ = best(lambda: onnx.shape_inference.infer_shapes(sk, check_type=False, strict_mode=False, data_prop=True))
ts, _ = best(lambda: _propagated_size(plain.graph))
tb, _ = best(lambda: _Builder("x", m).build())
print(
    f"nodes {len(m.graph.node)} plain {tp * 1e3:.1f} ms, data_prop {td * 1e3:.1f} ms, scan {ts * 1e3:.1f} ms, whole build {tb * 1e3:.1f} ms"
)

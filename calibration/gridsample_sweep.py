"""How a GridSample sampling-position error in pixels turns into output error, on a photograph and on noise.

    PYTHONPATH=. python calibration/gridsample_sweep.py      # prints the Markdown table quoted in docs/accuracy.md

The two ways fp16 moves GridSample's sampling positions, at growing widths W (align_corners=1, bilinear):
- ``grid``: the normalised grid in [-1, 1] is stored in fp16 (a GPU backend that stores tensors in fp16, e.g.
  the seed model on Android OpenCL), rule C001's "from the fp16 grid alone";
- ``absolute``: the grid is built from absolute pixel coordinates (mesh + flow, flow uniform in [-1, 1], a WxW image), stored
  and normalised in fp16 (optical-flow warping), rule C002's estimate.
Each runs in ONNX Runtime with every tensor stored in fp16 (calibration/emulate.py) against fp32, once on the
photograph of precision_lint/verify/natural_image.py and once on uniform noise, both in [0, 1], seed 0.  The "max px" column
is the rules' own estimate (precision_lint.numerics), the quantity the ``gridsample_px`` tolerance bounds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from calibration.emulate import measure  # noqa: E402
from precision_lint.verify.natural_image import fill  # noqa: E402
from precision_lint import numerics  # noqa: E402

GRID = """<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,{h},{w}] image, float[1,{gh},{gw},2] grid) => (float[1,3,{gh},{gw}] y) {{
  y = GridSample <align_corners = 1> (image, grid)
}}"""
ABSOLUTE = """<ir_version: 8, opset_import: ["" : 17]>
g (float[1,3,{h},{w}] image, float[1,2,{h},{w}] flow) => (float[1,3,{h},{w}] y) {{
  pix = Add (mesh, flow)
  g2 = Mul (pix, scale)
  g1 = Sub (g2, one)
  grid = Transpose <perm = [0, 2, 3, 1]> (g1)
  y = GridSample <align_corners = 1> (image, grid)
}}"""


def _model(text: str, initializers=()):
    from onnx import numpy_helper, parser

    model = parser.parse_model(text)
    for name, value in initializers:
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
    for node in model.graph.node:
        node.name = node.output[0]
    return model


def cases():
    """(pattern, W, model, feeds without the image, image shape, the rules' max position error in px)."""
    rng = np.random.default_rng(0)
    for w in (256, 512, 1024, 1280, 1536, 2048):
        grid = rng.uniform(-1, 1, (1, 256, 256, 2)).astype(np.float32)
        yield (
            "grid",
            w,
            _model(GRID.format(h=w, w=w, gh=256, gw=256)),
            {"grid": grid},
            (1, 3, w, w),
            numerics.gridsample_pixel_error(w, True, "fp16", "grid"),
        )
    for w in (128, 256, 320, 384, 512, 768, 1024):
        h = w
        mesh = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))[None]
        scale = np.array([2 / (w - 1), 2 / (h - 1)], np.float32).reshape(1, 2, 1, 1)
        model = _model(ABSOLUTE.format(h=h, w=w), (("mesh", mesh), ("scale", scale), ("one", 1.0)))
        flow = rng.uniform(-1, 1, (1, 2, h, w)).astype(np.float32)
        yield (
            "absolute",
            w,
            model,
            {"flow": flow},
            (1, 3, h, w),
            numerics.absolute_grid_error(w - 1, w, True, "fp16", "chain"),
        )


def sweep(only=None):
    """One row per case: pattern, W, the rules' max px, fp16 rel-L2 on the photograph and on uniform noise
    (``only``: a set of (pattern, W) to measure, the rest skipped)."""
    rng = np.random.default_rng(0)
    rows = []
    for pattern, w, model, feeds, shape, px in cases():
        noise = rng.uniform(0, 1, shape).astype(np.float32)  # drawn for every case: a subset measures the same
        if only is not None and (pattern, w) not in only:
            continue
        row = {"pattern": pattern, "width": w, "max_px": float(f"{px:.4g}")}
        for key, image in (("photograph", fill(shape, 0.0, 1.0)), ("noise", noise)):
            errors, outputs = measure(model, dict(feeds, image=image), formats=("fp16",))
            row[key] = float(f"{errors['fp16'][outputs[0]].rel_l2:.4g}")
        rows.append(row)
    return rows


def table(rows) -> list:
    lines = [
        "| pattern | W | max px (rules' estimate) | fp16 rel-L2, photograph | fp16 rel-L2, uniform noise |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['pattern']} | {r['width']} | {r['max_px']:.3g} | {r['photograph']:.4f} | {r['noise']:.4f} |"
        for r in rows
    ]
    return lines


def main() -> int:
    print("\n".join(table(sweep())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

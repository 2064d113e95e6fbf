"""A natural photograph as the image a sampling op reads: `verify`'s generated inputs and the calibration corpus.

Why: a sampling op (GridSample, Resize, RoiAlign, Upsample) that reads a position off by d pixels changes its output
by about d times the image's local gradient.  Uniform noise is the steepest image there is (its rms difference
between neighbouring pixels is 0.71 of its rms value, this photograph's 0.137), so noise calls a sub-pixel error
breaking that no camera image shows: the seed model (sample_models/gridsample_large.onnx) emulated at
``android-opencl:normal``, whose deployment the field report says matched, measures rel-L2 0.048 on noise and
0.0096 on this photograph (docs/verify.md, *Inputs*).

Which inputs get it (``image_uses``): a float graph input of rank 4 that a sampling op reads as its image (input 0),
directly or through Cast, Identity, Transpose, Clip, Relu, Neg and arithmetic with a constant (normalisation:
``(x - mean) / std``); not through arithmetic with a computed tensor (a residual sum is a feature map).

Not every image-shaped input: for a conv net's input, noise and the photograph give errors that differ in both
directions (docs/verify.md, *Inputs*: at ``android-opencl:low`` the photograph gives mobilenet_tiny 2.9x the
error of noise, clean.onnx 0.6x), with no mechanism that makes noise systematically wrong there; and a rank-4
input with 1 or 3 channels is as often a feature map, a depth map, a spectrogram or an attention bias as a
photograph.  A sampling op is where the graph itself says "an image read at positions", and where noise
measurably misleads.

The photograph: the official US Navy portrait of Commodore Grace M. Hopper (1984; a work of the US federal
government, public domain), as shipped in matplotlib's wheel (``matplotlib/mpl-data/sample_data/grace_hopper.jpg``,
512x600).  ``data/natural_image.npz`` holds its central 256x256 pixels at the published resolution (no resampling,
so the gradients are the photograph's own), RGB, uint8, channels first.  Regenerate it (build time only; Pillow
decodes the JPEG, nothing here needs it at run time):

    pip download --no-deps matplotlib pillow -d /tmp/w && cd /tmp/w && unzip -q pillow-*.whl -d pil \\
      && unzip -q -j matplotlib-*.whl 'matplotlib/mpl-data/sample_data/grace_hopper.jpg'
    PYTHONPATH=/tmp/w/pil:. python -m precision_lint.verify.natural_image /tmp/w/grace_hopper.jpg

An input larger than 256x256 gets the photograph mirror-tiled (each copy mirrored at the seam: no edge, no
interpolation), centred; smaller ones its centre.  Channels: RGB for 3, the luminance (Rec. 601 luma) for 1, R and
G for 2, RGB repeated for more; values scaled from [0, 255] to the input's range.  numpy only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Dict, Tuple

from ..resources import data_path

FILE = data_path("natural_image.npz")
SOURCE = "natural image (Grace Hopper photograph, public domain)"
SAMPLING_OPS = ("GridSample", "Resize", "RoiAlign", "Upsample")  # ops whose input 0 is read at computed positions
# Ops an image passes through on its way to the sampling op, still an image (casts, layout, normalisation).
THROUGH = ("Cast", "Identity", "Transpose", "Add", "Sub", "Mul", "Div", "Neg", "Clip", "Relu")
NCHW = (0, 1, 2, 3)
LUMA = (0.299, 0.587, 0.114)  # Rec. 601: the grey a 1-channel input gets


@dataclass(frozen=True)
class ImageUse:
    """A graph input read as an image: by which op, and which of the input's axes hold N, C, H, W."""

    reader: str  # e.g. "GridSample 'warp_sample'"
    axes: Tuple[int, int, int, int] = NCHW


def image_uses(graph) -> Dict[str, ImageUse]:
    """{input name: ImageUse} for the float rank-4 graph inputs of ``graph`` (a ModelGraph) that a sampling op reads
    as its image, directly or through THROUGH ops (the nearest such op, breadth-first, decides)."""
    out = {}
    for t in graph.tensors.values():
        if t.is_input and not t.is_const and (t.dtype or "float32").startswith(("float", "bfloat")) and t.rank == 4:
            use = _nearest_reader(graph, t.name)
            if use is not None:
                out[t.name] = use
    return out


def _nearest_reader(graph, name: str, max_depth: int = 8):
    frontier = [(name, NCHW)]  # (tensor, which input axis each of its axes is)
    seen = {name}
    for _ in range(max_depth):
        following = []
        for tensor, perm in frontier:
            for cid in graph.tensors[tensor].consumers:
                op = graph.ops.get(cid)
                if op is None or not op.outputs:
                    continue
                if op.op in SAMPLING_OPS and op.inputs and op.inputs[0] == tensor:
                    return ImageUse(f"{op.op} '{op.name}'", tuple(perm[k] for k in _sampled_axes(graph, op)))
                step = _through(graph, op, tensor, perm)
                out_tensor = graph.tensors.get(op.outputs[0])
                if step is not None and op.outputs[0] not in seen and out_tensor is not None:
                    if out_tensor.rank in (None, 4):
                        seen.add(op.outputs[0])
                        following.append((op.outputs[0], step))
        frontier = following
    return None


def _through(graph, op, tensor: str, perm):
    """The axis map past ``op`` when the image ``tensor`` passes through it, else None."""
    if op.op not in THROUGH or tensor not in op.inputs[:2]:
        return None
    if op.op in ("Add", "Sub", "Mul", "Div"):  # with a constant (a mean, a scale), not another computed tensor
        other = graph.tensors.get(op.inputs[1] if op.inputs[0] == tensor else op.inputs[0])
        if len(op.inputs) != 2 or other is None or not other.is_const:
            return None
    elif op.inputs[0] != tensor:
        return None
    if op.op != "Transpose":
        return perm
    p = op.attrs.get("perm")
    p = list(range(3, -1, -1)) if p is None else [int(a) for a in p]
    return tuple(perm[a] for a in p) if sorted(p) == [0, 1, 2, 3] else None


def _sampled_axes(graph, op) -> Tuple[int, int, int, int]:
    """Which axes of the sampled tensor are N, C, H, W: NCHW (the ONNX layout of GridSample and RoiAlign), except a
    Resize/Upsample that resizes axes 1 and 2 (a channels-last image), as its ``axes`` attribute (opset 18), its
    constant scales or its constant sizes (against the input's shape) say."""
    if op.op not in ("Resize", "Upsample"):
        return NCHW
    axes = op.attrs.get("axes")
    if isinstance(axes, (list, tuple)) and len(axes) == 2:
        given = sorted(int(a) % 4 for a in axes)
        return (0, 3, 1, 2) if given == [1, 2] else NCHW
    shape = graph.shape(op, 0)
    for i in range(1, len(op.inputs)):
        v = graph.const_value(op, i)
        if v is None or v.size != 4:
            continue
        values = v.reshape(-1).tolist()
        if v.dtype.kind == "f":  # scales
            resized = [a for a, s in enumerate(values) if s != 1]
        elif v.dtype.kind in "iu" and shape is not None and len(shape) == 4:  # sizes
            resized = [a for a, n in enumerate(values) if shape[a] is not None and n != shape[a]]
        else:
            continue
        return (0, 3, 1, 2) if resized == [1, 2] else NCHW
    return NCHW


def photograph():
    """The photograph as float32 in [0, 1], (3, 256, 256)."""
    import numpy as np

    with np.load(FILE) as z:
        return z["image"].astype(np.float32) / 255.0


def fill(shape: Tuple[int, ...], low: float, high: float, axes: Tuple[int, int, int, int] = NCHW):
    """A float32 array of ``shape`` holding the photograph, ``axes`` naming the array's N, C, H and W axes:
    mirror-tiled (no resampling) to HxW, its channels taken from RGB (see the module docstring), scaled from
    [0, 255] to [low, high]; every N the same."""
    import numpy as np

    photo = photograph()
    n, c, h, w = (shape[a] for a in axes)
    reps_h, reps_w = -(-h // photo.shape[1]), -(-w // photo.shape[2])
    rows = np.concatenate([photo[:, ::-1] if k % 2 else photo for k in range(reps_h)], axis=1)
    tiled = np.concatenate([rows[:, :, ::-1] if k % 2 else rows for k in range(reps_w)], axis=2)
    top, left = (tiled.shape[1] - h) // 2, (tiled.shape[2] - w) // 2
    crop = tiled[:, top : top + h, left : left + w]
    if c == 1:
        chans = np.tensordot(np.asarray(LUMA, dtype=np.float32), crop, axes=1)[None]
    else:
        chans = np.stack([crop[k % 3] for k in range(c)])
    nchw = np.broadcast_to(low + (high - low) * chans, (n, c, h, w))
    return np.ascontiguousarray(nchw.transpose(np.argsort(axes)), dtype=np.float32)


def describe(shape: Tuple[int, ...], low: float, high: float, use: ImageUse) -> str:
    """What ``fill`` gives an input, for the report: the source, its channels, size and range."""
    c, h, w = (shape[a] for a in use.axes[1:])
    chans = {1: "its luminance", 2: "its R and G channels", 3: "RGB"}.get(c, f"RGB repeated over {c} channels")
    layout = "" if use.axes == NCHW else f", channels on axis {use.axes[1]}"
    size = f"its central {h}x{w}" if h <= 256 and w <= 256 else f"mirror-tiled to {h}x{w}"
    return f"{SOURCE}, {chans}{layout}, {size}, scaled to [{low:g}, {high:g}]"


def extract(jpeg: str) -> None:
    import numpy as np
    from PIL import Image  # build time only

    rgb = np.asarray(Image.open(jpeg).convert("RGB"))  # (600, 512, 3)
    top, left = (rgb.shape[0] - 256) // 2, (rgb.shape[1] - 256) // 2
    crop = np.ascontiguousarray(rgb[top : top + 256, left : left + 256].transpose(2, 0, 1))
    np.savez_compressed(FILE, image=crop)


if __name__ == "__main__":
    extract(sys.argv[1])

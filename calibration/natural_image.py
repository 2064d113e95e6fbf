"""A natural photograph as the image a sampling op reads in the calibration corpus.

Why: a sampling op (GridSample, Resize, RoiAlign) that reads a position off by d pixels changes its output by about
d times the image's local gradient.  Uniform noise is the steepest image there is (its rms difference between
neighbouring pixels is 0.71 of its rms value, a photograph's about 0.14), so a corpus that feeds noise calls a
sub-pixel error breaking that no camera image shows.  The corpus feeds these ops a photograph instead.

The photograph: the official US Navy portrait of Commodore Grace M. Hopper (1984; a work of the US federal
government, public domain), as shipped in matplotlib's wheel
(``matplotlib/mpl-data/sample_data/grace_hopper.jpg``, 512x600).  ``natural_image.npz`` holds its central 256x256
pixels at the published resolution (no resampling, so the gradients are the photograph's own), RGB, uint8,
channels first.  Regenerate it (build time only; Pillow decodes the JPEG, nothing here needs it at run time):

    pip download --no-deps matplotlib pillow -d /tmp/w && cd /tmp/w && unzip -q pillow-*.whl -d pil \\
      && unzip -q -j matplotlib-*.whl 'matplotlib/mpl-data/sample_data/grace_hopper.jpg'
    PYTHONPATH=/tmp/w/pil:. python calibration/natural_image.py /tmp/w/grace_hopper.jpg
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

FILE = Path(__file__).resolve().parent / "natural_image.npz"
SAMPLING_OPS = ("GridSample", "Resize", "RoiAlign", "Upsample")  # ops whose input 0 is read at computed positions
DESCRIPTION = (
    "the Grace Hopper photograph (public domain; matplotlib's sample data), central 256x256 at its "
    "published resolution, mirror-tiled to the input's size, scaled to its range"
)


def image_inputs(model) -> Tuple[str, ...]:
    """Float graph inputs of rank 4 that a sampling op reads as its image (input 0)."""
    import onnx

    rank4 = {
        i.name
        for i in model.graph.input
        if i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT and len(i.type.tensor_type.shape.dim) == 4
    }
    return tuple(
        sorted({n.input[0] for n in model.graph.node if n.op_type in SAMPLING_OPS and n.input and n.input[0] in rank4})
    )


def fill(shape: Tuple[int, ...], low: float, high: float) -> np.ndarray:
    """An NCHW float32 array of the photograph: mirror-tiled (no resampling) to HxW, its RGB channels repeated to
    C, scaled from [0, 255] to [low, high]."""
    with np.load(FILE) as z:
        photo = z["image"].astype(np.float32) / 255.0  # (3, 256, 256)
    n, c, h, w = shape
    reps_h, reps_w = -(-h // photo.shape[1]), -(-w // photo.shape[2])
    rows = np.concatenate([photo[:, ::-1] if k % 2 else photo for k in range(reps_h)], axis=1)
    tiled = np.concatenate([rows[:, :, ::-1] if k % 2 else rows for k in range(reps_w)], axis=2)
    top, left = (tiled.shape[1] - h) // 2, (tiled.shape[2] - w) // 2
    crop = tiled[:, top : top + h, left : left + w]
    chans = np.stack([crop[k % 3] for k in range(c)])
    return np.ascontiguousarray(np.broadcast_to(low + (high - low) * chans, (n, c, h, w)), dtype=np.float32)


def natural_feeds(model, feeds: Dict[str, np.ndarray], ranges: Dict[str, Tuple[float, float]]) -> Dict[str, str]:
    """Replaces, in ``feeds``, every image a sampling op reads with the photograph (in the input's declared
    range, else [0, 1]); returns {input: what it now holds}."""
    out = {}
    for name in image_inputs(model):
        low, high = ranges.get(name, (0.0, 1.0))
        feeds[name] = fill(feeds[name].shape, low, high)
        out[name] = f"{DESCRIPTION} [{low:g}, {high:g}]"
    return out


def extract(jpeg: str) -> None:
    from PIL import Image  # build time only

    rgb = np.asarray(Image.open(jpeg).convert("RGB"))  # (600, 512, 3)
    top, left = (rgb.shape[0] - 256) // 2, (rgb.shape[1] - 256) // 2
    crop = np.ascontiguousarray(rgb[top : top + 256, left : left + 256].transpose(2, 0, 1))
    np.savez_compressed(FILE, image=crop)


if __name__ == "__main__":
    extract(sys.argv[1])

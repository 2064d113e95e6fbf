"""Inputs for `verify`: read from --inputs (.npz keyed by input name, .npy for a single input) and checked against
the model, or generated deterministically (seed 0) from declared ranges and what the graph implies.

What the graph implies, in order: a declared ``--input-range``; a GridSample grid -> [-1, 1]; integer indices into
a Gather table -> [0, rows); a name containing "mask" -> 0/1; a bool -> 0/1; other integers -> [0, 10); other
floats -> [0, 1].
Values are seeded uniform in the range, except the image a sampling op reads (input 0 of GridSample, Resize,
RoiAlign, Upsample, directly or through casts, transposes and element-wise normalisation): that gets a photograph
scaled to the range (natural_image.py says why: on noise a sub-pixel position error looks breaking).  Every input's
noise is drawn in the same order either way, so the other inputs hold the same values as without the photograph.
The report shows what each input was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

from ..errors import PrecisionLintError
from . import natural_image
from .natural_image import ImageUse

SEED = 0
RANGE_GIVEN = "declared range: --input-range or input_ranges"
MASK = "mask (0/1)"
FLOAT_DEFAULT = "default for floats"


class InputError(PrecisionLintError):
    """Inputs that do not fit the model: one line naming the file and the problem."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: Tuple[int, ...]
    dtype: str  # numpy name
    low: float
    high: float
    why: str  # where the range came from
    image: Optional[ImageUse] = None  # read as an image by a sampling op: generated as the photograph


def specs(graph, ranges: Mapping[str, Tuple[float, float]]) -> List[InputSpec]:
    """One spec per graph input of ``graph`` (a ModelGraph), in file order."""
    inputs = [t for t in graph.tensors.values() if t.is_input and not t.is_const]
    unknown = sorted(set(ranges) - {t.name for t in inputs})
    if unknown:
        raise InputError(
            f"{graph.path}: --input-range names {', '.join(unknown)}, not an input of the model "
            f"(inputs: {', '.join(t.name for t in inputs)})"
        )
    images = natural_image.image_uses(graph)
    out = []
    for t in inputs:
        dtype = t.dtype or "float32"
        # a dimension of 0 is a size (a zero-size tensor), not a dynamic one: only unknown dimensions become -1
        shape = (-1,) if t.shape is None else tuple(d if isinstance(d, int) and d >= 0 else -1 for d in t.shape)
        integer = dtype.startswith(("int", "uint")) or dtype == "bool"
        if t.name in ranges:
            lo, hi = ranges[t.name]
            why = RANGE_GIVEN
        else:
            lo, hi, why = _implied(graph, t, integer)
        image = images.get(t.name) if why in (RANGE_GIVEN, FLOAT_DEFAULT) else None
        if image is not None:
            why = f"image read by {image.reader}" + ("; declared range" if why == RANGE_GIVEN else "")
        out.append(InputSpec(t.name, shape, dtype, float(lo), float(hi), why, image))
    return out


def _implied(graph, tensor, integer: bool) -> Tuple[float, float, str]:
    for cid in tensor.consumers:
        op = graph.ops.get(cid)
        if op is None:
            continue
        if op.op == "GridSample" and len(op.inputs) > 1 and op.inputs[1] == tensor.name:
            return -1.0, 1.0, "GridSample grid (normalised coordinates)"
        if integer and op.op == "Gather" and len(op.inputs) > 1 and op.inputs[1] == tensor.name:
            table = graph.tensors.get(op.inputs[0])
            axis = int(op.attrs.get("axis", 0) or 0)
            if table is not None and table.shape and isinstance(table.shape[axis], int):
                return 0.0, float(table.shape[axis] - 1), "indices below the Gather table's size"
    if "mask" in tensor.name.lower():
        return 0.0, 1.0, MASK
    if tensor.dtype == "bool":
        return 0.0, 1.0, "bool"
    if integer:
        return 0.0, 9.0, "default for integers"
    return 0.0, 1.0, FLOAT_DEFAULT


def generate(input_specs: List[InputSpec], path: str, natural: bool = True) -> Dict[str, "object"]:
    """Seeded values per spec; ``natural``: the images a sampling op reads hold the photograph (else noise too)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    out = {}
    for s in input_specs:
        if s.shape == (-1,):
            raise InputError(
                f"{path}: the shape of input {s.name!r} is unknown; give its values with --inputs FILE.npz"
            )
        shape = tuple(1 if d < 0 else d for d in s.shape)  # a dynamic dimension gets 1 (stated in the report)
        integer = s.dtype.startswith(("int", "uint")) or s.dtype == "bool" or s.why == MASK
        _check_drawable(s, integer, path)
        if integer:
            a = rng.integers(int(s.low), int(s.high) + 1, size=shape)
            out[s.name] = a.astype(s.dtype if s.dtype != "bool" else "int32")
        else:
            out[s.name] = rng.uniform(s.low, s.high, size=shape).astype(np.float32)  # drawn either way: see above
            if natural and s.image is not None:
                out[s.name] = natural_image.fill(shape, s.low, s.high, s.image.axes)
    return out


def _check_drawable(s: InputSpec, integer: bool, path: str) -> None:
    """A declared range values can be drawn from: an infinite bound, a width beyond float64 or a bound beyond the
    type the values are drawn in would end in numpy's overflow (or inf inputs), not in a run."""
    import numpy as np

    kind = "int64" if integer else "float32"
    limit = float(np.iinfo(np.int64).max) if integer else float(np.finfo(np.float32).max)
    if not (max(abs(s.low), abs(s.high)) < limit and np.isfinite(s.high - s.low)):
        raise InputError(
            f"{path}: --input-range {s.name}: values are drawn from it as {kind}: {s.low:g}:{s.high:g} is not a "
            f"finite {kind} range; give a narrower one, or the values with --inputs FILE.npz"
        )


def read(file: str, input_specs: List[InputSpec], model_path: str) -> Dict[str, "object"]:
    """--inputs FILE: every model input present, with the model's shape and a matching kind of dtype."""
    import numpy as np

    if not os.path.isfile(file):
        raise InputError(f"{file}: no such inputs file")
    try:
        if file.endswith(".npy"):
            if len(input_specs) != 1:
                raise InputError(
                    f"{file}: a .npy holds one array, but {model_path} has {len(input_specs)} inputs "
                    f"({', '.join(s.name for s in input_specs)}); use an .npz keyed by input name"
                )
            data = {input_specs[0].name: np.load(file, allow_pickle=False)}
        else:
            with np.load(file, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy's own errors for a corrupt file: one line
        raise InputError(f"{file}: not a readable .npz/.npy file ({type(exc).__name__})") from None
    names = {s.name for s in input_specs}
    extra = sorted(set(data) - names)
    missing = sorted(names - set(data))
    if extra or missing:
        raise InputError(
            f"{file}: inputs do not match {model_path}: "
            + "; ".join(
                p
                for p in (
                    f"unknown {', '.join(extra)}" if extra else "",
                    f"missing {', '.join(missing)}" if missing else "",
                )
                if p
            )
            + f" (model inputs: {', '.join(sorted(names))})"
        )
    out = {}
    for s in input_specs:
        a = data[s.name]
        unknown = s.shape == (-1,)
        if not unknown and (len(a.shape) != len(s.shape) or any(d >= 0 and d != x for d, x in zip(s.shape, a.shape))):
            raise InputError(f"{file}: input {s.name!r} has shape {_shape(a.shape)}, the model wants {_shape(s.shape)}")
        want_int = s.dtype.startswith(("int", "uint")) or s.dtype == "bool"
        if a.dtype.kind not in ("iub" if want_int else "f"):
            raise InputError(f"{file}: input {s.name!r} is {a.dtype}, the model wants {s.dtype}")
        out[s.name] = a.astype(np.float32) if not want_int else a.astype(np.int32)
    return out


def _shape(shape) -> str:
    return "[" + ", ".join("?" if d is None or d < 0 else str(d) for d in shape) + "]"


def describe(input_specs: List[InputSpec], given: Optional[str]) -> Dict[str, str]:
    if given:
        return {s.name: f"from {os.path.basename(given)}" for s in input_specs}
    out = {}
    for s in input_specs:
        shape = tuple(1 if d < 0 else d for d in s.shape)
        values = (
            natural_image.describe(shape, s.low, s.high, s.image)
            if s.image is not None
            else f"seeded uniform in [{s.low:g}, {s.high:g}]"
        )
        dynamic = "; dynamic dimensions set to 1" if -1 in s.shape else ""
        out[s.name] = f"{_shape(shape)} {s.dtype} {values} ({s.why}){dynamic}"
    return out

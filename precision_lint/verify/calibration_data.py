"""Activation ranges from data: ``check --calibration-data inputs.npz``.

The model runs once in fp32 on the user's inputs (the format ``verify --inputs`` reads: an .npz keyed by input
name, or an .npy for a one-input model): an .onnx in ONNX Runtime, an .mnn in MNN on the host (Precision_High).
The observed [min, max] of every float tensor (finite values) is handed to the rules as a declared range, so a
conditional finding ("if the RMS of x exceeds 11.3") becomes a proven one or disappears.  The ranges are what
these inputs reached, not a bound for other inputs.
"""

from __future__ import annotations

from typing import Dict, Tuple

from ..errors import PrecisionLintError


class CalibrationDataError(PrecisionLintError):
    """The data cannot be run through the model: one line naming the file."""


def observed_ranges(model_path: str, data_path: str) -> Dict[str, Tuple[float, float]]:
    """Tensor name -> (min, max) over the finite values it took when the model ran on ``data_path``."""
    import numpy as np

    from ..model.loaders import detect_format, load_model
    from . import inputs as verify_inputs

    graph = load_model(model_path)
    feeds = verify_inputs.read(data_path, verify_inputs.specs(graph, {}), model_path)
    names = [
        o
        for op in graph.operators()
        if not op.scope
        for o in op.outputs
        if o and o in graph.tensors and (graph.tensors[o].dtype or "float32").startswith("float")
    ]
    if detect_format(model_path) == "onnx":
        arrays = _run_onnx(model_path, feeds, names)
    else:
        arrays = _run_mnn(model_path, feeds, graph, names)
    ranges = {}
    for name, a in list(feeds.items()) + list(arrays.items()):
        a = np.asarray(a)
        if a.dtype.kind != "f" or a.size == 0:
            continue
        finite = a[np.isfinite(a)]
        if finite.size:
            ranges[name] = (float(finite.min()), float(finite.max()))
    return ranges


def _run_onnx(path: str, feeds, names):
    import importlib.util

    import onnx
    from onnx import helper

    if importlib.util.find_spec("onnxruntime") is None:
        raise CalibrationDataError(
            f"{path}: --calibration-data on an .onnx needs onnxruntime (pip install 'precision-lint[verify]')"
        ) from None
    model = onnx.load(path)
    have = {o.name for o in model.graph.output}
    for n in names:
        if n not in have:
            model.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    from . import ort_run

    try:
        return ort_run.run(ort_run.session(model), feeds)
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own errors: one line
        raise CalibrationDataError(
            f"{path}: ONNX Runtime could not run the model on the calibration data: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def _run_mnn(path: str, feeds, graph, names):
    from .arm_runner import Run, RunError, execute

    outputs = [t.name for t in graph.tensors.values() if t.is_output]
    try:
        outcome = execute([Run("host", path, "high", feeds, outputs, [n for n in names if n not in outputs])])
    except RunError as exc:
        raise CalibrationDataError(str(exc)) from None
    res = outcome.results.get("host", {})
    if "error" in res:
        raise CalibrationDataError(f"{path}: MNN could not run the model on the calibration data: {res['error']}")
    return outcome.arrays.get("host", {})

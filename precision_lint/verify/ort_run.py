"""Running an ONNX model in ONNX Runtime on the CPU, as verify, its emulation and --calibration-data do: quiet,
optionally without graph optimisation (emulation's Cast pairs must not be fused away), inputs fed by name."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

# ONNX Runtime's names of the integer input types -> numpy's
_INTEGER_TYPES = {
    f"tensor({t})": t for t in ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64")
}


def session(model: Any, optimize: bool = True):
    """An InferenceSession for ``model``: a path or a ModelProto."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def run(sess, feeds: Mapping[str, Any], renamed: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Every output of ``sess`` by name.  ``renamed``: session input name -> the feed's name (an emulated model
    renames the graph inputs it rounds).  Integer feeds (held as the int32 MNN takes, bool and uint8 included) are
    given the type an input declares."""
    renamed = renamed or {}
    inputs = {}
    for i in sess.get_inputs():
        a = feeds[renamed.get(i.name, i.name)]
        declared = _INTEGER_TYPES.get(i.type)
        inputs[i.name] = a.astype(declared) if declared and a.dtype != declared else a
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, inputs)))

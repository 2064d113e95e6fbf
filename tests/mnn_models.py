"""Sample models converted to MNN with MNN's own converter, once per test session.

Every .onnx in sample_models/ and sample_models/architectures/ is converted into a temporary directory (nothing
is written next to the samples).  ``MNN.tools`` is never imported: sample_models/build.py calls the ``_tools``
extension and keeps its console chatter off stdout.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from typing import Dict, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = sorted(
    glob.glob(os.path.join(REPO, "sample_models", "*.onnx"))
    + glob.glob(os.path.join(REPO, "sample_models", "architectures", "*.onnx"))
)
NAMES = [os.path.splitext(os.path.basename(p))[0] for p in SAMPLES]

_cache: Dict[str, Dict[str, Tuple[str, str]]] = {}


def _build_module():
    spec = importlib.util.spec_from_file_location(
        "sample_models_build", os.path.join(REPO, "sample_models", "build.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def convert(src: str, dst: str, extra=()) -> str:
    _build_module().convert_to_mnn(src, dst, list(extra))
    return dst


def converted(tmp_path_factory, variant: str = "default") -> Dict[str, Tuple[str, str]]:
    """{model name: (onnx path, mnn path)}; ``variant`` 'fp16' converts with --fp16."""
    if variant not in _cache:
        out_dir = str(tmp_path_factory.mktemp(f"mnn_{variant}"))
        extra = ["--fp16"] if variant == "fp16" else []
        models = {}
        for name, src in zip(NAMES, SAMPLES):
            models[name] = (src, convert(src, os.path.join(out_dir, f"{name}.mnn"), extra))
        _cache[variant] = models
    return _cache[variant]


def load_mnn_runtime(path: str) -> Optional[dict]:
    """MNN's own view of a model (``MNN.expr.load_as_dict``), with the import's banner kept off stdout."""
    fd = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            import MNN.expr as F  # never MNN.tools

            return F.load_as_dict(path)
    finally:
        os.dup2(fd, 1)
        os.close(fd)

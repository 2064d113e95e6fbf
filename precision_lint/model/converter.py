"""ONNX -> MNN with MNN's own converter (the ``_tools`` C extension of the MNN package; never ``MNN.tools``, whose
logger pip-installs a package and sends telemetry at import)."""

from __future__ import annotations

import os
from typing import Sequence

from ..errors import PrecisionLintError


class ConversionError(PrecisionLintError):
    """MNN's converter did not produce a model."""


def convert_to_mnn(src: str, dst: str, extra: Sequence[str] = ()) -> None:
    """Convert ``src`` (.onnx) to ``dst`` (.mnn); ``extra`` are converter flags (e.g. ``--fp16``).  The converter's
    console chatter (and MNN's "device supports" line) is kept off our stdout."""
    fd = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)  # importing MNN's extension prints its "device supports" line to fd 1
            try:
                import _tools
            except ImportError:
                raise ConversionError(f"{src}: converting to MNN needs the MNN package (pip install MNN)") from None
            rc = _tools.mnnconvert(
                ["mnnconvert", "-f", "ONNX", "--modelFile", src, "--MNNModel", dst, "--bizCode", "biz", *extra]
            )
    finally:
        os.dup2(fd, 1)
        os.close(fd)
    if not os.path.exists(dst) or os.path.getsize(dst) == 0:
        raise ConversionError(f"{src}: MNN's converter produced no model (exit code {rc})")

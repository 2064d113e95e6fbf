"""ONNX -> MNN with MNN's own converter (the ``_tools`` C extension of the MNN package; never ``MNN.tools``, whose
logger pip-installs a package and sends telemetry at import)."""

from __future__ import annotations

import os
import re
from typing import Sequence

from ..errors import PrecisionLintError


_LOG_PREFIX = re.compile(r"^\[[0-9:]+\] :[0-9]+: ")  # the converter's "[01:22:16] :220: " before a line


class ConversionError(PrecisionLintError):
    """MNN's converter did not produce a model."""


def convert_to_mnn(src: str, dst: str, extra: Sequence[str] = ()) -> None:
    """Convert ``src`` (.onnx) to ``dst`` (.mnn); ``extra`` are converter flags (e.g. ``--fp16``).  The converter's
    console chatter (and MNN's "device supports" line) is kept off our stdout; when it produces no model, its own
    reason (e.g. "These Op Not Support: ONNX::Hardmax") is the error's."""
    import tempfile

    fd = os.dup(1)
    try:
        with tempfile.TemporaryFile(mode="w+b") as chatter:
            os.dup2(chatter.fileno(), 1)  # importing MNN's extension prints its "device supports" line to fd 1
            try:
                try:
                    import _tools
                except ImportError:
                    raise ConversionError(f"{src}: converting to MNN needs the MNN package (pip install MNN)") from None
                _tools.mnnconvert(
                    ["mnnconvert", "-f", "ONNX", "--modelFile", src, "--MNNModel", dst, "--bizCode", "biz", *extra]
                )
            finally:
                _flush_c_stdout()  # what the converter printf'd may still sit in C's buffer for fd 1
                os.dup2(fd, 1)
            chatter.seek(0)
            said = chatter.read().decode("utf-8", "replace")
    finally:
        os.close(fd)
    if not os.path.exists(dst) or os.path.getsize(dst) == 0:
        raise ConversionError(f"{src}: MNN's converter produced no model ({_reason(said)})")


def _reason(said: str) -> str:
    """The converter's own words for a failure: its "Not Support" line, else its last line before "Converted
    Failed!" (its return value says nothing: the extension returns True either way)."""
    lines = [_LOG_PREFIX.sub("", ln).strip() for ln in said.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("The device supports")]
    unsupported = [ln for ln in lines if "Not Support" in ln]
    if unsupported:
        return unsupported[0]
    before = [ln for ln in lines if ln != "Converted Failed!"]
    return before[-1][:300] if before else "it printed no reason"


def _flush_c_stdout() -> None:
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to ask (not a POSIX build): nothing buffered we can reach
        pass

"""Load a model file into a ModelGraph, choosing the reader from the file's content, not its extension."""

from __future__ import annotations

import os
import stat
import struct

from ...errors import ModelLoadError
from ..graph import ModelGraph

LFS_PREFIX = b"version https://git-lfs.github.com/spec/"
MODEL_EXTENSIONS = (".onnx", ".mnn")


def detect_format(path: str) -> str:
    """'onnx' or 'mnn' from the first bytes; a clear ModelLoadError for anything else."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device (e.g. a symlink to /dev/zero) would block or never end
            raise ModelLoadError(f"{path}: not a regular file (a device, pipe or socket); not read")
        size = st.st_size
        with open(path, "rb") as fh:
            head = fh.read(64)
    except IsADirectoryError:
        raise ModelLoadError(f"{path}: is a directory, not a model file") from None
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise ModelLoadError(f"{path}: empty file")
    if head.startswith(LFS_PREFIX):
        raise ModelLoadError(
            f"{path}: this is a Git LFS pointer, not the model; run `git lfs pull` (or check out "
            f"with LFS) before linting"
        )
    if _looks_like_onnx(head):
        return "onnx"
    if _looks_like_flatbuffer(path, head, size):
        return "mnn"
    if _looks_like_text(head):
        # Never quote the bytes: the path may be a symlink to a credentials file outside the repository.
        raise ModelLoadError(f"{path}: not an ONNX or MNN model (the file is text)")
    ext = os.path.splitext(path)[1].lower()
    if ext in MODEL_EXTENSIONS:
        return ext[1:]  # let the reader give the precise parse error
    raise ModelLoadError(f"{path}: not an ONNX or MNN model (unrecognised content)")


def _looks_like_onnx(head: bytes) -> bool:
    """ModelProto serialisers write ir_version (field 1, varint) first; a few write opset/graph first."""
    if len(head) < 2:
        return False
    if head[0] == 0x08:  # field 1 varint: ir_version, 1..20 in practice
        return 1 <= head[1] <= 32
    # producer_name (2), producer_version (3), domain (4), graph (7), opset_import (8): length-delimited fields
    return head[0] in (0x12, 0x1A, 0x22, 0x3A, 0x42) and _varint_ok(head[1:])


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def _varint_ok(b: bytes) -> bool:
    for byte in b[:5]:
        if not byte & 0x80:
            return True
    return False


def _looks_like_flatbuffer(path: str, head: bytes, size: int) -> bool:
    """A FlatBuffer starts with the offset of its root table, whose first field points back to a vtable."""
    if size < 16 or len(head) < 8:
        return False
    (root,) = struct.unpack_from("<I", head, 0)
    if root < 4 or root % 4 or root + 4 > size:
        return False
    with open(path, "rb") as fh:
        fh.seek(root)
        soff_bytes = fh.read(4)
        if len(soff_bytes) < 4:
            return False
        (soff,) = struct.unpack("<i", soff_bytes)
        vt = root - soff
        if vt < 0 or vt + 4 > size:
            return False
        fh.seek(vt)
        vt_bytes = fh.read(4)
        if len(vt_bytes) < 4:
            return False
        vt_len, obj_len = struct.unpack("<HH", vt_bytes)
    return 4 <= vt_len <= 4 + 2 * 64 and vt_len % 2 == 0 and 4 <= obj_len <= 4096


def load_model(path: str) -> ModelGraph:
    fmt = detect_format(path)
    if fmt == "onnx":
        from .onnx_loader import load_onnx

        return load_onnx(path)
    from .mnn_loader import load_mnn

    return load_mnn(path)

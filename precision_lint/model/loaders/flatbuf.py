"""A small, checked reader for FlatBuffer tables, on top of the ``flatbuffers`` runtime.

The generated code of a schema trusts the buffer: a bad offset reads garbage, wraps around (Python slices
accept negative positions) or raises from deep inside struct.  Model files come from users, so every position
here is checked against the buffer before the runtime reads it, and every problem becomes a FlatBufferError
whose message says which table and field was wrong.  Vector lengths are checked against the bytes that remain,
so any loop over a vector is bounded by the file size.

Fields are addressed by slot (declaration order in the schema): slot N lives at vtable offset 4 + 2*N.
"""

from __future__ import annotations

import struct
from typing import List, Optional, Sequence, Tuple

import numpy as np
from flatbuffers import encode
from flatbuffers import number_types as N

_UOFF = N.UOffsetTFlags.bytewidth  # 4
# The runtime's struct packers, called directly on the bytes: flatbuffers.table.Table re-validates every position
# as a Python number and wraps the buffer in a memoryview on every read, which is most of a load's time.
_SOFF = N.SOffsetTFlags.packer_type.unpack_from
_VOFF = N.VOffsetTFlags.packer_type.unpack_from
_UOFF_AT = N.UOffsetTFlags.packer_type.unpack_from

# Scalar kinds by short name: (flags, bytewidth).
SCALARS = {
    "bool": N.BoolFlags,
    "u8": N.Uint8Flags,
    "i8": N.Int8Flags,
    "u16": N.Uint16Flags,
    "i16": N.Int16Flags,
    "u32": N.Uint32Flags,
    "i32": N.Int32Flags,
    "i64": N.Int64Flags,
    "u64": N.Uint64Flags,
    "f32": N.Float32Flags,
    "f64": N.Float64Flags,
}
NUMPY = {k: N.to_numpy_type(v) if k != "bool" else np.dtype(np.bool_) for k, v in SCALARS.items()}
_STRUCT = {
    "bool": "?",
    "u8": "B",
    "i8": "b",
    "u16": "H",
    "i16": "h",
    "u32": "I",
    "i32": "i",
    "i64": "q",
    "u64": "Q",
    "f32": "f",
    "f64": "d",
}  # little-endian, as FlatBuffers store them


class FlatBufferError(Exception):
    """The buffer is not a well-formed FlatBuffer at the place named in the message."""


class Buffer:
    """The whole file.  ``data`` is kept as bytes: numpy vectors are zero-copy views into it."""

    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)

    def root(self, what: str) -> "Tab":
        if self.size < 8:
            raise FlatBufferError(f"{self.size} bytes is too short for a FlatBuffer")
        pos = encode.Get(N.UOffsetTFlags.packer_type, self.data, 0)
        return Tab(self, pos, what)


class Tab:
    """One table.  Construction validates the table header and its vtable; accessors validate each field."""

    __slots__ = ("buf", "pos", "what", "_d", "_vt", "_vtlen", "_objlen")

    def __init__(self, buf: Buffer, pos: int, what: str):
        self.buf, self.pos, self.what = buf, pos, what
        size = buf.size
        if pos < 0 or pos + 4 > size:
            raise FlatBufferError(f"{what}: table offset {pos} is outside the file ({size} bytes)")
        d = self._d = buf.data
        vt = pos - _SOFF(d, pos)[0]
        if vt < 0 or vt + 4 > size:
            raise FlatBufferError(f"{what}: vtable of the table at byte {pos} is outside the file")
        vtlen = _VOFF(d, vt)[0]
        objlen = _VOFF(d, vt + 2)[0]
        if vtlen < 4 or vtlen % 2 or vt + vtlen > size:
            raise FlatBufferError(f"{what}: malformed vtable at byte {vt} (length {vtlen})")
        if objlen < 4 or pos + objlen > size:
            raise FlatBufferError(f"{what}: table at byte {pos} claims {objlen} bytes, past the end of the file")
        self._vt, self._vtlen, self._objlen = vt, vtlen, objlen

    # ----- fields ---------------------------------------------------------------------------------------------
    def has(self, slot: int) -> bool:
        vo = 4 + 2 * slot
        return vo < self._vtlen and _VOFF(self._d, self._vt + vo)[0] != 0

    def _field(self, slot: int, width: int, what: str = "") -> int:
        """Absolute position of the field, 0 when absent."""
        vo = 4 + 2 * slot
        if vo >= self._vtlen:
            return 0
        off = _VOFF(self._d, self._vt + vo)[0]
        if off == 0:
            return 0
        if off < 4 or off + width > self._objlen:
            raise FlatBufferError(f"{self.what}: field {what or slot} at offset {off} lies outside its table")
        return self.pos + off

    def scalar(self, slot: int, kind: str, default=0):
        flags = SCALARS[kind]
        vo = 4 + 2 * slot  # _field inlined: the most frequent read of the op tables
        if vo >= self._vtlen:
            return default
        off = _VOFF(self._d, self._vt + vo)[0]
        if off == 0:
            return default
        if off < 4 or off + flags.bytewidth > self._objlen:
            raise FlatBufferError(f"{self.what}: field {slot} at offset {off} lies outside its table")
        v = flags.packer_type.unpack_from(self._d, self.pos + off)[0]
        return bool(v) if kind == "bool" else v

    def _target(self, slot: int, what: str = "") -> int:
        """Follow the uoffset stored in the field; 0 when absent."""
        p = self._field(slot, _UOFF, what)
        if not p:
            return 0
        target = p + _UOFF_AT(self._d, p)[0]
        if target + 4 > self.buf.size:
            raise FlatBufferError(
                f"{self.what}.{what or f'field{slot}'} points to byte {target}, past the end of the file"
            )
        return target

    def table(self, slot: int, what: str) -> Optional["Tab"]:
        t = self._target(slot, what)
        return Tab(self.buf, t, f"{self.what}.{what}") if t else None

    def _vector(self, slot: int, width: int, what: str):
        """(start, count) of a vector field, (0, 0) when absent."""
        t = self._target(slot, what)
        if not t:
            return 0, 0
        n = _UOFF_AT(self._d, t)[0]
        start = t + _UOFF
        if n * width > self.buf.size - start:
            raise FlatBufferError(f"{self.what}.{what}: vector of {n} items at byte {t} runs past the end of the file")
        return start, n

    def vector(self, slot: int, kind: str, what: str = "vector") -> np.ndarray:
        """A numeric vector as a read-only numpy view into the file (empty when absent)."""
        dtype = NUMPY[kind]
        start, n = self._vector(slot, dtype.itemsize, what)
        if not n:
            return np.zeros(0, dtype)
        return encode.GetVectorAsNumpy(dtype, self.buf.data, n, start)

    def numbers(self, slot: int, kind: str, what: str = "vector") -> list:
        """A numeric vector as a list of Python numbers, what ``vector(...).tolist()`` gives without a numpy view
        per vector: an op's tensor indexes and parameters are a handful of values each."""
        start, n = self._vector(slot, NUMPY[kind].itemsize, what)
        if not n:
            return []
        return list(struct.unpack_from(f"<{n}{_STRUCT[kind]}", self.buf.data, start))

    def vector_len(self, slot: int, kind: str, what: str = "vector") -> int:
        return self._vector(slot, NUMPY[kind].itemsize, what)[1]

    def string(self, slot: int, what: str = "string") -> Optional[str]:
        t = self._target(slot, what)
        return self._string_at(t, what) if t else None

    def _string_at(self, t: int, what: str) -> str:
        n = _UOFF_AT(self._d, t)[0]
        if n > self.buf.size - t - _UOFF:
            raise FlatBufferError(f"{self.what}.{what}: string of {n} bytes at byte {t} runs past the end of the file")
        return bytes(self.buf.data[t + _UOFF : t + _UOFF + n]).decode("utf-8", "replace")

    def _offsets(self, slot: int, what: str) -> List[int]:
        start, n = self._vector(slot, _UOFF, what)
        out = []
        size = self.buf.size
        for i in range(n):
            p = start + i * _UOFF
            target = p + _UOFF_AT(self._d, p)[0]
            if target + 4 > size:
                raise FlatBufferError(f"{self.what}.{what}[{i}] points to byte {target}, past the end of the file")
            out.append(target)
        return out

    def tables(self, slot: int, what: str) -> List["Tab"]:
        return [Tab(self.buf, t, f"{self.what}.{what}[{i}]") for i, t in enumerate(self._offsets(slot, what))]

    def strings(self, slot: int, what: str = "strings") -> List[str]:
        try:  # a graph's tensor names: tens of thousands, checked as whole columns
            return _string_list(self, slot, what)
        except Irregular:  # one by one: the error names the string
            return [self._string_at(t, f"{what}[{i}]") for i, t in enumerate(self._offsets(slot, what))]


# ----- many tables at once ------------------------------------------------------------------------------------
class Irregular(Exception):
    """A check of the columnar reader failed: the caller reads table by table with Tab instead, whose error names
    the table and field (or which reads the file where this reader is stricter than it needs to be)."""


def _raw(buf: Buffer, pos: np.ndarray, dtype: str) -> np.ndarray:
    """The values of ``dtype`` at byte positions ``pos`` (checked by the caller).  A view with a one-byte stride
    reads at any alignment; positions are never negative here, so nothing wraps around."""
    dt = np.dtype(dtype)
    view = np.ndarray((buf.size - dt.itemsize + 1,), dt, buf.data, 0, (1,))
    return view[pos]


def _at(buf: Buffer, pos: np.ndarray, dtype: str) -> np.ndarray:
    """Integers of ``dtype`` at byte positions ``pos``, as int64 for offset arithmetic."""
    return _raw(buf, pos, dtype).astype(np.int64)


def offset_array(tab: Tab, slot: int, what: str) -> np.ndarray:
    """``tab._offsets`` as an int64 array: the positions a vector of tables points to, with the same checks."""
    start, n = tab._vector(slot, _UOFF, what)
    entries = start + _UOFF * np.arange(n, dtype=np.int64)
    targets = entries + _at(tab.buf, entries, "<u4") if n else entries
    if n and int(targets.max()) + 4 > tab.buf.size:
        raise Irregular(what)
    return targets


def _string_list(tab: Tab, slot: int, what: str) -> List[str]:
    """Tab.strings with the checks made on whole columns (Irregular where one fails)."""
    t = offset_array(tab, slot, what)
    n = _at(tab.buf, t, "<u4")
    if (n > tab.buf.size - t - _UOFF).any():
        raise Irregular("string past the end of the file")
    d = tab.buf.data
    return [d[a + _UOFF : a + _UOFF + k].decode("utf-8", "replace") for a, k in zip(t.tolist(), n.tolist())]


class TableColumns:
    """The fields of many tables of one type, read at once with numpy: an op list holds tens of thousands of
    tables, and reading them one by one through Tab costs ~30 us each.  Every check of Tab is made here too, on
    whole columns; when one fails this raises Irregular and the caller falls back to Tab (so error messages, and
    which errors happen at all, stay Tab's)."""

    def __init__(self, buf: Buffer, pos: np.ndarray):
        self.buf, self.pos = buf, pos
        size = buf.size
        if len(pos) and (int(pos.min()) < 0 or int(pos.max()) + 4 > size):
            raise Irregular("table offset outside the file")
        vt = pos - _at(buf, pos, "<i4")
        if len(pos) and (int(vt.min()) < 0 or int(vt.max()) + 4 > size):
            raise Irregular("vtable outside the file")
        vtlen = _at(buf, vt, "<u2")
        objlen = _at(buf, vt + 2, "<u2")
        if ((vtlen < 4) | (vtlen % 2 == 1) | (vt + vtlen > size) | (objlen < 4) | (pos + objlen > size)).any():
            raise Irregular("malformed vtable")
        self.vt, self.vtlen, self.objlen = vt, vtlen, objlen

    def rows(self, mask: np.ndarray) -> "TableColumns":
        """The tables where ``mask`` is set (already checked)."""
        out = object.__new__(TableColumns)
        out.buf = self.buf
        out.pos, out.vt, out.vtlen, out.objlen = self.pos[mask], self.vt[mask], self.vtlen[mask], self.objlen[mask]
        return out

    def tabs(self, whats: Sequence[str]) -> List[Tab]:
        """Every table as a Tab named by ``whats``, without checking the headers again."""
        buf, d, new = self.buf, self.buf.data, object.__new__
        out = []
        for pos, vt, vtlen, objlen, what in zip(
            self.pos.tolist(), self.vt.tolist(), self.vtlen.tolist(), self.objlen.tolist(), whats
        ):
            t = new(Tab)
            t.buf, t.pos, t.what, t._d, t._vt, t._vtlen, t._objlen = buf, pos, what, d, vt, vtlen, objlen
            out.append(t)
        return out

    def field(self, slot: int, width: int) -> np.ndarray:
        """Absolute positions of the field, 0 where absent (Tab._field for every table)."""
        vo = 4 + 2 * slot
        present = vo < self.vtlen
        off = np.where(present, _at(self.buf, np.where(present, self.vt + vo, 0), "<u2"), 0)
        if ((off != 0) & ((off < 4) | (off + width > self.objlen))).any():
            raise Irregular("field outside its table")
        return np.where(off != 0, self.pos + off, 0)

    def scalars(self, slot: int, kind: str, default) -> list:
        """Tab.scalar for every table: Python numbers (bool for "bool"), ``default`` itself where absent."""
        p = self.field(slot, SCALARS[kind].bytewidth)
        values = _raw(self.buf, p, "<B" if kind == "bool" else "<" + _STRUCT[kind]).tolist()  # p = 0: unused
        if kind == "bool":
            values = [bool(v) for v in values]
        if p.all():
            return values
        return [v if q else default for v, q in zip(values, p.tolist())]

    def targets(self, slot: int) -> np.ndarray:
        """Where the field's uoffset points, 0 where absent (Tab._target for every table)."""
        p = self.field(slot, _UOFF)
        t = np.where(p != 0, p + _at(self.buf, p, "<u4"), 0)
        if (t + 4 > self.buf.size).any():
            raise Irregular("offset past the end of the file")
        return t

    def _vectors(self, slot: int, width: int):
        """(start, count) of a vector field per table, (0, 0) where absent (Tab._vector)."""
        t = self.targets(slot)
        n = np.where(t != 0, _at(self.buf, t, "<u4"), 0)
        start = np.where(t != 0, t + _UOFF, 0)
        if (n * width > self.buf.size - start).any():
            raise Irregular("vector past the end of the file")
        return start, n

    def number_lists(self, slot: int, kind: str) -> Tuple[np.ndarray, List[int]]:
        """Tab.numbers for every table, as one array of every vector's items in table order and the end of each
        table's items in it."""
        dtype = NUMPY[kind]
        start, n = self._vectors(slot, dtype.itemsize)
        ends = np.cumsum(n)
        item = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(ends - n, n)
        values = _raw(self.buf, np.repeat(start, n) + dtype.itemsize * item, "<" + _STRUCT[kind])
        return values, ends.tolist()

    def strings(self, slot: int) -> List[Optional[str]]:
        """Tab.string for every table (None where absent)."""
        t = self.targets(slot)
        n = np.where(t != 0, _at(self.buf, t, "<u4"), 0)
        if (n > self.buf.size - t - _UOFF).any():
            raise Irregular("string past the end of the file")
        d = self.buf.data
        return [
            d[a + _UOFF : a + _UOFF + k].decode("utf-8", "replace") if a else None
            for a, k in zip(t.tolist(), n.tolist())
        ]

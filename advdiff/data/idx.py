"""Reader for the idx format of (Fashion-)MNIST, gzip-compressed or not, with NumPy only.

An idx file is: two zero bytes, a type code, the number of dimensions, one big-endian uint32
per dimension, then the values in C order (big-endian).
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from os import PathLike
from pathlib import Path

import numpy as np

from advdiff.data.base import DataError

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | PathLike[str]) -> np.ndarray:
    """Read one idx file (``.gz`` or raw, detected from its first bytes) into a native-endian array.

    Raises :class:`~advdiff.data.base.DataError` naming the file if it cannot be read, is not an
    idx file, or holds more or fewer bytes than its header says (truncated or corrupt).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            compressed = fh.read(2) == _GZIP_MAGIC
        if compressed:
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"cannot read idx file {path}: {exc}") from exc

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DataError(f"{path} is not an idx file: bad magic number {raw[:4].hex() or '(empty file)'}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"idx file {path} is truncated: its header is incomplete")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _TYPES[raw[2]]
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"idx file {path} is truncated or corrupt: its header promises shape {dims} ({expected} bytes of data) "
            f"but it holds {len(raw) - header} bytes"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return values.astype(dtype.newbyteorder("="), copy=True)  # writable, native byte order

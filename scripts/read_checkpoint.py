#!/usr/bin/env python3
"""Read an optax-ts optimizer-state checkpoint (a safetensors file) with NumPy and a plain parser.

This shows that the files written by ``serializeState`` / ``saveState`` are ordinary safetensors
files that the Python ecosystem reads without optax-ts: the header is parsed here with ``struct``
and ``json`` only, the tensors are read with ``numpy.frombuffer``, and the CRC-32 the library
records in ``__metadata__["optax_ts.crc32"]`` is checked with ``zlib.crc32``. In format 2 (the
current one) it covers the whole file (length, header and data) with its own 8 hex digits read as
``00000000``; in format 1 it covered the data section only.

Usage (from the repository root)::

    /usr/bin/python3 scripts/read_checkpoint.py state.safetensors          # a readable summary
    /usr/bin/python3 scripts/read_checkpoint.py --json state.safetensors   # everything, as JSON

With ``--json`` the output is one JSON object: ``metadata`` (the string map), ``crc32_ok`` (true,
false, or null when no checksum is recorded) and ``tensors``, mapping each tensor name (its tree
path, e.g. ``state[0].mu.w``) to ``dtype``, ``shape`` and ``values``: a flat row-major list for
arrays, a single value for 0-d tensors. Floats are written with Python's ``repr`` (so they parse
back to the same float64, and a float32 value is its exact float64 widening); NaN and infinities
are written as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; integers stay integers;
BOOL values are ``true``/``false``.

Exit status: 0 when the file parses and its checksum (if any) matches, 1 otherwise.
"""

import json
import math
import re
import struct
import sys
import zlib

import numpy as np

# safetensors dtype -> NumPy little-endian dtype
DTYPES = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F64": np.dtype("<f8"),
}


def read_checkpoint(path):
    """Returns (metadata, tensors, crc32_ok); tensors maps name -> (dtype, numpy array)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for the 8-byte header length")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if 8 + header_len > len(raw):
        raise ValueError(f"{path}: header length {header_len} exceeds the file ({len(raw)} bytes)")
    header = json.loads(raw[8 : 8 + header_len].decode("utf-8"))
    data = raw[8 + header_len :]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, entry in header.items():
        dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{name}: data_offsets {entry['data_offsets']} out of range")
        shape = tuple(entry["shape"])
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        tensors[name] = (entry["dtype"], array)
    recorded = metadata.get("optax_ts.crc32")
    if recorded is None:
        crc_ok = None
    elif metadata.get("optax_ts.format") == "1":
        crc_ok = format(zlib.crc32(data) & 0xFFFFFFFF, "08x") == recorded
    else:
        crc_ok = format(whole_file_crc(raw, header_len), "08x") == recorded
    return metadata, tensors, crc_ok


def whole_file_crc(raw, header_len):
    """The CRC-32 of the file with the recorded checksum's 8 digits replaced by '0's (format 2)."""
    head = raw[8 : 8 + header_len]
    found = list(re.finditer(rb'"optax_ts\.crc32"\s*:\s*"([0-9a-f]{8})"', head))
    if len(found) != 1:
        return -1
    begin = 8 + found[0].start(1)
    return zlib.crc32(raw[:begin] + b"00000000" + raw[begin + 8 :]) & 0xFFFFFFFF


def plain(x):
    """A NumPy scalar as a JSON-friendly Python value."""
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    v = float(x)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def main(argv):
    as_json = "--json" in argv
    paths = [a for a in argv if a != "--json"]
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    metadata, tensors, crc_ok = read_checkpoint(paths[0])
    if as_json:
        out = {
            "metadata": metadata,
            "crc32_ok": crc_ok,
            "tensors": {
                name: {
                    "dtype": dtype,
                    "shape": list(array.shape),
                    "values": plain(array[()])
                    if array.ndim == 0
                    else [plain(v) for v in array.reshape(-1)],
                }
                for name, (dtype, array) in tensors.items()
            },
        }
        print(json.dumps(out))
    else:
        for key, value in metadata.items():
            shown = value if len(value) <= 80 else value[:77] + "..."
            print(f"metadata {key} = {shown}")
        for name, (dtype, array) in sorted(tensors.items()):
            print(f"{name}: {dtype} {list(array.shape)} {array.reshape(-1)[:6]}")
        print(f"crc32: {'not recorded' if crc_ok is None else 'ok' if crc_ok else 'MISMATCH'}")
    return 0 if crc_ok is not False else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

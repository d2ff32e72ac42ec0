"""One weights file for all bucket graphs of an SE-native engine.

Each bucket graph is ORT's optimized graph for one batch size, so they carry the same weights (ORT's blocked
conv weights included): saved inline, an SE-ResNet-50 engine with buckets 1, 2, 4, 8 held four 100 MB copies.
Here every initializer of at least ``MIN_EXTERNAL_BYTES`` becomes ONNX external data in one file beside the
graphs, each distinct content stored once (keyed by its bytes), at page-aligned offsets. The
graphs keep only small tensors inline; ONNX Runtime resolves the file relative to the graph it opens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import onnx
from onnx import numpy_helper

WEIGHTS_FILE = "weights.bin"
MIN_EXTERNAL_BYTES = 1024  # onnx's own default threshold for external data
ALIGNMENT = 4096  # x86 Linux page size: offsets a reader could memory-map (ORT may copy regardless)


@dataclass(frozen=True)
class SharedWeights:
    """The external-data file's bytes and what sharing saved."""

    data: bytes
    tensors: int  # initializers moved out of the graphs (all buckets)
    distinct: int  # distinct contents stored
    inline_bytes: int  # what the moved initializers weighed inline, summed over graphs

    def check(self, graph: onnx.ModelProto, file_size: int) -> None:
        """Every external tensor of ``graph`` lies inside a weights file of ``file_size`` bytes (a bug otherwise)."""
        for tensor in graph.graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                entry = {e.key: e.value for e in tensor.external_data}
                if int(entry["offset"]) + int(entry["length"]) > file_size:
                    raise ValueError(f"{tensor.name} lies outside {entry['location']} ({file_size} bytes)")

    def to_dict(self, location: str) -> dict[str, object]:
        return {
            "file": location,
            "bytes": len(self.data),
            "tensors": self.tensors,
            "distinct_tensors": self.distinct,
            "bytes_if_inline": self.inline_bytes,
        }


def share_weights(graphs: list[onnx.ModelProto], location: str = WEIGHTS_FILE) -> SharedWeights:
    """Move every large initializer of ``graphs`` (edited in place) to ``location``, one copy per content."""
    chunks: list[bytes] = []
    size = 0
    offsets: dict[bytes, int] = {}  # sha256 of the content -> its offset in the file
    tensors = inline = 0
    for graph in graphs:
        for tensor in graph.graph.initializer:
            raw = _raw_bytes(tensor)
            if raw is None or len(raw) < MIN_EXTERNAL_BYTES:
                continue
            key = hashlib.sha256(raw).digest()
            if key not in offsets:
                padding = -size % ALIGNMENT
                chunks.append(b"\0" * padding)
                offsets[key] = size + padding
                chunks.append(raw)
                size += padding + len(raw)
            _point_to(tensor, location, offsets[key], len(raw))
            tensors += 1
            inline += len(raw)
    return SharedWeights(b"".join(chunks), tensors, len(offsets), inline)


def _raw_bytes(tensor: onnx.TensorProto) -> bytes | None:
    """The tensor's little-endian bytes (None for strings and for data that is external already)."""
    if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.data_type == onnx.TensorProto.STRING:
        return None
    if tensor.HasField("raw_data"):
        return tensor.raw_data
    array = numpy_helper.to_array(tensor)
    return array.astype(array.dtype.newbyteorder("<")).tobytes()  # ONNX external data is little-endian


def _point_to(tensor: onnx.TensorProto, location: str, offset: int, length: int) -> None:
    for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
        tensor.ClearField(field)
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    tensor.data_location = onnx.TensorProto.EXTERNAL

"""Reading ONNX files with errors a user can act on. A leaf module: used by every stage."""

from __future__ import annotations

from pathlib import Path

import onnx

from se_deploy.errors import InvalidArgumentError


def load_onnx(path: Path) -> onnx.ModelProto:
    """Read an ONNX file (external data beside it is loaded too) with errors a user can act on."""
    if not path.exists():
        raise InvalidArgumentError(f"ONNX file {str(path)!r} does not exist")
    if not path.is_file():
        raise InvalidArgumentError(f"{str(path)!r} is not a file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError and friends; the user needs only the gist
        raise InvalidArgumentError(
            f"cannot read {str(path)!r} as an ONNX model ({type(exc).__name__}). Is it an .onnx file, complete?"
        ) from None
    if not model.graph.node:
        raise InvalidArgumentError(f"{str(path)!r} holds no graph nodes: it is not an ONNX model")
    return model

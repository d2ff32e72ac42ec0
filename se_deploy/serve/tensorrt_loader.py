"""Loading TensorRT plans through the runtime API: not available yet.

Plans come from the TensorRT backend (issue #7), which is not built; the TensorRT libraries cannot be
installed on this project's machines either. This module only turns the request into a clear error.
"""

from __future__ import annotations

from pathlib import Path

from se_deploy.errors import InvalidArgumentError


def load_plan(path: Path) -> None:
    if not path.exists():
        raise InvalidArgumentError(f"TensorRT plan {str(path)!r} does not exist")
    raise InvalidArgumentError(
        f"{str(path)!r} is a TensorRT plan: loading plans needs the TensorRT backend, which se-deploy does not have "
        "yet (and TensorRT cannot be installed on this machine). Load the ONNX model or an ONNX Runtime engine folder."
    )

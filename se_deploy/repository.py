"""The model repository, in Triton Inference Server's layout.

```
<root>/<name>/config.pbtxt      Triton model configuration
<root>/<name>/se_deploy.json    se-deploy's metadata (preprocessing, provenance, verification)
<root>/<name>/1/model.onnx      version 1 of the model
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODEL_FILENAME = "model.onnx"
CONFIG_FILENAME = "config.pbtxt"
METADATA_FILENAME = "se_deploy.json"
VERSION = "1"

_TRITON_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int8": "TYPE_INT8"}


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output; ``shape[0]`` is the batch (-1 when dynamic)."""

    name: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelPaths:
    root: Path
    name: str

    @property
    def directory(self) -> Path:
        return self.root / self.name

    @property
    def model(self) -> Path:
        return self.directory / VERSION / MODEL_FILENAME

    @property
    def config(self) -> Path:
        return self.directory / CONFIG_FILENAME

    @property
    def metadata(self) -> Path:
        return self.directory / METADATA_FILENAME


@dataclass(frozen=True)
class ServingOptions:
    """The Triton knobs se-deploy sets: batch limit, dynamic batching, model instances."""

    max_batch_size: int = 64
    preferred_batch_sizes: tuple[int, ...] = (8, 16, 32)
    max_queue_delay_us: int = 500
    instances: int = 1
    kind: str = "KIND_CPU"  # KIND_CPU or KIND_GPU
    platform: str = "onnxruntime_onnx"  # or tensorrt_plan


def triton_config(
    name: str,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    *,
    max_batch_size: int = 64,
    options: ServingOptions | None = None,
    notes: tuple[str, ...] = (),
) -> str:
    """``config.pbtxt`` for Triton Inference Server.

    With a dynamic batch dimension Triton owns the batch (``max_batch_size`` > 0, dims without it, dynamic
    batching on); with a fixed batch the dims carry it and ``max_batch_size`` is 0.
    """
    options = options or ServingOptions(max_batch_size=max_batch_size)
    dynamic = all(spec.shape[0] == -1 for spec in inputs + outputs)
    lines = [f"# {note}" for note in notes]
    lines += [
        f'name: "{name}"',
        f'platform: "{options.platform}"',
        f"max_batch_size: {options.max_batch_size if dynamic else 0}",
    ]
    for section, specs in (("input", inputs), ("output", outputs)):
        entries = []
        for spec in specs:
            dims = spec.shape[1:] if dynamic else spec.shape
            entries.append(
                f'  {{\n    name: "{spec.name}"\n    data_type: {_TRITON_DTYPES[spec.dtype]}\n'
                f"    dims: [ {', '.join(str(d) for d in dims)} ]\n  }}"
            )
        lines.append(f"{section} [\n" + ",\n".join(entries) + "\n]")
    if dynamic:
        preferred = [b for b in options.preferred_batch_sizes if b <= options.max_batch_size]
        lines.append(
            "dynamic_batching {\n"
            + (f"  preferred_batch_size: [ {', '.join(map(str, preferred))} ]\n" if preferred else "")
            + f"  max_queue_delay_microseconds: {options.max_queue_delay_us}\n}}"
        )
    lines.append(f"instance_group [\n  {{\n    count: {options.instances}\n    kind: {options.kind}\n  }}\n]")
    return "\n".join(lines) + "\n"


def parse_triton_config(text: str):  # type: ignore[no-untyped-def]
    """Parse into Triton's own ``ModelConfig`` protobuf (shipped by ``tritonclient``); raises on any error."""
    try:
        from google.protobuf import text_format
        from tritonclient.grpc import model_config_pb2
    except (ImportError, RuntimeError) as exc:  # tritonclient without its grpc extra raises RuntimeError
        raise ImportError(f"Triton's ModelConfig protobuf needs tritonclient[grpc]: {exc}") from None
    return text_format.Parse(text, model_config_pb2.ModelConfig())

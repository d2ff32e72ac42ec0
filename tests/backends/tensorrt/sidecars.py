"""Plan sidecars for tests: TensorRT cannot run here, so tests write the sidecar a build would."""

from __future__ import annotations

from se_deploy.backends.tensorrt.artifact import BatchRange, PlanMetadata


def plan_metadata(**changes: object) -> PlanMetadata:
    """An FP16 AOT plan's sidecar for a 3x224x224 model, batch 1..32; ``changes`` replace fields."""
    values = dict(
        tensorrt_version="10.16.0",
        gpu_name="NVIDIA H200",
        compute_capability="9.0",
        precision="fp16",
        se_fused=True,
        plugin="aot",
        input_name="input",
        batch=BatchRange(1, 8, 32),
        input_shape=[3, 224, 224],
        source_sha256="ab" * 32,
        created="2026-11-25T00:00:00+00:00",
    )
    return PlanMetadata(**(values | changes))  # type: ignore[arg-type]

"""Export a zoo model with seeded random weights and BatchNorm left at its initial statistics (mean 0, var 1).

se-deploy's own random exports fit BatchNorm statistics to image-like inputs so activations look like a trained
network's; on SE-ResNet-50 that leaves INT8 far from FP32 (142% of the logit range), so the SE-native INT8 fold
cannot be verified and the build keeps the portable engine. Unfitted statistics (what se-deploy's exports had
before fitting was added) give an INT8 3% off FP32, on which the fold verifies: the model the INT8 results call
"verified fold". Latency only: the weights are random either way.

    python benchmarks/export_unfitted.py se_resnet50 /tmp/se_resnet50_unfitted.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

import se_deploy.models  # noqa: F401  (the families register themselves)
from se_deploy.export.torch_model import random_model
from se_deploy.export.torch_to_onnx import export_onnx
from se_deploy.models.registry import get_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="zoo model name, e.g. se_resnet50")
    parser.add_argument("output", type=Path, help="ONNX file to write")
    args = parser.parse_args()
    spec = get_spec(args.model)
    export_onnx(random_model(spec, fit_statistics=False), args.output, image_size=spec.image_size)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""The networks a bench compares: stock (as exported), fused, the stripped twin, a trained baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
from torch import nn

from se_deploy import model_metadata
from se_deploy.errors import InvalidArgumentError
from se_deploy.export.job import ExportRequest, run_export
from se_deploy.export.torch_model import build_model, build_twin
from se_deploy.models import get_spec
from se_deploy.onnx_io import load_onnx
from se_deploy.precision.image_input import check_image_input
from se_deploy.rewrite.surgery import strip_se


@dataclass
class BenchModels:
    name: str
    stock: Path
    twin: Path
    se_blocks: int
    image_size: int
    baseline: Path | None = None
    baseline_name: str | None = None
    torch_model: nn.Module | None = None  # PyTorch FP32 reference (and the eager/compile peer)
    torch_twin: nn.Module | None = None


def prepare_models(
    model: str,
    work: Path,
    *,
    weights: str | None = None,
    baseline: str = "twin",
    baseline_weights: str | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> BenchModels:
    """ONNX files for every variant under ``work``; ``model`` is a zoo name or an .onnx path."""
    work.mkdir(parents=True, exist_ok=True)
    if model.endswith(".onnx"):
        stock = Path(model)
        source = load_onnx(stock)
        check_image_input(source, stock, purpose="bench")
        name = model_metadata.read(source).get("model") or stock.stem
        torch_model = torch_twin = None
    else:
        spec = get_spec(model)
        if not spec.has_se:
            raise InvalidArgumentError(f"{model} has no SE blocks; bench an SE model (its twin is {spec.twin})")
        progress(f"exporting {model}")
        run_export(ExportRequest(model=model, output=work / "models", weights=weights, with_twin=False, force=True))
        stock = work / "models" / model / "1" / "model.onnx"
        source = onnx.load(str(stock))
        name = model
        torch_model, torch_twin = _torch_pair(model, weights)
    progress("stripping the SE blocks (the twin)")
    stripped = strip_se(source)  # its match report counts the SE blocks: no second matching pass
    se_blocks = len(stripped.report.blocks)
    if se_blocks == 0:
        raise InvalidArgumentError(f"{model} has no SE blocks that se-deploy finds (see `se-deploy inspect`)")
    twin = work / "twin.onnx"
    onnx.save(stripped.model, str(twin))
    dims = source.graph.input[0].type.tensor_type.shape.dim
    image_size = dims[-1].dim_value if dims[-1].HasField("dim_value") else 224
    result = BenchModels(name, stock, twin, se_blocks, image_size, torch_model=torch_model, torch_twin=torch_twin)
    if baseline != "twin":
        progress(f"exporting the baseline {baseline}")
        if baseline.endswith(".onnx"):
            check_image_input(load_onnx(Path(baseline)), Path(baseline), purpose="bench")
            result.baseline, result.baseline_name = Path(baseline), Path(baseline).stem
        else:
            get_spec(baseline)
            run_export(
                ExportRequest(
                    model=baseline, output=work / "models", weights=baseline_weights, with_twin=False, force=True
                )
            )
            result.baseline, result.baseline_name = work / "models" / baseline / "1" / "model.onnx", baseline
    return result


def _torch_pair(model: str, weights: str | None) -> tuple[nn.Module, nn.Module]:
    """The PyTorch SE model exactly as exported, and its twin with every shared weight copied (as exported)."""
    spec = get_spec(model)
    se_model, _ = build_model(spec, weights)
    return se_model.eval(), build_twin(get_spec(spec.twin), se_model)

"""torch model -> ONNX file, with either torch.onnx exporter (dynamo or legacy TorchScript).

``export_onnx`` writes one ONNX file (input ``input``, output ``logits``, batch fixed or dynamic);
``validate_export_options`` refuses options an exporter cannot honour before any work is done.
``se_deploy.export.verify`` checks the file against torch; ``se_deploy.export.job`` composes both with the
model repository.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from se_deploy.errors import ExportError, InvalidArgumentError

Exporter = Literal["dynamo", "legacy"]
EXPORTERS: tuple[str, ...] = ("dynamo", "legacy")
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
# Opsets each exporter produces reliably; dynamo targets 18+ (it translates to 18 and converts).
OPSET_RANGE: dict[str, tuple[int, int]] = {"dynamo": (18, 23), "legacy": (11, 20)}


def validate_export_options(
    *, exporter: str, opset: int, batch: int | None, image_size: int, min_image_size: int
) -> None:
    """Raise InvalidArgumentError for options the export cannot honour, before any work is done."""
    if exporter not in EXPORTERS:
        raise InvalidArgumentError(f"unknown exporter {exporter!r}; choose one of {', '.join(EXPORTERS)}")
    low, high = OPSET_RANGE[exporter]
    if not low <= opset <= high:
        raise InvalidArgumentError(f"opset {opset} is not supported by the {exporter} exporter; use {low}..{high}")
    if batch is not None and batch < 1:
        raise InvalidArgumentError(f"batch must be 'dynamic' or a positive integer, got {batch}")
    if image_size < min_image_size:
        raise InvalidArgumentError(
            f"image size {image_size} is too small for this model: it downsamples 32x and needs at least "
            f"{min_image_size}x{min_image_size} (its default is 224)"
        )
    if image_size > 4096:
        raise InvalidArgumentError(f"image size {image_size} is larger than se-deploy supports (4096)")


def export_onnx(
    model: nn.Module,
    path: Path,
    *,
    image_size: int,
    batch: int | None = None,
    opset: int = 18,
    exporter: Exporter = "dynamo",
) -> None:
    """Export ``model`` (eval mode, BN folded into convs) to ``path``; ``batch=None`` makes batch dynamic."""
    model = model.eval()
    example_batch = batch or 2  # 2, not 1: torch.export would specialise a size-1 dimension
    example = (torch.randn(example_batch, 3, image_size, image_size),)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet_exporter():
            if exporter == "dynamo":
                dynamic_shapes = None if batch else {"x": {0: torch.export.Dim("batch")}}
                program = torch.onnx.export(
                    model,
                    example,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    opset_version=opset,
                    dynamo=True,
                    dynamic_shapes=dynamic_shapes,
                    verbose=False,
                )
                program.save(str(path), external_data=False)
            else:
                dynamic_axes = None if batch else {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
                torch.onnx.export(
                    model,
                    example,
                    str(path),
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    opset_version=opset,
                    dynamo=False,
                    dynamic_axes=dynamic_axes,
                    do_constant_folding=True,
                )
    except Exception as exc:  # the exporters raise many types; the user needs the gist and what to try
        if _caused_by_interrupt(exc):
            raise KeyboardInterrupt from None  # torch.export wraps a Ctrl-C into its own error: not an export failure
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        other = "legacy" if exporter == "dynamo" else "dynamo"
        raise ExportError(f"the {exporter} ONNX exporter failed: {detail}. Try --exporter {other}.") from exc


def _caused_by_interrupt(exc: BaseException | None) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@contextlib.contextmanager
def _quiet_exporter():  # type: ignore[no-untyped-def]
    """The exporters print progress and warnings; library code must not write to the terminal."""
    exporter_logger = logging.getLogger("torch.onnx")
    previous = exporter_logger.level
    exporter_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        exporter_logger.setLevel(previous)

"""``se-deploy export``: a zoo model (and its twin) -> verified ONNX in the model repository."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.cli.options import (
    choice_option,
    force_option,
    json_option,
    output_option,
    parse_batch,
    positive_int_option,
    user_errors,
)
from se_deploy.cli.progress import terminal_progress
from se_deploy.cli.render import err, print_export, print_json, print_notes


@click.command("export")
@click.option("--model", "model_name", required=True, help="Zoo model name (see list-models).")
@click.option("--weights", default=None, help="Checkpoint: .pth/.pt/.safetensors path, or hf-hub:OWNER/REPO.")
@output_option("Model repository (Triton layout) to write into.", default=Path("models"), show_default=True)
@click.option("--opset", type=int, default=18, show_default=True, help="ONNX opset.")
@click.option("--image-size", type=int, default=None, help="Input height and width [default: the model's].")
@click.option(
    "--batch", default="dynamic", show_default=True, callback=parse_batch, help="'dynamic' or a fixed batch size."
)
@choice_option("--exporter", choices=["dynamo", "legacy"], help="torch.onnx exporter.")
@click.option("--with-twin/--no-twin", default=True, show_default=True, help="Also export the non-SE twin.")
@positive_int_option("--num-classes", help="Classifier size [default: the checkpoint's or 1000].")
@positive_int_option("--se-reduction", help="SE reduction ratio r [default: 16].")
@force_option("Replace existing artifacts (only ones se-deploy wrote).")
@json_option("Print the result as JSON.")
@user_errors
def export_command(
    model_name: str,
    weights: str | None,
    output: Path,
    opset: int,
    image_size: int | None,
    batch: int | None,
    exporter: str,
    with_twin: bool,
    num_classes: int | None,
    se_reduction: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Export a zoo model (and its twin) to ONNX, verified against torch with ONNX Runtime."""
    from se_deploy.export.job import ExportRequest, run_export

    request = ExportRequest(
        model=model_name,
        output=output,
        weights=weights,
        opset=opset,
        image_size=image_size,
        batch=batch,
        exporter=exporter,
        with_twin=with_twin,
        force=force,
        num_classes=num_classes,
        se_reduction=se_reduction,
    )
    with terminal_progress(err, quiet=as_json) as progress:
        result = run_export(request, progress=progress)
    print_notes(result.notes)
    if as_json:
        print_json(result.to_dict())
        return
    print_export(result)

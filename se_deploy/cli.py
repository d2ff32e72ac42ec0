"""The ``se-deploy`` command line: one function per command, composition only.

Tables and summaries go to stdout (or JSON with ``--json``); progress goes to stderr so JSON output
stays machine-readable.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from se_deploy import __version__
from se_deploy.errors import SeDeployError

F = TypeVar("F", bound=Callable[..., Any])
# Piped output is not wrapped at rich's 80-column fallback: model names must stay whole.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def _user_errors(func: F) -> F:
    """Show SeDeployError as a one-paragraph message (exit 1) instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SeDeployError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _parse_batch(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    if value == "dynamic":
        return None
    try:
        batch = int(value)
    except ValueError:
        raise click.BadParameter(f"expected 'dynamic' or a positive integer, got {value!r}") from None
    if batch < 1:
        raise click.BadParameter(f"expected 'dynamic' or a positive integer, got {value!r}")
    return batch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="se-deploy")
def main() -> None:
    """Find, fuse and deploy the Squeeze-and-Excitation blocks of SENets."""


@main.command("list-models")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--all", "include_tiny", is_flag=True, help="Include the tiny test models.")
@click.option("--family", default=None, help="Only this family (e.g. resnet).")
@_user_errors
def list_models_command(as_json: bool, include_tiny: bool, family: str | None) -> None:
    """List the zoo: params, GMACs, non-SE twin and the paper's figures."""
    from se_deploy.models.catalog import catalog

    rows = catalog(include_tiny=include_tiny, family=family)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    table = Table(title="se-deploy model zoo (GMACs per image at the model's input size)")
    for column in ("model", "params (M)", "GMACs", "twin", "paper GMACs", "paper top-1 err", "stride", "input"):
        left = column in {"model", "twin", "stride"}
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for row in rows:
        table.add_row(
            row.name,
            f"{row.params / 1e6:.2f}",
            f"{row.macs / 1e9:.3f}",
            row.twin,
            f"{row.paper_gmacs:.2f}" if row.paper_gmacs else "-",
            f"{row.paper_top1_err:.2f}" if row.paper_top1_err else "-",
            row.stride_placement or "-",
            f"{row.image_size}",
        )
    out.print(table)
    out.print(
        "stride caffe: stride on the first 1x1 conv (the paper's models); "
        "torchvision: stride on the 3x3 conv (torchvision/timm weights). "
        "MACs count convs, FCs and the SE squeeze/scale, as the paper does.",
        highlight=False,
    )


@main.command("export")
@click.option("--model", "model_name", required=True, help="Zoo model name (see list-models).")
@click.option("--weights", default=None, help="Checkpoint: .pth/.pt/.safetensors path, or hf-hub:OWNER/REPO.")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=Path("models"),
    show_default=True,
    help="Model repository (Triton layout) to write into.",
)
@click.option("--opset", type=int, default=18, show_default=True, help="ONNX opset.")
@click.option("--image-size", type=int, default=None, help="Input height and width [default: the model's].")
@click.option(
    "--batch", default="dynamic", show_default=True, callback=_parse_batch, help="'dynamic' or a fixed batch size."
)
@click.option(
    "--exporter",
    type=click.Choice(["dynamo", "legacy"]),
    default="dynamo",
    show_default=True,
    help="torch.onnx exporter.",
)
@click.option("--with-twin/--no-twin", default=True, show_default=True, help="Also export the non-SE twin.")
@click.option("--num-classes", type=int, default=None, help="Classifier size [default: the checkpoint's or 1000].")
@click.option("--se-reduction", type=int, default=None, help="SE reduction ratio r [default: 16].")
@click.option("--force", is_flag=True, help="Replace existing artifacts.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_user_errors
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
    from se_deploy.export_job import ExportRequest, run_export

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
    with err.status("starting export") as status:
        result = run_export(request, progress=lambda message: status.update(message))
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title="exported and verified (ONNX Runtime vs torch)")
    for column in ("model", "role", "params (M)", "ONNX", "batches", "max abs err", "max rel err"):
        table.add_column(column)
    for item in result.models:
        table.add_row(
            item.name,
            item.role,
            f"{item.metadata['params'] / 1e6:.2f}",
            str(item.paths.model),
            ",".join(str(c.batch) for c in item.verification.checks),
            f"{item.verification.max_abs_error:.2e}",
            f"{item.verification.max_rel_error:.2e}",
        )
    out.print(table)


@main.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print {se_blocks: [...], near_misses: [...]} as JSON.")
@_user_errors
def inspect_command(model: Path, as_json: bool) -> None:
    """List the SE blocks of an ONNX model, and SE-like subgraphs that failed a check."""
    from se_deploy.rewrite.job import inspect_file

    report = inspect_file(model)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    table = Table(title=f"{len(report.blocks)} SE block(s) in {model}")
    for column in ("name", "channels", "reduced", "pool", "fc", "activation", "gate", "residual", "dtype"):
        table.add_column(column, no_wrap=column == "name")
    for block in report.blocks:
        gate = block.gate if block.gate == "sigmoid" else f"{block.gate}({block.gate_alpha:.4g}, {block.gate_beta:.4g})"
        residual = f"yes (+{block.residual.activation})" if block.residual else "no"
        table.add_row(
            block.name,
            str(block.channels),
            str(block.reduced_channels),
            block.pool,
            block.fc,
            block.activation,
            gate,
            residual,
            block.dtype,
        )
    out.print(table)
    if report.near_misses:
        misses = Table(title=f"{len(report.near_misses)} near miss(es): SE-like, but not fusable")
        for column in ("anchor", "stage", "reason"):
            misses.add_column(column)
        for miss in report.near_misses:
            misses.add_row(miss.anchor, miss.stage, miss.reason)
        out.print(misses)


@main.command("fuse")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Where to write the result.")
@click.option("--strip", is_flag=True, help="Remove every SE block instead: the same network without SE.")
@click.option("--no-residual", is_flag=True, help="Do not fold a following residual Add(+ReLU) into the fused node.")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@_user_errors
def fuse_command(model: Path, output: Path, strip: bool, no_residual: bool, force: bool, as_json: bool) -> None:
    """Rewrite every SE block of an ONNX model into one se_deploy node (or strip them), verified with ONNX Runtime."""
    from se_deploy.rewrite.job import FuseRequest, run_fuse

    request = FuseRequest(model=model, output=output, strip=strip, residual=not no_residual, force=force)
    with err.status("stripping SE blocks" if strip else "fusing SE blocks"):
        outcome = run_fuse(request)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), indent=2))
        return
    blocks = len(outcome.surgery.report.blocks)
    if strip:
        out.print(
            f"stripped {blocks} SE block(s) ({outcome.surgery.removed_nodes} nodes) -> {output}; it runs on ONNX Runtime"
        )
    else:
        ops = ", ".join(f"{count} x se_deploy::{op}" for op, count in outcome.fused_ops.items())
        assert outcome.comparison is not None
        out.print(
            f"fused {blocks} SE block(s): {outcome.surgery.removed_nodes} nodes -> {ops} -> {output}\n"
            f"verified with ONNX Runtime against the input: max abs error {outcome.comparison.max_abs_error:.2e}"
        )
    for miss in outcome.surgery.report.near_misses:
        err.print(f"[yellow]near miss[/] {miss.anchor} ({miss.stage}): {miss.reason}", highlight=False)


if __name__ == "__main__":
    main()

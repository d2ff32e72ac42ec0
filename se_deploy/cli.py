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
from rich.markup import escape
from rich.table import Table

from se_deploy import __version__
from se_deploy.backends.registry import backends_for_bench, backends_that
from se_deploy.entry import INTERRUPTED
from se_deploy.errors import SeDeployError
from se_deploy.progress import terminal_progress

F = TypeVar("F", bound=Callable[..., Any])
# Piped output is not wrapped at rich's 80-column fallback: model names must stay whole.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


INPUT_SHAPE_HELP = "NAME:1x3x640x640, the shape to run input NAME at (repeatable); needed where a dim is not fixed."


def _user_errors(func: F) -> F:
    """Show SeDeployError as a one-paragraph message (exit 1) instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SeDeployError as exc:
            # escape: messages name extras like se-deploy[tensorrt], which rich would read as markup
            err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.stderr.write(INTERRUPTED)
            sys.exit(130)

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

    with terminal_progress(err, quiet=as_json) as progress:
        rows = catalog(include_tiny=include_tiny, family=family, progress=progress)
    if as_json:
        click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    table = Table(title="se-deploy model zoo (GMACs per image at the model's input size)")
    columns = ("model", "params (M)", "GMACs", "twin", "paper params (M)", "paper GMACs", "paper top-1 err")
    for column in (*columns, "layout", "input"):
        left = column in {"model", "twin", "layout"}
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    footnotes: list[str] = []
    for row in rows:
        note = "; ".join(n for n in (row.paper_note, row.notes) if n)
        if note and note not in footnotes:
            footnotes.append(note)
        marker = f" [{footnotes.index(note) + 1}]" if note else ""
        table.add_row(
            row.name + marker,
            _millions(row.params),
            f"{row.macs / 1e9:.3f}",
            row.twin,
            f"{row.paper_params_m:.1f}" if row.paper_params_m else "-",
            (f"{row.paper_gmacs:.2f}" if row.paper_gmacs >= 1 else f"{row.paper_gmacs:.3f}")
            if row.paper_gmacs
            else "-",
            f"{row.paper_top1_err:.2f}" if row.paper_top1_err else "-",
            row.weights_layout or "-",
            f"{row.image_size}",
        )
    out.print(table)
    for number, note in enumerate(footnotes, start=1):
        out.print(f"[{number}] {note}", highlight=False, markup=False)
    out.print(
        "layout caffe: the SENet authors' networks (ResNet: stride on the first 1x1 conv; ceil-mode stem pool), "
        "the Cadene / timm legacy_* weights; torchvision: torchvision / timm networks and weights (stride on the 3x3, "
        "padded stem pool). "
        "MACs count convs, FCs and the SE squeeze/scale, as the paper does.",
        highlight=False,
    )


def _millions(count: int) -> str:
    return f"{count / 1e6:.2f}" if count >= 1e6 else f"{count / 1e6:.3f}"


@main.command("export")
@click.option("--model", "model_name", required=True, help="Zoo model name (see list-models).")
@click.option("--weights", default=None, help="Checkpoint: .pth/.pt/.safetensors path, or hf-hub:OWNER/REPO.")
@click.option(
    "-o",
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
@click.option(
    "--num-classes",
    type=click.IntRange(min=1),
    default=None,
    help="Classifier size [default: the checkpoint's or 1000].",
)
@click.option("--se-reduction", type=click.IntRange(min=1), default=None, help="SE reduction ratio r [default: 16].")
@click.option("--force", is_flag=True, help="Replace existing artifacts (only ones se-deploy wrote).")
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
    with terminal_progress(err, quiet=as_json) as progress:
        result = run_export(request, progress=progress)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
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
@click.option("--force", is_flag=True, help="Replace an existing output file (only one se-deploy wrote).")
@click.option("--input-shape", "input_shapes", multiple=True, help=INPUT_SHAPE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@_user_errors
def fuse_command(
    model: Path, output: Path, strip: bool, no_residual: bool, force: bool, input_shapes: tuple[str, ...], as_json: bool
) -> None:
    """Rewrite every SE block of an ONNX model into one se_deploy node (or strip them), verified with ONNX Runtime."""
    from se_deploy.input_shapes import parse_input_shapes
    from se_deploy.rewrite.job import FuseRequest, run_fuse

    request = FuseRequest(
        model=model,
        output=output,
        strip=strip,
        residual=not no_residual,
        force=force,
        input_shapes=parse_input_shapes(input_shapes),
    )
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
        worst = outcome.comparison.worst
        worst_text = f"; worst tensor {worst.name!r} relative error {worst.relative_error:.2e}" if worst else ""
        out.print(
            f"fused {blocks} SE block(s): {outcome.surgery.removed_nodes} nodes -> {ops} -> {output}\n"
            f"verified with ONNX Runtime against the input: max abs error {outcome.comparison.max_abs_error:.2e}"
            f"{worst_text}"
        )
    for miss in outcome.surgery.report.near_misses:
        err.print(f"[yellow]near miss[/] {escape(f'{miss.anchor} ({miss.stage}): {miss.reason}')}", highlight=False)


@main.command("build")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Engine folder to write.")
@click.option(
    "--backend",
    type=click.Choice(backends_that("build")),
    default="onnxruntime",
    show_default=True,
    help="Engine backend (tensorrt writes a .plan: needs TensorRT and a GPU).",
)
@click.option(
    "--precision",
    type=click.Choice(["fp32", "fp16", "int8"]),
    default="fp32",
    show_default=True,
    help="Precision written into the engine (int8 needs --calib).",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "tensorrt"]),
    default="cpu",
    show_default=True,
    help="ONNX Runtime execution provider (cuda/tensorrt need onnxruntime-gpu).",
)
@click.option("--calib", type=click.Path(path_type=Path), default=None, help="Calibration image folder (int8).")
@click.option("--calib-samples", type=int, default=256, show_default=True, help="Calibration images to use.")
@click.option(
    "--calib-method",
    type=click.Choice(["minmax", "entropy", "percentile"]),
    default="minmax",
    show_default=True,
    help="INT8: how activation ranges are chosen from the calibration images.",
)
@click.option(
    "--quant-target",
    type=click.Choice(["onnxruntime", "tensorrt"]),
    default=None,
    help="Quantization settings for this runtime [default: the backend's].",
)
@click.option("--quantize-se", is_flag=True, help="INT8: quantize the SE ops too (unfused), to compare.")
@click.option(
    "--se-precision",
    type=click.Choice(["fp16", "fp32"]),
    default="fp16",
    show_default=True,
    help="FP16: precision of the fused SE node.",
)
@click.option(
    "--fp16-mode",
    type=click.Choice(["full", "mixed"]),
    default="full",
    show_default=True,
    help="FP16: every op, or mixed (ops that break fidelity stay FP32; onnxconverter-common's search).",
)
@click.option(
    "--calib-fit",
    type=click.Choice(["resize", "pad", "crop"]),
    default="crop",
    show_default=True,
    help="INT8: fit calibration images to the input's H x W by stretching, padding or center-cropping.",
)
@click.option("--input-shape", "input_shapes", multiple=True, help=INPUT_SHAPE_HELP)
@click.option("--no-fuse", is_flag=True, help="Keep the SE blocks as they are (the stock graph).")
@click.option("--no-residual", is_flag=True, help="Do not fold residual Add(+ReLU) into the fused node.")
@click.option(
    "--min-batch",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="TensorRT: optimization profile minimum batch.",
)
@click.option(
    "--opt-batch",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="TensorRT: batch the engine is tuned for.",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=None,
    help="Largest batch [TensorRT: 32, the profile's max; ONNX Runtime: 8, SE-native graphs for 1, 2, 4, .. it].",
)
@click.option(
    "--portable",
    is_flag=True,
    help="ONNX Runtime: only the portable fused graph, no SE-native graphs tied to this ORT version and CPU.",
)
@click.option(
    "--squeeze-hoist",
    is_flag=True,
    help="SE-native: squeeze before a linear 1x1 conv (exact; measured slower in its current form, see README).",
)
@click.option(
    "--no-plugin", is_flag=True, help="TensorRT: inline the fused nodes' ONNX functions instead of the SE plugin."
)
@click.option("--force", is_flag=True, help="Replace an existing engine folder (only one se-deploy wrote).")
@click.option("--json", "as_json", is_flag=True, help="Print the engine description as JSON.")
@_user_errors
def build_command(
    model: Path,
    output: Path,
    backend: str,
    precision: str,
    device: str,
    calib: Path | None,
    calib_samples: int,
    calib_method: str,
    quant_target: str | None,
    quantize_se: bool,
    se_precision: str,
    fp16_mode: str,
    calib_fit: str,
    input_shapes: tuple[str, ...],
    no_fuse: bool,
    no_residual: bool,
    min_batch: int,
    opt_batch: int,
    max_batch: int | None,
    portable: bool,
    squeeze_hoist: bool,
    no_plugin: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Build an engine: fuse SE blocks, write FP32/FP16/INT8 into the ONNX, describe it for bench and serving."""
    from se_deploy.backends.base import BuildRequest
    from se_deploy.backends.registry import get_backend
    from se_deploy.input_shapes import parse_input_shapes
    from se_deploy.prepare import Preparation

    chosen = get_backend(backend)
    assert chosen.build is not None and chosen.options_from_cli is not None  # the --backend choices can build
    preparation = Preparation(
        precision=precision,
        fuse=not no_fuse,
        residual=not no_residual,
        se_precision=se_precision,
        calib=calib,
        calib_samples=calib_samples,
        calib_method=calib_method,
        quant_target=quant_target or chosen.quant_target,
        quantize_se=quantize_se,
        input_shapes=parse_input_shapes(input_shapes),
        fp16_mode=fp16_mode,
        calib_fit=calib_fit,
    )
    flags = {
        "device": device,
        "min_batch": min_batch,
        "opt_batch": opt_batch,
        "max_batch": max_batch,
        "portable": portable,
        "squeeze_hoist": squeeze_hoist,
        "no_plugin": no_plugin,
    }
    request = BuildRequest(model, output, preparation, force=force)
    with terminal_progress(err, quiet=as_json) as progress:
        result = chosen.build(request, chosen.options_from_cli(flags), progress)
    for note in result.notes:
        style = "[bold red]" if note.startswith("WARNING") else "[yellow]note:[/] "
        err.print(f"{style}{escape(note)}", highlight=False)
    if as_json and result.report is not None:
        click.echo(json.dumps(result.report, indent=2))
        return
    for line in result.summary:
        out.print(line, highlight=False)


@main.command("eval")
@click.argument("engine", type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Image folder (class sub-folders, or flat with --labels).",
)
@click.option(
    "--labels", type=click.Path(path_type=Path), default=None, help="Labels file: 'IMAGE_NAME LABEL' per line."
)
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per inference call.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate only the first N images.")
@click.option(
    "--reference-weights",
    type=click.Path(path_type=Path),
    default=None,
    help="PyTorch weights for the fidelity reference [default: the ones recorded at export].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_user_errors
def eval_command(
    engine: Path,
    data: Path,
    labels: Path | None,
    batch_size: int,
    limit: int | None,
    reference_weights: Path | None,
    as_json: bool,
) -> None:
    """Top-1/top-5 of an engine or ONNX model on labeled images, and fidelity vs PyTorch FP32."""
    from se_deploy.bench.accuracy import evaluate

    with err.status(f"evaluating {engine} on {data}"):
        result = evaluate(
            engine, data, labels_file=labels, batch_size=batch_size, limit=limit, reference_weights=reference_weights
        )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    for note in result.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    table = Table(title=f"{engine} ({result.precision}) on {result.images} images")
    for column in ("top-1", "top-5", "top-1 agreement vs PyTorch FP32", "max abs err", "mean abs err", "cosine"):
        table.add_column(column, justify="right")
    f = result.fidelity
    table.add_row(
        f"{result.top1:.2%}" if result.top1 is not None else "-",
        f"{result.top5:.2%}" if result.top5 is not None else "-",
        f"{f.top1_agreement:.2%}" if f else "-",
        f"{f.max_abs_error:.3g}" if f else "-",
        f"{f.mean_abs_error:.3g}" if f else "-",
        f"{f.cosine:.6f}" if f else "-",
    )
    out.print(table)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _batches(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in _csv(value))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated batch sizes like 1,8,32, got {value!r}") from None


@main.command("bench")
@click.option("--model", "model_name", required=True, help="Zoo SE model name, or an .onnx file with SE blocks.")
@click.option("--weights", default=None, help="Checkpoint for the zoo model (else the export's seeded random weights).")
@click.option(
    "--baseline",
    default="twin",
    show_default=True,
    help="'twin' (SE stripped) or a zoo model / .onnx trained without SE.",
)
@click.option("--baseline-weights", default=None, help="Checkpoint for a zoo --baseline.")
@click.option(
    "--backend",
    "backends",
    default="onnxruntime",
    show_default=True,
    help=f"Comma list: {','.join(backends_for_bench())}.",
)
@click.option("--precision", "precisions", default="fp32", show_default=True, help="Comma list: fp32,fp16,int8.")
@click.option(
    "--batch", "batches", default="1,8", show_default=True, callback=_batches, help="Comma list of batch sizes."
)
@click.option("--data", type=click.Path(path_type=Path), default=None, help="Labeled image folder: adds top-1/top-5.")
@click.option("--calib", type=click.Path(path_type=Path), default=None, help="Calibration images (int8).")
@click.option("--calib-samples", type=int, default=256, show_default=True, help="Calibration images to use (int8).")
@click.option(
    "--peers", default="", help="Also measure: torch,torch-compile,openvino (eager, torch.compile, OpenVINO; FP32 CPU)."
)
@click.option("--rounds", type=int, default=10, show_default=True, help="Interleaved rounds.")
@click.option("--input-shape", "input_shapes", multiple=True, help=INPUT_SHAPE_HELP)
@click.option(
    "--iterations", type=click.IntRange(min=1), default=5, show_default=True, help="Timed runs per variant per round."
)
@click.option(
    "--warmup", type=click.IntRange(min=0), default=3, show_default=True, help="Untimed runs per variant before timing."
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Intra-op threads [default: all cores].")
@click.option("--profile", is_flag=True, help="Attribute the SE tax to its parts with ONNX Runtime's profiler.")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for report.json, report.md and PNG plots [default: bench-report].",
)
@click.option("--out", "old_out_dir", type=click.Path(path_type=Path), default=None, hidden=True)
@click.option("--force", is_flag=True, help="Replace an existing report folder (only one se-deploy bench wrote).")
@click.option(
    "--json",
    "json_option",
    is_flag=False,
    flag_value="-",
    default=None,
    metavar="",
    help="Print the JSON report to stdout instead of tables (the report folder is written too).",
)
@_user_errors
def bench_command(
    model_name: str,
    weights: str | None,
    baseline: str,
    baseline_weights: str | None,
    backends: str,
    precisions: str,
    batches: tuple[int, ...],
    data: Path | None,
    calib: Path | None,
    calib_samples: int,
    peers: str,
    rounds: int,
    iterations: int,
    warmup: int,
    threads: int | None,
    profile: bool,
    input_shapes: tuple[str, ...],
    out_dir: Path | None,
    old_out_dir: Path | None,
    force: bool,
    json_option: str | None,
) -> None:
    """Latency and accuracy of stock vs fused vs the non-SE twin: what SE costs, and what se-deploy wins back."""
    from se_deploy.bench.job import BenchRequest, run_bench
    from se_deploy.bench.output import check_report_folder, resolve_outputs, write_report_folder
    from se_deploy.bench.peers import parse_peers
    from se_deploy.bench.report import write_json
    from se_deploy.bench.stats import RATIO_DEFINITION
    from se_deploy.input_shapes import parse_input_shapes
    from se_deploy.output_guard import BENCH_JSON_FILE, check_output

    try:
        outputs = resolve_outputs(out_dir, old_out_dir, json_option)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for note in outputs.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    out_dir, json_path, as_json = outputs.folder, outputs.json_path, outputs.print_json
    inputs = [Path(p) for p in (model_name, weights, baseline, baseline_weights, data, calib) if p]
    check_report_folder(out_dir, force=force, inputs=inputs)
    if json_path:
        check_output(json_path, BENCH_JSON_FILE, force=force, inputs=inputs, option="--json PATH")
    request = BenchRequest(
        model=model_name,
        weights=weights,
        baseline=baseline,
        baseline_weights=baseline_weights,
        backends=_csv(backends),
        precisions=_csv(precisions),
        batches=batches,
        data=data,
        calib=calib,
        calib_samples=calib_samples,
        peers=tuple(parse_peers(peers)),
        rounds=rounds,
        iterations=iterations,
        warmup=warmup,
        threads=threads,
        profile=profile,
        input_shapes=parse_input_shapes(input_shapes),
    )
    with terminal_progress(err, quiet=as_json) as progress:
        report = run_bench(request, progress=progress).to_dict()
    written = write_report_folder(report, out_dir)
    if json_path:
        write_json(report, json_path)
        written.append(json_path)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    table = Table(
        title=f"SE overhead of {report['models']['name']} (1.10 = 10% slower than the twin)",
        caption=RATIO_DEFINITION,
    )
    for column in (
        "backend",
        "precision",
        "batch",
        "stock vs twin",
        "fused vs twin",
        "fused speed-up",
        "twin ms",
        "noisy",
    ):
        table.add_column(column, justify="left" if column in {"backend", "precision"} else "right")
    for row in report["overhead"]:
        speedup = row["fused_speedup_vs_stock"]
        table.add_row(
            row["backend"],
            row["precision"],
            str(row["batch"]),
            f"{row['stock_vs_twin']:.3f}" if row["stock_vs_twin"] else "-",
            f"{row['fused_vs_twin']:.3f}" if row["fused_vs_twin"] else "-",
            f"{speedup:.3f}x" if speedup else "-",
            f"{row['round_ms']['twin']:.2f}",
            "yes" if row["noisy"] else "",
        )
    out.print(table)
    if report["accuracy"]:
        accuracy = Table(title="accuracy")
        for column in ("backend", "precision", "variant", "top-1", "top-5"):
            accuracy.add_column(column)
        for row in report["accuracy"]:
            accuracy.add_row(
                row["backend"],
                row["precision"],
                row["variant"],
                f"{row['top1']:.2%}" if row["top1"] is not None else "-",
                f"{row['top5']:.2%}" if row["top5"] is not None else "-",
            )
        out.print(accuracy)
    for note in report["notes"]:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


@main.command("package")
@click.argument("models", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("models"),
    show_default=True,
    help="Model repository to write into.",
)
@click.option(
    "--name", "names", multiple=True, help="Repository name per model, in order [default: from its metadata]."
)
@click.option("--max-batch", type=int, default=64, show_default=True, help="Triton max_batch_size.")
@click.option("--preferred-batch", default="8,16,32", show_default=True, help="Dynamic batching preferred sizes.")
@click.option("--instances", type=click.IntRange(min=1), default=1, show_default=True, help="Model instances.")
@click.option("--kind", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True, help="Instance kind.")
@click.option("--force", is_flag=True, help="Replace models already in the repository (only ones se-deploy wrote).")
@_user_errors
def package_command(
    models: tuple[Path, ...],
    output: Path,
    names: tuple[str, ...],
    max_batch: int,
    preferred_batch: str,
    instances: int,
    kind: str,
    force: bool,
) -> None:
    """Write a Triton Inference Server model repository from ONNX models and engine folders."""
    from se_deploy.repository import ServingOptions
    from se_deploy.serve.package import package

    try:
        preferred = tuple(int(p) for p in _csv(preferred_batch))
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated sizes, got {preferred_batch!r}", param_hint="--preferred-batch"
        ) from None
    options = ServingOptions(
        max_batch_size=max_batch, preferred_batch_sizes=preferred, instances=instances, kind=f"KIND_{kind.upper()}"
    )
    packaged = package(list(models), output, names=list(names) or None, options=options, force=force)
    for item in packaged:
        check = (
            "validated against Triton's ModelConfig"
            if item.validated
            else "not validated (pip install 'se-deploy[serve]')"
        )
        out.print(f"{output / item.name}  <- {item.source}  ({check})", highlight=False)


@main.command("make-digits")
@click.argument("output", type=click.Path(path_type=Path))
@click.option(
    "--split",
    type=click.Choice(["train", "test", "all"]),
    default="test",
    show_default=True,
    help="Which images: the stratified 1,347 train / 450 test split (seed 0), or all 1,797.",
)
@_user_errors
def make_digits_command(output: Path, split: str) -> None:
    """Write scikit-learn's handwritten digits as a labeled image folder (real data for eval and calibration)."""
    from se_deploy.data.digits import write_digits_folder

    count = write_digits_folder(output, split=split)
    out.print(f"wrote {count} digit images ({split} split) to {output}/<digit>/")


if __name__ == "__main__":
    from se_deploy.entry import main as entry

    entry()

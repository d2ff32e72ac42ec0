"""``se-deploy bench``: latency and accuracy of stock vs fused vs the non-SE twin, as a report folder."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.backends.registry import DEFAULT, backends_for_bench
from se_deploy.cli.options import (
    csv,
    force_option,
    input_shape_option,
    parse_batches,
    path_option,
    positive_int_option,
    user_errors,
)
from se_deploy.cli.progress import terminal_progress
from se_deploy.cli.render import err, print_bench, print_json, print_notes


@click.command("bench")
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
    default=DEFAULT,
    show_default=True,
    help=f"Comma list: {','.join(backends_for_bench())}.",
)
@click.option("--precision", "precisions", default="fp32", show_default=True, help="Comma list: fp32,fp16,int8.")
@click.option(
    "--batch", "batches", default="1,8", show_default=True, callback=parse_batches, help="Comma list of batch sizes."
)
@path_option("--data", help="Labeled image folder: adds top-1/top-5.")
@path_option("--calib", help="Calibration images (int8).")
@click.option("--calib-samples", type=int, default=256, show_default=True, help="Calibration images to use (int8).")
@click.option(
    "--peers", default="", help="Also measure: torch,torch-compile,openvino (eager, torch.compile, OpenVINO; FP32 CPU)."
)
@click.option("--rounds", type=int, default=10, show_default=True, help="Interleaved rounds.")
@input_shape_option
@positive_int_option("--iterations", default=5, help="Timed runs per variant per round.")
@click.option(
    "--warmup", type=click.IntRange(min=0), default=3, show_default=True, help="Untimed runs per variant before timing."
)
@positive_int_option("--threads", help="Intra-op threads [default: all cores].")
@click.option("--profile", is_flag=True, help="Attribute the SE tax to its parts with ONNX Runtime's profiler.")
@path_option(
    "-o",
    "--output",
    "out_dir",
    help="Folder for report.json, report.md and PNG plots [default: bench-report].",
)
@path_option("--out", "old_out_dir", hidden=True)
@force_option("Replace an existing report folder (only one se-deploy bench wrote).")
@click.option(
    "--json",
    "json_option",
    is_flag=False,
    flag_value="-",
    default=None,
    metavar="",
    help="Print the JSON report to stdout instead of tables (the report folder is written too).",
)
@user_errors
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
    from se_deploy.input_shapes import parse_input_shapes
    from se_deploy.output_guard import BENCH_JSON_FILE, check_output

    try:
        outputs = resolve_outputs(out_dir, old_out_dir, json_option)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    print_notes(outputs.notes)
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
        backends=csv(backends),
        precisions=csv(precisions),
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
        print_json(report)
        return
    print_bench(report, written)

"""Everything the CLI shows: tables and summaries on stdout (or JSON), notes and errors on stderr.

Commands parse their options, call a stage, and hand its result to one function here. Result types are
imported for type checking only: rendering needs no torch or onnx.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from se_deploy.bench.accuracy import AccuracyResult
    from se_deploy.export.job import ExportResult
    from se_deploy.models.catalog import ModelSummary
    from se_deploy.rewrite.job import FuseOutcome
    from se_deploy.rewrite.match import MatchReport
    from se_deploy.serve.package import PackagedModel

# Piped output is not wrapped at rich's 80-column fallback: model names must stay whole.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def print_error(exc: Exception) -> None:
    # escape: messages name extras like se-deploy[tensorrt], which rich would read as markup
    err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def print_notes(notes: Iterable[str]) -> None:
    for note in notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False)


def print_catalog(rows: Iterable[ModelSummary]) -> None:
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


def print_export(result: ExportResult) -> None:
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


def print_inspect(report: MatchReport, model: Path) -> None:
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


def print_fuse(outcome: FuseOutcome, output: Path, strip: bool) -> None:
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


def print_near_misses(outcome: FuseOutcome) -> None:
    for miss in outcome.surgery.report.near_misses:
        err.print(f"[yellow]near miss[/] {escape(f'{miss.anchor} ({miss.stage}): {miss.reason}')}", highlight=False)


def print_build_notes(notes: Iterable[str]) -> None:
    for note in notes:
        style = "[bold red]" if note.startswith("WARNING") else "[yellow]note:[/] "
        err.print(f"{style}{escape(note)}", highlight=False)


def print_lines(lines: Iterable[str]) -> None:
    """A backend's build summary (plain lines it wrote), to standard output."""
    for line in lines:
        out.print(line, highlight=False)


def print_eval(result: AccuracyResult, engine: Path) -> None:
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


def print_bench(report: dict[str, Any], written: Iterable[Path]) -> None:
    from se_deploy.bench.stats import RATIO_DEFINITION

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
    print_notes(report["notes"])
    out.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


def print_packaged(packaged: Iterable[PackagedModel], output: Path) -> None:
    for item in packaged:
        check = (
            "validated against Triton's ModelConfig"
            if item.validated
            else "not validated (pip install 'se-deploy[serve]')"
        )
        out.print(f"{output / item.name}  <- {item.source}  ({check})", highlight=False)


def print_digits(count: int, split: str, output: Path) -> None:
    out.print(f"wrote {count} digit images ({split} split) to {output}/<digit>/")

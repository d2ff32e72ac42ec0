"""The bench report folder (report.json, report.md, PNG plots), written whole or not at all.

The report is written into a staging folder beside the target and swapped into place; an existing
folder is replaced only when it is an earlier se-deploy bench report (see ``se_deploy.output_guard``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from se_deploy.bench.report import markdown, write_json, write_plots
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, staging_dir
from se_deploy.output_guard import BENCH_REPORT, check_output

REPORT_JSON = "report.json"
REPORT_MARKDOWN = "report.md"
DEFAULT_FOLDER = Path("bench-report")


@dataclass(frozen=True)
class BenchOutputs:
    folder: Path  # report.json, report.md, plots
    json_path: Path | None  # deprecated `--json PATH`: also write the JSON report here
    print_json: bool  # `--json` alone: the JSON report on stdout
    notes: tuple[str, ...]  # deprecation notes for stderr


def resolve_outputs(folder: Path | None, old_folder: Path | None, json_option: str | None) -> BenchOutputs:
    """``-o/--output`` and ``--json`` (a flag), with the old spellings ``--out DIR`` and ``--json PATH`` still working."""
    notes = []
    if old_folder is not None:
        notes.append("--out is deprecated; use -o/--output")
        if folder is not None and folder != old_folder:
            raise ValueError("give the report folder once: -o/--output (--out is its deprecated spelling)")
        folder = old_folder
    json_path = None
    if json_option not in (None, "-"):
        json_path = Path(json_option)
        notes.append(
            "--json PATH is deprecated: the report is always written to -o DIR/report.json, "
            "and --json alone prints it to stdout"
        )
    return BenchOutputs(folder or DEFAULT_FOLDER, json_path, json_option == "-", tuple(notes))


def check_report_folder(out_dir: Path, *, force: bool, inputs: list[Path]) -> None:
    """Refuse, before minutes of benchmarking, a report folder that could not be written or replaced."""
    check_output(out_dir, BENCH_REPORT, force=force, inputs=inputs)


def write_report_folder(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write the report folder atomically; returns the files written, as paths under ``out_dir``."""
    parent = out_dir.parent if str(out_dir.parent) else Path(".")
    with created_dirs(parent), staging_dir(parent) as staging:
        staged = staging / "report"
        staged.mkdir()
        write_json(report, staged / REPORT_JSON)
        atomic_write_text(staged / REPORT_MARKDOWN, markdown(report))
        plots = write_plots(report, staged)
        replace_dir(staged, out_dir, staging)
    return [out_dir / REPORT_JSON, out_dir / REPORT_MARKDOWN, *(out_dir / plot.name for plot in plots)]

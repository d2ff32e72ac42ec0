"""The bench report folder (report.json, report.md, PNG plots), written whole or not at all.

The report is written into a staging folder beside the target and swapped into place; an existing
folder is replaced only when it is an earlier se-deploy bench report (see ``se_deploy.output_guard``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from se_deploy.bench.report import markdown, write_json, write_plots
from se_deploy.fileio import atomic_write_text, created_dirs, replace_dir, staging_dir
from se_deploy.output_guard import BENCH_REPORT, check_output

REPORT_JSON = "report.json"
REPORT_MARKDOWN = "report.md"


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

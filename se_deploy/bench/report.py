"""Bench reports: JSON (the schema below), Markdown, and PNG plots.

JSON schema ``se-deploy/bench/1``::

    {
      "schema": "se-deploy/bench/1",
      "request": {...}, "environment": {date, cpu, cores, threads, gpu, os, python, versions{...}},
      "models": {name, se_blocks, image_size, baseline},
      "results":  [{variant, backend, precision, batch, latency_ms: {p50, p90, p99, mean}, throughput_ips, samples,
                    round_medians_ms: [per round]}],
      "overhead": [{backend, precision, batch, stock_vs_twin, fused_vs_twin, fused_speedup_vs_stock,
                    round_ms: {stock, fused, twin}, noisy,
                    detail: {<ratio>: {geomean, median, iqr_low, iqr_high, rounds, noisy}}}],
      "fidelity": [{backend, variant, precision, batch, reference, top1_agreement, max_abs_error}],
      "accuracy": [{backend, variant, precision, images, top1, top5, note}],
      "profile":  [{variant, precision, category, ms, share}],
      "engines":  [{backend, variant, precision, summary: [str], notes: [str]}]  (what each build said: SE-native
                   blocks rewritten, fallback reasons, ...),
      "notes": [str]
    }

Ratios: 1.10 means 10% slower than the denominator (the twin for overheads). One definition for every
column (``stats.RATIO_DEFINITION``): the geometric mean over rounds of per-round ratios of round
medians; ``round_ms`` is each variant's geometric-mean round median, so stock_vs_twin =
round_ms.stock / round_ms.twin and fused_speedup_vs_stock = stock_vs_twin / fused_vs_twin (up to
rounding). ``latency_ms`` percentiles in ``results`` pool all samples and are not used in ratios.
``noisy`` when the inter-quartile spread of the per-round ratios is larger than the effect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from se_deploy.bench.stats import RATIO_DEFINITION
from se_deploy.fileio import atomic_write, atomic_write_text

VARIANT_ORDER = ("stock", "fused", "twin", "baseline")


def write_json(report: dict[str, Any], path: Path) -> None:
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    models = report["models"]
    lines = [
        f"# SE overhead: {models['name']}",
        "",
        f"{env['date']} · {env['cpu']} ({env['cores']} cores, {env['threads']} threads)"
        + (f" · GPU {env['gpu']}" if env.get("gpu") else "")
        + f" · {', '.join(f'{k} {v}' for k, v in env['versions'].items())}",
        "",
        f"{models['se_blocks']} SE blocks, {models['image_size']}x{models['image_size']} input; baseline: {models['baseline']}. "
        f"Interleaved rounds: {report['request']['rounds']}; 1.10 = 10% slower. Definition: {RATIO_DEFINITION}.",
        "",
        "## SE overhead",
        "",
        "| backend | precision | batch | twin ms | stock vs twin | fused vs twin | fused speed-up vs stock "
        "| fused-portable vs twin | IQR stock / fused vs twin | noisy |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["overhead"]:
        speedup = row["fused_speedup_vs_stock"]
        detail = row.get("detail", {})
        twin_ms = (row.get("round_ms") or {}).get("twin")
        lines.append(
            f"| {row['backend']} | {row['precision']} | {row['batch']} | {f'{twin_ms:.2f}' if twin_ms else '-'} | "
            f"{_ratio(row['stock_vs_twin'])} | {_ratio(row['fused_vs_twin'])} | {f'{speedup:.3f}x' if speedup else '-'} | "
            f"{_ratio(row.get('fused_portable_vs_twin'))} | "
            f"{_iqr(detail.get('stock_vs_twin'))} / {_iqr(detail.get('fused_vs_twin'))} | "
            f"{'yes' if row['noisy'] else ''} |"
        )
    lines += [
        "",
        "## Latency",
        "",
        "| backend | precision | variant | batch | p50 ms | p90 ms | p99 ms | mean ms | images/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(report["results"], key=_row_order):
        latency = row["latency_ms"]
        lines.append(
            f"| {row['backend']} | {row['precision']} | {row['variant']} | {row['batch']} | {latency['p50']:.2f} | "
            f"{latency['p90']:.2f} | {latency['p99']:.2f} | {latency['mean']:.2f} | {row['throughput_ips']:.1f} |"
        )
    if report["fidelity"]:
        lines += [
            "",
            "## Fidelity vs PyTorch FP32 (bench inputs)",
            "",
            "| backend | precision | variant | batch | top-1 agreement | max abs error |",
            "|---|---|---|---|---|---|",
        ]
        for row in report["fidelity"]:
            lines.append(
                f"| {row['backend']} | {row['precision']} | {row['variant']} | {row['batch']} | "
                f"{row['top1_agreement']:.2%} | {row['max_abs_error']:.3g} |"
            )
    if report["accuracy"]:
        lines += [
            "",
            "## Accuracy",
            "",
            "| backend | precision | variant | images | top-1 | top-5 | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in report["accuracy"]:
            top1 = f"{row['top1']:.2%}" if row["top1"] is not None else "-"
            top5 = f"{row['top5']:.2%}" if row["top5"] is not None else "-"
            lines.append(
                f"| {row['backend']} | {row['precision']} | {row['variant']} | {row['images']} | {top1} | {top5} | {row['note'] or ''} |"
            )
    if report["profile"]:
        lines += [
            "",
            "## Where the time goes (ONNX Runtime profiler)",
            "",
            "| variant | precision | category | ms | share |",
            "|---|---|---|---|---|",
        ]
        for row in report["profile"]:
            lines.append(
                f"| {row['variant']} | {row['precision']} | {row['category']} | {row['ms']:.3f} | {row['share']:.1%} |"
            )
    if report["notes"]:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    engines = report.get("engines") or []  # absent from reports written before it existed
    if engines:
        lines += ["", "## Engines", ""]
        for engine in engines:
            said = " ".join(engine["summary"] + engine.get("notes", [])).replace("\n", "; ")
            lines.append(f"- {engine['backend']} {engine['variant']} {engine['precision']}: {said}")
    return "\n".join(lines) + "\n"


def _iqr(summary: dict[str, Any] | None) -> str:
    """The interquartile range of the per-round ratios behind a ratio column."""
    if not summary:
        return "-"
    return f"{summary['iqr_low']:.3f}-{summary['iqr_high']:.3f}"


def _ratio(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def _row_order(row: dict[str, Any]) -> tuple[Any, ...]:
    variant = VARIANT_ORDER.index(row["variant"]) if row["variant"] in VARIANT_ORDER else 9
    return (row["backend"], row["precision"], variant, row["batch"])


def write_plots(report: dict[str, Any], out: Path) -> list[Path]:
    """latency.png (p50 vs batch, per variant) and overhead.png (SE overhead bars); [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return []
    written = []
    groups = sorted({(r["backend"], r["precision"]) for r in report["results"]})
    figure, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for axis, (backend, precision) in zip(axes[0], groups, strict=True):
        for variant in VARIANT_ORDER:
            rows = sorted(
                (
                    r
                    for r in report["results"]
                    if (r["backend"], r["precision"], r["variant"]) == (backend, precision, variant)
                ),
                key=lambda r: r["batch"],
            )
            if rows:  # one colour per variant across every panel
                color = f"C{VARIANT_ORDER.index(variant)}"
                axis.plot(
                    [r["batch"] for r in rows],
                    [r["latency_ms"]["p50"] for r in rows],
                    marker="o",
                    label=variant,
                    color=color,
                )
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        batches = sorted({r["batch"] for r in report["results"]})
        axis.set_xticks(batches, [str(b) for b in batches])
        axis.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.set_xlabel("batch")
        axis.set_ylabel("p50 latency (ms)")
        axis.set_title(f"{backend} {precision}")
        axis.legend()
        axis.grid(True, alpha=0.3)
    figure.suptitle(f"{report['models']['name']}: latency by variant")
    figure.tight_layout()
    written.append(_save(figure, out / "latency.png"))
    plt.close(figure)

    rows = report["overhead"]
    if rows:
        labels = [f"{r['backend']}\n{r['precision']} b{r['batch']}" for r in rows]
        stock = [((r["stock_vs_twin"] or 1.0) - 1.0) * 100 for r in rows]
        fused = [((r["fused_vs_twin"] or 1.0) - 1.0) * 100 if r["fused_vs_twin"] is not None else 0.0 for r in rows]
        figure, axis = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4))
        positions = range(len(rows))
        axis.bar([p - 0.2 for p in positions], stock, width=0.4, label="stock vs twin")
        axis.bar([p + 0.2 for p in positions], fused, width=0.4, label="fused vs twin")
        axis.axhline(0, color="black", linewidth=0.8)
        axis.set_xticks(list(positions), labels, fontsize=8)
        axis.set_ylabel("SE overhead (% latency vs twin)")
        axis.set_title(f"{report['models']['name']}: what SE costs")
        axis.legend()
        axis.grid(True, axis="y", alpha=0.3)
        figure.tight_layout()
        written.append(_save(figure, out / "overhead.png"))
        plt.close(figure)
    return written


def _save(figure: Any, path: Path) -> Path:
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=110, format="png"))
    return path

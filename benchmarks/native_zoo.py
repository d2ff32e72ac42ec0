"""The SE tax across the zoo on ONNX Runtime CPU: stock, SE-native (`fused`), portable fused, twin, OpenVINO.

One `se-deploy bench` process per model, one after another (never two at once: they would share the cores),
then one table from their report.json files:

    python benchmarks/native_zoo.py run --out benchmarks/results/native_zoo --models se_mobilenet,se_resnet50
    python benchmarks/native_zoo.py table benchmarks/results/native_zoo
    python benchmarks/native_zoo.py run --out results/b1 --models se_inception_resnet_v2 --batches 1 --rounds 30
    python benchmarks/native_zoo.py table results/a results/b --out results/combined   # b's rows replace a's

`run` skips a model whose report.json exists (rerun it with --force), so an interrupted run continues.
Ratios are the bench's: the geometric mean over interleaved rounds of the per-round ratio vs the twin,
with the median and the inter-quartile range of the per-round ratios beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ZOO = (
    "se_shufflenet_g3",
    "se_mobilenet",
    "se_resnet18",
    "se_resnet34",
    "se_resnet50",
    "se_bn_inception",
    "se_resnext50_32x4d",
    "se_resnet101",
    "se_resnext101_32x4d",
    "se_resnet152",
    "se_inception_resnet_v2",
    "se_vgg16_bn",
    "senet154",
)
COLUMNS = ("stock", "fused", "fused_portable", "openvino_stock", "openvino_fused")


def run(models: list[str], out: Path, rounds: int, iterations: int, batches: str, force: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for model in models:
        target = out / model
        if (target / "report.json").exists() and not force:
            print(f"{model}: done already ({target}/report.json)", flush=True)
            continue
        command = [
            sys.executable, "-m", "se_deploy.entry", "bench", "--model", model, "--precision", "fp32",
            "--batch", batches, "--peers", "openvino", "--rounds", str(rounds), "--iterations", str(iterations),
            "-o", str(target), "--force",
        ]  # fmt: skip
        started = time.monotonic()
        print(" ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)
        print(f"{model}: {time.monotonic() - started:.0f} s", flush=True)


def _ratio(row: dict[str, Any], key: str) -> dict[str, float] | None:
    detail = row.get("detail", {}).get(key)
    if detail is None:
        return None
    return {k: detail[k] for k in ("geomean", "median", "iqr_low", "iqr_high")}


def table_rows(*folders: Path) -> list[dict[str, Any]]:
    """One row per model and batch: each variant / twin (geomean, median, IQR) and the twin's ms.

    With several folders, a (model, batch) row comes from the last folder whose report.json has that batch.
    """
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for folder in folders:
        for model in ZOO:
            if (folder / model / "report.json").exists():
                for row in _report_rows(folder, model):
                    latest[(model, row["batch"])] = row
    return [latest[key] for key in sorted(latest, key=lambda key: (ZOO.index(key[0]), key[1]))]


def _report_rows(folder: Path, model: str) -> list[dict[str, Any]]:
    report = json.loads((folder / model / "report.json").read_text())
    overhead = {(o["backend"], o["batch"]): o for o in report["overhead"] if o["precision"] == "fp32"}
    rows = []
    for batch in report["request"]["batches"]:
        ort, ov = overhead.get(("onnxruntime", batch)), overhead.get(("openvino", batch))
        if ort is None:
            continue
        rows.append(
            {
                "model": model,
                "batch": batch,
                "se_blocks": report["models"]["se_blocks"],
                "twin_ms": round(ort["round_ms"]["twin"], 2),
                "stock": _ratio(ort, "stock_vs_twin"),
                "fused": _ratio(ort, "fused_vs_twin"),
                "fused_portable": _ratio(ort, "fused_portable_vs_twin"),
                "fused_speedup_vs_stock": _ratio(ort, "fused_speedup_vs_stock"),
                "openvino_stock": _ratio(ov, "stock_vs_twin") if ov else None,
                "openvino_fused": _ratio(ov, "fused_vs_twin") if ov else None,
                "date": report["environment"]["date"],
                "cpu": report["environment"]["cpu"],
                "isa": report["environment"]["cpu_isa"],
                "versions": report["environment"]["versions"],
                "rounds": report["request"]["rounds"],
                "source": f"{folder.name}/{model}/report.json",
                "iterations": report["request"]["iterations"],
            }
        )
    return rows


def _cell(ratio: dict[str, float] | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio['geomean']:.3f} ({ratio['median']:.3f}) [{ratio['iqr_low']:.2f}-{ratio['iqr_high']:.2f}]"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | batch | twin ms | stock / twin | SE-native / twin | portable fused / twin | SE-native vs stock "
        "| OpenVINO stock / twin | OpenVINO fused (inlined) / twin | rounds, run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [_cell(row[c]) for c in ("stock", "fused", "fused_portable", "fused_speedup_vs_stock")]
        cells += [_cell(row["openvino_stock"]), _cell(row["openvino_fused"])]
        run = f"{row['rounds']}, {row['source'].split('/')[0]} {row['date'][:16]}"
        lines.append(f"| {row['model']} | {row['batch']} | {row['twin_ms']} | " + " | ".join(cells) + f" | {run} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="bench every model (one process each), then write the table")
    run_parser.add_argument("--out", type=Path, required=True)
    run_parser.add_argument("--models", default=",".join(ZOO), help="comma list [default: the whole SE zoo]")
    run_parser.add_argument("--rounds", type=int, default=10)
    run_parser.add_argument("--iterations", type=int, default=3)
    run_parser.add_argument("--batches", default="1,8", help="comma list [default: 1,8]")
    run_parser.add_argument("--force", action="store_true", help="rerun models that have a report.json")
    table_parser = commands.add_parser("table", help="write table.md and table.json from the reports")
    table_parser.add_argument("folders", type=Path, nargs="+", help="later folders' models replace earlier ones'")
    table_parser.add_argument("--out", type=Path, help="where table.md/json go [default: the last folder]")
    args = parser.parse_args()
    folders = [args.out] if args.command == "run" else args.folders
    folder = args.out if args.command == "run" or args.out else args.folders[-1]
    if args.command == "run":
        unknown = [m for m in args.models.split(",") if m not in ZOO]
        if unknown:
            parser.error(f"not an SE model of the zoo: {', '.join(unknown)}; choose from {', '.join(ZOO)}")
        run(args.models.split(","), folder, args.rounds, args.iterations, args.batches, args.force)
    rows = table_rows(*folders)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "table.json").write_text(json.dumps(rows, indent=2) + "\n")
    (folder / "table.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()

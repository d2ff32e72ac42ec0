"""``se-deploy bench``: what SE costs on each runtime, and what se-deploy wins back.

Builds every variant (stock, fused, stripped twin, optional trained baseline) per precision, measures
them interleaved, and derives ratios round by round. See ``report.py`` for the JSON schema.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from se_deploy.backends.base import BASELINE, FUSED, FUSED_PORTABLE, STOCK, TWIN, BuildRequest, LoadOptions, Runner
from se_deploy.backends.registry import backend_names, backends_for_bench, get_backend
from se_deploy.bench.accuracy import check_data_fits, evaluate
from se_deploy.bench.environment import environment
from se_deploy.bench.latency import Measurement, measure_interleaved
from se_deploy.bench.peers import backend_peer_runners, torch_peer_runners
from se_deploy.bench.stats import geometric_mean, ratio_summary, summarize_latency, throughput_ips
from se_deploy.bench.variants import BenchModels, prepare_models
from se_deploy.errors import InvalidArgumentError
from se_deploy.input_shapes import resolve_input_shapes
from se_deploy.onnx_io import load_onnx
from se_deploy.prepare import Preparation

SCHEMA = "se-deploy/bench/1"


@dataclass(frozen=True)
class BenchRequest:
    model: str
    weights: str | None = None
    baseline: str = "twin"
    baseline_weights: str | None = None
    backends: tuple[str, ...] = ("onnxruntime",)
    precisions: tuple[str, ...] = ("fp32",)
    batches: tuple[int, ...] = (1, 8)
    data: Path | None = None
    calib: Path | None = None
    calib_samples: int = 256
    peers: tuple[str, ...] = ()
    rounds: int = 10
    iterations: int = 5
    warmup: int = 3
    threads: int | None = None
    work: Path | None = None
    profile: bool = False
    input_shapes: dict[str, tuple[int, ...]] | None = None  # --input-shape, for models with free dims


@dataclass
class BenchReport:
    request: dict[str, Any]
    environment: dict[str, Any]
    models: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)
    overhead: list[dict[str, Any]] = field(default_factory=list)
    fidelity: list[dict[str, Any]] = field(default_factory=list)
    accuracy: list[dict[str, Any]] = field(default_factory=list)
    profile: list[dict[str, Any]] = field(default_factory=list)
    engines: list[dict[str, Any]] = field(default_factory=list)  # what each build reported (SE-native blocks, ...)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "request": self.request,
            "environment": self.environment,
            "models": self.models,
            "results": self.results,
            "overhead": self.overhead,
            "fidelity": self.fidelity,
            "accuracy": self.accuracy,
            "profile": self.profile,
            "engines": self.engines,
            "notes": self.notes,
        }


Progress = Callable[[str], None]


def validate(request: BenchRequest) -> None:
    choices = backends_for_bench()
    unknown = [b for b in request.backends if b not in choices]
    if unknown:
        raise InvalidArgumentError(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(choices)}")
    bad = [p for p in request.precisions if p not in ("fp32", "fp16", "int8")]
    if bad:
        raise InvalidArgumentError(f"unknown precision(s) {', '.join(bad)}; choose from fp32, fp16, int8")
    if "int8" in request.precisions and request.calib is None:
        raise InvalidArgumentError("--precision int8 needs calibration images: pass --calib DIR")
    if not request.batches or any(b < 1 for b in request.batches):
        raise InvalidArgumentError("--batch takes positive batch sizes, e.g. 1,8,32")
    if request.rounds < 2:
        raise InvalidArgumentError("--rounds must be at least 2: ratios are summarized over rounds")


def run_bench(request: BenchRequest, progress: Progress = lambda _m: None) -> BenchReport:
    validate(request)
    threads = request.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="se-deploy-bench-") as scratch:
        work = request.work or Path(scratch)
        models = prepare_models(
            request.model,
            work,
            weights=request.weights,
            baseline=request.baseline,
            baseline_weights=request.baseline_weights,
            progress=progress,
        )
        if request.data:
            check_data_fits(models.stock, request.data)  # before minutes of measuring, not after
        report = BenchReport(
            request=_request_dict(request, threads),
            environment=environment(threads),
            models={
                "name": models.name,
                "se_blocks": models.se_blocks,
                "image_size": models.image_size,
                "baseline": models.baseline_name or "twin (stripped)",
            },
        )
        engines = _build_engines(request, models, work, report, progress)
        timed = LoadOptions(threads=threads, max_batch=max(request.batches), timed=True)
        runners: dict[tuple[str, ...], Runner] = {
            key: get_backend(key[0]).load(path, timed)  # type: ignore[misc]
            for key, path in engines.items()
        }
        runners.update(torch_peer_runners(request.peers, models.torch_model, models.torch_twin, report.notes))
        peer_sources = {STOCK: models.stock, FUSED: models.stock, TWIN: models.twin}
        runners.update(backend_peer_runners(request.peers, peer_sources, work, threads=threads, notes=report.notes))
        runners.update(_module_runners(request, models, report))
        if not runners:
            raise InvalidArgumentError(
                "nothing could be measured on this machine: " + "; ".join(report.notes) + ". Add --backend onnxruntime."
            )
        shape = next(iter(resolve_input_shapes(load_onnx(models.stock), request.input_shapes, batch=1).values()))
        inputs = {
            b: np.random.default_rng(b).standard_normal((b, *shape[1:])).astype(np.float32) for b in request.batches
        }
        measurements = measure_interleaved(
            runners,
            inputs,
            warmup=request.warmup,
            rounds=request.rounds,
            iterations=request.iterations,
            progress=progress,
        )
        report.results = _result_rows(measurements)
        report.overhead = _overhead_rows(measurements, request.batches)
        report.fidelity = _fidelity_rows(runners, models, inputs)
        if request.data is not None:
            report.accuracy = _accuracy_rows(engines, request.data, progress)
        if request.profile:
            from se_deploy.bench.profile import profile_se_tax

            progress("profiling the SE tax")
            report.profile = profile_se_tax(engines, inputs[min(request.batches)], threads)
    return report


def _request_dict(request: BenchRequest, threads: int) -> dict[str, Any]:
    return {
        "model": request.model,
        "weights": request.weights,
        "baseline": request.baseline,
        "backends": list(request.backends),
        "precisions": list(request.precisions),
        "batches": list(request.batches),
        "data": str(request.data) if request.data else None,
        "peers": list(request.peers),
        "rounds": request.rounds,
        "iterations": request.iterations,
        "warmup": request.warmup,
        "threads": threads,
    }


def _build_engines(
    request: BenchRequest, models: BenchModels, work: Path, report: BenchReport, progress: Progress
) -> dict[tuple[str, ...], Path]:
    """Every variant per precision on each backend that builds artifacts, keyed (backend, variant, precision)."""
    engines: dict[tuple[str, ...], Path] = {}
    sources = {STOCK: models.stock, FUSED: models.stock, FUSED_PORTABLE: models.stock, TWIN: models.twin}
    if models.baseline is not None:
        sources[BASELINE] = models.baseline
    for name in request.backends:
        backend = get_backend(name)
        if backend.build is None or backend.bench_variants is None:
            continue  # no artifact to build (torch): _module_runners runs it, or notes why it cannot
        reason = backend.unavailable()
        if reason:
            report.notes.append(f"{name}: skipped ({reason})")
            continue
        for precision in request.precisions:
            for variant, plan in backend.bench_variants(precision, request.batches).items():
                if variant not in sources:
                    continue
                target = work / "engines" / f"{name}-{variant}-{precision}{backend.artifact_suffix}"
                progress(f"building {variant} {precision} ({name})")
                preparation = Preparation(
                    precision=precision,
                    fuse=plan.fuse,
                    calib=request.calib,
                    calib_samples=request.calib_samples,
                    quant_target=backend.quant_target,
                    input_shapes=request.input_shapes,
                )
                built = backend.build(
                    BuildRequest(sources[variant], target, preparation, force=True), plan.options, progress
                )
                engines[name, variant, precision] = target
                report.engines.append(
                    {
                        "backend": name,
                        "variant": variant,
                        "precision": precision,
                        "summary": list(built.summary),
                        "notes": list(built.notes),
                    }
                )
    if not engines and any(get_backend(name).build is not None for name in request.backends):
        raise InvalidArgumentError("no backend could be measured on this machine: add --backend onnxruntime")
    return engines


def _module_runners(request: BenchRequest, models: BenchModels, report: BenchReport) -> dict[tuple[str, ...], Any]:
    """Backends that run PyTorch modules (the fused-kernel CUDA runtime next to the same model unfused)."""
    runners: dict[tuple[str, ...], Any] = {}
    for name in request.backends:
        backend = get_backend(name)
        if backend.module_runners is None:
            continue
        reason = backend.unavailable()
        if reason:
            report.notes.append(f"{name}: skipped ({reason})")
            continue
        if models.torch_model is None or models.torch_twin is None:  # pragma: no cover - needs a GPU
            report.notes.append(f"{name}: needs a zoo model (not an .onnx path); skipped")
            continue
        runners.update(backend.module_runners(models.torch_model, models.torch_twin, "cuda"))  # pragma: no cover
    return runners


def _result_rows(measurements: dict[tuple[tuple[str, ...], int], Measurement]) -> list[dict[str, Any]]:
    rows = []
    for (key, batch), measurement in measurements.items():
        backend, variant, precision = key
        latency = summarize_latency(measurement.samples_ms)
        rows.append(
            {
                "variant": variant,
                "backend": backend,
                "precision": precision,
                "batch": batch,
                "latency_ms": {k: round(v, 3) for k, v in latency.to_dict().items()},
                "throughput_ips": round(throughput_ips(batch, latency.p50), 2),
                "samples": latency.samples,
                "round_medians_ms": [round(v, 4) for v in measurement.round_medians_ms],
            }
        )
    return rows


def _overhead_rows(
    measurements: dict[tuple[tuple[str, ...], int], Measurement], batches: tuple[int, ...]
) -> list[dict[str, Any]]:
    rows = []
    groups = sorted({(key[0], key[2]) for key, _batch in measurements})
    for backend, precision in groups:
        for batch in batches:

            def rounds(
                variant: str, backend: str = backend, precision: str = precision, batch: int = batch
            ) -> list[float] | None:
                measurement = measurements.get(((backend, variant, precision), batch))
                return measurement.round_medians_ms if measurement else None

            stock, fused, twin = rounds(STOCK), rounds(FUSED), rounds(TWIN)
            if twin is None:
                continue
            row: dict[str, Any] = {"backend": backend, "precision": precision, "batch": batch}
            stock_ratio = ratio_summary(stock, twin) if stock else None
            fused_ratio = ratio_summary(fused, twin) if fused else None
            speedup = ratio_summary(stock, fused) if stock and fused else None
            row["stock_vs_twin"] = round(stock_ratio.center, 4) if stock_ratio else None
            row["fused_vs_twin"] = round(fused_ratio.center, 4) if fused_ratio else None
            row["fused_speedup_vs_stock"] = round(speedup.center, 4) if speedup else None
            row["round_ms"] = {
                name: round(geometric_mean(r), 4)
                for name, r in (("stock", stock), ("fused", fused), ("twin", twin))
                if r
            }
            portable = rounds(FUSED_PORTABLE)
            portable_ratio = ratio_summary(portable, twin) if portable else None
            row["fused_portable_vs_twin"] = round(portable_ratio.center, 4) if portable_ratio else None
            row["detail"] = {
                "stock_vs_twin": stock_ratio.to_dict() if stock_ratio else None,
                "fused_vs_twin": fused_ratio.to_dict() if fused_ratio else None,
                "fused_speedup_vs_stock": speedup.to_dict() if speedup else None,
                "fused_portable_vs_twin": portable_ratio.to_dict() if portable_ratio else None,
            }
            row["noisy"] = any(r.noisy for r in (stock_ratio, fused_ratio) if r is not None)
            rows.append(row)
    return rows


def _fidelity_rows(
    runners: dict[tuple[str, ...], Any], models: BenchModels, inputs: dict[int, np.ndarray]
) -> list[dict[str, Any]]:
    """Each ONNX Runtime variant vs PyTorch FP32 on the bench inputs (the twin vs the PyTorch twin)."""
    if models.torch_model is None or models.torch_twin is None:
        return []
    rows = []
    names = backend_names()
    for batch, data in inputs.items():
        with torch.inference_mode():
            reference = {
                STOCK: models.torch_model(torch.from_numpy(data)).numpy(),
                TWIN: models.torch_twin(torch.from_numpy(data)).numpy(),
            }
        for key, runner in runners.items():
            backend, variant, precision = key
            if variant == BASELINE or backend not in names:
                continue  # module runners (torch-eager, torch-cuda...) run the reference itself, not a conversion
            want = reference[TWIN if variant == TWIN else STOCK].astype(np.float64)
            got = runner.infer(data).astype(np.float64)
            rows.append(
                {
                    "backend": backend,
                    "variant": variant,
                    "precision": precision,
                    "batch": batch,
                    "reference": "pytorch fp32" + (" twin (shared weights)" if variant == TWIN else ""),
                    "top1_agreement": float((want.argmax(1) == got.argmax(1)).mean()),
                    "max_abs_error": float(np.abs(want - got).max()),
                }
            )
    return rows


def _accuracy_rows(engines: dict[tuple[str, ...], Path], data: Path, progress: Progress) -> list[dict[str, Any]]:
    rows = []
    for (backend, variant, precision), path in engines.items():
        if not get_backend(backend).accuracy:
            continue  # e.g. TensorRT plans: measured for latency; accuracy runs through ONNX Runtime engines
        progress(f"accuracy of {variant} {precision} on {data}")
        result = evaluate(path, data)
        rows.append(
            {
                "backend": backend,
                "variant": variant,
                "precision": precision,
                "images": result.images,
                "top1": result.top1,
                "top5": result.top5,
                "note": "SE removed from a trained network: not a trained model" if variant == TWIN else None,
            }
        )
    return rows

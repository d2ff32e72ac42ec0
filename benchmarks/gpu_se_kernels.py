"""GPU check of the fused SE kernels and the PyTorch fused runtime (issue #6).

    PYTHONPATH=. python benchmarks/gpu_se_kernels.py --out $OUT                  # everything
    PYTHONPATH=. python benchmarks/gpu_se_kernels.py --sections kernels --out $OUT
    PYTHONPATH=. python benchmarks/gpu_se_kernels.py --sections e2e --modes eager,cuda_graph,fused --out $OUT
    PYTHONPATH=. python benchmarks/gpu_se_kernels.py --sections e2e --modes compile --out $OUT
    TRITON_INTERPRET=1 python benchmarks/gpu_se_kernels.py --smoke --out /tmp/smoke   # CPU: code paths only

Sections:
* ``correctness``: the Triton op vs the PyTorch reference on SE-ResNet-50's SE shapes, FP16/FP32, NCHW/NHWC.
* ``kernels``: per SE-ResNet-50 stage shape and batch (1, 32, 256), FP16 channels-last, the fused op with
  its residual (SE + add + ReLU) vs the same unfused PyTorch ops, CUDA-event timed; bytes the fused op
  must move (3 reads + 1 write of the activation) over its time, as a fraction of HBM peak (``--hbm-tbps``).
* ``e2e``: SE-ResNet-50 vs its non-SE twin (same shared weights), FP16 channels-last, batch 1/32/256, per
  mode (eager, cuda_graph, compile = torch.compile max-autotune, fused = ours + CUDA graph), rounds
  interleaved; SE overhead = SE latency / twin latency in the same mode (ours vs the twin's CUDA graph).
Writes ``gpu_se_kernels.json`` and ``gpu_se_kernels.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from se_deploy.backends.torch.runner import TorchCudaRunner  # noqa: E402
from se_deploy.kernels.ops import fused_se_triton, reference  # noqa: E402
from se_deploy.models import create_model  # noqa: E402

STAGES = [(256, 56), (512, 28), (1024, 14), (2048, 7)]  # SE-ResNet-50 SE inputs at 224x224: (C, H=W)


def environment(smoke: bool) -> dict[str, object]:
    import triton

    record: dict[str, object] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "python": platform.python_version(),
        "smoke": smoke,
        "interpreter": os.environ.get("TRITON_INTERPRET") == "1",
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        record |= {
            "gpu": props.name,
            "gpu_memory_gib": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
        }
        try:
            record["driver"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            record["driver"] = None
    return record


def timer(device: str):  # type: ignore[no-untyped-def]
    """Milliseconds of fn(), CUDA events on the GPU, perf_counter on the CPU (smoke)."""

    def measure(fn, iterations: int) -> float:  # type: ignore[no-untyped-def]
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            for _ in range(iterations):
                fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / iterations
        begin = time.perf_counter()
        for _ in range(iterations):
            fn()
        return (time.perf_counter() - begin) * 1e3 / iterations

    return measure


def se_weights(c: int, device: str, dtype: torch.dtype) -> list[torch.Tensor]:
    r = c // 16
    g = torch.Generator().manual_seed(c)
    return [(torch.randn(*s, generator=g) * 0.05).to(device, dtype) for s in ((r, c), (r,), (c, r), (c,))]


def unfused(x, w1, b1, w2, b2, residual):  # type: ignore[no-untyped-def]
    """What PyTorch runs for an SE block before a residual add: the ops as a model writes them."""
    s = x.mean((2, 3), keepdim=True)
    s = F.conv2d(s, w1[:, :, None, None], b1)
    s = torch.sigmoid(F.conv2d(F.relu(s), w2[:, :, None, None], b2))
    return F.relu(x * s + residual)


def correctness(device: str, smoke: bool) -> list[dict[str, object]]:
    rows = []
    stages = [(24, 7), (40, 5)] if smoke else STAGES
    for c, hw in stages:
        for dtype in (torch.float16, torch.float32):
            for channels_last in (True, False):
                for batch in (1, 3):
                    x = torch.randn(batch, c, hw, hw, device=device).to(dtype)
                    res = torch.randn_like(x)
                    if channels_last:
                        x, res = (
                            x.contiguous(memory_format=torch.channels_last),
                            res.contiguous(memory_format=torch.channels_last),
                        )
                    w = se_weights(c, device, torch.float32)
                    got = fused_se_triton(x, *w, res)
                    want = reference(x, *w, res)
                    rows.append(
                        {
                            "C": c,
                            "HW": hw,
                            "batch": batch,
                            "dtype": str(dtype).split(".")[-1],
                            "channels_last": channels_last,
                            "max_abs_error": float((got.float() - want.float()).abs().max()),
                        }
                    )
    return rows


def kernels(device: str, smoke: bool, hbm_tbps: float) -> list[dict[str, object]]:
    rows = []
    measure = timer(device)
    dtype = torch.float16 if device == "cuda" else torch.float32
    stages = [(24, 7)] if smoke else STAGES
    for c, hw in stages:
        for batch in (1, 2) if smoke else (1, 32, 256):
            x = torch.randn(batch, c, hw, hw, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
            res = torch.randn_like(x)
            w = [t.to(dtype) for t in se_weights(c, device, torch.float32)]
            iterations = 2 if smoke else 50
            fused_call, unfused_call = partial(fused_se_triton, x, *w, res), partial(unfused, x, *w, res)
            for fn in (fused_call, unfused_call):
                fn()  # compile / warm up
            ours = measure(fused_call, iterations)
            torch_ms = measure(unfused_call, iterations)
            moved = 4 * x.numel() * x.element_size()  # read x twice (squeeze, scale), read residual, write y
            bandwidth = moved / (ours * 1e-3) / 1e12
            rows.append(
                {
                    "C": c,
                    "HW": hw,
                    "batch": batch,
                    "fused_ms": round(ours, 4),
                    "unfused_torch_ms": round(torch_ms, 4),
                    "speedup": round(torch_ms / ours, 3),
                    "bytes_moved": moved,
                    "achieved_tbps": round(bandwidth, 3),
                    "fraction_of_hbm_peak": round(bandwidth / hbm_tbps, 3),
                }
            )
            print(rows[-1], flush=True)
    return rows


def e2e(device: str, smoke: bool, modes: list[str], rounds: int) -> list[dict[str, object]]:
    name, twin_name, size = ("se_resnet_tiny", "resnet_tiny", 32) if smoke else ("se_resnet50", "resnet50", 224)
    torch.manual_seed(0)
    se_model = create_model(name)
    twin = create_model(twin_name, num_classes=se_model.fc.out_features)
    twin.load_state_dict({k: v for k, v in se_model.state_dict().items() if ".se." not in k})
    dtype = torch.float16 if device == "cuda" else torch.float32
    measure = timer(device)
    rows = []
    for batch in (1, 2) if smoke else (1, 32, 256):
        x = torch.randn(batch, 3, size, size).numpy()
        runners = {}
        for mode in modes:
            twin_mode = "cuda_graph" if mode == "fused" else mode  # the twin has no SE to fuse
            runners[mode, "se"] = TorchCudaRunner.create(se_model, mode=mode, dtype=dtype, device=device)
            runners[mode, "twin"] = TorchCudaRunner.create(twin, mode=twin_mode, dtype=dtype, device=device)
        tensors = {key: runner._prepare(x) for key, runner in runners.items()}
        reference_out = runners[modes[0], "se"].infer(x)
        for key, runner in runners.items():  # warm-up: compile, autotune, graph capture
            for _ in range(3):
                runner.infer_tensor(tensors[key])
        per_round: dict[tuple[str, str], list[float]] = {key: [] for key in runners}
        iterations = 2 if smoke else max(5, 200 // batch)
        keys = list(runners)
        for round_index in range(rounds):
            shift = round_index % len(keys)
            for key in keys[shift:] + keys[:shift]:
                runner, tensor = runners[key], tensors[key]
                per_round[key].append(
                    measure(lambda runner=runner, tensor=tensor: runner.infer_tensor(tensor), iterations)
                )
        for mode in modes:
            se_ms, twin_ms = per_round[mode, "se"], per_round[mode, "twin"]
            ratios = [a / b for a, b in zip(se_ms, twin_ms, strict=True)]
            out = runners[mode, "se"].infer(x)
            rows.append(
                {
                    "batch": batch,
                    "mode": mode,
                    "se_ms": round(statistics.median(se_ms), 4),
                    "twin_ms": round(statistics.median(twin_ms), 4),
                    "se_overhead": round(statistics.median(ratios) - 1, 4),
                    "ratio_min": round(min(ratios), 4),
                    "ratio_max": round(max(ratios), 4),
                    "se_images_per_s": round(batch * 1000 / statistics.median(se_ms), 1),
                    "max_abs_diff_vs_first_mode": float(abs(out - reference_out).max()),
                    "swap": (
                        {
                            "residual_fused": len(runners[mode, "se"].swap.residual_fused),
                            "fused": len(runners[mode, "se"].swap.fused),
                        }
                        if runners[mode, "se"].swap
                        else None
                    ),
                }
            )
            print(rows[-1], flush=True)
    return rows


def markdown(record: dict[str, object]) -> str:
    lines = [
        f"# GPU SE kernels: {record['environment'].get('gpu', 'CPU smoke run')}",
        "",
        "```",
        json.dumps(record["environment"], indent=2),
        "```",
    ]
    for section in ("kernels", "e2e"):
        rows = record.get(section) or []
        if rows:
            keys = [k for k in rows[0] if k != "swap"]
            lines += ["", f"## {section}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_se_kernels")
    parser.add_argument("--sections", default="correctness,kernels,e2e")
    parser.add_argument("--modes", default="eager,cuda_graph,compile,fused")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hbm-tbps", type=float, default=4.8, help="HBM peak, TB/s (H200: 4.8)")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes on the CPU (Triton interpreter): code paths only"
    )
    args = parser.parse_args()
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit(
            "no CUDA GPU visible: run on the GPU machine, or pass --smoke (with TRITON_INTERPRET=1) for a CPU check"
        )
    modes = [m for m in args.modes.split(",") if m]
    if args.smoke:
        modes = [m for m in modes if m in ("eager", "fused")]
    sections = args.sections.split(",")
    record: dict[str, object] = {"environment": environment(args.smoke), "command": " ".join(sys.argv)}
    if "correctness" in sections:
        record["correctness"] = correctness(device, args.smoke)
        print("correctness max abs error:", max(r["max_abs_error"] for r in record["correctness"]), flush=True)
    if "kernels" in sections:
        record["kernels"] = kernels(device, args.smoke, args.hbm_tbps)
    if "e2e" in sections:
        record["e2e"] = e2e(device, args.smoke, modes, 2 if args.smoke else args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = (
        ""
        if set(sections) == {"correctness", "kernels", "e2e"}
        else "_" + "_".join(sections) + ("_" + "_".join(modes) if "e2e" in sections else "")
    )
    (args.out / f"gpu_se_kernels{suffix}.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / f"gpu_se_kernels{suffix}.md").write_text(markdown(record))


if __name__ == "__main__":
    main()

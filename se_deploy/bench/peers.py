"""What users would run instead, measured in the same bench: PyTorch eager and torch.compile (CPU, FP32),
and every registered backend whose bench role is "peer" (OpenVINO: CPU, FP32). Peers run on the same
runners as the backends (``backends/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from se_deploy.backends.base import BuildRequest, LoadOptions, Runner
from se_deploy.backends.registry import backends_for_bench, get_backend
from se_deploy.errors import InvalidArgumentError

# peer name -> mode of the torch backend's module runners (backends/torch/backend.py)
TORCH_PEERS: dict[str, str] = {"torch": "eager", "torch-compile": "compile"}


def peer_names() -> tuple[str, ...]:
    return (*TORCH_PEERS, *backends_for_bench("peer"))


def parse_peers(value: str | None) -> list[str]:
    if not value:
        return []
    peers = [p.strip() for p in value.split(",") if p.strip()]
    choices = peer_names()
    unknown = [p for p in peers if p not in choices]
    if unknown:
        raise InvalidArgumentError(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(choices)}")
    return peers


def torch_peer_runners(
    peers: tuple[str, ...], model: Any, twin: Any, notes: list[str]
) -> dict[tuple[str, str, str], Runner]:
    """CPU FP32 runners for the PyTorch peers (``model``/``twin``: the zoo modules, None for an .onnx bench)."""
    wanted = [peer for peer in peers if peer in TORCH_PEERS]
    if not wanted:
        return {}
    if model is None or twin is None:
        notes.append("peers: PyTorch peers need a zoo model (not an .onnx path); skipped")
        return {}
    module_runners = get_backend("torch").module_runners
    assert module_runners is not None
    runners: dict[tuple[str, str, str], Runner] = {}
    for peer in wanted:
        runners.update(module_runners(model, twin, TORCH_PEERS[peer]))
    return runners


def backend_peer_runners(
    peers: tuple[str, ...], sources: dict[str, Path], work: Path, *, threads: int, notes: list[str]
) -> dict[tuple[str, str, str], Runner]:
    """FP32 runners for each backend peer, keyed (peer, variant, "fp32"); none, with a note, where it cannot run.

    ``sources``: variant -> (stock or twin) ONNX file; each variant is built as the backend's artifact first.
    """
    runners: dict[tuple[str, str, str], Runner] = {}
    for peer in (p for p in peers if p not in TORCH_PEERS):
        backend = get_backend(peer)
        reason = backend.unavailable()
        if reason:
            notes.append(f"{peer}: skipped ({reason})")
            continue
        assert backend.build and backend.load and backend.bench_variants and backend.bench_note
        notes.append(backend.bench_note())
        for variant, plan in backend.bench_variants("fp32", ()).items():
            from se_deploy.prepare import Preparation  # the rewrite and precision stages: only when building

            target = work / peer / f"{variant}{backend.artifact_suffix}"
            request = BuildRequest(sources[variant], target, Preparation(fuse=plan.fuse), force=True)
            backend.build(request, plan.options, lambda _m: None)
            runners[peer, variant, "fp32"] = backend.load(target, LoadOptions(threads=threads, timed=True))
    return runners

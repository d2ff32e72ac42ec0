"""What users would run instead, measured in the same bench: PyTorch eager and torch.compile (CPU, FP32),
and OpenVINO (CPU, FP32; ``openvino_peer.py``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from se_deploy.errors import InvalidArgumentError

TORCH_PEERS: tuple[str, ...] = ("torch", "torch-compile")
PEERS: tuple[str, ...] = (*TORCH_PEERS, "openvino")


class TorchRunner:
    """``infer(batch)`` for a PyTorch module, in inference mode, on the CPU."""

    def __init__(self, module: nn.Module, *, compiled: bool = False) -> None:
        self.module = torch.compile(module.eval()) if compiled else module.eval()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(batch)).numpy()


def parse_peers(value: str | None) -> list[str]:
    if not value:
        return []
    peers = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise InvalidArgumentError(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    return peers

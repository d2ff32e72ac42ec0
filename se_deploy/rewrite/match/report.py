"""What the matcher returns: matched SE blocks, their residual tails, and near misses with their reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ResidualTail:
    """The residual Add (and ReLU) that the SE output feeds, fusable into the residual op."""

    residual_input: str
    output: str
    nodes: tuple[int, ...]
    activation: str  # "relu" or "none"


@dataclass(frozen=True)
class SEBlock:
    """One matched SE block. Weights are (out, in) matrices in the model's float type."""

    name: str
    input: str
    output: str
    channels: int
    reduced_channels: int
    pool: str
    fc: str
    activation: str
    activation_alpha: float
    gate: str
    gate_alpha: float
    gate_beta: float
    w1: np.ndarray = field(repr=False)
    b1: np.ndarray = field(repr=False)
    w2: np.ndarray = field(repr=False)
    b2: np.ndarray = field(repr=False)
    nodes: tuple[int, ...] = field(repr=False)
    residual: ResidualTail | None = None

    @property
    def dtype(self) -> str:
        return str(self.w1.dtype)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input": self.input,
            "output": self.output,
            "channels": self.channels,
            "reduced_channels": self.reduced_channels,
            "pool": self.pool,
            "fc": self.fc,
            "activation": self.activation,
            "gate": self.gate,
            "gate_alpha": self.gate_alpha if self.gate == "hard_sigmoid" else None,
            "gate_beta": self.gate_beta if self.gate == "hard_sigmoid" else None,
            "dtype": self.dtype,
            "residual": self.residual is not None,
            "residual_activation": self.residual.activation if self.residual else None,
            "nodes": len(self.nodes),
        }


@dataclass(frozen=True)
class NearMiss:
    """An SE-like subgraph that failed a check, and why."""

    anchor: str  # the squeeze node's name
    stage: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"anchor": self.anchor, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True)
class MatchReport:
    blocks: tuple[SEBlock, ...]
    near_misses: tuple[NearMiss, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "se_blocks": [block.to_dict() for block in self.blocks],
            "near_misses": [miss.to_dict() for miss in self.near_misses],
        }

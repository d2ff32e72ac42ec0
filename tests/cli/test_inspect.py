"""`se-deploy inspect`: SE blocks and near misses, as JSON and as a table."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from tests.cli.helpers import run
from tests.rewrite.graphs import SEGraph


def test_inspect_json_lists_blocks_and_near_misses(se_onnx: Path) -> None:
    code, stdout, _ = run("inspect", str(se_onnx), "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["near_misses"] == []
    (block,) = report["se_blocks"]
    assert block["channels"] == 8 and block["reduced_channels"] == 2
    assert block["residual"] and block["residual_activation"] == "relu"
    assert block["activation"] == "relu" and block["gate"] == "sigmoid" and block["pool"] == "GlobalAveragePool"


def test_inspect_table_shows_near_misses(tmp_path: Path) -> None:

    path = tmp_path / "tanh.onnx"
    onnx.save(SEGraph(gate="Tanh").build(), str(path))
    code, stdout, _ = run("inspect", str(path))
    assert code == 0 and "0 SE block(s)" in stdout and "expected a gate" in stdout

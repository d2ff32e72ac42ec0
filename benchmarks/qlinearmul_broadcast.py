"""How ONNX Runtime's QLinearMul (the INT8 SE scale) runs when the gate is broadcast, at 1 and 2 threads.

The INT8 SE tax at 2 threads is a broadcast QLinearMul that does not get faster with the second thread
(`benchmarks/results/int8_op_profile/`). This times one QLinearMul on an SE-ResNet-50 stage-1 sized tensor
(batch 8, 256 channels, 56x56) with the gate laid out as ORT's channels-last INT8 graph has it
(``[N,1,1,C]`` on NHWC), as an NCHW graph would (``[N,C,1,1]``), and without broadcasting (same shape):

    python benchmarks/qlinearmul_broadcast.py --out benchmarks/results/int8_op_profile/qlinearmul_broadcast.json

One session per case and thread count, 3 warm-up runs, median of 15 timed runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from se_deploy.bench.environment import cpu_isa, cpu_model

CASES = {
    "nhwc_gate_N11C": ((8, 56, 56, 256), (8, 1, 1, 256)),
    "nchw_gate_NC11": ((8, 256, 56, 56), (8, 256, 1, 1)),
    "same_shape": ((8, 56, 56, 256), (8, 56, 56, 256)),
}


def qlinearmul_model(x_shape: tuple[int, ...], gate_shape: tuple[int, ...]) -> bytes:
    quant = [("sa", 0.02, np.float32), ("za", 128, np.uint8), ("sb", 0.004, np.float32), ("zb", 0, np.uint8)]
    quant += [("sc", 0.02, np.float32), ("zc", 128, np.uint8)]
    inits = [numpy_helper.from_array(np.array(value, dtype), name) for name, value, dtype in quant]
    node = helper.make_node("QLinearMul", ["x", "sa", "za", "g", "sb", "zb", "sc", "zc"], ["y"], domain="com.microsoft")
    graph = helper.make_graph(
        [node],
        "qlinearmul",
        [
            helper.make_tensor_value_info("x", TensorProto.UINT8, x_shape),
            helper.make_tensor_value_info("g", TensorProto.UINT8, gate_shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, x_shape)],
        inits,
    )
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def median_ms(x_shape: tuple[int, ...], gate_shape: tuple[int, ...], threads: int) -> float:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(qlinearmul_model(x_shape, gate_shape), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {"x": rng.integers(0, 255, x_shape, dtype=np.uint8), "g": rng.integers(0, 255, gate_shape, dtype=np.uint8)}
    for _ in range(3):
        session.run(None, feeds)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) * 1e3, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        for case, (x_shape, gate_shape) in CASES.items():
            ms = median_ms(x_shape, gate_shape, threads)
            rows.append({"case": case, "x": x_shape, "gate": gate_shape, "threads": threads, "median_ms": ms})
            print(f"threads={threads} {case}: {ms} ms")
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "isa": cpu_isa(),
        "onnxruntime": ort.__version__,
        "rows": rows,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Build the SE-native graphs of a model: per batch bucket, ORT-optimize, rewrite, verify against stock."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from se_deploy.backends.onnxruntime.native.buckets import batch_buckets
from se_deploy.backends.onnxruntime.native.fold import rewrite_native_folded
from se_deploy.backends.onnxruntime.native.optimize import fix_batch, optimize_with_ort, static_shapes
from se_deploy.backends.onnxruntime.native.platform import NativePlatform, current_platform
from se_deploy.backends.onnxruntime.native.rewrite import BlockOutcome
from se_deploy.backends.onnxruntime.native.session import session_options
from se_deploy.backends.onnxruntime.native.shared_weights import WEIGHTS_FILE, SharedWeights, share_weights
from se_deploy.backends.onnxruntime.native.verify import MAX_RELATIVE_ERROR, NativeVerification, compare_logits
from se_deploy.errors import SeDeployError
from se_deploy.image_like import image_like_inputs
from se_deploy.onnx_compare import batch_is_dynamic

NATIVE_DIR = "native"
_NAMED_BLOCKS = 3  # block names a grouped fold note shows


class NativeVerificationError(SeDeployError):
    """An SE-native graph does not reproduce stock ONNX Runtime: the engine is not written."""


@dataclass
class NativeBuild:
    platform: NativePlatform
    graphs: dict[int, onnx.ModelProto]  # bucket -> rewritten graph
    blocks: list[BlockOutcome]
    verification: list[NativeVerification]
    hoist: bool
    notes: list[str] = field(default_factory=list)
    fold: bool = False  # the SE gate folded into conv3's weights where exact and smaller (see fold.py)
    fold_batched: bool = False  # ... at batch > 1 too (one group=N conv), not only at batch 1
    folded: dict[int, int] = field(default_factory=dict)  # bucket -> SE blocks folded in its graph
    weights: SharedWeights | None = None  # the graphs' large initializers, one copy each (shared_weights.py)
    kind: str = "nchwc"  # nchwc: FP32 SE rewrite in ORT's blocked graph; int8-fold: int8_build.py
    max_relative_error: float = MAX_RELATIVE_ERROR  # the verification's limit (verify.py)

    @property
    def native_blocks(self) -> int:
        return sum(b.native for b in self.blocks)

    def files(self) -> dict[int, str]:
        return {bucket: f"{NATIVE_DIR}/batch{bucket}.onnx" for bucket in self.graphs}

    @property
    def weights_file(self) -> str:
        return f"{NATIVE_DIR}/{WEIGHTS_FILE}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "platform": self.platform.to_dict(),
            "buckets": list(self.graphs),
            "files": {str(k): v for k, v in self.files().items()},
            "hoist_squeeze": self.hoist,
            "fold_gate": {
                "enabled": self.fold,
                "batched": self.fold_batched,
                "folded_blocks": {str(k): v for k, v in self.folded.items()},
            },
            "weights": self.weights.to_dict(self.weights_file) if self.weights else None,
            "native_blocks": self.native_blocks,
            "blocks": [b.to_dict() for b in self.blocks],
            "verification": [v.to_dict() for v in self.verification],
            "max_relative_error": self.max_relative_error,
        }


def unavailable_reason(source: onnx.ModelProto, platform: NativePlatform) -> str | None:
    """Why no SE-native graph can be built for ``source`` here (None: it can be tried)."""
    if platform.nchwc_block is None:
        return f"ONNX Runtime {platform.onnxruntime} uses no blocked (NCHWc) layout on this CPU ({platform.isa})"
    dims = source.graph.input[0].type.tensor_type.shape.dim
    if len(source.graph.input) != 1 or len(dims) != 4 or not all(d.HasField("dim_value") for d in dims[1:]):
        return "the model does not have one 4-D image input with a fixed C, H, W"
    return None


def build_native(
    source: onnx.ModelProto,
    *,
    max_batch: int,
    hoist: bool = False,
    fold: bool = True,
    fold_batched: bool = True,
    progress: Callable[[str], None] = lambda _m: None,
) -> NativeBuild:
    """Rewritten graphs for every bucket; raises NativeVerificationError when one disagrees with stock ORT."""
    import onnxruntime as ort

    platform = current_platform()
    assert platform.nchwc_block is not None, "call unavailable_reason() first"
    notes: list[str] = []
    if batch_is_dynamic(source):
        buckets = batch_buckets(max_batch)
    else:
        buckets = [source.graph.input[0].type.tensor_type.shape.dim[0].dim_value]
        notes.append(f"the model has a fixed batch of {buckets[0]}: one SE-native graph, for that batch")
    stock = ort.InferenceSession(
        source.SerializeToString(), session_options(optimize=True), providers=["CPUExecutionProvider"]
    )
    input_name = source.graph.input[0].name
    sample_shape = tuple(d.dim_value for d in source.graph.input[0].type.tensor_type.shape.dim[1:])
    graphs: dict[int, onnx.ModelProto] = {}
    verification: list[NativeVerification] = []
    blocks: list[BlockOutcome] = []
    folded: dict[int, int] = {}
    fold_notes: dict[str, list[int]] = {}  # the same reasons at every bucket make one note
    with tempfile.TemporaryDirectory(prefix="se-native-") as scratch:
        for bucket in buckets:
            progress(f"SE-native graph for batch {bucket}: optimizing with ONNX Runtime, rewriting SE blocks")
            fixed = fix_batch(source, bucket)
            optimized = optimize_with_ort(fixed, Path(scratch) / f"optimized{bucket}.onnx")
            rewritten = rewrite_native_folded(
                optimized, static_shapes(fixed), platform.nchwc_block, hoist=hoist, fold=fold, fold_batched=fold_batched
            )
            folded[bucket] = sum(b.folded for b in rewritten.blocks)
            for note in _fold_notes(rewritten.blocks):
                fold_notes.setdefault(note, []).append(bucket)
            if not blocks:
                blocks = rewritten.blocks
            elif [b.native for b in rewritten.blocks] != [b.native for b in blocks]:
                notes.append(
                    f"batch {bucket}: {rewritten.native_blocks} SE blocks native (batch {buckets[0]}: "
                    f"{sum(b.native for b in blocks)})"
                )
            progress(f"SE-native graph for batch {bucket}: verifying against stock ONNX Runtime")
            native = ort.InferenceSession(
                rewritten.model.SerializeToString(), session_options(optimize=False), providers=["CPUExecutionProvider"]
            )
            check = verify_bucket(stock, native, input_name, (bucket, *sample_shape), bucket)
            verification.append(check)
            if not check.passed:
                raise NativeVerificationError(
                    f"the SE-native graph for batch {bucket} does not reproduce stock ONNX Runtime ({check.describe()}); "
                    f"no engine written. Build with --portable, and report this model"
                )
            graphs[bucket] = rewritten.model
    for note, at in fold_notes.items():
        batches = "every batch bucket" if at == buckets and len(at) > 1 else f"batch {', '.join(map(str, at))}"
        notes.append(note.replace("{batches}", batches))
    weights = share_weights(list(graphs.values()))  # after verification: the sessions above read inline data
    return NativeBuild(platform, graphs, blocks, verification, hoist, notes, fold, fold_batched, folded, weights)


def verify_written(folder: Path, native: NativeBuild, source: onnx.ModelProto) -> None:
    """The engine as written (graphs + shared weights file) runs and reproduces stock ORT: its smallest bucket.

    ``source`` is the model stock ORT runs for reference: the FP32 source, or the INT8 Q/DQ model.
    """
    import onnxruntime as ort

    weights = folder / native.weights_file
    bucket = min(native.graphs)
    if native.weights is not None:
        for graph in native.graphs.values():
            native.weights.check(graph, weights.stat().st_size)
    path = folder / native.files()[bucket]
    session = ort.InferenceSession(str(path), session_options(optimize=False), providers=["CPUExecutionProvider"])
    stock = ort.InferenceSession(
        source.SerializeToString(), session_options(optimize=True), providers=["CPUExecutionProvider"]
    )
    shape = (bucket, *(d.dim_value for d in source.graph.input[0].type.tensor_type.shape.dim[1:]))
    feeds = {source.graph.input[0].name: image_like_inputs(shape, seed=7)}
    check = compare_logits(stock.run(None, feeds)[0], session.run(None, feeds)[0], bucket, native.max_relative_error)
    if not check.passed:
        raise NativeVerificationError(
            f"the SE-native graph for batch {bucket} as written to disk does not reproduce stock ONNX Runtime "
            f"({check.describe()}); no engine written. Build with --portable, and report this model"
        )


def _fold_notes(blocks: list[BlockOutcome]) -> list[str]:
    """One note per distinct reason a rewritten block's gate stays a scaling pass (engine.json + stderr), with
    ``{batches}`` for the buckets it holds at.

    Blocks of one stage fail for the same reason; one line each would bury the other notes (SE-IRv2: 30 lines).
    engine.json's ``blocks`` keeps every block's own reasons.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for b in blocks:
        if b.native and not b.folded and b.fold_reason:
            groups.setdefault((b.fold_reason, b.consumer_fold_reason or "not tried"), []).append(b.mul)
    notes = []
    for (conv3_reason, consumer_reason), muls in groups.items():
        shown = ", ".join(muls[:_NAMED_BLOCKS]) + (
            f", ... ({len(muls) - _NAMED_BLOCKS} more)" if len(muls) > _NAMED_BLOCKS else ""
        )
        what = f"SE block {muls[0]}" if len(muls) == 1 else f"{len(muls)} SE blocks ({shown})"
        notes.append(
            f"SE-native: {what} at {{batches}}: gate not folded into conv3 ({conv3_reason}) "
            f"nor into the conv after it ({consumer_reason}); scaled by the grouped conv instead"
        )
    return notes


def verify_bucket(
    stock: Any, native: Any, name: str, shape: tuple[int, ...], bucket: int, limit: float = MAX_RELATIVE_ERROR
) -> NativeVerification:
    """Two image-like batches per bucket; the worse result is kept."""
    results = []
    for seed in (bucket, bucket + 1000):
        feeds = {name: image_like_inputs(shape, seed)}
        results.append(compare_logits(stock.run(None, feeds)[0], native.run(None, feeds)[0], bucket, limit))
    worst = max(results, key=lambda r: (not r.passed, r.max_relative_error))
    return NativeVerification(
        bucket,
        sum(r.samples for r in results),
        max(r.max_abs_error for r in results),
        max(r.max_relative_error for r in results),
        min(r.top1_agreement for r in results),
        all(r.passed for r in results) and worst.passed,
    )

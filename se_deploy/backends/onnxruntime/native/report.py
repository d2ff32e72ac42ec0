"""One-paragraph summary of an engine's SE-native graphs (what the CLI prints after a build)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def native_summary(native: dict[str, Any]) -> str:
    platform = native["platform"]
    if native.get("kind") == "int8-fold":
        worst = max(native["verification"], key=lambda v: v["max_relative_error"])
        return (
            f"SE-native INT8: {native['native_blocks']} of {len(native['blocks'])} SE scales folded into conv3's "
            f"requantization (squeeze hoisted) and verified, one batch-1 graph (larger batches run as batch-1 pieces); "
            f"for ONNX Runtime {platform['onnxruntime']}, {platform['isa']}; vs stock INT8 ORT on image-like inputs: "
            f"max relative error {worst['max_relative_error']:.1e}, top-1 agreement {worst['top1_agreement']:.0%}"
        )
    blocks = native["blocks"]
    hoisted = sum(b["hoisted"] for b in blocks)
    folded = native.get("fold_gate", {}).get("folded_blocks", {})
    targets = Counter(b.get("fold_target") or "conv3" for b in blocks if b.get("folded"))  # first bucket's blocks
    fold = (
        f"; SE gate folded into a conv's weights in {', '.join(f'{v} blocks at batch {k}' for k, v in folded.items())}"
        f" ({', '.join(f'{target}: {count}' for target, count in targets.items())} at batch {native['buckets'][0]})"
        if any(folded.values())
        else ""
    )
    worst = max(native["verification"], key=lambda v: v["max_relative_error"])
    weights = native.get("weights")
    shared = (
        f"; weights stored once for all buckets ({weights['bytes'] / 1e6:.1f} MB, "
        f"{weights['bytes_if_inline'] / 1e6:.1f} MB if each graph held its own)"
        if weights
        else ""
    )
    return (
        f"SE-native: {native['native_blocks']} of {len(blocks)} SE blocks rewritten in ORT's NCHWc graph "
        f"({hoisted} with the squeeze hoisted), batch buckets {', '.join(map(str, native['buckets']))}; "
        f"for ONNX Runtime {platform['onnxruntime']}, {platform['isa']}, NCHWc block {platform['nchwc_block']}; "
        f"vs stock ORT on image-like inputs: max relative error {worst['max_relative_error']:.1e}, "
        f"top-1 agreement {min(v['top1_agreement'] for v in native['verification']):.0%}{fold}{shared}"
    )

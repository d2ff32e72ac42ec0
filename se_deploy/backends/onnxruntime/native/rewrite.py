"""Rewrite the SE blocks of ORT's optimized NCHWc graph so they stay in the blocked layout.

A pure function of the optimized graph, the NCHW shapes of its tensors and the NCHWc block size
(``b``), so it can be tested on any block size without that CPU. ORT leaves each SE block as::

    Xb --ReorderOutput--> X --squeeze--> ... --> G (gate, [N,C,1,1])
    Mul(X, G) [--> Add(., R) [--> Relu]] --> Y [--ReorderInput--> consumers]

and it becomes, with stock ORT kernels only::

    Sb = nchwc.GlobalAveragePool(Xb)                      (the squeeze, read in blocked layout)
    ... the FCs as ORT wrote them ... --> G --Reshape--> [N*C,1,1,1]
    Zv = nchwc.Conv(Reshape(Xb, [1,N*C,H,W]), G', Sum=Reshape(Rb, [1,N*C,H,W]), group=N*C, activation=Relu)
    Zb = Reshape(Zv, [N,C,H,W])                           (consumers read it blocked: no reorders)

``[N,C/b,H,W,b]`` and ``[1,N*C/b,H,W,b]`` are the same memory when ``C % b == 0``, and a 1x1 depthwise
filter has the same bytes plain or blocked, so the gate serves as the conv's run-time weight. The
conv's ``group=N*C`` fixes the batch: one graph per batch. A block whose conditions fail is left as
ORT wrote it, with the reason.

Squeeze hoisting: where ``Xb`` comes from a linear 1x1 stride-1 conv (``W3 x + b3``; no activation, no
fused sum), ``mean_hw(W3 x + b3) = W3 mean_hw(x) + b3``: the squeeze reads the conv's (narrower) input and
a small conv applies ``W3``, ``b3`` to the pooled vector. Exact, but measured slower than the plain
rewrite in this form (the [C, C/4] product per sample costs more than the pooling it saves), so builds
use it only when asked. :mod:`.fold` absorbs ``W3`` into FC1 instead and folds the gate into conv3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from se_deploy.backends.onnxruntime.native.graph import EditableGraph, Shape, attribute, is_op, label
from se_deploy.backends.onnxruntime.native.platform import NCHWC_DOMAIN

_SQUEEZE_DEPTH = 12  # how far up from the gate the squeeze may be (FCs, activations, reorders)


@dataclass(frozen=True)
class BlockOutcome:
    mul: str  # the SE's Mul node (name, or its output when unnamed)
    channels: int | None
    native: bool
    reason: str = ""  # why it was left as ORT wrote it
    residual: bool = False  # the residual Add (and Relu) fused into the scaling conv
    residual_scale: bool = False  # a constant scale of the residual branch joined the gate (Inception-ResNet)
    hoisted: bool = False  # squeeze read before the SE input's linear 1x1 conv
    folded: bool = False  # the gate scales a conv's weights (fold.py, consumer_fold.py): no scaling pass at all
    fold_target: str = ""  # which conv's weights the gate scales, when folded
    fold_reason: str = ""  # why the gate was not folded into conv3 ('' when folded or folding was not asked for)
    consumer_fold_reason: str = ""  # ... nor into the conv after the block (consumer_fold.py)

    def to_dict(self) -> dict[str, object]:
        return {
            "mul": self.mul,
            "channels": self.channels,
            "native": self.native,
            "reason": self.reason,
            "residual": self.residual,
            "residual_scale": self.residual_scale,
            "hoisted": self.hoisted,
            "folded": self.folded,
            "fold_target": self.fold_target,
            "fold_reason": self.fold_reason,
            "consumer_fold_reason": self.consumer_fold_reason,
        }


@dataclass
class NativeRewrite:
    model: onnx.ModelProto
    blocks: list[BlockOutcome] = field(default_factory=list)

    @property
    def native_blocks(self) -> int:
        return sum(b.native for b in self.blocks)


class BlockRewriter:
    """Rewrites every SE block of one optimized graph (``run``); :mod:`.fold` subclasses it to fold gates."""

    def __init__(self, model: onnx.ModelProto, shapes: dict[str, Shape], block: int, *, hoist: bool) -> None:
        self.model = model
        self.g = EditableGraph(model.graph)
        self.shapes = shapes
        self.block = block
        self.hoist = hoist

    # -- reading the graph ---------------------------------------------------------------------
    def blocked_source(self, name: str) -> str | None:
        """``Xb`` when ``name`` is ``ReorderOutput(Xb)`` to plain NCHW."""
        node = self.g.producer.get(name)
        if is_op(node, "ReorderOutput", NCHWC_DOMAIN) and not attribute(node, "channels_last", 0):
            return node.input[0]
        return None

    def base(self, name: str) -> str:
        return self.blocked_source(name) or name

    def constant(self, name: str) -> list[int] | None:
        """The values of an initializer or a Constant node's output (None when neither)."""
        if name in self.g.initializers:
            return numpy_helper.to_array(self.g.initializers[name]).reshape(-1).tolist()
        node = self.g.producer.get(name)
        if is_op(node, "Constant") and attribute(node, "value") is not None:
            return numpy_helper.to_array(attribute(node, "value")).reshape(-1).tolist()  # type: ignore[arg-type]
        return None

    def is_squeeze(self, node: onnx.NodeProto) -> bool:
        if is_op(node, "GlobalAveragePool") or is_op(node, "GlobalAveragePool", NCHWC_DOMAIN):
            return True
        if is_op(node, "ReduceMean") and attribute(node, "keepdims", 1) == 1:
            axes = attribute(node, "axes")
            if axes is None and len(node.input) > 1:
                axes = self.constant(node.input[1])
            return axes is not None and sorted(int(a) % 4 for a in axes) == [2, 3]
        return False

    def squeeze_of(self, gate: str, x: str) -> onnx.NodeProto | None:
        """The squeeze of ``x`` that ``gate`` is computed from (breadth-first, a few nodes up)."""
        frontier, seen = [gate], set()
        for _ in range(_SQUEEZE_DEPTH):
            parents: list[str] = []
            for name in frontier:
                node = self.g.producer.get(name)
                if node is None or id(node) in seen:
                    continue
                seen.add(id(node))
                if self.is_squeeze(node) and self.base(node.input[0]) == self.base(x):
                    return node
                parents.extend(i for i in node.input if i and i not in self.g.initializers)
            frontier = parents
        return None

    def se_muls(self) -> list[tuple[onnx.NodeProto, str, str, onnx.NodeProto]]:
        """(Mul, X, gate, squeeze) for every Mul that scales a tensor by a gate computed from its squeeze."""
        found = []
        for node in self.g.nodes():
            if not is_op(node, "Mul") or len(node.input) != 2:
                continue
            for x, gate in (node.input, reversed(node.input)):
                squeeze = self.squeeze_of(gate, x)
                if squeeze is not None:
                    found.append((node, x, gate, squeeze))
                    break
        return found

    # -- one block -----------------------------------------------------------------------------
    def check(self, mul: onnx.NodeProto, x: str, gate: str, squeeze: onnx.NodeProto) -> tuple[str, Shape | None]:
        """Why this block cannot be rewritten ('' when it can), and X's shape."""
        xb = self.blocked_source(x)
        concat_reason = self.concat_reason(x)
        if xb is None and concat_reason != "":
            producer = self.g.producer.get(x)
            if concat_reason:
                return concat_reason, None
            what = f"{producer.domain or 'ai.onnx'}.{producer.op_type}" if producer else "a graph input"
            if producer is not None and producer.domain == NCHWC_DOMAIN:
                return "ORT already keeps this SE block in the blocked layout (no reorders to remove)", None
            return f"the SE input is not a blocked (NCHWc) tensor in ORT's graph: it comes from {what}", None
        shape = self.shapes.get(x)
        if shape is None or len(shape) != 4:
            return f"the SE input's shape is not known as a static 4-D shape ({shape})", None
        n, c, _h, _w = shape
        if c % self.block:
            return f"C={c} is not a multiple of the NCHWc block size {self.block}", shape
        if self.shapes.get(gate) != (n, c, 1, 1):
            return f"the gate has shape {self.shapes.get(gate)}, not [N,C,1,1]=[{n},{c},1,1]", shape
        if squeeze.input[0] != x and not (xb is not None and self.is_blocked_squeeze(squeeze, xb)):
            return "the squeeze does not read the SE input (its plain tensor, or blocked by ORT)", shape
        return "", shape

    def is_blocked_squeeze(self, squeeze: onnx.NodeProto, xb: str) -> bool:
        """ORT already pools the blocked SE input (GlobalAveragePool exports: legacy torch, TF, Paddle)."""
        return is_op(squeeze, "GlobalAveragePool", NCHWC_DOMAIN) and squeeze.input[0] == xb

    def unexpanded(self, gate: str, mul: onnx.NodeProto, x: str) -> str:
        """The [N,C,1,1] gate before an Expand (Gemm-style SE blocks), else ``gate``.

        Exact when the Mul's result has X's shape: the Expand then only broadcast the gate over X.
        """
        node = self.g.producer.get(gate)
        if not is_op(node, "Expand") or self.shapes.get(mul.output[0]) != self.shapes.get(x):
            return gate
        shape = self.shapes.get(node.input[0], ())
        if len(shape) == 4 and shape[2:] == (1, 1) and self.shapes.get(x, ())[:2] == shape[:2]:
            return node.input[0]
        return gate

    def concat_reason(self, x: str) -> str | None:
        """'' when X is a channel Concat of blocked tensors we can concatenate blocked; None: not a Concat."""
        node = self.g.producer.get(x)
        if not is_op(node, "Concat"):
            return None
        if int(attribute(node, "axis", 0)) not in (1, -3) or len(self.shapes.get(x, ())) != 4:
            return "the SE input is a Concat that is not over the channels of a 4-D tensor"
        for part in node.input:
            channels = self.shapes.get(part, (0, 0))[1] if len(self.shapes.get(part, ())) == 4 else None
            if self.blocked_source(part) is None:
                return "the SE input is a Concat of tensors that are not all blocked (NCHWc) in ORT's graph"
            if channels is None or channels % self.block:
                return f"the SE input is a Concat with a part of {channels} channels, not a multiple of {self.block}"
        return ""

    def blocked_concat(self, x: str, shape: Shape) -> str:
        """Concatenate the blocked parts of X: [N, C_i/b, H, W, b] parts, flattened per sample, are X blocked."""
        node = self.g.producer[x]
        flat = self.g.const("shape_rows", np.array([shape[0], -1], np.int64))
        rows = []
        for part in node.input:
            row = self.g.fresh("concat_part")
            self.g.add("Reshape", [self.blocked_source(part) or part, flat], [row])
            rows.append(row)
        joined, xb = self.g.fresh("concat_rows"), self.g.fresh("concat_blocked")
        self.g.add("Concat", rows, [joined], axis=1)
        self.g.add("Reshape", [joined, self.g.const("shape_nchw", np.array(shape, np.int64))], [xb])
        return xb

    def residual_scale(self, mul: onnx.NodeProto, c: int) -> tuple[onnx.NodeProto | None, np.ndarray | None]:
        """A Mul by a constant (scalar or per channel) that alone reads the SE output, and its [C] values.

        Inception-ResNet scales the residual branch (``x + 0.17 * se(branch)``): ``k * (s * X) = (k s) * X``,
        so the constant joins the gate and the residual Add can still fuse into the scaling conv.
        """
        users = self.g.consumers.get(mul.output[0], [])
        if len(users) != 1 or not is_op(users[0], "Mul") or mul.output[0] in self.g.outputs:
            return None, None
        scale = users[0]
        other = scale.input[1] if scale.input[0] == mul.output[0] else scale.input[0]
        if other == mul.output[0] or other not in self.g.initializers:
            return None, None
        values = numpy_helper.to_array(self.g.initializers[other]).astype(np.float32)
        if values.size == 1:
            return scale, np.full(c, float(values.reshape(-1)[0]), np.float32)
        if values.shape in ((c, 1, 1), (1, c, 1, 1)):
            return scale, values.reshape(c)
        return None, None

    def residual_of(
        self, mul: onnx.NodeProto, shape: Shape
    ) -> tuple[onnx.NodeProto | None, str | None, onnx.NodeProto | None]:
        """The residual Add (and its Relu) this Mul (or its residual scale) feeds alone, and the residual."""
        scale, _ = self.residual_scale(mul, shape[1])
        head = scale or mul
        users = self.g.consumers.get(head.output[0], [])
        if len(users) != 1 or not is_op(users[0], "Add") or head.output[0] in self.g.outputs:
            return None, None, None
        add = users[0]
        other = add.input[1] if add.input[0] == head.output[0] else add.input[0]
        if other == head.output[0] or self.shapes.get(other) != shape:
            return None, None, None
        relu_users = self.g.consumers.get(add.output[0], [])
        relu = relu_users[0] if len(relu_users) == 1 and is_op(relu_users[0], "Relu") else None
        if relu is not None and add.output[0] in self.g.outputs:
            relu = None
        return add, other, relu

    def scaled_gate(self, gate: str, mul: onnx.NodeProto, shape: Shape) -> tuple[str, onnx.NodeProto | None]:
        """The gate ([N,C,1,1] bytes) times the residual scale, when there is one; and the scale's Mul."""
        n, c = shape[:2]
        scale, values = self.residual_scale(mul, c)
        if scale is None or values is None:
            return gate, None
        plain, scaled = self.g.fresh("gate_nchw"), self.g.fresh("scaled_gate")
        self.g.add("Reshape", [gate, self.g.const("shape_gate", np.array([n, c, 1, 1], np.int64))], [plain])
        self.g.add("Mul", [plain, self.g.const("residual_scale", values.reshape(1, c, 1, 1))], [scaled])
        return scaled, scale

    def hoistable(self, xb: str) -> tuple[str, np.ndarray, np.ndarray] | None:
        """(conv input, W3 [C, Cin], b3 [C]) when Xb is a linear 1x1 stride-1 pointwise nchwc conv."""
        conv = self.g.producer.get(xb)
        if not is_op(conv, "Conv", NCHWC_DOMAIN) or attribute(conv, "activation") is not None:
            return None
        if len(conv.input) > 3 and conv.input[3]:
            return None  # a fused sum: not linear in the conv input alone
        if list(attribute(conv, "kernel_shape", [])) != [1, 1] or int(attribute(conv, "group", 1)) != 1:
            return None
        if any(int(s) != 1 for s in attribute(conv, "strides", [1, 1])) or any(
            int(p) for p in attribute(conv, "pads", [0] * 4)
        ):
            return None
        if conv.input[1] not in self.g.initializers:
            return None
        blocked_w = numpy_helper.to_array(self.g.initializers[conv.input[1]])
        if blocked_w.ndim != 4 or blocked_w.shape[2:] != (1, 1):
            return None
        out_c, in_c = blocked_w.shape[:2]
        if out_c % self.block or in_c % self.block:
            return None  # channels padded to the block: the padded lanes would need tracking
        weight = unblock_pointwise_weight(blocked_w, self.block)
        bias = np.zeros(out_c, np.float32)
        if len(conv.input) > 2 and conv.input[2]:
            if conv.input[2] not in self.g.initializers:
                return None
            bias = numpy_helper.to_array(self.g.initializers[conv.input[2]]).astype(np.float32).reshape(-1)
        return conv.input[0], weight, bias

    def rewrite_squeeze(self, squeeze: onnx.NodeProto, xb: str, c: int) -> bool:
        """Squeeze in blocked layout (hoisted above a linear 1x1 conv where exact); True when hoisted."""
        if self.is_blocked_squeeze(squeeze, xb):
            return False  # ORT pools the blocked tensor already and its FCs read the pooled vector blocked
        pooled = self.g.fresh("squeeze")
        hoisted = self.hoistable(xb) if self.hoist else None
        if hoisted is not None:
            conv_in, weight, bias = hoisted
            pooled_in = self.g.fresh("squeeze_in")
            plain_in = self.g.fresh("squeeze_in_nchw")
            self.g.add("GlobalAveragePool", [conv_in], [pooled_in], domain=NCHWC_DOMAIN)
            self.g.add("ReorderOutput", [pooled_in], [plain_in], domain=NCHWC_DOMAIN, channels=weight.shape[1])
            w = self.g.const("squeeze_w", weight.reshape(weight.shape[0], weight.shape[1], 1, 1))
            b = self.g.const("squeeze_b", bias)
            self.g.add("Conv", [plain_in, w, b], [squeeze.output[0]], kernel_shape=[1, 1])
            self.g.remove(squeeze)
            return True
        self.g.add("GlobalAveragePool", [xb], [pooled], domain=NCHWC_DOMAIN)
        for user in list(self.g.consumers.get(squeeze.output[0], [])):
            if is_op(user, "ReorderInput", NCHWC_DOMAIN) and not attribute(user, "channels_last", 0):
                self.g.rename_uses(user.output[0], pooled)
                self.g.remove(user)
        self.g.remove(squeeze)
        if self.g.used(squeeze.output[0]):
            self.g.add("ReorderOutput", [pooled], [squeeze.output[0]], domain=NCHWC_DOMAIN, channels=c)
        return False

    def rewrite_block(
        self, mul: onnx.NodeProto, x: str, gate: str, squeeze: onnx.NodeProto, shape: Shape
    ) -> BlockOutcome:
        n, c, h, w = shape
        xb = self.blocked_source(x) or self.blocked_concat(x, shape)
        add, residual, relu = self.residual_of(mul, shape)
        gate, scale = self.scaled_gate(gate, mul, shape)
        last = relu or add or scale or mul
        hoisted = self.rewrite_squeeze(squeeze, xb, c)

        # the batch viewed as N*C channels of one sample; at batch 1 the views are the tensors themselves
        flat = (1, n * c, h, w)
        gate_shape = self.g.const("shape_gate", np.array([n * c, 1, 1, 1], np.int64))
        weight, z = self.g.fresh("gate_w"), self.g.fresh("z")
        self.g.add("Reshape", [gate, gate_shape], [weight])
        inputs = [xb if n == 1 else self.g.view(xb, flat), weight]
        attrs: dict[str, object] = {
            "kernel_shape": [1, 1],
            "strides": [1, 1],
            "pads": [0, 0, 0, 0],
            "dilations": [1, 1],
            "group": n * c,
        }
        if add is not None and residual is not None:
            rb = self.blocked_residual(residual)
            inputs += ["", rb if n == 1 else self.g.view(rb, flat)]
            if relu is not None:
                attrs["activation"] = "Relu"
        self.g.add("Conv", inputs, [z], domain=NCHWC_DOMAIN, **attrs)
        zb = z if n == 1 else self.g.view(z, (n, c, h, w))

        self.replace_block_output(last.output[0], zb, c, (mul, scale, add, relu))
        return BlockOutcome(
            label(mul), c, True, residual=add is not None, hoisted=hoisted, residual_scale=scale is not None
        )

    def blocked_residual(self, residual: str) -> str:
        """The residual in blocked layout: ORT's own blocked tensor, or a reorder of a plain one."""
        rb = self.blocked_source(residual)
        if rb is None:
            rb = self.g.fresh("residual_blocked")
            self.g.add("ReorderInput", [residual], [rb], domain=NCHWC_DOMAIN, channels_last=0)
        return rb

    def rewrite_valid_block(
        self, mul: onnx.NodeProto, x: str, gate: str, squeeze: onnx.NodeProto, shape: Shape
    ) -> BlockOutcome:
        """One block that passed :meth:`check` (a subclass may rewrite it another way: fold.py)."""
        return self.rewrite_block(mul, x, gate, squeeze, shape)

    def replace_block_output(self, y: str, zb: str, c: int, replaced: tuple[onnx.NodeProto | None, ...]) -> None:
        """Readers of the block's plain output ``y`` read the blocked ``zb`` (a reorder only where one needs plain)."""
        for user in list(self.g.consumers.get(y, [])):
            if is_op(user, "ReorderInput", NCHWC_DOMAIN) and not attribute(user, "channels_last", 0):
                self.g.rename_uses(user.output[0], zb)
                self.g.remove(user)
        for node in replaced:
            if node is not None:
                self.g.remove(node)
        if self.g.used(y):
            self.g.add("ReorderOutput", [zb], [y], domain=NCHWC_DOMAIN, channels=c)

    def run(self) -> NativeRewrite:
        outcomes: list[BlockOutcome] = []
        for mul, x, expanded_gate, squeeze in self.se_muls():
            gate = self.unexpanded(expanded_gate, mul, x)
            reason, shape = self.check(mul, x, gate, squeeze)
            channels = shape[1] if shape else None
            if reason:
                outcomes.append(BlockOutcome(label(mul), channels, False, reason))
                continue
            assert shape is not None
            outcomes.append(self.rewrite_valid_block(mul, x, gate, squeeze, shape))
            self.g.reindex()
        self.g.finish()
        if not any(o.domain == NCHWC_DOMAIN for o in self.model.opset_import):
            self.model.opset_import.append(helper.make_opsetid(NCHWC_DOMAIN, 1))
        return NativeRewrite(self.model, outcomes)


def unblock_pointwise_weight(blocked: np.ndarray, block: int) -> np.ndarray:
    """A 1x1 conv weight [O, I, 1, 1] stored by ORT's NCHWc transformer as OIHWBiBo -> plain [O, I].

    Memory order ``[O/b, I/b, 1, 1, b_in, b_out]``: element (o, i) sits at
    ``[o // b, i // b, i % b, o % b]``.
    """
    out_c, in_c = blocked.shape[:2]
    flat = blocked.reshape(out_c // block, in_c // block, block, block)  # [Ob, Ib, b_in, b_out]
    return np.ascontiguousarray(flat.transpose(0, 3, 1, 2).reshape(out_c, in_c)).astype(np.float32)


def block_pointwise_weight(plain: np.ndarray, block: int) -> np.ndarray:
    """The inverse of :func:`unblock_pointwise_weight` ([O, I] -> ORT's OIHWBiBo bytes as [O, I, 1, 1])."""
    out_c, in_c = plain.shape
    blocked = plain.reshape(out_c // block, block, in_c // block, block).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(blocked).reshape(out_c, in_c, 1, 1)


def rewrite_native(
    optimized: onnx.ModelProto, shapes: dict[str, Shape], block: int, *, hoist: bool = False
) -> NativeRewrite:
    """Rewrite every SE block of ORT's optimized graph ``optimized`` (a copy is edited)."""
    model = onnx.ModelProto()
    model.CopyFrom(optimized)
    return BlockRewriter(model, shapes, block, hoist=hoist).run()

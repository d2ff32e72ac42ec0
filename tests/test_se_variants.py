"""Every row of the SE variant table, end to end: adding an activation or a gate is one row, and these
tests (parametrized over the rows) check it in every place the variant is derived into:

the fused op's ONNX function body (through ONNX Runtime) and the lowered SEExcite body = the numpy
reference = the PyTorch reference = the Triton kernels (Triton's interpreter on CPU) = the AOT excite
entry point with the constexprs the TensorRT plugin compiles; and fuse_modules recognises the row's
torch.nn module. The TensorRT plugin side (NVIDIA's own validation) is
``tests/backends/tensorrt/test_contract.py::test_every_table_row_reaches_the_excite_kernel``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from se_deploy.onnx_compare import session
from se_deploy.rewrite.fused_op import reference as numpy_reference
from se_deploy.rewrite.plugin_lowering import lower_for_tensorrt
from se_deploy.se_variants import (
    ACTIVATIONS,
    EXCITATION_ATTRIBUTES,
    GATES,
    Activation,
    Excitation,
    Gate,
    SEVariant,
    activation_row,
    gate_row,
)
from tests.rewrite.test_fused_op import C, H, N, W, single_node_model

ROWS = [(a, g) for a in ACTIVATIONS for g in GATES]  # every activation with every gate
IDS = [f"{a.name}-{g.name}" for a, g in ROWS]


def _variant(activation: Activation, gate: Gate, *, residual: bool = False) -> SEVariant:
    # parameters away from the defaults, so a body that ignored its attribute references would be caught
    return SEVariant(
        activation=activation.name,
        activation_alpha=0.1,
        gate=gate.name,
        gate_alpha=0.2,
        gate_beta=0.4,
        residual=residual,
    )


def test_the_table_is_consistent() -> None:
    for rows in (ACTIVATIONS, GATES):
        assert len({r.name for r in rows}) == len(rows)
        assert len({r.triton_code for r in rows}) == len(rows)  # one Triton branch per code
        for row in rows:
            assert all(isinstance(getattr(nn, m), type) for m in row.torch_modules), row.name
    assert [name for name, _ in EXCITATION_ATTRIBUTES] == [f.name for f in dataclasses.fields(Excitation)]
    with pytest.raises(ValueError, match="activation must be one of"):
        activation_row("tanh")
    with pytest.raises(ValueError, match="gate must be one of"):
        gate_row("softmax")


def test_node_attributes_round_trip() -> None:
    for activation, gate in ROWS:
        variant = _variant(activation, gate, residual=True)
        attributes = {k: v.encode() if isinstance(v, str) else v for k, v in variant.node_attributes().items()}
        assert SEVariant.from_attributes(attributes, residual=True) == variant


@pytest.mark.parametrize(("activation", "gate"), ROWS, ids=IDS)
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
def test_onnx_bodies_numpy_and_torch_references_agree(activation: Activation, gate: Gate, residual: bool) -> None:
    from se_deploy.kernels.ops import reference as torch_reference

    variant = _variant(activation, gate, residual=residual)
    model, weights = single_node_model(variant, onnx.TensorProto.FLOAT, opset=max(17, activation.min_opset))
    onnx.checker.check_model(model, full_check=True)
    rng = np.random.default_rng(3)
    feeds = {"X": rng.standard_normal((N, C, H, W)).astype(np.float32)}
    if residual:
        feeds["R"] = rng.standard_normal((N, C, H, W)).astype(np.float32)
    want = numpy_reference(feeds["X"], *weights.values(), variant, feeds.get("R"))

    (fused,) = session(model).run(["Y"], feeds)
    np.testing.assert_allclose(fused, want, atol=1e-5, rtol=1e-5)

    lowered, count = lower_for_tensorrt(model)  # SESqueeze -> SEExcite (this row's body) -> SEScale
    assert count == 1
    (got,) = session(lowered).run(["Y"], feeds)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)

    tensors = [torch.from_numpy(t) for t in (feeds["X"], *weights.values())]
    residual_tensor = torch.from_numpy(feeds["R"]) if residual else None
    got_torch = torch_reference(*tensors, residual_tensor, variant)
    np.testing.assert_allclose(got_torch.numpy(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("activation", "gate"), ROWS, ids=IDS)
def test_triton_kernels_agree(activation: Activation, gate: Gate) -> None:
    """The PyTorch op's Triton path, and the AOT excite entry point with the constexprs TensorRT compiles."""
    pytest.importorskip("triton")
    from se_deploy.backends.tensorrt.aot import kernel_spec
    from se_deploy.kernels.launch import launch_grid
    from se_deploy.kernels.ops import fused_se_triton
    from se_deploy.kernels.ops import reference as torch_reference

    n, c, h, w, r = 2, 24, 5, 6, 6
    g = torch.Generator().manual_seed(4)
    x, res = torch.randn(n, c, h, w, generator=g), torch.randn(n, c, h, w, generator=g)
    w1, b1, w2, b2 = (torch.randn(*s, generator=g) * 0.5 for s in ((r, c), (r,), (c, r), (c,)))
    variant = _variant(activation, gate, residual=True)
    want = torch_reference(x, w1, b1, w2, b2, res, variant)
    torch.testing.assert_close(fused_se_triton(x, w1, b1, w2, b2, res, variant), want, atol=1e-5, rtol=1e-5)

    kernel, _, constexprs = kernel_spec("excite", "float32", channels=c, reduced=r, variant=variant)
    assert (constexprs["ACT"], constexprs["GATE"]) == (activation.triton_code, gate.triton_code)
    squeezed, gates = x.mean(dim=(2, 3)), torch.empty(n, c)
    kernel[launch_grid("excite", n, c, h * w, r, 4)](squeezed, w1, b1, w2, b2, c, r, gates, **constexprs)
    want_gates = gate.torch(activation.torch(squeezed @ w1.t() + b1, 0.1) @ w2.t() + b2, 0.2, 0.4)
    torch.testing.assert_close(gates, want_gates, atol=1e-5, rtol=1e-5)


def _module(row: Activation | Gate, name: str) -> nn.Module:
    module = getattr(nn, name)()
    if isinstance(row, Activation) and row.name == "leaky_relu":
        module = nn.LeakyReLU(0.1)
    return module


@pytest.mark.parametrize(("activation", "gate"), ROWS, ids=IDS)
def test_fuse_modules_takes_every_row(activation: Activation, gate: Gate) -> None:
    """Each torch.nn module a row names is swapped for the fused op, which computes what the module did."""
    pytest.importorskip("triton")  # the op runs its Triton kernels (interpreted on CPU)
    from se_deploy.backends.torch.fuse_modules import FusedSqueezeExcitation, fuse_se_modules

    class SE(nn.Module):
        def __init__(self, act: nn.Module, gate: nn.Module) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1)
            self.act, self.gate = act, gate

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.gate(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))

    for act_name in activation.torch_modules:
        for gate_name in gate.torch_modules:
            torch.manual_seed(0)
            model = nn.Sequential(SE(_module(activation, act_name), _module(gate, gate_name)))
            x = torch.randn(2, 16, 4, 4)
            with torch.no_grad():
                want = model(x)
            report = fuse_se_modules(model, residual=False)
            assert report.fused == ["0"] and not report.skipped, (act_name, gate_name)
            fused = model[0]
            assert isinstance(fused, FusedSqueezeExcitation)
            assert (fused.variant.activation, fused.variant.gate) == (activation.name, gate.name)
            with torch.no_grad():
                torch.testing.assert_close(model(x), want, atol=1e-5, rtol=1e-5)

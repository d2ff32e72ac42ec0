"""Contract tests: our TensorRT plugin definitions run through NVIDIA's own ``tensorrt.plugin`` code.

NVIDIA's plugin layer comes from the ``tensorrt-cu13-bindings`` wheel (pinned in the ``test`` extra);
only the native ``tensorrt`` module is replaced, by ``tests/backends/tensorrt/trt_stub.py`` (read it for
exactly what it provides). What passes here: ``register`` / ``autotune`` / ``aot_impl`` / ``impl``
registration-time validation for that version, plugin creation from the attributes our lowering writes
into the ONNX, and NVIDIA's output-type and type/format-combination bookkeeping calling our functions.
What this cannot show: anything TensorRT's builder, ONNX parser, runtime or a GPU does.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper

from se_deploy.backends.tensorrt import aot as kernels
from se_deploy.backends.tensorrt import plugin as our_plugin
from se_deploy.kernels.launch import launch_grid
from se_deploy.rewrite.fused_op import PLUGIN_NAMESPACE
from se_deploy.rewrite.plugin_lowering import EXCITE_OP, SCALE_OP, SCALE_RESIDUAL_OP, SQUEEZE_OP, lower_for_tensorrt
from se_deploy.rewrite.surgery import fuse_se
from se_deploy.se_variants import ACTIVATION_NAMES as ACTIVATIONS
from se_deploy.se_variants import GATE_NAMES as GATES
from se_deploy.se_variants import SEVariant, activation_row, gate_row
from tests.backends.tensorrt import trt_stub
from tests.rewrite.graphs import SEGraph
from tests.rewrite.test_fused_op import single_node_model

PLUGINS = (SQUEEZE_OP, EXCITE_OP, SCALE_OP, SCALE_RESIDUAL_OP)
WHEEL_PLATFORM = sys.platform == "linux" and platform.machine() == "x86_64"  # the wheel's only platform


@pytest.fixture
def nvidia_plugin_layer(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, ModuleType]]:
    """(tensorrt stand-in, NVIDIA's tensorrt.plugin), fresh per test; sys.modules restored afterwards."""
    plugin_dir = trt_stub.bindings_plugin_dir()
    if plugin_dir is None:
        if not WHEEL_PLATFORM:
            pytest.skip("tensorrt-cu13-bindings has wheels for Linux x86_64 only")
        pytest.fail(
            f"{trt_stub.BINDINGS_DISTRIBUTION}=={trt_stub.BINDINGS_VERSION} is not installed: "
            "pip install -e '.[test]' installs it (NVIDIA's plugin layer for the contract tests)"
        )
    saved = {name: mod for name, mod in sys.modules.items() if name == "tensorrt" or name.startswith("tensorrt.")}
    for name in saved:
        del sys.modules[name]
    monkeypatch.setattr(our_plugin, "_REGISTERED", False)
    try:
        yield trt_stub.load_nvidia_plugin_layer(plugin_dir)
    finally:
        for name in [n for n in sys.modules if n == "tensorrt" or n.startswith("tensorrt.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_the_bindings_are_the_pinned_version() -> None:
    if trt_stub.bindings_version() is None and not WHEEL_PLATFORM:
        pytest.skip("tensorrt-cu13-bindings has wheels for Linux x86_64 only")
    assert trt_stub.bindings_version() == trt_stub.BINDINGS_VERSION


def test_stand_in_is_not_the_real_tensorrt(nvidia_plugin_layer: tuple[ModuleType, ModuleType]) -> None:
    """The plugin layer is NVIDIA's file from the wheel, not ours; the stand-in has no builder or runtime."""
    trt, trtp = nvidia_plugin_layer
    assert trtp.__file__.endswith("tensorrt_bindings/plugin/__init__.py")
    assert sys.modules["tensorrt.plugin._validate"].__file__.endswith("tensorrt_bindings/plugin/_validate.py")
    assert not hasattr(trt, "Builder") and not hasattr(trt, "Runtime")


def test_register_plugins_passes_nvidia_validation(nvidia_plugin_layer: tuple[ModuleType, ModuleType]) -> None:
    trt, _ = nvidia_plugin_layer
    our_plugin.register_plugins()
    registry = sys.modules["tensorrt.plugin._lib"].QDP_REGISTRY
    assert sorted(registry) == sorted(f"{PLUGIN_NAMESPACE}::{name}" for name in PLUGINS)
    for plugin_id, definition in registry.items():
        assert definition.num_outputs == 1, plugin_id
        assert definition.impl_func is not None and definition.aot_impl_func is not None, plugin_id
        assert definition.autotune_func is not None, plugin_id
    assert registry[f"{PLUGIN_NAMESPACE}::{EXCITE_OP}"].input_tensor_names == ["s", "w1", "b1", "w2", "b2"]
    assert registry[f"{PLUGIN_NAMESPACE}::{EXCITE_OP}"].input_attrs == {
        "activation": str,
        "activation_alpha": float,
        "gate": str,
        "gate_alpha": float,
        "gate_beta": float,
    }
    assert registry[f"{PLUGIN_NAMESPACE}::{SCALE_RESIDUAL_OP}"].input_attrs == {"residual_relu": int}
    # every attribute is passed to the AOT implementation (attributes are not serialized into AOT engines)
    assert registry[f"{PLUGIN_NAMESPACE}::{EXCITE_OP}"].aot_impl_attr_names == list(
        registry[f"{PLUGIN_NAMESPACE}::{EXCITE_OP}"].input_attrs
    )
    creators = trt.get_plugin_registry().creators
    assert sorted(creators) == sorted((name, "1", PLUGIN_NAMESPACE) for name in PLUGINS)


def _lowered_nodes(residual: bool) -> dict[str, onnx.NodeProto]:
    fused = fuse_se(SEGraph(residual=residual, activation="SiLU", gate="HardSigmoid").build()).model
    lowered, count = lower_for_tensorrt(fused, aot=True)
    assert count == 1
    return {node.op_type: node for node in lowered.graph.node if node.op_type in PLUGINS}


def _fields(trt: ModuleType, node: onnx.NodeProto) -> Any:
    """The plugin fields for a lowered node's attributes, as TensorRT's ONNX parser hands them over
    (strings as bytes, numbers as one-element arrays); ``plugin_namespace`` and ``aot`` select the plugin."""
    fields = trt.PluginFieldCollection()
    for attribute in node.attribute:
        if attribute.name in ("plugin_namespace", "aot"):
            continue
        value = helper.get_attribute_value(attribute)
        data = np.frombuffer(value, dtype=np.uint8) if isinstance(value, bytes) else np.array([value])
        fields.append(trt.PluginField(attribute.name, data))
    return fields


@pytest.mark.parametrize("request_kind", ["STRICT_AOT", "STRICT_JIT"])
def test_lowered_nodes_create_plugins_with_our_output_types(
    nvidia_plugin_layer: tuple[ModuleType, ModuleType], request_kind: str
) -> None:
    """NVIDIA's creator accepts exactly the attributes our lowering writes, and its output-type query
    (which calls our ``register`` functions) gives FP32 squeeze/gates and activations in the input type."""
    trt, _ = nvidia_plugin_layer
    our_plugin.register_plugins()
    nodes = _lowered_nodes(residual=False) | _lowered_nodes(residual=True)
    kind = getattr(trt.QuickPluginCreationRequest, request_kind)
    half, fp32 = trt.DataType.HALF, trt.DataType.FLOAT
    inputs = {
        SQUEEZE_OP: ([half], [4]),
        EXCITE_OP: ([fp32, half, half, half, half], [2, 2, 1, 2, 1]),
        SCALE_OP: ([half, fp32], [4, 2]),
        SCALE_RESIDUAL_OP: ([half, fp32, half], [4, 2, 4]),
    }
    expected = {SQUEEZE_OP: [fp32], EXCITE_OP: [fp32], SCALE_OP: [half], SCALE_RESIDUAL_OP: [half]}
    for name in PLUGINS:
        creator = trt.get_plugin_registry().get_creator(name, "1", PLUGIN_NAMESPACE)
        created = creator.create_plugin(
            name, PLUGIN_NAMESPACE, _fields(trt, nodes[name]), trt.TensorRTPhase.BUILD, kind
        )
        aot_class = sys.modules["tensorrt.plugin._plugin_class"]._TemplateAOTPlugin
        assert isinstance(created, aot_class) == (request_kind == "STRICT_AOT")
        assert created.get_output_data_types(*inputs[name]) == expected[name], name


def test_autotune_combinations_cover_every_input_and_output(nvidia_plugin_layer: tuple[ModuleType, ModuleType]) -> None:
    """Each advertised type/format combination names a type for every I/O position (NVIDIA's parser of
    "FP32|FP16, ..." strings), LINEAR only, and FP32 and FP16 activations."""
    trt, trtp = nvidia_plugin_layer
    our_plugin.register_plugins()
    registry = sys.modules["tensorrt.plugin._lib"].QDP_REGISTRY
    for name in PLUGINS:
        definition = registry[f"{PLUGIN_NAMESPACE}::{name}"]
        n_io = len(definition.input_tensor_names) + definition.num_outputs
        descs = [trtp.TensorDesc() for _ in range(n_io)]
        combinations = definition.autotune_func(*descs[: n_io - 1], tuple(descs[n_io - 1 :]))
        generated = [c for combination in combinations for c in combination._get_combinations()]
        assert {len(c.types) for c in generated} == {n_io}, name
        assert all(layout == trt.TensorFormat.LINEAR for c in generated for layout in c.layouts)
        activation_types = {c.types[0] if name != EXCITE_OP else c.types[1] for c in generated}
        assert activation_types == {trt.DataType.FLOAT, trt.DataType.HALF}, name


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_aot_launch_parameters_through_nvidia_aot_plugin(
    nvidia_plugin_layer: tuple[ModuleType, ModuleType], monkeypatch: pytest.MonkeyPatch, dtype: str
) -> None:
    """NVIDIA's ``_TemplateAOTPlugin`` (output shapes, then ``get_launch_params``) calls our ``aot_impl``
    for fixed shapes: the grid covers the tensor, and the int32 extras are exactly the kernel's int32
    parameters, in order. Kernel compilation is replaced by a record of what was asked (the PTX and its
    parameter list are tested in tests/backends/tensorrt/test_aot.py, in a process without Triton's interpreter)."""
    trt, _ = nvidia_plugin_layer
    our_plugin.register_plugins()
    asked: list[tuple[str, str, str, dict[str, object]]] = []

    def compile_stage(stage: str, dtype: str, target: str = "sm_90", **attributes: object) -> kernels.CompiledKernel:
        asked.append((stage, dtype, target, attributes))
        return kernels.CompiledKernel(f"se_{stage}_aot", f"// {stage}", 4, 0, target)

    monkeypatch.setattr(kernels, "compile_stage", compile_stage)
    monkeypatch.setattr(our_plugin, "cuda_target", lambda: "sm_90")
    n, c, h, w, cr = 2, 40, 7, 9, 5
    act = trt.DataType.HALF if dtype == "float16" else trt.DataType.FLOAT
    fp32 = trt.DataType.FLOAT
    io = {
        SQUEEZE_OP: ([((n, c, h, w), act)], [((n, c), fp32)]),
        EXCITE_OP: (
            [((n, c), fp32), ((cr, c), act), ((cr,), act), ((c, cr), act), ((c,), act)],
            [((n, c), fp32)],
        ),
        SCALE_OP: ([((n, c, h, w), act), ((n, c), fp32)], [((n, c, h, w), act)]),
        SCALE_RESIDUAL_OP: ([((n, c, h, w), act), ((n, c), fp32), ((n, c, h, w), act)], [((n, c, h, w), act)]),
    }
    stages = {SQUEEZE_OP: "squeeze", EXCITE_OP: "excite", SCALE_OP: "scale", SCALE_RESIDUAL_OP: "scale_residual"}
    nodes = _lowered_nodes(residual=False) | _lowered_nodes(residual=True)
    builder = trt_stub.ConstantExprBuilder()
    for name in PLUGINS:
        inputs, outputs = io[name]
        creator = trt.get_plugin_registry().get_creator(name, "1", PLUGIN_NAMESPACE)
        plugin = creator.create_plugin(
            name,
            PLUGIN_NAMESPACE,
            _fields(trt, nodes[name]),
            trt.TensorRTPhase.BUILD,
            trt.QuickPluginCreationRequest.STRICT_AOT,
        )
        assert plugin.get_output_data_types([t for _, t in inputs], [len(d) for d, _ in inputs]) == [outputs[0][1]]
        dims = [[builder.constant(d) for d in shape] for shape, _ in inputs]
        shapes = plugin.get_output_shapes(dims, [], builder)
        assert [[e.value for e in out] for out in shapes] == [list(outputs[0][0])], name
        plugin.set_tactic(0)
        launch = trt_stub.LaunchParams()
        in_out = [trt_stub.PluginTensor(shape, t) for shape, t in inputs + outputs]
        plugin.get_launch_params(dims, in_out, len(inputs), launch, launch, builder)
        stage = stages[name]
        assert plugin.get_kernel([d.desc for d in in_out[: len(inputs)]], [d.desc for d in in_out[len(inputs) :]]) == (
            f"se_{stage}_aot",
            f"// {stage}".encode(),
        )
        assert asked[-1][:3] == (stage, dtype, "sm_90")
        grid = tuple(launch.values[k] for k in ("grid_x", "grid_y", "grid_z"))
        assert grid == launch_grid(stage, n, c, h * w, cr, 2 if dtype == "float16" else 4), name
        assert launch.values["block_x"] == 128 and launch.values["shared_mem"] == 0
        _, signature, _ = kernels.kernel_spec(stage, dtype, reduced=cr)
        int_params = [p for p, kind in signature.items() if kind == "i32"]
        expected_extra = {"C": c, "HW": h * w, "CR": cr}
        assert launch.nbSymExprs == len(int_params)
        assert [launch.extra[i] for i in range(len(int_params))] == [("INT32", expected_extra[p]) for p in int_params]
    assert asked[1][3]["reduced"] == cr and asked[1][3]["activation"] == "silu"


@pytest.mark.parametrize(("activation", "gate"), [(a, g) for a in ACTIVATIONS for g in GATES])
def test_every_table_row_reaches_the_excite_kernel(
    nvidia_plugin_layer: tuple[ModuleType, ModuleType], monkeypatch: pytest.MonkeyPatch, activation: str, gate: str
) -> None:
    """Each (activation, gate) of the SE variant table: the lowered SEExcite node's attributes create the
    plugin through NVIDIA's creator, NVIDIA's AOT plugin calls our ``aot_impl`` with them, and the kernel
    is compiled for exactly that variant (the row's Triton codes, the node's parameters)."""
    trt, _ = nvidia_plugin_layer
    our_plugin.register_plugins()
    asked: list[dict[str, object]] = []

    def compile_stage(stage: str, dtype: str, target: str = "sm_90", **attributes: object) -> kernels.CompiledKernel:
        asked.append(attributes)
        return kernels.CompiledKernel(f"se_{stage}_aot", f"// {stage}", 4, 0, target)

    monkeypatch.setattr(kernels, "compile_stage", compile_stage)
    monkeypatch.setattr(our_plugin, "cuda_target", lambda: "sm_90")
    variant = SEVariant(activation=activation, activation_alpha=0.1, gate=gate, gate_alpha=0.2, gate_beta=0.4)
    model, _ = single_node_model(variant, onnx.TensorProto.FLOAT)
    lowered, _ = lower_for_tensorrt(model)
    (node,) = [n for n in lowered.graph.node if n.op_type == EXCITE_OP]
    creator = trt.get_plugin_registry().get_creator(EXCITE_OP, "1", PLUGIN_NAMESPACE)
    plugin = creator.create_plugin(
        EXCITE_OP,
        PLUGIN_NAMESPACE,
        _fields(trt, node),
        trt.TensorRTPhase.BUILD,
        trt.QuickPluginCreationRequest.STRICT_AOT,
    )
    n, c, cr, fp32 = 2, 12, 3, trt.DataType.FLOAT
    inputs = [((n, c), fp32), ((cr, c), fp32), ((cr,), fp32), ((c, cr), fp32), ((c,), fp32)]
    assert plugin.get_output_data_types([t for _, t in inputs], [len(d) for d, _ in inputs]) == [fp32]
    builder = trt_stub.ConstantExprBuilder()
    dims = [[builder.constant(d) for d in shape] for shape, _ in inputs]
    plugin.get_output_shapes(dims, [], builder)
    plugin.set_tactic(0)
    launch = trt_stub.LaunchParams()
    in_out = [trt_stub.PluginTensor(shape, t) for shape, t in [*inputs, ((n, c), fp32)]]
    plugin.get_launch_params(dims, in_out, len(inputs), launch, launch, builder)
    (attributes,) = asked
    compiled_variant = SEVariant(**{k: v for k, v in attributes.items() if k not in ("channels", "reduced")})
    f32 = np.float32
    assert (compiled_variant.activation, compiled_variant.gate) == (activation, gate)
    assert [
        f32(compiled_variant.activation_alpha),
        f32(compiled_variant.gate_alpha),
        f32(compiled_variant.gate_beta),
    ] == [
        f32(0.1),
        f32(0.2),
        f32(0.4),
    ]
    _, _, constexprs = kernels.kernel_spec("excite", "float32", reduced=cr, variant=compiled_variant)
    assert (constexprs["ACT"], constexprs["GATE"]) == (
        activation_row(activation).triton_code,
        gate_row(gate).triton_code,
    )

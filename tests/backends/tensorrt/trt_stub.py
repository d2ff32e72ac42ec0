"""The smallest stand-in for TensorRT's native module that lets NVIDIA's own ``tensorrt.plugin`` run.

NVIDIA's plugin layer (``tensorrt_bindings/plugin/*.py`` in the ``tensorrt-cu13-bindings`` wheel) is
pure Python; only the compiled ``tensorrt.so`` beside it needs libnvinfer, which cannot be installed
on this project's machines. ``load_nvidia_plugin_layer()`` installs this stand-in as ``tensorrt`` in
``sys.modules`` and executes NVIDIA's ``plugin`` package from the installed wheel as ``tensorrt.plugin``
(without running ``tensorrt_bindings/__init__.py``, which loads the native library).

What the stand-in provides, and why (nothing else; everything it does not provide raises AttributeError):

* ``__version__``: our ``register_plugins`` reads it in its error message.
* ``Logger`` (``WARNING``, ``log``): ``tensorrt/plugin/__init__.py`` logs an "experimental" warning on import.
* enums ``DataType`` (+ ``float32``/``float16``/``int32`` aliases), ``TensorFormat``, ``PluginFieldType``,
  ``DimensionOperation``, ``PluginArgType``, ``PluginArgDataType``, ``TensorRTPhase``,
  ``QuickPluginCreationRequest``: referenced at import time (module-level dicts, ``IS_AOT_ENABLED =
  hasattr(trt, "QuickPluginCreationRequest")``, which switches on the AOT half: ``KernelLaunchParams``,
  ``_TemplateAOTPlugin``) or by ``AutoTuneCombination`` when it turns "FP32|FP16" into types.
* empty base classes ``IPluginV3``, ``IPluginV3QuickCore/Build/Runtime/AOTBuild``,
  ``IPluginCreatorV3Quick``, ``ISymExpr``, ``IExprBuilder``, ``ITensor``, ``PluginTensorDesc``, and
  ``IDimensionExpr`` / ``DynamicPluginTensorDesc`` (see below): NVIDIA's classes derive from them or
  test ``isinstance`` against them at import time and in their checks.
* ``Dims.MAX_DIMS`` (8): ``ShapeExprs`` checks ranks against it.
* ``PluginField`` / ``PluginFieldCollection`` (records) and ``get_plugin_registry()`` (a dict keyed by
  name, version, namespace): non-lazy ``@trtp.register`` builds a plugin creator and registers it.

For the launch-parameter test only (``ConstantExprBuilder``, ``PluginTensor``): TensorRT's shape
expressions evaluated as plain integers, and the build-time tensor descriptions TensorRT would hand
``get_launch_params``, so that NVIDIA's ``_TemplateAOTPlugin`` can call our ``aot_impl`` with concrete
shapes. TensorRT's own expression builder is symbolic; these give the values it would for fixed shapes.

Nothing here builds an engine, evaluates a shape, compiles or launches a kernel: a test through this
stand-in proves that our plugin definitions pass NVIDIA's Python-side validation and bookkeeping for the
wheel's version, no more.
"""

from __future__ import annotations

import enum
import importlib.metadata
import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BINDINGS_DISTRIBUTION = "tensorrt-cu13-bindings"
BINDINGS_VERSION = "11.4.0.106"  # the version the contract tests were checked against (pyproject's test extra)


class DataType(enum.IntEnum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    FP8 = 6
    BF16 = 7
    INT64 = 8
    INT4 = 9
    FP4 = 10


class TensorFormat(enum.IntEnum):
    LINEAR = 0
    CHW2 = 1
    HWC8 = 2
    CHW4 = 3
    CHW16 = 4
    CHW32 = 5
    DHWC8 = 6
    CDHW32 = 7
    HWC = 8
    HWC16 = 11
    DHWC = 12


class PluginFieldType(enum.IntEnum):
    FLOAT16 = 0
    FLOAT32 = 1
    FLOAT64 = 2
    INT8 = 3
    INT16 = 4
    INT32 = 5
    CHAR = 6
    DIMS = 7
    UNKNOWN = 8
    BF16 = 9
    INT64 = 10
    FP8 = 11
    INT4 = 12


class DimensionOperation(enum.IntEnum):
    SUM = 0
    PROD = 1
    MAX = 2
    MIN = 3
    SUB = 4
    EQUAL = 5
    LESS = 6
    FLOOR_DIV = 7
    CEIL_DIV = 8


class PluginArgType(enum.IntEnum):
    INT = 0


class PluginArgDataType(enum.IntEnum):
    INT8 = 0
    INT16 = 1
    INT32 = 2


class TensorRTPhase(enum.IntEnum):
    BUILD = 0
    RUNTIME = 1


class QuickPluginCreationRequest(enum.IntEnum):
    UNKNOWN = 0
    PREFER_JIT = 1
    PREFER_AOT = 2
    STRICT_JIT = 3
    STRICT_AOT = 4


class Logger:
    WARNING = 2

    def __init__(self, severity: int = WARNING) -> None:
        self.messages: list[tuple[int, str]] = []

    def log(self, severity: int, message: str) -> None:
        self.messages.append((severity, message))


class Dims:
    MAX_DIMS = 8


@dataclass
class PluginField:
    name: str
    data: Any = None
    type: Any = None


class PluginFieldCollection(list):
    pass


class _Registry:
    def __init__(self) -> None:
        self.creators: dict[tuple[str, str, str], Any] = {}

    def register_creator(self, creator: Any, namespace: str) -> bool:
        self.creators[(creator.name, creator.plugin_version, namespace)] = creator
        return True

    def get_creator(self, name: str, version: str, namespace: str) -> Any:
        return self.creators.get((name, version, namespace))


class DimsExprs(list):
    def __init__(self, length: int) -> None:
        super().__init__([None] * length)


class IDimensionExpr:
    """A shape expression with a known value (what TensorRT's builder has once shapes are fixed)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def is_constant(self) -> bool:
        return True

    def get_constant_value(self) -> int:
        return self.value


_OPERATIONS = {
    DimensionOperation.SUM: lambda a, b: a + b,
    DimensionOperation.PROD: lambda a, b: a * b,
    DimensionOperation.MAX: max,
    DimensionOperation.MIN: min,
    DimensionOperation.SUB: lambda a, b: a - b,
    DimensionOperation.EQUAL: lambda a, b: int(a == b),
    DimensionOperation.LESS: lambda a, b: int(a < b),
    DimensionOperation.FLOOR_DIV: lambda a, b: a // b,
    DimensionOperation.CEIL_DIV: lambda a, b: -(-a // b),
}


class ConstantExprBuilder:
    def constant(self, value: int) -> IDimensionExpr:
        return IDimensionExpr(value)

    def operation(self, op: DimensionOperation, a: IDimensionExpr, b: IDimensionExpr) -> IDimensionExpr:
        return IDimensionExpr(_OPERATIONS[op](a.value, b.value))


class PluginTensor:
    """``trt.DynamicPluginTensorDesc`` as ``get_launch_params`` reads it: ``.desc`` with dims, type, format, scale."""

    def __init__(self, dims: tuple[int, ...], dtype: DataType, fmt: TensorFormat = TensorFormat.LINEAR) -> None:
        self.desc = types.SimpleNamespace(dims=dims, type=dtype, format=fmt, scale=1.0)


class LaunchParams:
    """What ``get_launch_params`` fills: grid, block, shared memory and the extra scalar arguments."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.extra: dict[int, Any] = {}
        self.nbSymExprs = 0

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("values", "extra", "nbSymExprs"):
            object.__setattr__(self, name, value)
        else:
            self.values[name] = value.expr.value  # a SymExprImpl over an IDimensionExpr

    def __setitem__(self, index: int, value: Any) -> None:
        self.extra[index] = (value.dtype.name, value.expr.value)


def _interface(name: str) -> type:
    return type(name, (), {"__init__": lambda self, *args, **kwargs: None})


def make_module() -> types.ModuleType:
    """A fresh ``tensorrt`` stand-in (new registry each time)."""
    trt = types.ModuleType("tensorrt")
    trt.__path__ = []  # a package, so that ``tensorrt.plugin`` can live under it
    trt.__version__ = BINDINGS_VERSION
    for enum_type in (
        DataType,
        TensorFormat,
        PluginFieldType,
        DimensionOperation,
        PluginArgType,
        PluginArgDataType,
        TensorRTPhase,
        QuickPluginCreationRequest,
    ):
        setattr(trt, enum_type.__name__, enum_type)
    trt.float32, trt.float16, trt.int32 = DataType.FLOAT, DataType.HALF, DataType.INT32
    trt.Logger, trt.Dims = Logger, Dims
    trt.DimsExprs, trt.DynamicPluginTensorDesc, trt.IDimensionExpr = DimsExprs, PluginTensor, IDimensionExpr
    trt.PluginField, trt.PluginFieldCollection = PluginField, PluginFieldCollection
    for name in (
        "IPluginV3",
        "IPluginV3QuickCore",
        "IPluginV3QuickBuild",
        "IPluginV3QuickRuntime",
        "IPluginV3QuickAOTBuild",
        "IPluginCreatorV3Quick",
        "ISymExpr",
        "IExprBuilder",
        "ITensor",
        "PluginTensorDesc",
    ):
        setattr(trt, name, _interface(name))
    registry = _Registry()
    trt.get_plugin_registry = lambda: registry
    return trt


def bindings_plugin_dir() -> Path | None:
    """``tensorrt_bindings/plugin`` of the installed wheel, found without importing the package."""
    spec = importlib.util.find_spec("tensorrt_bindings")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "plugin"
    return folder if (folder / "_validate.py").is_file() else None


def bindings_version() -> str | None:
    try:
        return importlib.metadata.version(BINDINGS_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_nvidia_plugin_layer(plugin_dir: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """Install the stand-in as ``tensorrt`` and NVIDIA's plugin package as ``tensorrt.plugin``.

    Returns (tensorrt stand-in, NVIDIA's tensorrt.plugin). The caller restores ``sys.modules``.
    """
    trt = make_module()
    sys.modules["tensorrt"] = trt
    spec = importlib.util.spec_from_file_location(
        "tensorrt.plugin", plugin_dir / "__init__.py", submodule_search_locations=[str(plugin_dir)]
    )
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)
    sys.modules["tensorrt.plugin"] = plugin
    trt.plugin = plugin
    spec.loader.exec_module(plugin)  # imports _lib, _validate, _tensor, ... (NVIDIA's code, unmodified)
    return trt, plugin

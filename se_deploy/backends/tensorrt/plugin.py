"""TensorRT plugins for the lowered SE nodes, with ``tensorrt.plugin`` (quickly deployable plugins).

TensorRT's libraries cannot be installed on any machine of this project, so no TensorRT builder or
runtime has called this code. What is tested without them: every registration below passes NVIDIA's
own ``tensorrt.plugin`` validation (``tests/backends/tensorrt/test_contract.py``, against the pinned
bindings wheel), the kernels' PTX for each target and its exact parameter list (``aot.py``),
and the lowering and its ONNX attributes (``se_deploy/rewrite/plugin_lowering.py``).

Plugins (namespace ``se_deploy``), one kernel each:
    SESqueeze(X) -> S (N, C) fp32      SEExcite(S, W1, B1, W2, B2) -> G (N, C) fp32
    SEScale(X, G) -> Y                 SEScaleResidual(X, G, R) -> Y
``aot_impl`` returns Triton-compiled PTX (the engine then runs in trtexec / Triton server, no Python);
``impl`` is the JIT fallback for TensorRT before 10.9 (Python at run time).

SEExcite's attributes (names and types, in order) are the fields of ``se_variants.Excitation``: its
functions are written against one ``Excitation`` and given the signature NVIDIA's layer reads
(``inspect.signature``) by ``_with_excitation_attributes``, so a new variant field becomes a plugin
attribute without an edit here.
"""

# No ``from __future__ import annotations`` here: NVIDIA's ``tensorrt.plugin`` validates the decorated
# functions' annotations as classes (``issubclass``) when they are registered; string annotations fail.
# tests/backends/tensorrt/test_contract.py runs these registrations through NVIDIA's code.

import functools
import inspect
from collections.abc import Callable
from typing import Any

from se_deploy.errors import InvalidArgumentError
from se_deploy.se_variants import EXCITATION_ATTRIBUTES, Excitation

_REGISTERED = False
TENSORRT_EXTRA = "pip install 'se-deploy[tensorrt]' (TensorRT 10.x or 11.x, with an NVIDIA GPU and driver)"


def import_tensorrt() -> Any:
    """``tensorrt``, or one clear error naming the extra."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise InvalidArgumentError(
            f"the TensorRT backend needs TensorRT, which is not installed here ({exc}); {TENSORRT_EXTRA}"
        ) from None
    except Exception as exc:  # the bindings wheel installs but cannot load its libraries without them
        raise InvalidArgumentError(
            f"TensorRT is installed but cannot load its libraries ({type(exc).__name__}: {exc}); {TENSORRT_EXTRA}"
        ) from None
    return trt


def cuda_target() -> str:  # pragma: no cover - needs a GPU
    """The PTX target of the GPU the engine is being built on, e.g. ``sm_90``."""
    import torch

    major, minor = torch.cuda.get_device_capability()
    return f"sm_{major}{minor}"


def _with_excitation_attributes(
    function: Callable[..., Any], tensors: list[tuple[str, Any]], trailing: list[tuple[str, Any]], returns: Any
) -> Callable[..., Any]:
    """``function(tensors, excitation, *trailing)`` exposed as ``(*tensors, <attributes>, *trailing)``.

    The attributes are ``EXCITATION_ATTRIBUTES`` (name: type), which NVIDIA's ``tensorrt.plugin`` reads
    from the signature (annotations as classes) and passes by position or by name."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(name, kind, annotation=annotation) for name, annotation in tensors]
    params += [inspect.Parameter(name, kind, annotation=annotation) for name, annotation in EXCITATION_ATTRIBUTES]
    params += [inspect.Parameter(name, kind, annotation=annotation) for name, annotation in trailing]
    signature = inspect.Signature(params, return_annotation=returns)

    @functools.wraps(function)
    def with_attributes(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs).arguments
        excitation = Excitation(**{name: bound[name] for name, _ in EXCITATION_ATTRIBUTES})
        return function(tuple(bound[name] for name, _ in tensors), excitation, *(bound[name] for name, _ in trailing))

    del with_attributes.__wrapped__  # NVIDIA's layer must see the signature below, not the function's
    with_attributes.__signature__ = signature  # type: ignore[attr-defined]
    return with_attributes


def register_plugins() -> None:
    """Register the four plugins once per process (import-guarded)."""
    global _REGISTERED
    if _REGISTERED:
        return
    trt = import_tensorrt()
    try:
        import tensorrt.plugin as trtp
    except ImportError:
        raise InvalidArgumentError(
            f"TensorRT {trt.__version__} has no tensorrt.plugin (needs 10.6+; AOT needs 10.9+)"
        ) from None
    import torch

    from se_deploy.backends.tensorrt import aot as kernels
    from se_deploy.kernels import launch
    from se_deploy.kernels.ops import excitation

    dtype_name = {trt.float32: "float32", trt.float16: "float16"}
    # What an aot_impl returns (NVIDIA's _validate_aot_impl requires this annotation): kernel name, PTX,
    # launch parameters, and the int32 scalars passed between the input and the output pointers.
    AOTLaunch = tuple[str, str, trtp.KernelLaunchParams, trtp.SymIntExprs]

    def fp32_nc(x: trtp.TensorDesc) -> trtp.TensorDesc:
        return trtp.from_shape_expr((x.shape_expr[0], x.shape_expr[1]), dtype=trt.float32)

    @trtp.register("se_deploy::SESqueeze")
    def _squeeze_desc(x: trtp.TensorDesc) -> trtp.TensorDesc:
        return fp32_nc(x)

    excite_descs = [(name, trtp.TensorDesc) for name in ("s", "w1", "b1", "w2", "b2")]
    excite_tensors = [(name, trtp.Tensor) for name in ("s", "w1", "b1", "w2", "b2")]

    def _excite_desc(tensors: tuple[trtp.TensorDesc, ...], variant: Excitation) -> trtp.TensorDesc:
        return tensors[0].like()  # s

    trtp.register("se_deploy::SEExcite")(_with_excitation_attributes(_excite_desc, excite_descs, [], trtp.TensorDesc))

    @trtp.register("se_deploy::SEScale")
    def _scale_desc(x: trtp.TensorDesc, g: trtp.TensorDesc) -> trtp.TensorDesc:
        return x.like()

    @trtp.register("se_deploy::SEScaleResidual")
    def _scale_residual_desc(
        x: trtp.TensorDesc, g: trtp.TensorDesc, r: trtp.TensorDesc, residual_relu: int
    ) -> trtp.TensorDesc:
        return x.like()

    # FP32 or FP16 activations (one type for all of them), FP32 squeeze/gates, linear NCHW: the kernels'
    # AOT calling convention has no strides.
    @trtp.autotune("se_deploy::SESqueeze")
    def _squeeze_tune(x: trtp.TensorDesc, outputs: tuple[trtp.TensorDesc]) -> list[trtp.AutoTuneCombination]:
        return [trtp.AutoTuneCombination("FP32|FP16, FP32", "LINEAR")]

    @trtp.autotune("se_deploy::SEExcite")
    def _excite_tune(
        s: trtp.TensorDesc,
        w1: trtp.TensorDesc,
        b1: trtp.TensorDesc,
        w2: trtp.TensorDesc,
        b2: trtp.TensorDesc,
        outputs: tuple[trtp.TensorDesc],
    ) -> list[trtp.AutoTuneCombination]:
        return [trtp.AutoTuneCombination("FP32, FP32|FP16, FP32|FP16, FP32|FP16, FP32|FP16, FP32", "LINEAR")]

    @trtp.autotune("se_deploy::SEScale")
    def _scale_tune(
        x: trtp.TensorDesc, g: trtp.TensorDesc, outputs: tuple[trtp.TensorDesc]
    ) -> list[trtp.AutoTuneCombination]:
        return [trtp.AutoTuneCombination("FP32|FP16, FP32, FP32|FP16", "LINEAR")]

    @trtp.autotune("se_deploy::SEScaleResidual")
    def _scale_residual_tune(
        x: trtp.TensorDesc, g: trtp.TensorDesc, r: trtp.TensorDesc, outputs: tuple[trtp.TensorDesc]
    ) -> list[trtp.AutoTuneCombination]:
        return [trtp.AutoTuneCombination("FP32|FP16, FP32, FP32|FP16, FP32|FP16", "LINEAR")]

    def launch_params(compiled: kernels.CompiledKernel, grid: tuple[Any, Any, Any], extra: list[Any]) -> AOTLaunch:
        params = trtp.KernelLaunchParams()
        params.grid_x, params.grid_y, params.grid_z = grid
        params.block_x = compiled.block_x
        params.shared_mem = compiled.shared_bytes
        args = trtp.SymIntExprs(len(extra))
        for i, value in enumerate(extra):
            args[i] = trtp.SymInt32(value)
        return compiled.name, compiled.ptx, params, args

    def hw(x: trtp.TensorDesc) -> Any:
        return x.shape_expr[2] * x.shape_expr[3]

    def constant(expr: Any) -> int | None:
        return int(expr.constant_value()) if expr.is_constant else None

    @trtp.aot_impl("se_deploy::SESqueeze")
    def _squeeze_aot(x: trtp.TensorDesc, outputs: tuple[trtp.TensorDesc], tactic: int) -> AOTLaunch:
        n, c = x.shape_expr[0], x.shape_expr[1]
        channels = constant(c) or 16 * launch.MIN_PROGRAMS  # channels are fixed in our plans: a fallback only
        compiled = kernels.compile_stage("squeeze", dtype_name[x.dtype], cuda_target(), channels=channels)
        block_c = launch.squeeze_blocks(channels)["BLOCK_C"]
        return launch_params(compiled, (n, trtp.cdiv(c, block_c), 1), [c, hw(x)])

    def _excite_aot(
        tensors: tuple[trtp.TensorDesc, ...], variant: Excitation, outputs: tuple[trtp.TensorDesc], tactic: int
    ) -> AOTLaunch:
        s, w1 = tensors[:2]
        reduced = w1.shape_expr[0]
        width = constant(reduced)  # None: the kernel loops over the hidden units (any width)
        channels = constant(s.shape_expr[1]) or 16 * launch.MIN_PROGRAMS  # fixed in our plans: a fallback only
        compiled = kernels.compile_stage(
            "excite",
            dtype_name[w1.dtype],
            cuda_target(),
            channels=channels,
            reduced=width,
            **variant.excitation_attributes(),
        )
        n, c = s.shape_expr[0], s.shape_expr[1]
        block_c = int(launch.excite_blocks(width, channels)["BLOCK_C"])
        cap = launch.excite_program_cap(channels, width, 2 if w1.dtype == trt.float16 else 4, block_c)
        # programs per image: min(cdiv(MIN_PROGRAMS, N), cap), as launch.excite_programs
        return launch_params(compiled, (n, trtp.min(trtp.cdiv(launch.MIN_PROGRAMS, n), cap), 1), [c, reduced])

    trtp.aot_impl("se_deploy::SEExcite")(
        _with_excitation_attributes(
            _excite_aot, excite_descs, [("outputs", tuple[trtp.TensorDesc]), ("tactic", int)], AOTLaunch
        )
    )

    def _scale_grid(x: trtp.TensorDesc) -> tuple[Any, Any, Any]:
        return (
            x.shape_expr[0],
            trtp.cdiv(x.shape_expr[1], launch.SCALE_BLOCKS["BLOCK_C"]),
            trtp.cdiv(hw(x), launch.SCALE_BLOCKS["BLOCK_HW"]),
        )

    @trtp.aot_impl("se_deploy::SEScale")
    def _scale_aot(x: trtp.TensorDesc, g: trtp.TensorDesc, outputs: tuple[trtp.TensorDesc], tactic: int) -> AOTLaunch:
        compiled = kernels.compile_stage("scale", dtype_name[x.dtype], cuda_target())
        return launch_params(compiled, _scale_grid(x), [x.shape_expr[1], hw(x)])

    @trtp.aot_impl("se_deploy::SEScaleResidual")
    def _scale_residual_aot(
        x: trtp.TensorDesc,
        g: trtp.TensorDesc,
        r: trtp.TensorDesc,
        residual_relu: int,
        outputs: tuple[trtp.TensorDesc],
        tactic: int,
    ) -> AOTLaunch:
        residual_activation = "relu" if residual_relu else "none"  # SEVariant's field, from the int attribute
        compiled = kernels.compile_stage(
            "scale_residual", dtype_name[x.dtype], cuda_target(), residual_activation=residual_activation
        )
        return launch_params(compiled, _scale_grid(x), [x.shape_expr[1], hw(x)])

    # JIT fallbacks (TensorRT 10.6-10.8, or aot=0): Python at run time, through the same kernels.
    def as_torch(tensor: trtp.Tensor) -> torch.Tensor:
        return torch.as_tensor(tensor, device="cuda")

    @trtp.impl("se_deploy::SESqueeze")
    def _squeeze_jit(x: trtp.Tensor, outputs: tuple[trtp.Tensor], stream: int) -> None:
        with torch.cuda.stream(torch.cuda.ExternalStream(stream)):
            as_torch(outputs[0]).copy_(as_torch(x).float().mean(dim=(2, 3)))

    def _excite_jit(
        tensors: tuple[trtp.Tensor, ...], variant: Excitation, outputs: tuple[trtp.Tensor], stream: int
    ) -> None:
        with torch.cuda.stream(torch.cuda.ExternalStream(stream)):
            gates = excitation(*(as_torch(t) for t in tensors), variant)
            as_torch(outputs[0]).copy_(gates)

    trtp.impl("se_deploy::SEExcite")(
        _with_excitation_attributes(
            _excite_jit, excite_tensors, [("outputs", tuple[trtp.Tensor]), ("stream", int)], None
        )
    )

    @trtp.impl("se_deploy::SEScale")
    def _scale_jit(x: trtp.Tensor, g: trtp.Tensor, outputs: tuple[trtp.Tensor], stream: int) -> None:
        with torch.cuda.stream(torch.cuda.ExternalStream(stream)):
            x_t = as_torch(x)
            as_torch(outputs[0]).copy_((x_t.float() * as_torch(g)[:, :, None, None]).to(x_t.dtype))

    @trtp.impl("se_deploy::SEScaleResidual")
    def _scale_residual_jit(
        x: trtp.Tensor, g: trtp.Tensor, r: trtp.Tensor, residual_relu: int, outputs: tuple[trtp.Tensor], stream: int
    ) -> None:
        with torch.cuda.stream(torch.cuda.ExternalStream(stream)):
            x_t = as_torch(x)
            y = x_t.float() * as_torch(g)[:, :, None, None] + as_torch(r).float()
            as_torch(outputs[0]).copy_((torch.relu(y) if residual_relu else y).to(x_t.dtype))

    _REGISTERED = True

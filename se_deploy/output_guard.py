"""What ``--force`` may replace: an artifact se-deploy wrote, and nothing else.

Every command that writes an output (``export``, ``fuse``, ``build``, ``package``, ``bench``) asks
:func:`check_output` before doing any work. An existing target is replaced only when

- ``--force`` was given,
- it is not the current folder, the home folder, a filesystem root or mount point, a folder holding
  the current folder, an input of the command, or a folder holding an input,
- it is the kind of artifact the command writes (a folder for a folder, a file for a file), and
- se-deploy's own marker says se-deploy wrote it (``engine.json``, a plan's sidecar, ``se_deploy.json``,
  a bench ``report.json``, se-deploy's metadata in an ONNX file), and a folder holds nothing else.

Everything else is refused with one line saying why and what to do. The replacement itself is atomic
(see :func:`se_deploy.fileio.replace_dir` and :func:`se_deploy.fileio.atomic_write`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from se_deploy.errors import OutputError

# Schemas and file names are spelled here (not imported) so this module stays import-light.
ENGINE_SCHEMA = "se-deploy/engine/1"
MODEL_METADATA_SCHEMA = "se-deploy/model-metadata/1"
PACKAGE_SCHEMA = "se-deploy/packaged-model/1"
BENCH_SCHEMA = "se-deploy/bench/1"
PLAN_SIDECAR_SCHEMA = "se-deploy/tensorrt-plan/1"
ONNX_METADATA_KEY = "se_deploy"


@dataclass(frozen=True)
class ArtifactKind:
    """One kind of output: what it is called, whether it is a folder, and how se-deploy recognises its own."""

    name: str
    is_dir: bool
    marker: str  # what proves se-deploy wrote it, for messages
    recognise: Callable[[Path], bool]
    allowed: Callable[[Path], bool] = lambda _relative: True  # folder entries (relative paths) se-deploy writes


def _json_schema(path: Path) -> str | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw.get("schema") if isinstance(raw, dict) else None


def _onnx_has_marker(path: Path) -> bool:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # not ONNX at all: certainly not ours
        return False
    return any(prop.key == ONNX_METADATA_KEY for prop in model.metadata_props)


def _plan_has_sidecar(path: Path) -> bool:
    sidecar = path.with_name(path.name + ".json")
    return _json_schema(sidecar) == PLAN_SIDECAR_SCHEMA


_NATIVE_FILE = re.compile(r"batch\d+\.onnx|weights\.bin")  # an SE-native engine's graphs (native/)
ENGINE_DIR = ArtifactKind(
    name="engine folder",
    is_dir=True,
    marker="engine.json",
    recognise=lambda p: _json_schema(p / "engine.json") == ENGINE_SCHEMA,
    allowed=lambda rel: (
        (len(rel.parts) == 1 and rel.parts[0] in {"engine.json", "model.onnx", "model.onnx.data", "native"})
        or (len(rel.parts) == 2 and rel.parts[0] == "native" and _NATIVE_FILE.fullmatch(rel.name) is not None)
    ),
)
REPOSITORY_ENTRY = ArtifactKind(
    name="model repository entry",
    is_dir=True,
    marker="se_deploy.json",
    recognise=lambda p: _json_schema(p / "se_deploy.json") in {MODEL_METADATA_SCHEMA, PACKAGE_SCHEMA},
    allowed=lambda rel: (
        (len(rel.parts) == 1 and rel.name in {"config.pbtxt", "se_deploy.json", "1"})
        or (len(rel.parts) == 2 and rel.parts[0] == "1" and rel.name in {"model.onnx", "model.plan"})
    ),
)
BENCH_REPORT = ArtifactKind(
    name="bench report folder",
    is_dir=True,
    marker="report.json",
    recognise=lambda p: _json_schema(p / "report.json") == BENCH_SCHEMA,
    allowed=lambda rel: len(rel.parts) == 1 and (rel.name in {"report.json", "report.md"} or rel.suffix == ".png"),
)
BENCH_JSON_FILE = ArtifactKind(
    name="bench JSON report",
    is_dir=False,
    marker='"schema": "se-deploy/bench/1"',
    recognise=lambda p: _json_schema(p) == BENCH_SCHEMA,
)
ONNX_FILE = ArtifactKind(
    name="ONNX file",
    is_dir=False,
    marker="se-deploy metadata in the ONNX",
    recognise=_onnx_has_marker,
)
PLAN_FILE = ArtifactKind(
    name="TensorRT plan",
    is_dir=False,
    marker=".json sidecar",
    recognise=_plan_has_sidecar,
)


def _a(noun: str) -> str:
    return f"{'an' if noun[0].lower() in 'aeio' else 'a'} {noun}"


def _resolved(path: Path) -> Path:
    return Path(os.path.abspath(path)).resolve()


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _protected_reason(target: Path) -> str | None:
    """Why ``target`` (resolved) may never be replaced, or None."""
    cwd = _resolved(Path.cwd())
    if target == cwd:
        return "is the current folder"
    if _is_within(cwd, target):
        return "holds the current folder"
    home = _resolved(Path.home())
    if target == home:
        return "is your home folder"
    if target == Path(target.anchor) or os.path.ismount(target):
        return "is a filesystem root or mount point"
    return None


def check_output(
    target: Path,
    kind: ArtifactKind,
    *,
    force: bool,
    inputs: Iterable[Path] = (),
    option: str = "-o/--output",
) -> None:
    """Raise OutputError unless writing ``target`` (replacing it, with ``force``) loses nothing se-deploy did not write."""
    if not target.exists() and not target.is_symlink():
        return
    shown = str(target)
    if target.is_symlink():
        raise OutputError(f"{shown!r} is a symbolic link; se-deploy never replaces links: choose another {option}")
    resolved = _resolved(target)
    reason = _protected_reason(resolved)
    if reason:
        raise OutputError(f"{shown!r} {reason}; se-deploy never replaces it: choose a new {option}")
    for item in inputs:
        if not item.exists():
            continue
        source = _resolved(item)
        if source == resolved:
            raise OutputError(f"{shown!r} is the input; write the result elsewhere: choose another {option}")
        if _is_within(source, resolved):
            raise OutputError(
                f"{shown!r} holds the input {str(item)!r}; se-deploy never replaces it: choose another {option}"
            )
    if kind.is_dir and target.is_dir() and not any(target.iterdir()):
        return  # an empty folder: nothing to lose
    if kind.is_dir and not target.is_dir():
        raise OutputError(
            f"{shown!r} is a file, but this command writes {_a(kind.name)} (a folder); choose another {option}"
        )
    if not kind.is_dir and target.is_dir():
        raise OutputError(f"{shown!r} is a folder, but this command writes {_a(kind.name)}; name a file with {option}")
    if not kind.recognise(target):
        raise OutputError(
            f"{shown!r} was not written by se-deploy (no {kind.marker}); --force replaces only what se-deploy "
            f"wrote: move it away or choose another {option}"
        )
    if kind.is_dir:
        foreign = sorted(
            str(path.relative_to(target)) for path in target.rglob("*") if not kind.allowed(path.relative_to(target))
        )
        if foreign:
            listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise OutputError(
                f"{shown!r} holds {listed}, which se-deploy did not write; move it away or choose another {option}"
            )
    if not force:
        raise OutputError(f"{shown!r} already exists; pass --force to replace it, or choose another {option}")

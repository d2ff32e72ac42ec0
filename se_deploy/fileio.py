"""Atomic file and directory writes: readers never see a half-written artifact."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from se_deploy.errors import OutputError

_UMASK_LOCK = threading.Lock()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a temp file beside ``path``, then rename it over ``path``; no half file either way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it owner-only; a plain open() would not
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def current_umask() -> int:
    """The process umask: from /proc on Linux, else by setting it and putting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def ensure_writable_dir(path: Path) -> Path:
    """Create ``path`` if needed and prove we can create files in it; raise OutputError if not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"output path {str(path)!r} exists and is not a directory; choose another --output") from None
    except OSError as exc:
        raise OutputError(
            f"cannot create output directory {str(path)!r}: {exc.strerror}; choose another --output"
        ) from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".se-deploy-write-test-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"output directory {str(path)!r} is not writable ({exc.strerror}); fix its permissions or choose another --output"
        ) from None
    return path


@contextlib.contextmanager
def staging_dir(parent: Path) -> Iterator[Path]:
    """A hidden scratch directory inside ``parent`` (same filesystem, so renames are atomic), always removed."""
    path = Path(tempfile.mkdtemp(prefix=".se-deploy-staging-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def replace_dir(staged: Path, target: Path, scratch: Path) -> None:
    """Move ``staged`` to ``target``; an existing ``target`` is moved aside into ``scratch`` first.

    ``scratch`` must be on ``target``'s filesystem (a staging folder beside it). If the second rename
    fails, the old ``target`` is moved back: either the new artifact or the old one is in place, never neither.
    """
    aside = None
    if target.exists() or target.is_symlink():
        aside = scratch / f"replaced-{target.name}"
        os.replace(target, aside)
    try:
        os.replace(staged, target)
    except BaseException:
        if aside is not None:
            os.replace(aside, target)
        raise


@contextlib.contextmanager
def created_dirs(path: Path) -> Iterator[Path]:
    """``ensure_writable_dir(path)``; if the block fails, remove the folders this call created (when still empty).

    A failed command leaves no empty output folder behind.
    """
    missing: list[Path] = []
    probe = Path(os.path.abspath(path))
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    ensure_writable_dir(path)
    try:
        yield path
    except BaseException:
        for folder in missing:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

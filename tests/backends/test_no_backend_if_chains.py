"""cli, bench, serve and the rest never branch on a backend's name: they ask the registry (issue 14).

On the code before the registry this finds 8 comparisons (cli.py, bench/job.py, bench/profile.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import se_deploy
from se_deploy.backends.registry import backend_names

PACKAGE = Path(se_deploy.__file__).resolve().parent


def _names_in(operand: ast.expr, names: set[str]) -> bool:
    if isinstance(operand, ast.Constant):
        return operand.value in names
    if isinstance(operand, ast.Tuple | ast.List | ast.Set):
        return any(_names_in(element, names) for element in operand.elts)
    return False


def name_comparisons(files: list[Path], names: set[str]) -> list[str]:
    """``file:line`` of every comparison (==, !=, in, not in) with a string constant in ``names``."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Compare) and any(_names_in(o, names) for o in (node.left, *node.comparators)):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_module_outside_the_backends_compares_backend_names() -> None:
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if "backends" not in p.relative_to(PACKAGE).parts]
    assert name_comparisons(files, set(backend_names())) == []


def test_the_scan_sees_an_if_chain(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text('if backend == "tensorrt":\n    pass\nelif backend in ("torch",):\n    pass\n')
    assert name_comparisons([job], {"tensorrt", "torch"}) == ["job.py:1", "job.py:3"]

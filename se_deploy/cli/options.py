"""What every command shares: the error wrapper, value parsers, and options declared once.

Only click here (no rich, no torch): importing the CLI for ``--help`` stays light.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from se_deploy.errors import SeDeployError
from se_deploy.interrupt import exit_interrupted

F = TypeVar("F", bound=Callable[..., Any])

INPUT_SHAPE_HELP = "NAME:1x3x640x640, the shape to run input NAME at (repeatable); needed where a dim is not fixed."


def user_errors(func: F) -> F:
    """Show SeDeployError as a one-paragraph message (exit 1) instead of a traceback; Ctrl-C exits 130."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SeDeployError as exc:
            from se_deploy.cli.render import print_error

            print_error(exc)
            sys.exit(1)
        except KeyboardInterrupt:
            exit_interrupted()

    return wrapper  # type: ignore[return-value]


def csv(value: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_batch(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    """``--batch``: ``dynamic`` (None) or a positive integer."""
    if value == "dynamic":
        return None
    try:
        batch = int(value)
    except ValueError:
        raise click.BadParameter(f"expected 'dynamic' or a positive integer, got {value!r}") from None
    if batch < 1:
        raise click.BadParameter(f"expected 'dynamic' or a positive integer, got {value!r}")
    return batch


def parse_batches(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    """A comma list of batch sizes."""
    try:
        return tuple(int(part) for part in csv(value))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated batch sizes like 1,8,32, got {value!r}") from None


def model_argument(name: str = "model") -> Callable[[F], F]:
    """The positional path of the ONNX model or engine a command reads."""
    return click.argument(name, type=click.Path(path_type=Path))


def output_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    """``-o/--output PATH``: where a writing command writes (every one takes it, with --force)."""
    return click.option("-o", "--output", type=click.Path(path_type=Path), help=help, **kwargs)


def path_option(*decls: str, help: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """An optional path option (default None unless given)."""
    kwargs.setdefault("default", None)
    return click.option(*decls, type=click.Path(path_type=Path), help=help, **kwargs)


def choice_option(
    *decls: str, choices: Sequence[str], help: str, default: str | None = None, **kwargs: Any
) -> Callable[[F], F]:
    """One of ``choices``, shown with its default (the first choice unless ``default`` says otherwise)."""
    return click.option(
        *decls,
        type=click.Choice(list(choices)),
        default=default or choices[0],
        show_default=True,
        help=help,
        **kwargs,
    )


def positive_int_option(*decls: str, help: str, default: int | None = None) -> Callable[[F], F]:
    """A count of at least 1 (click refuses 0 and negatives as a usage error); its default shown when it has one."""
    shown = {"show_default": True} if default is not None else {}
    return click.option(*decls, type=click.IntRange(min=1), default=default, help=help, **shown)


def force_option(help: str) -> Callable[[F], F]:
    """``--force``: replace what se-deploy wrote before (the help says what the command writes)."""
    return click.option("--force", is_flag=True, help=help)


def json_option(help: str) -> Callable[[F], F]:
    """``--json``: print the result as JSON on stdout (progress stays quiet)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


input_shape_option = click.option("--input-shape", "input_shapes", multiple=True, help=INPUT_SHAPE_HELP)

"""Options every command shares: help text, -o/--output/--force/--json, click's range checks."""

from __future__ import annotations

import pytest

from se_deploy.cli import main
from tests.cli.helpers import run


def test_every_option_has_help_text() -> None:
    missing = [
        f"{name} {param.opts[0]}"
        for name, command in main.commands.items()
        for param in command.params
        if isinstance(param, __import__("click").Option) and not param.hidden and not param.help
    ]
    assert missing == []


def test_every_writing_command_takes_o_and_output() -> None:
    for name in ("export", "fuse", "build", "package", "bench"):
        options = {opt for param in main.commands[name].params for opt in param.opts}
        assert {"-o", "--output", "--force"} <= options, name
    for name in ("list-models", "export", "inspect", "fuse", "build", "eval", "bench"):
        (json_option,) = [p for p in main.commands[name].params if "--json" in p.opts]
        assert json_option.is_flag or json_option.flag_value == "-", name  # --json alone prints JSON everywhere


@pytest.mark.parametrize(
    "args",
    [
        ("export", "--model", "se_resnet_tiny", "--num-classes", "0"),
        ("export", "--model", "se_resnet_tiny", "--se-reduction", "-1"),
        ("eval", "m.onnx", "--data", ".", "--limit", "0"),
        ("bench", "--model", "m.onnx", "--iterations", "-2"),
        ("bench", "--model", "m.onnx", "--warmup", "-1"),
        ("bench", "--model", "m.onnx", "--threads", "-1"),
        ("package", "m.onnx", "--instances", "0"),
        ("build", "m.onnx", "-o", "e", "--backend", "tensorrt", "--max-batch", "0"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(args: tuple[str, ...]) -> None:
    code, _, stderr = run(*args)
    assert code == 2 and "is not in the range" in stderr

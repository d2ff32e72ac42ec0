"""``se-deploy inspect``: the SE blocks of an ONNX model, and the near misses."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.cli.options import json_option, model_argument, user_errors
from se_deploy.cli.render import print_inspect, print_json


@click.command("inspect")
@model_argument()
@json_option("Print {se_blocks: [...], near_misses: [...]} as JSON.")
@user_errors
def inspect_command(model: Path, as_json: bool) -> None:
    """List the SE blocks of an ONNX model, and SE-like subgraphs that failed a check."""
    from se_deploy.rewrite.job import inspect_file

    report = inspect_file(model)
    if as_json:
        print_json(report.to_dict())
        return
    print_inspect(report, model)

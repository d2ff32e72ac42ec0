"""``se-deploy fuse``: every SE block of an ONNX model -> one fused node (or none: ``--strip``)."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.cli.options import (
    force_option,
    input_shape_option,
    json_option,
    model_argument,
    output_option,
    user_errors,
)
from se_deploy.cli.render import err, print_fuse, print_json, print_near_misses


@click.command("fuse")
@model_argument()
@output_option("Where to write the result.", required=True)
@click.option("--strip", is_flag=True, help="Remove every SE block instead: the same network without SE.")
@click.option("--no-residual", is_flag=True, help="Do not fold a following residual Add(+ReLU) into the fused node.")
@force_option("Replace an existing output file (only one se-deploy wrote).")
@input_shape_option
@json_option("Print what was done as JSON.")
@user_errors
def fuse_command(
    model: Path, output: Path, strip: bool, no_residual: bool, force: bool, input_shapes: tuple[str, ...], as_json: bool
) -> None:
    """Rewrite every SE block of an ONNX model into one se_deploy node (or strip them), verified with ONNX Runtime."""
    from se_deploy.input_shapes import parse_input_shapes
    from se_deploy.rewrite.job import FuseRequest, run_fuse

    request = FuseRequest(
        model=model,
        output=output,
        strip=strip,
        residual=not no_residual,
        force=force,
        input_shapes=parse_input_shapes(input_shapes),
    )
    with err.status("stripping SE blocks" if strip else "fusing SE blocks"):
        outcome = run_fuse(request)
    if as_json:
        print_json(outcome.to_dict())
        return
    print_fuse(outcome, output, strip)
    print_near_misses(outcome)

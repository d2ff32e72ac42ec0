"""``se-deploy eval``: top-1/top-5 of an engine on labeled images, and fidelity vs PyTorch FP32."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.cli.options import json_option, model_argument, path_option, positive_int_option, user_errors
from se_deploy.cli.render import err, print_eval, print_json, print_notes


@click.command("eval")
@model_argument("engine")
@path_option("--data", required=True, help="Image folder (class sub-folders, or flat with --labels).")
@path_option("--labels", help="Labels file: 'IMAGE_NAME LABEL' per line.")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per inference call.")
@positive_int_option("--limit", help="Evaluate only the first N images.")
@path_option(
    "--reference-weights", help="PyTorch weights for the fidelity reference [default: the ones recorded at export]."
)
@json_option("Print the result as JSON.")
@user_errors
def eval_command(
    engine: Path,
    data: Path,
    labels: Path | None,
    batch_size: int,
    limit: int | None,
    reference_weights: Path | None,
    as_json: bool,
) -> None:
    """Top-1/top-5 of an engine or ONNX model on labeled images, and fidelity vs PyTorch FP32."""
    from se_deploy.bench.accuracy import evaluate

    with err.status(f"evaluating {engine} on {data}"):
        result = evaluate(
            engine, data, labels_file=labels, batch_size=batch_size, limit=limit, reference_weights=reference_weights
        )
    if as_json:
        print_json(result.to_dict())
        return
    print_notes(result.notes)
    print_eval(result, engine)

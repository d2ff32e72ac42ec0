"""``se-deploy make-digits``: scikit-learn's digits as a labeled image folder (real data for eval and INT8)."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.cli.options import choice_option, user_errors
from se_deploy.cli.render import print_digits


@click.command("make-digits")
@click.argument("output", type=click.Path(path_type=Path))
@choice_option(
    "--split",
    choices=["train", "test", "all"],
    default="test",
    help="Which images: the stratified 1,347 train / 450 test split (seed 0), or all 1,797.",
)
@user_errors
def make_digits_command(output: Path, split: str) -> None:
    """Write scikit-learn's handwritten digits as a labeled image folder (real data for eval and calibration)."""
    from se_deploy.data.digits import write_digits_folder

    count = write_digits_folder(output, split=split)
    print_digits(count, split, output)

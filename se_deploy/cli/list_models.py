"""``se-deploy list-models``: the zoo with its complexity and the paper's figures."""

from __future__ import annotations

import click

from se_deploy.cli.options import json_option, user_errors
from se_deploy.cli.progress import terminal_progress
from se_deploy.cli.render import err, print_catalog, print_json


@click.command("list-models")
@json_option("Print a JSON list instead of a table.")
@click.option("--all", "include_tiny", is_flag=True, help="Include the tiny test models.")
@click.option("--family", default=None, help="Only this family (e.g. resnet).")
@user_errors
def list_models_command(as_json: bool, include_tiny: bool, family: str | None) -> None:
    """List the zoo: params, GMACs, non-SE twin and the paper's figures."""
    from se_deploy.models.catalog import catalog

    with terminal_progress(err, quiet=as_json) as progress:
        rows = catalog(include_tiny=include_tiny, family=family, progress=progress)
    if as_json:
        print_json([row.to_dict() for row in rows])
        return
    print_catalog(rows)

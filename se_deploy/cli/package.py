"""``se-deploy package``: ONNX models and engine folders -> a Triton Inference Server model repository."""

from __future__ import annotations

from pathlib import Path

import click

from se_deploy.cli.options import choice_option, csv, force_option, output_option, positive_int_option, user_errors
from se_deploy.cli.render import print_packaged


@click.command("package")
@click.argument("models", nargs=-1, type=click.Path(path_type=Path))
@output_option("Model repository to write into.", default=Path("models"), show_default=True)
@click.option(
    "--name", "names", multiple=True, help="Repository name per model, in order [default: from its metadata]."
)
@click.option("--max-batch", type=int, default=64, show_default=True, help="Triton max_batch_size.")
@click.option("--preferred-batch", default="8,16,32", show_default=True, help="Dynamic batching preferred sizes.")
@positive_int_option("--instances", default=1, help="Model instances.")
@choice_option("--kind", choices=["cpu", "gpu"], help="Instance kind.")
@force_option("Replace models already in the repository (only ones se-deploy wrote).")
@user_errors
def package_command(
    models: tuple[Path, ...],
    output: Path,
    names: tuple[str, ...],
    max_batch: int,
    preferred_batch: str,
    instances: int,
    kind: str,
    force: bool,
) -> None:
    """Write a Triton Inference Server model repository from ONNX models and engine folders."""
    from se_deploy.repository import ServingOptions
    from se_deploy.serve.package import package

    try:
        preferred = tuple(int(p) for p in csv(preferred_batch))
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated sizes, got {preferred_batch!r}", param_hint="--preferred-batch"
        ) from None
    options = ServingOptions(
        max_batch_size=max_batch, preferred_batch_sizes=preferred, instances=instances, kind=f"KIND_{kind.upper()}"
    )
    packaged = package(list(models), output, names=list(names) or None, options=options, force=force)
    print_packaged(packaged, output)

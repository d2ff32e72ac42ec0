"""The ``se-deploy`` command line: the click group and its commands, one module per command.

Each command module parses its options, calls one stage, and hands the result to ``render``; options
shared by several commands are declared once in ``options``. Tables and summaries go to stdout (or JSON
with ``--json``); progress goes to stderr so JSON output stays machine-readable. Stages (torch, onnx)
are imported inside the commands, so ``se-deploy --help`` stays fast.
"""

from __future__ import annotations

import click

from se_deploy import __version__
from se_deploy.cli.bench import bench_command
from se_deploy.cli.build import build_command
from se_deploy.cli.eval import eval_command
from se_deploy.cli.export import export_command
from se_deploy.cli.fuse import fuse_command
from se_deploy.cli.inspect import inspect_command
from se_deploy.cli.list_models import list_models_command
from se_deploy.cli.make_digits import make_digits_command
from se_deploy.cli.package import package_command

COMMANDS = (
    list_models_command,
    export_command,
    inspect_command,
    fuse_command,
    build_command,
    eval_command,
    bench_command,
    package_command,
    make_digits_command,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="se-deploy")
def main() -> None:
    """Find, fuse and deploy the Squeeze-and-Excitation blocks of SENets."""


for _command in COMMANDS:
    main.add_command(_command)

"""The README's usage lines match `--help`: every option they show exists, every option is shown."""

from __future__ import annotations

import re
from pathlib import Path

import click

from se_deploy.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
_OPTION = re.compile(r"(?<![\w-])(-o|--[a-z][a-z0-9-]*)")


def usage_spans() -> dict[str, list[str]]:
    """Command -> the README text of each `se-deploy COMMAND ...` usage (inline code or a code block)."""
    text = README.read_text()
    spans = re.findall(r"`([^`]+)`", text.replace("```", "\n"))
    spans += re.findall(r"^se-deploy .*(?:\n {8,}.*)*", text, flags=re.M)  # code blocks with continuation lines
    usages: dict[str, list[str]] = {}
    for span in spans:
        for part in re.split(r"&&|\n(?=se-deploy )", span):
            match = re.match(r"\s*se-deploy ([a-z-]+)(.*)", part, flags=re.S)
            if match and match.group(1) in main.commands:
                usages.setdefault(match.group(1), []).append(match.group(2))
    return usages


def spellings(name: str) -> list[set[str]]:
    """Each visible option of a command as the set of its spellings (-o and --output; --with-twin and --no-twin)."""
    return [
        set(param.opts) | set(param.secondary_opts)
        for param in main.commands[name].params
        if isinstance(param, click.Option) and not param.hidden and "--help" not in param.opts
    ]


def options_of(name: str) -> set[str]:
    return set().union(*spellings(name))


def test_every_option_in_the_readme_exists() -> None:
    wrong = {
        name: sorted({opt for usage in usages for opt in _OPTION.findall(usage)} - options_of(name))
        for name, usages in usage_spans().items()
    }
    assert {name: opts for name, opts in wrong.items() if opts} == {}


def test_every_option_is_in_the_readme() -> None:
    usages = usage_spans()
    shown = {name: {opt for usage in usages.get(name, []) for opt in _OPTION.findall(usage)} for name in main.commands}
    missing = {
        name: sorted(min(spelled) for spelled in spellings(name) if not spelled & shown[name]) for name in main.commands
    }
    assert {name: opts for name, opts in missing.items() if opts} == {}

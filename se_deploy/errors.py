"""Exceptions raised by se-deploy.

Every error a user can cause is a subclass of :class:`SeDeployError`; its message says what was
wrong and what to do. The CLI prints these without a traceback; anything else is a bug.
"""

from __future__ import annotations


class SeDeployError(Exception):
    """Base class for errors caused by input the user can fix."""


class UnknownModelError(SeDeployError, KeyError):
    """A model name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(SeDeployError, ValueError):
    """An option has a value the command cannot use (image size, batch, opset...)."""


class WeightsError(SeDeployError):
    """A checkpoint cannot be read or does not fit the model."""


class OutputError(SeDeployError):
    """An output location is not writable or would overwrite existing artifacts."""


class ExportError(SeDeployError):
    """Export to ONNX failed or the exported model does not match the torch model."""

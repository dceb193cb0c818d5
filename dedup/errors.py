"""Domain errors. The library raises these; only ``cli.py`` turns them into exit codes."""

from __future__ import annotations


class DedupError(Exception):
    """Base class for every error dedup raises on purpose.

    ``hint`` says how to fix the problem; the CLI prints it under the message.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InputError(DedupError):
    """An input cannot be read or parsed (missing file, bad encoding, bad JSONL record)."""


class OutputError(DedupError):
    """An output cannot be written safely (it would overwrite an input, or the target is wrong)."""


class ConfigError(DedupError):
    """A configuration value is out of range or a config file is malformed."""


class AlreadyFinished(DedupError):
    """``resume`` was asked of a run that had already finished and published its outputs (it
    was stopped after its last commit, before it exited): there is nothing left to do. Not a
    failure: the CLI prints the message and exits 0."""

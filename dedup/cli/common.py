"""Options and error handling shared by the ``dedup`` subcommands.

Library errors (:class:`~dedup.errors.DedupError`) become a message on stderr and exit code 1
(2 for usage errors, as click does); no traceback reaches the user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..config import Config
from ..errors import DedupError
from ..io.readers import ENCODING_ERRORS, FORMATS

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def load_config(config_file: str | None, threshold: float | None, num_perm: int | None) -> Config:
    cfg = Config.from_toml(config_file) if config_file else Config()
    lsh: dict[str, Any] = {}
    if threshold is not None:
        lsh["threshold"] = threshold
    if num_perm is not None:
        lsh["num_perm"] = num_perm
    return cfg.replace(lsh=lsh) if lsh else cfg


def config_options(func: F) -> F:
    """The options every command that cleans shares."""
    options = [
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                     help="TOML file with [norm], [boilerplate], [shingle] and [lsh] tables."),
        click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True),
                     help="Jaccard similarity (word shingles) at or above which two paragraphs "
                          "are near-duplicates. [default: 0.7]"),
        click.option("--num-perm", type=click.IntRange(2, 4096),
                     help="MinHash permutations; more is more accurate and slower. "
                          "[default: 128]"),
        click.option("--text-field", default="text", show_default=True,
                     help="JSONL field holding the text; all other fields are kept."),
        click.option("--input-format", type=click.Choice(FORMATS), default="auto",
                     show_default=True,
                     help="How to read inputs; auto goes by suffix (.jsonl, else text)."),
        click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), default="strict",
                     show_default=True,
                     help="strict: a file that is not UTF-8 is skipped and reported; "
                          "replace: bad bytes become U+FFFD."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class Failed(click.ClickException):
    exit_code = EXIT_FAILED


def fail(exc: DedupError) -> click.ClickException:
    return Failed(exc.message + (f"\n  hint: {exc.hint}" if exc.hint else ""))

"""Options and error handling shared by the ``dedup`` subcommands.

Library errors (:class:`~dedup.errors.DedupError`) become a message on stderr and exit code 1
(2 for usage errors, as click does); no traceback reaches the user.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..config import Config
from ..errors import DedupError
from ..io.readers import ENCODING_ERRORS, FORMATS, MAX_DOC_BYTES, MAX_LINE_BYTES, Limits

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


_CONFIG_KEYS = ("config_file", "threshold", "num_perm", "classifier", "preset",
                "boilerplate_threshold", "repetition", "no_boilerplate", "cross_doc", "keep",
                "documents")


def load_config(config_file: str | None = None, threshold: float | None = None,
                num_perm: int | None = None, classifier: str | None = None,
                preset: str | None = None, boilerplate_threshold: float | None = None,
                repetition: str | None = None, no_boilerplate: bool = False,
                cross_doc: bool | None = None, keep: str | None = None,
                documents: str | None = None) -> Config:
    """The run's config: the TOML file (if any), then the command-line options over it."""
    cfg = Config.from_toml(config_file) if config_file else Config()
    lsh: dict[str, Any] = {}
    if threshold is not None:
        lsh["threshold"] = threshold
    if num_perm is not None:
        lsh["num_perm"] = num_perm
    bp: dict[str, Any] = {}
    for key, value in (("classifier", classifier), ("preset", preset),
                       ("threshold", boilerplate_threshold), ("repetition", repetition)):
        if value is not None:
            bp[key] = value
    if no_boilerplate:
        bp["enabled"] = False
    corpus: dict[str, Any] = {}
    if cross_doc is not None:
        corpus["enabled"] = cross_doc
    if documents is not None:
        corpus["documents"] = documents
    sections = {name: values for name, values in (("lsh", lsh), ("boilerplate", bp),
                                                  ("corpus", corpus)) if values}
    cfg = cfg.replace(**sections) if sections else cfg
    if keep is not None:
        cfg = Config.from_mapping({**cfg.to_dict(), "keep": keep})
    return cfg


_SIZE = re.compile(r"\s*(\d+)\s*(?:([kmgt])(?:i?b)?|b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


# Generic in click >= 8.4 (ParamType[int]); older releases cannot be subscripted at run time.
class ByteSize(click.ParamType):  # type: ignore[type-arg]
    """A size in bytes: a whole number, or one with a binary unit (``64K``, ``1M``, ``1MiB``,
    ``2G``).

    >>> ByteSize().convert("1MiB", None, None), ByteSize().convert("4096", None, None)
    (1048576, 4096)
    """

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        m = _SIZE.fullmatch(str(value))
        size = int(m.group(1)) * _UNITS[(m.group(2) or "").lower()] if m else 0
        if size < 1:
            self.fail(f"{value!r} is not a size in bytes (e.g. 4096, 64K, 1M, 2G; at least 1)",
                      param, ctx)
        return size


def _mib(n: int) -> str:
    return f"{n >> 20}M"


def config_options(func: F) -> F:
    """The options every command that cleans shares; they reach ``func`` as ``config`` (and
    the size limits as ``limits``, a :class:`~dedup.io.readers.Limits`)."""
    options = [
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                     help="TOML file with [norm], [boilerplate], [shingle] and [lsh] tables."),
        click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True),
                     help="Jaccard similarity (word shingles) at or above which two paragraphs "
                          "are near-duplicates. [default: 0.7]"),
        click.option("--num-perm", type=click.IntRange(2, 4096),
                     help="MinHash permutations; more is more accurate and slower. "
                          "[default: 128]"),
        click.option("--classifier", type=click.Choice(["auto", "page", "learned", "rules"]),
                     help="Boilerplate classifier: page (the page-structure model trained on "
                          "real pages; text alone, the same for one page or a corpus), learned "
                          "(the generated-corpus model, with corpus counts), rules (cookie "
                          "notices and template lines only); auto is page, plus the learned "
                          "model's confident drops when the run has corpus counts. "
                          "[default: auto]"),
        click.option("--preset", type=click.Choice(["precision", "balanced", "recall"]),
                     help="Boilerplate precision/recall trade-off. [default: balanced]"),
        click.option("--boilerplate-threshold", type=click.FloatRange(0.0, 1.0),
                     help="Drop a line when P(boilerplate) is at least this (overrides "
                          "--preset)."),
        click.option("--repetition", type=click.Choice(["off", "sample", "full"]),
                     help="Corpus line counts for --classifier learned: off, from the first "
                          "documents (sample), or a first pass over all inputs (full). "
                          "[default: sample]"),
        click.option("--no-boilerplate", is_flag=True,
                     help="Do not classify boilerplate; only remove duplicates."),
        click.option("--cross-doc/--no-cross-doc", "cross_doc", default=None,
                     help="Remove paragraphs that near-duplicate a paragraph kept in an earlier "
                          "document of the run (or of the --index). [default: on]"),
        click.option("--keep", type=click.Choice(["first", "longest"]),
                     help="Which member of a near-duplicate document cluster is canonical: the "
                          "first in input order, or the one with the most content (two more "
                          "passes over the input). [default: first]"),
        click.option("--documents", type=click.Choice(["tag", "drop"]),
                     help="A document that near-duplicates an earlier one: written with its "
                          "cluster id (tag), or not written at all (drop). [default: tag]"),
        click.option("--text-field", default="text", show_default=True,
                     help="JSONL field holding the text; all other fields are kept."),
        click.option("--id-field", metavar="FIELD",
                     help="JSONL field (Parquet column) holding each document's id, a string "
                          "or an integer, used in --removed, the report, the index and "
                          "clusters. [default: none: ids are FILE:LINE]"),
        click.option("--input-format", type=click.Choice(FORMATS), default="auto",
                     show_default=True,
                     help="How to read inputs; auto goes by suffix (.jsonl/.ndjson, also "
                          ".gz/.zst; .parquet; .wet and .warc, also .gz; else text); stdin by its "
                          "first line (a JSON object: JSONL; else text)."),
        click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), default="strict",
                     show_default=True,
                     help="Bytes that are not UTF-8 (or a lone surrogate escaped in JSONL). "
                          "strict: the record (JSONL line, Parquet row, text file) is a "
                          "failure, reported with its file and line (exit 1); replace: bad "
                          "bytes become U+FFFD; skip: the record is left out on purpose, listed "
                          "under 'skipped' in --report (exit 0)."),
        click.option("--max-line-bytes", type=ByteSize(), default=_mib(MAX_LINE_BYTES),
                     show_default=True,
                     help="The longest line read (K, M, G: KiB, MiB, GiB). A longer line is "
                          "not read whole: its record (a text file, a JSONL line, a Parquet "
                          "row) is a failure naming it, the rest is cleaned (exit 1). Memory "
                          "per line grows with this limit."),
        click.option("--max-doc-bytes", type=ByteSize(), default=_mib(MAX_DOC_BYTES),
                     show_default=True,
                     help="The largest document read: a text file (decompressed), a JSONL "
                          "record, a Parquet row's text. A larger one is a failure, read no "
                          "further (a JSONL record is skipped up to its newline), the rest is "
                          "cleaned (exit 1)."),
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = {key: kwargs.pop(key) for key in _CONFIG_KEYS}
        try:
            kwargs["limits"] = Limits(kwargs.pop("max_line_bytes"), kwargs.pop("max_doc_bytes"))
            kwargs["config"] = load_config(**settings)
        except DedupError as exc:  # a bad --config file or option: every bad key, exit 2
            raise usage_error(exc) from exc
        return func(*args, **kwargs)

    out: Any = wrapper
    for option in reversed(options):
        out = option(out)
    return out  # type: ignore[no-any-return]


class Failed(click.ClickException):
    exit_code = EXIT_FAILED


def fail(exc: DedupError) -> click.ClickException:
    """A library error as a failure: its message and hint on stderr, exit code 1."""
    return Failed(exc.message + (f"\n  hint: {exc.hint}" if exc.hint else ""))


def usage_error(exc: DedupError) -> click.UsageError:
    """A library error about the options given as a usage error: click's usage line, the
    message and hint, exit code 2."""
    return click.UsageError(exc.message + (f"\n  hint: {exc.hint}" if exc.hint else ""))

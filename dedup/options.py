"""The options of one batch run (``dedup clean``, :func:`dedup.batch.run_clean`) that are not
the cleaning :class:`~dedup.config.Config`: where extra outputs go, how inputs are read, the
corpus index, parallelism, sharding, strictness and checkpoints.

One frozen value, checked when it is made: a bad value or combination is a
:class:`~dedup.errors.ConfigError` naming the option before anything is read or written.
The CLI maps its options onto it in one function (``dedup.cli.clean.run_options``).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .io.readers import ENCODING_ERRORS, FORMATS, Limits
from .io.writers import SHARD_SUFFIXES

ENGINES = ("local", "dask")
CHECKPOINT_SECONDS = 300.0  # how often a resumable run saves its state (at an input boundary)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """Every per-run option of :func:`~dedup.batch.run_clean` but the cleaning config.

    Extra outputs: ``removed`` (every dropped line as JSONL) and ``report`` (a JSON report),
    file paths or ``-`` for stdout. Reading: ``text_field`` (the JSONL/Parquet field holding
    the text), ``id_field`` (the JSONL/Parquet field holding the document id; ``None``: ids
    are ``file:line``), ``input_format`` (one of ``auto``, ``txt``, ``jsonl``, ``parquet``),
    ``encoding_errors`` (``strict``, ``replace`` or ``skip``) and ``limits`` (the longest line
    and largest document read, :class:`~dedup.io.readers.Limits`; ``None``: the defaults).
    ``index``: a corpus index directory, loaded before the run when it exists and saved after
    it. ``jobs``: worker processes for the per-document work (the output is the same for every
    value); ``engine`` ``"dask"`` runs that work on a Dask cluster instead, at ``scheduler``
    (an address) or on a LocalCluster of ``jobs`` workers. ``shard_docs``: write every
    document into the output directory as ``part-00000<shard_suffix>``, ... with this many
    documents each (0: mirror the inputs). ``strict``: the first record that cannot be read
    stops the run and nothing is written. ``resume``: continue an interrupted run from its
    last checkpoint; ``checkpoint_seconds``: how often a resumable run checkpoints (at an input
    boundary; 0: at every one).

    >>> RunOptions(jobs=2).replace(removed="removed.jsonl").jobs
    2
    >>> RunOptions(engine="spark")
    Traceback (most recent call last):
    ...
    dedup.errors.ConfigError: engine = 'spark' is not one of local, dask
      hint: use engine='local' (worker processes) or 'dask' (--engine)
    """

    removed: str | None = None
    report: str | None = None
    text_field: str = "text"
    id_field: str | None = None
    input_format: str = "auto"
    encoding_errors: str = "strict"
    limits: Limits = Limits()
    index: str | None = None
    jobs: int = 1
    engine: str = "local"
    scheduler: str | None = None
    shard_docs: int = 0
    shard_suffix: str = ".jsonl.zst"
    strict: bool = False
    resume: bool = False
    checkpoint_seconds: float = CHECKPOINT_SECONDS

    def __post_init__(self) -> None:
        for name in ("removed", "report", "index"):
            value = getattr(self, name)
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
                object.__setattr__(self, name, value)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{name} = {value!r} is not a path",
                                  hint=f"give {name} a file or directory path, or None")
        if not isinstance(self.text_field, str) or not self.text_field:
            raise ConfigError(f"text_field = {self.text_field!r} is not a field name",
                              hint="the JSONL or Parquet field holding the text (--text-field), "
                                   "e.g. 'text'")
        if self.id_field is not None and (not isinstance(self.id_field, str)
                                          or not self.id_field):
            raise ConfigError(f"id_field = {self.id_field!r} is not a field name",
                              hint="the JSONL or Parquet field holding each document's id "
                                   "(--id-field), e.g. 'id'; None: ids are file:line")
        _one_of("input_format", self.input_format, FORMATS, "--input-format")
        _one_of("encoding_errors", self.encoding_errors, ENCODING_ERRORS, "--encoding-errors")
        if self.limits is None:
            object.__setattr__(self, "limits", Limits())
        elif not isinstance(self.limits, Limits):
            raise ConfigError(f"limits = {self.limits!r} is not a Limits",
                              hint="give dedup.io.readers.Limits(line_bytes=..., "
                                   "doc_bytes=...), or None for the defaults")
        _count("jobs", self.jobs, 1, "--jobs: 1 or more worker processes")
        _one_of("engine", self.engine, ENGINES, "--engine",
                hint="use engine='local' (worker processes) or 'dask' (--engine)")
        if self.scheduler is not None:
            if not isinstance(self.scheduler, str) or not self.scheduler:
                raise ConfigError(f"scheduler = {self.scheduler!r} is not an address",
                                  hint="a Dask scheduler address, e.g. 'tcp://host:8786'")
            if self.engine != "dask":
                raise ConfigError(f"scheduler = {self.scheduler!r} needs engine = 'dask', "
                                  f"not {self.engine!r}",
                                  hint="--scheduler is the address of a Dask cluster: add "
                                       "--engine dask (engine='dask'), or drop --scheduler")
        _count("shard_docs", self.shard_docs, 0,
               "--shard-docs: documents per shard, 1 or more (0: mirror the inputs)")
        _one_of("shard_suffix", self.shard_suffix, SHARD_SUFFIXES, "--shard-format")
        for name in ("strict", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} = {getattr(self, name)!r} is not True or False",
                                  hint=f"--{name} is a flag: give {name}=True or False")
        seconds = self.checkpoint_seconds
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not seconds >= 0:  # NaN too
            raise ConfigError(f"checkpoint_seconds = {seconds!r} is out of range",
                              hint="--checkpoint-seconds: 0 or more seconds (0: checkpoint "
                                   "after every input; inf: only before publishing)")
        object.__setattr__(self, "checkpoint_seconds", float(seconds))

    def record_fields(self) -> tuple[str, ...]:
        """The record fields this run names (``--id-field ID``, a ``--text-field`` other than
        ``text``): stdin that reads as plain text is refused with them.

        >>> RunOptions(id_field="url").record_fields()
        ('--id-field url',)
        """
        named = [("--text-field", self.text_field if self.text_field != "text" else None),
                 ("--id-field", self.id_field)]
        return tuple(f"{flag} {value}" for flag, value in named if value is not None)

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with ``changes`` (field names) applied and checked again; an unknown name is
        a TypeError naming it."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)


def _one_of(name: str, value: object, allowed: tuple[str, ...], flag: str,
            hint: str | None = None) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} = {value!r} is not one of {', '.join(allowed)}",
                          hint=hint or f"use one of {', '.join(map(repr, allowed))} ({flag})")


def _count(name: str, value: object, least: int, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{name} = {value!r} is out of range", hint=hint)


FIELDS = tuple(f.name for f in dataclasses.fields(RunOptions))


def _check_names(changes: dict[str, Any]) -> None:
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        raise TypeError(f"unknown run option(s) {', '.join(map(repr, unknown))}"
                        + (f" (did you mean {close[0]!r}?)" if close else "")
                        + f"; RunOptions has {', '.join(FIELDS)}")

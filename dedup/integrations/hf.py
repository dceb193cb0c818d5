"""dedup for Hugging Face ``datasets``: a batched function for ``Dataset.map``.

Needs datasets (``pip install "dedup[hf]"``)::

    from datasets import load_dataset
    from dedup.integrations.hf import Deduper

    ds = load_dataset("json", data_files="pages.jsonl", split="train")
    deduper = Deduper(text_column="text", id_column="id", sample=ds)
    ds = ds.map(deduper, batched=True, batch_size=1000).filter(lambda row: row["dedup_keep"])
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import xxhash

from ..boilerplate.repetition import LineCounts
from ..config import Config
from ..errors import ConfigError, InputError
from ..pipeline import Cleaner
from ..stats import Stats
from ..types import Document
from . import ConfigLike, load_config

#: the columns :class:`Deduper` adds to every batch
KEEP = "dedup_keep"
REMOVED = "dedup_removed"
REASONS = "dedup_reasons"
DUPLICATE_OF = "dedup_duplicate_of"
COLUMNS = (KEEP, REMOVED, REASONS, DUPLICATE_OF)


class Deduper:
    """A batched function for ``datasets.Dataset.map(deduper, batched=True)``: cleans the text
    column of every batch, with corpus-wide dedup across all the batches it is given.

    Every batch goes through the same :class:`dedup.Cleaner`, in order, so a paragraph copied
    from a row of an earlier batch is dropped as ``duplicate:cross-doc``; the output is the
    same whatever the ``batch_size``, and equal to ``Cleaner(config).clean_documents`` over
    the same texts. It returns the text column, cleaned, and these columns (``map`` keeps the
    batch's other columns as they are):

    - ``dedup_keep`` (bool): False when nothing is left, or for a near-duplicate document
      under ``corpus.documents = "drop"`` (``ds.filter(lambda r: r["dedup_keep"])``);
    - ``dedup_removed`` (int): the number of lines dropped;
    - ``dedup_reasons`` (str): their reason codes in line order, separated by spaces;
    - ``dedup_duplicate_of`` (str): the id of the earlier document this one near-duplicates
      (its cluster), else "".

    Document ids (in ``dedup_duplicate_of`` and in what :attr:`stats` counts) are the values of
    ``id_column``, or the row's position among all rows this Deduper has seen.

    The classifier's line counts: a one-pass run counts its first
    ``boilerplate.repetition_sample`` documents before cleaning them, which a batch function
    cannot do. Give the dataset (or its texts) as ``sample`` (``Deduper(sample=ds)``: only its
    first ``repetition_sample`` rows are read, all of them under ``repetition = "full"``) and
    the output is that of ``dedup clean`` over the same texts. Without ``sample`` the counts
    are not used (``repetition = "off"``, and :attr:`config` says so), which keeps the output
    independent of the batch size too.

    Processes: dedup needs every batch in one process, so run ``map`` with ``num_proc=None``
    (the default). A copy of a Deduper (pickled into ``map``'s worker processes when
    ``num_proc`` is set) refuses to run, unless ``per_process=True``: then each copy starts
    empty and dedups only the rows it is given (one shard per process), not across shards.

    Caching: ``datasets`` names a ``map`` result by hashing the function. What a Deduper
    returns depends on every row it saw before, which ``datasets`` cannot know, so each
    Deduper (and each state of it) hashes as new: a ``map`` with a new Deduper is never served
    from the cache of an earlier one. Keep results with ``save_to_disk``.

    Args:
        config: a :class:`dedup.Config`, the path of a TOML config file, or None (defaults).
        text_column: the column with the text to clean (replaced by the clean text).
        id_column: the column with the document ids, or None (row positions).
        sample: the dataset (its ``text_column``) or its texts, for the classifier's line
            counts (above).
        per_process: let copies in other processes run, each deduping only its own rows.
    """

    config: Config  # the settings it runs with (``repetition = "off"`` without a sample)
    _cleaner: Cleaner
    _history: Any  # an xxhash.xxh64 of its token and every row it has seen

    def __init__(self, config: ConfigLike = None, *, text_column: str = "text",
                 id_column: str | None = None, sample: Iterable[Any] | None = None,
                 per_process: bool = False) -> None:
        cfg = load_config(config)
        uses = Cleaner(cfg).uses_repetition
        if uses and sample is None:
            if cfg.boilerplate.repetition == "full":
                raise ConfigError(
                    "boilerplate.repetition = 'full' needs every text before the first batch",
                    hint="give them as Deduper(..., sample=dataset), or use "
                         "repetition = 'sample' or 'off'")
            cfg = cfg.replace(boilerplate={"repetition": "off"})
        self._setup(cfg, text_column, id_column, per_process, uuid.uuid4().hex)
        if uses and sample is not None:
            bp = cfg.boilerplate
            if hasattr(sample, "column_names"):  # a Dataset: its rows, as dicts
                sample = (row[text_column] for row in sample)
            rows = sample if bp.repetition == "full" else itertools.islice(
                sample, bp.repetition_sample)
            texts = [_text(t, n, "sample") for n, t in enumerate(rows)]
            if bp.repetition == "full":
                self._cleaner.count_lines(texts)
            else:
                self._cleaner.count_sample(texts)
            if self._cleaner.counts is None:  # too few rows to count: as without a sample
                self.config = cfg.replace(boilerplate={"repetition": "off"})
                self._cleaner = Cleaner(self.config)
            for t in texts:
                self._history.update(t.encode("utf-8", "surrogatepass") + b"\0")

    def _setup(self, config: Config, text_column: str, id_column: str | None,
               per_process: bool, token: str) -> None:
        self.config = config
        self.text_column = text_column
        self.id_column = id_column
        self.per_process = per_process
        self._token = token  # this Deduper's identity (and its copies')
        self._history = xxhash.xxh64(token.encode())  # every row seen, for the fingerprint
        self._rows = 0
        self._copy = False
        self._cleaner = Cleaner(config)

    @property
    def stats(self) -> Stats:
        """What the rows seen so far gave: counts per reason code, lines, bytes."""
        return self._cleaner.stats

    def __call__(self, batch: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
        """The batch's text column cleaned, and the ``dedup_*`` columns (``map`` adds them to
        the batch's other columns)."""
        if self._copy and not self.per_process:
            raise ConfigError(
                "this Deduper is a copy (Dataset.map with num_proc pickles it into worker "
                "processes): the copy does not have the original's index, so it cannot dedup "
                "across batches and shards",
                hint="run map with num_proc=None, or make it with Deduper(..., "
                     "per_process=True) to dedup each process's rows alone")
        texts = self._column(batch, self.text_column)
        first = self._rows
        ids = ([str(i) for i in self._column(batch, self.id_column)]
               if self.id_column is not None else [str(first + n) for n in range(len(texts))])
        if len(ids) != len(texts):
            raise InputError(f"column {self.id_column!r} has {len(ids)} values for "
                             f"{len(texts)} texts")
        docs = [Document(i, _text(t, first + n, self.text_column))
                for n, (i, t) in enumerate(zip(ids, texts, strict=True))]
        # only the columns it changes: map keeps the others as they are (not decoded and
        # encoded again)
        out: dict[str, list[Any]] = {column: [] for column in COLUMNS}
        cleaned: list[str] = []
        for result in self._cleaner.clean_documents(docs):
            _, dropped = result.line_counts()
            cluster = result.doc.cluster
            cleaned.append(result.text)
            out[KEEP].append(bool(result.text) and not result.dropped_document)
            out[REMOVED].append(len(dropped))
            out[REASONS].append(" ".join(dropped))
            out[DUPLICATE_OF].append(cluster.id if cluster is not None and cluster.duplicate
                                     else "")
        out[self.text_column] = cleaned
        for doc in docs:
            self._history.update(f"{doc.id}\0".encode("utf-8", "surrogatepass")
                                 + doc.text.encode("utf-8", "surrogatepass") + b"\0")
        self._rows += len(docs)
        return out

    @staticmethod
    def _column(batch: Mapping[str, Sequence[Any]], name: str) -> Sequence[Any]:
        if name not in batch:
            raise InputError(f"the batch has no column {name!r}",
                             hint=f"its columns: {', '.join(sorted(batch))}; name the text "
                                  f"and id columns with Deduper(text_column=..., id_column=...)")
        return batch[name]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its settings, identity and history (what ``datasets`` hashes): a copy
        refuses to run unless ``per_process`` (see the class doc)."""
        counts = self._cleaner.counts if self.per_process else None
        return (_copy_of, (self.config, self.text_column, self.id_column, self.per_process,
                           self._token, self._history.hexdigest(), self._rows, counts))


def _copy_of(config: Config, text_column: str, id_column: str | None, per_process: bool,
             token: str, history: str, rows: int, counts: LineCounts | None) -> Deduper:
    """A copy of a pickled :class:`Deduper`: its settings and line counts, an empty index."""
    copy = Deduper.__new__(Deduper)
    copy._setup(config, text_column, id_column, per_process, token)
    copy._copy = True
    copy._history.update(history.encode())
    copy._rows = 0 if per_process else rows
    copy._cleaner = Cleaner(config, counts=counts)
    return copy


def _text(value: Any, row: int, column: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"row {row}: column {column!r} holds {type(value).__name__}, not text",
                         hint="filter out or fill the rows without text before map")
    return value

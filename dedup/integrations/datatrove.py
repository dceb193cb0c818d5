"""dedup as a datatrove pipeline step: documents in, cleaned documents out.

Needs datatrove (``pip install "dedup[datatrove]"``)::

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from dedup.integrations.datatrove import DedupStep

    LocalPipelineExecutor(pipeline=[
        JsonlReader("pages/"),
        DedupStep(exclusion_writer=JsonlWriter("removed/")),
        JsonlWriter("clean/"),
    ], tasks=1, logging_dir="logs/").run()
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..index import CorpusIndex
from ..pipeline import Cleaner, CleanResult
from ..types import Document
from . import DATATROVE_HINT, ConfigLike, load_config

try:
    from datatrove.pipeline.base import PipelineStep
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError(f"dedup.integrations.datatrove needs datatrove, which is not installed: "
                      f"{DATATROVE_HINT}") from exc

#: why a document is left out whole (``filter_reason`` of an excluded document)
EMPTY = "empty"  # its text has no lines at all
ALL_LINES_DROPPED = "all_lines_dropped"  # every line was boilerplate, a duplicate or blank
DUPLICATE_DOCUMENT = "duplicate_document"  # a near-duplicate document, ``documents = "drop"``


class DedupStep(PipelineStep):  # type: ignore[misc]  # datatrove ships no type information
    """Clean every document a task (rank) sees: boilerplate lines and near-duplicate
    paragraphs out, within each document and against every earlier document of the task.

    A document leaves with its text replaced by the clean text and its metadata unchanged. A
    document with nothing left (or a near-duplicate document under ``corpus.documents =
    "drop"``) is not passed on: it goes to ``exclusion_writer`` when one is given, with its
    original text, ``metadata["filter_reason"]`` (``empty``, ``all_lines_dropped`` or
    ``duplicate_document``) and ``metadata["dedup_removed"]`` (dropped lines per reason code).

    Stats (datatrove's ``stats/<rank>.json``): ``total``, ``forwarded``, ``dropped`` and
    ``dropped_<filter_reason>`` per document, as datatrove's filters count them;
    ``lines`` and ``dropped_lines/<reason code>`` per line (``dropped_lines/boilerplate:cookie``,
    ``dropped_lines/duplicate:cross-doc``, ...); ``duplicate_documents``; ``doc_len`` of what
    is passed on.

    Why a generic step and not a ``BaseFilter``: a filter decides each document (or batch)
    alone and keeps its text, while this step rewrites the text and runs the task's documents
    as one stream through :meth:`dedup.Cleaner.clean_documents`, so the corpus stage and the
    classifier's line counts (its first ``boilerplate.repetition_sample`` documents) span the
    whole task, as ``dedup clean`` does over its inputs; memory stays bounded by that stream's
    look-ahead. It takes an ``exclusion_writer`` and counts ``dropped_<reason>`` as a filter
    does.

    Limits: corpus-wide dedup covers the documents of one task. Tasks that run at the same
    time do not see each other's documents, so duplicates across ranks stay unless the
    pipeline runs as a single task (``tasks=1``) or every task uses the same saved ``index``
    one after the other (``LocalPipelineExecutor(tasks=n, workers=1)``: each task loads the
    index the previous one saved, dedups against it and saves it again; a second task opening
    it while one runs is refused by the index's lock). ``boilerplate.repetition = "full"``
    needs two passes over the input and is refused.

    Args:
        config: a :class:`dedup.Config`, the path of a TOML config file, or None (defaults).
        exclusion_writer: a datatrove writer for the documents left out whole.
        index: a corpus index directory (see ``dedup clean --index``): the task dedups
            against the documents indexed there, adds its own and saves it when done.
    """

    name = "🧹 dedup"
    type = "🔻 - FILTER"

    def __init__(self, config: ConfigLike = None, exclusion_writer: Any = None,
                 index: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.config = load_config(config)
        if self.config.boilerplate.repetition == "full":
            raise ConfigError(
                "boilerplate.repetition = 'full' needs two passes over the input, and a "
                "datatrove step sees each document once",
                hint="use repetition = 'sample' (the first documents of each task) or 'off'")
        self.exclusion_writer = exclusion_writer
        self.index = None if index is None else Path(index)

    def run(self, data: Iterable[Any] | None, rank: int = 0,
            world_size: int = 1) -> Iterator[Any]:
        """Clean ``data`` (datatrove documents) and yield the documents that keep any text."""
        if data is None:
            return
        index = None if self.index is None else CorpusIndex(self.config, self.index)
        cleaner = Cleaner(self.config, index=index)
        pending: deque[Any] = deque()  # the datatrove documents read and not yet cleaned

        def documents() -> Iterator[Document]:
            for doc in data:
                pending.append(doc)
                yield Document(str(doc.id), doc.text)

        results = cleaner.clean_documents(documents())
        writer_context = self.exclusion_writer or contextlib.nullcontext()
        try:
            with writer_context as writer:
                while True:
                    with self.track_time():
                        result = next(results, None)
                    if result is None:
                        break
                    doc = pending.popleft()
                    if self._forward(doc, result, writer, rank):
                        yield doc
            if index is not None:
                index.last_run = f"datatrove task {rank} of {world_size}"
                index.save()
        finally:
            getattr(results, "close", lambda: None)()  # the cleaner's generator, if unfinished
            if index is not None:
                index.close()
            else:
                cleaner.close()

    def _forward(self, doc: Any, result: CleanResult, writer: Any, rank: int) -> bool:
        """Count ``result`` in the stats; whether ``doc`` (now with the clean text) goes on,
        else it went to the exclusion writer."""
        lines, dropped = result.line_counts()
        removed = Counter(dropped)
        self.stat_update("total")
        self.stat_update("lines", value=lines)
        for reason, n in sorted(removed.items()):
            self.stat_update(f"dropped_lines/{reason}", value=n)
        if result.doc.cluster is not None and result.doc.cluster.duplicate:
            self.stat_update("duplicate_documents")
        if result.text and not result.dropped_document:
            doc.text = result.text
            self.stat_update("forwarded")
            self.update_doc_stats(doc)
            return True
        reason = (DUPLICATE_DOCUMENT if result.dropped_document
                  else EMPTY if lines == 0 else ALL_LINES_DROPPED)
        self.stat_update("dropped")
        self.stat_update(f"dropped_{reason}")
        if writer is not None:
            doc.metadata["filter_reason"] = reason
            doc.metadata["dedup_removed"] = dict(sorted(removed.items()))
            writer.write(doc, rank)
        return False

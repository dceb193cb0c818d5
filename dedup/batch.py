"""A batch run over files: discover inputs, plan outputs, clean, write, report.

This is what ``dedup clean`` does, callable from Python too::

    report = run_clean(["dump/"], "clean/", Config(), removed="removed.jsonl")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .config import Config
from .io.readers import discover, read_all
from .io.writers import OutputWriter, RemovedWriter, plan_outputs, write_json
from .pipeline import Cleaner, CleanResult
from .types import Document


@dataclass(slots=True)
class RunReport:
    """The outcome of a batch run; ``failures`` lists every record that could not be read."""

    stats: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "config_fingerprint": self.fingerprint,
            **self.stats,
            "failures": len(self.failures),
            "failed": self.failures,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 6),
        }


def run_clean(
    inputs: Sequence[str],
    out: str,
    config: Config | None = None,
    *,
    removed: str | None = None,
    report: str | None = None,
    text_field: str = "text",
    input_format: str = "auto",
    encoding_errors: str = "strict",
    progress: Callable[[Iterator[CleanResult], int], Iterator[CleanResult]] | None = None,
) -> RunReport:
    """Clean ``inputs`` into ``out`` (``-`` for stdout). Raises InputError/OutputError before
    writing anything when the inputs or the output plan are wrong; a record that cannot be read
    is skipped and listed in the report's ``failures``. On any exception, no partial output stays.
    """
    t0 = time.perf_counter()
    config = config or Config()
    sources = discover(inputs, input_format)
    plan = plan_outputs(sources, out, inputs)
    cleaner = Cleaner(config)
    if cleaner.uses_repetition and config.boilerplate.repetition == "full":
        # First pass: corpus line counts over every readable input, for the classifier.
        cleaner.count_lines(d for d in read_all(sources, text_field, encoding_errors)
                            if not d.error)
    failures: list[str] = []

    def documents() -> Iterator[Document]:
        for doc in read_all(sources, text_field, encoding_errors):
            if doc.error:
                failures.append(doc.error)
            yield doc

    writer = OutputWriter(plan, sources, text_field)
    removed_writer = RemovedWriter(removed) if removed else None
    results = cleaner.clean_documents(documents())
    if progress is not None:
        results = progress(results, len(sources))
    try:
        for result in results:
            writer.write(result)
            if removed_writer:
                removed_writer.write(result)
    except BaseException:
        writer.abort()
        if removed_writer:
            removed_writer.abort()
        raise
    writer.close()
    if removed_writer:
        removed_writer.close()
    outcome = RunReport(cleaner.stats.to_dict(), failures, writer.written,
                        time.perf_counter() - t0, config.fingerprint())
    if report:
        write_json(report, outcome.to_dict())
    return outcome


"""A run's statistics: documents, lines, bytes, drops per reason and seconds per stage.

Counted a document at a time (:meth:`Stats.add`), or a chunk at a time where a parallel run's
worker finished the chunk (:meth:`Stats.of_finished`, added in the parent by
:meth:`Stats.merge`): the same numbers either way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .records import Finished
from .types import DocCluster, utf8_len

if TYPE_CHECKING:
    from .pipeline import CleanResult


EMPTIED_IDS = 100  # the ids of documents emptied by boilerplate a report lists


@dataclass(slots=True)
class Stats:
    """What a run did: counts per reason, documents, lines, bytes and seconds per stage."""

    documents: int = 0
    lines_in: int = 0
    lines_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    emptied: int = 0
    emptied_ids: list[str] = field(default_factory=list)
    documents_by_reason: Counter[str] = field(default_factory=Counter)
    duplicate_documents: int = 0

    def add(self, result: CleanResult, sign: int = 1) -> None:
        """Count ``result`` in (``sign=-1``: take it back out, for a checkpoint that ends
        before it)."""
        fin = result.finished
        if fin is not None:  # a worker measured the texts and counted the reasons
            assert fin.tally is not None  # (Finished counts its reasons when made)
            self.count(fin.lines, len(fin.dropped), fin.tally, fin.bytes_in, fin.bytes_out,
                       result.doc.cluster, result.doc.id, sign)
            return
        lines_in, dropped = result.line_counts()
        self.count(lines_in, len(dropped), tuple(Counter(dropped).items()),
                   utf8_len(result.doc.text), utf8_len(result.text), result.doc.cluster,
                   result.doc.id, sign)

    def count(self, lines_in: int, n_dropped: int, tally: tuple[tuple[str, int], ...],
              bytes_in: int, bytes_out: int, cluster: DocCluster | None, doc_id: str,
              sign: int = 1) -> None:
        """Count one document in (``sign=-1``: out): its lines, dropped lines, each distinct
        reason with its count (first-seen order), bytes in and out, cluster and id."""
        self.documents += sign
        self.lines_in += sign * lines_in
        self.lines_out += sign * (lines_in - n_dropped)
        self.bytes_in += sign * bytes_in
        self.bytes_out += sign * bytes_out
        reasons, by_doc = self.reasons, self.documents_by_reason
        if sign > 0:  # counts only grow: nothing to prune
            for r, n in tally:
                reasons[r] += n
                by_doc[r] += 1
        else:
            for r, n in tally:
                for counter, k in ((reasons, n), (by_doc, 1)):
                    counter[r] -= k
                    if counter[r] <= 0:
                        del counter[r]
        if cluster is not None and cluster.duplicate:
            self.duplicate_documents += sign
        # every line that is not blank dropped as boilerplate (kept lines are not dropped):
        # every line dropped, at least one not blank, each reason blank or boilerplate
        if n_dropped == lines_in and _boilerplate_only(tally):
            # The classifier took every line: say so, the page may have been all template.
            self.emptied += sign
            if sign > 0 and len(self.emptied_ids) < EMPTIED_IDS:
                self.emptied_ids.append(doc_id)
            elif sign < 0 and self.emptied_ids and self.emptied_ids[-1] == doc_id:
                self.emptied_ids.pop()

    @classmethod
    def of_finished(cls, done: Sequence[Finished], ids: Sequence[str],
                    clusters: Sequence[DocCluster | None]) -> Stats:
        """The statistics of a chunk's finished documents (with their ids and clusters), as
        :meth:`add` of each one's result counts them: made where the chunk is finished (a
        worker), so the parent adds a chunk at once (:meth:`merge`)."""
        stats = cls()
        count = stats.count
        for fin, doc_id, cluster in zip(done, ids, clusters, strict=True):
            assert fin.tally is not None
            count(fin.lines, len(fin.dropped), fin.tally, fin.bytes_in, fin.bytes_out,
                  cluster, doc_id)
        return stats

    def merge(self, other: Stats) -> None:
        """Count in every document ``other`` counted (after those counted here): the same
        statistics as adding its documents one by one; stage seconds are not merged."""
        self.documents += other.documents
        self.lines_in += other.lines_in
        self.lines_out += other.lines_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.reasons.update(other.reasons)
        self.documents_by_reason.update(other.documents_by_reason)
        self.duplicate_documents += other.duplicate_documents
        self.emptied += other.emptied
        room = EMPTIED_IDS - len(self.emptied_ids)
        if room > 0:
            self.emptied_ids.extend(other.emptied_ids[:room])

    def to_state(self) -> dict[str, Any]:
        """Every field, exactly, as JSON values (a checkpoint; :meth:`from_state` reads it)."""
        return {"documents": self.documents, "lines_in": self.lines_in,
                "lines_out": self.lines_out, "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out, "reasons": dict(self.reasons),
                "stage_seconds": dict(self.stage_seconds), "emptied": self.emptied,
                "emptied_ids": list(self.emptied_ids),
                "documents_by_reason": dict(self.documents_by_reason),
                "duplicate_documents": self.duplicate_documents}

    @classmethod
    def from_state(cls, data: Any) -> Stats:
        """The statistics :meth:`to_state` wrote; ValueError when ``data`` is not that."""
        ints = ("documents", "lines_in", "lines_out", "bytes_in", "bytes_out", "emptied",
                "duplicate_documents")
        if not isinstance(data, dict) or set(data) != set(cls().to_state()):
            raise ValueError("not the statistics of a run")
        if not all(type(data[k]) is int for k in ints):
            raise ValueError("a count is not an integer")
        for k in ("reasons", "documents_by_reason", "stage_seconds"):
            if not isinstance(data[k], dict) or not all(
                    isinstance(n, str) and type(v) in (int, float)
                    for n, v in data[k].items()):
                raise ValueError(f"{k} is not a table of numbers")
        if not isinstance(data["emptied_ids"], list) or not all(
                isinstance(i, str) for i in data["emptied_ids"]):
            raise ValueError("emptied_ids is not a list of strings")
        return cls(**{k: data[k] for k in ints}, reasons=Counter(data["reasons"]),
                   stage_seconds=dict(data["stage_seconds"]),
                   emptied_ids=list(data["emptied_ids"]),
                   documents_by_reason=Counter(data["documents_by_reason"]))

    def to_dict(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "lines_in": self.lines_in,
            "lines_out": self.lines_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "removed": dict(sorted(self.reasons.items())),
            "documents_by_reason": dict(sorted(self.documents_by_reason.items())),
            "duplicate_documents": self.duplicate_documents,
            "document_clusters": self.documents - self.duplicate_documents,
            "emptied_by_boilerplate": self.emptied,
            "emptied_by_boilerplate_ids": self.emptied_ids,
            "stage_seconds": {k: round(v, 6) for k, v in self.stage_seconds.items()},
        }


def _boilerplate_only(tally: tuple[tuple[str, int], ...]) -> bool:
    """Whether ``tally``'s reasons are blank or boilerplate, at least one boilerplate."""
    found = False
    for r, _ in tally:
        if r != "blank":
            if not r.startswith("boilerplate:"):
                return False
            found = True
    return found


__all__ = ["EMPTIED_IDS", "Stats"]

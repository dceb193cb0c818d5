"""A run's statistics (Stats.add): counted against a plain recount of random results (some
finished on a worker, their reasons counted there), and taken back exactly (a checkpoint that
ends before a result takes it out with sign -1)."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.pipeline import CleanResult
from dedup.records import Finished
from dedup.segment import BLANK
from dedup.stats import EMPTIED_IDS, Stats
from dedup.types import DROP, KEEP, DocCluster, Document, Verdict, utf8_len

REASONS = ["boilerplate:cookie", "boilerplate:nav", "duplicate:exact", "duplicate:cross-doc"]

verdicts = st.lists(st.one_of(
    st.just(BLANK), st.just(Verdict(KEEP, "content")),
    st.sampled_from(REASONS).map(lambda r: Verdict(DROP, r))), max_size=12)


@st.composite
def results(draw: st.DrawFn) -> CleanResult:
    vs = draw(verdicts)
    doc = Document(id=f"d{draw(st.integers(0, 99))}", text=draw(st.text(max_size=30)))
    doc.cluster = DocCluster(doc.id, draw(st.booleans()))
    text = draw(st.text(max_size=20))
    finished = None
    if draw(st.booleans()):  # as a worker finishes it: the reasons counted there
        finished = Finished(text, len(vs), tuple(v.reason for v in vs if v.dropped), None,
                            utf8_len(doc.text), utf8_len(text))
    return CleanResult(doc, text, vs, finished=finished)


def recount(rs: list[CleanResult]) -> dict[str, object]:
    """The statistics counted the plain way, line by line."""
    reasons: Counter[str] = Counter()
    by_doc: Counter[str] = Counter()
    emptied = 0
    for r in rs:
        dropped = [v.reason for v in r.verdicts if v.dropped]
        reasons.update(dropped)
        by_doc.update(set(dropped))
        lines = [v for v in r.verdicts if v.reason != "blank"]
        emptied += bool(lines) and all(v.reason.startswith("boilerplate:") for v in lines)
    return {"documents": len(rs), "lines_in": sum(len(r.verdicts) for r in rs),
            "lines_out": sum(not v.dropped for r in rs for v in r.verdicts),
            "reasons": dict(reasons), "documents_by_reason": dict(by_doc), "emptied": emptied,
            "duplicate_documents": sum(bool(r.doc.cluster and r.doc.cluster.duplicate)
                                       for r in rs)}


def counted(stats: Stats) -> dict[str, object]:
    return {"documents": stats.documents, "lines_in": stats.lines_in,
            "lines_out": stats.lines_out, "reasons": dict(stats.reasons),
            "documents_by_reason": dict(stats.documents_by_reason), "emptied": stats.emptied,
            "duplicate_documents": stats.duplicate_documents}


@settings(max_examples=200, deadline=None)
@given(st.lists(results(), max_size=8), st.integers(0, 8))
def test_stats_count_every_line_and_take_results_back_exactly(rs: list[CleanResult],
                                                             back: int) -> None:
    stats = Stats()
    for r in rs:
        stats.add(r)
    assert counted(stats) == recount(rs)
    back = min(back, len(rs))
    for r in reversed(rs[len(rs) - back:]):
        stats.add(r, sign=-1)
    assert counted(stats) == recount(rs[:len(rs) - back])
    assert all(n > 0 for n in stats.reasons.values())
    assert all(n > 0 for n in stats.documents_by_reason.values())


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40))
def test_utf8_len_equals_the_encoded_length(text: str) -> None:
    """ASCII or not, lone surrogates included: the bytes a report counts are the bytes."""
    assert utf8_len(text) == len(text.encode("utf-8", "surrogatepass"))


def _finished(r: CleanResult) -> Finished:
    """``r`` as a worker finishes it."""
    dropped = tuple(v.reason for v in r.verdicts if v.dropped)
    return r.finished or Finished(r.text, len(r.verdicts), dropped, None,
                                  utf8_len(r.doc.text), utf8_len(r.text))


@settings(max_examples=200, deadline=None)
@given(st.lists(results(), max_size=12), st.lists(st.integers(0, 12), max_size=4))
def test_chunk_statistics_merged_equal_the_documents_added_one_by_one(
        rs: list[CleanResult], cuts: list[int]) -> None:
    """A parallel run's worker counts its chunk (Stats.of_finished) and the parent merges the
    chunks in order: every field as adding each document's result, reasons in first-seen
    order; a checkpoint inside a chunk takes the chunk's rest back out (Cleaner.counted_from)."""
    one = Stats()
    for r in rs:
        one.add(r)
    bounds = sorted({0, len(rs), *(min(c, len(rs)) for c in cuts)})
    merged = Stats()
    for lo, hi in itertools.pairwise(bounds):
        part = rs[lo:hi]
        merged.merge(Stats.of_finished([_finished(r) for r in part], [r.doc.id for r in part],
                                       [r.doc.cluster for r in part]))
    assert merged.to_state() == one.to_state()
    assert list(merged.reasons) == list(one.reasons)
    if len(bounds) > 2:  # back to the start of a chunk's second document, as a checkpoint
        lo, hi = bounds[-2], bounds[-1]
        at = min(lo + 1, hi - 1)
        for r in reversed(rs[at:hi]):
            merged.add(r, -1)
        prefix = Stats()
        for r in rs[:at]:
            prefix.add(r)
        assert counted(merged) == counted(prefix)


def test_merged_chunks_list_the_first_emptied_documents_only() -> None:
    """A report lists the first EMPTIED_IDS emptied documents: merged chunks keep that cap."""
    emptied = [CleanResult(Document(f"d{i}", "x"), "", [Verdict(DROP, "boilerplate:nav")])
               for i in range(EMPTIED_IDS + 37)]
    merged = Stats()
    for lo in range(0, len(emptied), 7):
        part = emptied[lo:lo + 7]
        merged.merge(Stats.of_finished([_finished(r) for r in part], [r.doc.id for r in part],
                                       [None] * len(part)))
    assert merged.emptied == EMPTIED_IDS + 37
    assert merged.emptied_ids == [f"d{i}" for i in range(EMPTIED_IDS)]

"""A run's statistics (Stats.add): counted against a plain recount of random results (some
finished on a worker, their reasons counted there), and taken back exactly (a checkpoint that
ends before a result takes it out with sign -1)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.pipeline import CleanResult, Stats, utf8_len
from dedup.records import Finished
from dedup.segment import BLANK
from dedup.types import DROP, KEEP, DocCluster, Document, Verdict

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

"""The benchmark's peer systems: each on small hand-made documents with known keep flags."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dedup.bench import peers
from dedup.bench.peers import (
    BENCH_HINT,
    PEER_NAMES,
    Peer,
    available_peers,
    c4_kept_lines,
    get_peer,
    unavailable_peers,
)
from dedup.errors import ConfigError, InputError

from .conftest import SEED

# Paragraphs over 200 characters, rich in stopwords: what jusText calls good text.
P1 = ("The river flooded the lower part of the town in the spring, and the council met several "
      "times to decide how it would rebuild the old stone bridge that had been there for more "
      "than a century and that the people of the town had used every day.")
P2 = ("Engineers who were asked by the council proposed a new design with wider arches, so that"
      " the water could pass under it without damaging the road, and they said that the work "
      "would take about two years if the money was found in time for the summer.")
P3 = ("Many of the residents were asked to comment on the plans at a public meeting that was "
      "held in the school hall last Thursday, and most of them said that they were in favour of"
      " the new bridge as long as the old one was kept as a footpath.")
DE = ("Der Fluss hat im Frühjahr den unteren Teil der Stadt überflutet, und der Rat hat sich "
      "mehrmals getroffen, um zu entscheiden, wie er die alte Steinbrücke wieder aufbauen soll,"
      " die seit mehr als hundert Jahren dort stand und die von den Menschen jeden Tag benutzt "
      "wurde.")
MENU = "Home | News | Sport"

# Documents every peer must handle: blank and whitespace-only lines, repeats, an empty document.
MIXED = [
    ["", P1, "   ", MENU, P1, "\t", P2],
    [],
    ["", "  "],
    ["One short line."],
    [f"  {P3}  ", "We use cookies to improve your experience.", P3],
]

C4_CITATION_DOC = [
    "Accept cookies",
    "We use cookies to improve your experience.",
    "This is a normal sentence about the weather.",
    "Please enable JavaScript to view the comments.",
    "Read the rest of the story...",
    "Two words.",
    "The bridge was finished in 1902.[1]",
    "Its arches were rebuilt after the flood.[citation needed]",
    "Read our privacy policy before you sign up.",
    "var config = {",
    "A " + "x" * 1001 + " word that is far too long.",
    "",
    "  The mayor opened the new bridge in May.  ",
]
C4_CITATION_KEEP = [False, False, True, False, False, False, True, True, False, False, False,
                    False, True]

# Documents on which datatrove and the reimplementation must agree line for line.
C4_AGREEMENT_DOCS = [
    C4_CITATION_DOC,
    ["It was a good day.", "Lorem ipsum dolor sit amet, they wrote.", "And then it rained."],
    ["Use {curly} braces like this.", "Another sentence that would be kept."],
    ["[1] [2] x.", "x.", "Words end here!", "“Quoted text ends here.”", "'Single quotes too.'"],
    ["A line with a form feed.\fThen more words here.", "A plain line of text here."],
    ["Same sentence here again.", "Same sentence here again.", "", "Short"],
    SEED.read_text(encoding="utf-8").split("\n"),
]


def flags(peer: Peer, doc: list[str], lang: str = "en") -> list[bool]:
    return peer.run([doc], [lang])[0]


def optional_peer(name: str, module: str) -> Peer:
    """The peer, or a skip when its library is missing or broken (ImportError of any kind)."""
    pytest.importorskip(module, exc_type=ImportError)
    return get_peer(name)


# The registry ------------------------------------------------------------------------------

def test_peers_listed_in_fixed_order_and_accounted_for() -> None:
    names = [p.name for p in available_peers()]
    missing = unavailable_peers()
    assert names == [n for n in PEER_NAMES if n in names]
    assert set(names).isdisjoint(missing)
    assert set(names) | set(missing) == set(PEER_NAMES)
    for always in ("keep-all", "exact-lines", "c4-rules", "datasketch-naive"):
        assert always in names
    assert all(p.description and "\n" not in p.description for p in available_peers())


def test_get_peer_unknown_name_lists_the_names() -> None:
    with pytest.raises(ConfigError) as err:
        get_peer("c4")
    assert "unknown peer 'c4'" in str(err.value)
    assert err.value.hint == "choose one of: " + ", ".join(PEER_NAMES)


def test_missing_library_makes_peer_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import justext` (and trafilatura, which imports it) fail.
    monkeypatch.setitem(sys.modules, "justext", None)
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    missing = unavailable_peers()
    assert set(missing) == {"justext", "trafilatura"}
    assert all(reason.endswith(BENCH_HINT) for reason in missing.values())
    assert BENCH_HINT == 'pip install "dedup[bench]"'
    assert "justext" not in [p.name for p in available_peers()]
    with pytest.raises(ConfigError) as err:
        get_peer("justext")
    assert "peer 'justext' is not available" in str(err.value)
    assert BENCH_HINT in str(err.value)


def test_optional_libraries_not_imported_with_the_module() -> None:
    code = ("import sys, dedup.bench.peers; "
            "print(sorted(m for m in ('justext', 'trafilatura', 'datatrove') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_input_checked_at_the_door() -> None:
    peer = get_peer("keep-all")
    with pytest.raises(InputError, match="2 documents but 1 language codes"):
        peer.run([["a"], ["b"]], ["en"])
    with pytest.raises(InputError, match="not a list of lines"):
        peer.run(["a whole text\nnot split"], ["en"])


# Properties every peer holds ---------------------------------------------------------------

@pytest.mark.parametrize("name", PEER_NAMES)
def test_one_flag_per_line_blank_lines_dropped_deterministic(name: str) -> None:
    peer = next((p for p in available_peers() if p.name == name), None)
    if peer is None:
        pytest.skip(unavailable_peers()[name])
    langs = ["en"] * len(MIXED)
    out = peer.run(MIXED, langs)
    assert [len(f) for f in out] == [len(d) for d in MIXED]
    assert all(type(x) is bool for f in out for x in f)
    for doc, keep in zip(MIXED, out, strict=True):
        assert not any(k for line, k in zip(doc, keep, strict=True) if not line.strip())
    assert peer.run(MIXED, langs) == out
    assert peer.run([], []) == []


# keep-all, exact-lines ---------------------------------------------------------------------

def test_keep_all_keeps_every_non_blank_line() -> None:
    assert flags(get_peer("keep-all"), ["a", "", " b ", "a", "\t"]) == [True, False, True, True,
                                                                       False]


def test_exact_lines_drops_later_exact_repeats_across_the_corpus() -> None:
    peer = get_peer("exact-lines")
    doc = ["A line.", "  A line.  ", "Other line.", "a line.", "A line."]
    assert flags(peer, doc) == [True, False, True, True, False]
    # One set for the whole corpus: a later document's copy goes too.
    assert peer.run([["Same."], ["Same."]], ["en", "en"]) == [[True], [False]]


# c4-rules: datatrove and the reimplementation ----------------------------------------------


@pytest.fixture(params=["datatrove", "reimplemented"])
def c4_peer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Peer:
    if request.param == "datatrove":
        pytest.importorskip("datatrove.pipeline.filters.c4_filters", exc_type=ImportError)
        peer = get_peer("c4-rules")
        assert "datatrove" in peer.description
        assert "min_num_sentences=-1" in peer.description
        assert "reimplemented" not in peer.description
    else:
        monkeypatch.setitem(sys.modules, "datatrove.pipeline.filters.c4_filters", None)
        peer = get_peer("c4-rules")
        assert "reimplemented" in peer.description
        assert "datatrove not installed" in peer.description
    return peer


def test_c4_line_rules(c4_peer: Peer) -> None:
    assert flags(c4_peer, C4_CITATION_DOC) == C4_CITATION_KEEP


@pytest.mark.parametrize("bad", ["Lorem ipsum dolor sit amet, they wrote.",
                                 "Use {curly} braces like this."])
def test_c4_drops_whole_document(c4_peer: Peer, bad: str) -> None:
    doc = ["It was a good day.", bad, "And then it rained."]
    assert flags(c4_peer, doc) == [False, False, False]
    # Only lines that pass the punctuation and length rules can drop the document.
    doc = ["It was a good day.", bad.rstrip(".") + " and more", "And then it rained."]
    assert flags(c4_peer, doc) == [True, False, True]


def test_c4_repeated_lines_are_both_kept(c4_peer: Peer) -> None:
    # C4 has no dedup: both copies pass, and the mapping back assigns one kept line to each.
    doc = ["Same sentence here again.", "Same sentence here again."]
    assert flags(c4_peer, doc) == [True, True]


def test_c4_implementations_agree_line_for_line(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("datatrove.pipeline.filters.c4_filters", exc_type=ImportError)
    langs = ["en"] * len(C4_AGREEMENT_DOCS)
    with_datatrove = get_peer("c4-rules").run(C4_AGREEMENT_DOCS, langs)
    monkeypatch.setitem(sys.modules, "datatrove.pipeline.filters.c4_filters", None)
    reimplemented = get_peer("c4-rules")
    assert "reimplemented" in reimplemented.description
    assert reimplemented.run(C4_AGREEMENT_DOCS, langs) == with_datatrove
    assert any(any(f) for f in with_datatrove) and not all(all(f) for f in with_datatrove)


def test_c4_kept_lines_matches_datatrove_text() -> None:
    c4 = pytest.importorskip("datatrove.pipeline.filters.c4_filters", exc_type=ImportError)
    data = pytest.importorskip("datatrove.data")
    for doc in C4_AGREEMENT_DOCS:
        text = "\n".join(doc)
        record = data.Document(text=text, id="0")
        verdict = c4.C4QualityFilter(min_num_sentences=-1).filter(record)
        kept = c4_kept_lines(text)
        if verdict is True:
            assert kept is not None and "\n".join(kept).strip() == record.text
        else:
            assert kept is None


# justext -----------------------------------------------------------------------------------

def test_justext_drops_menu_line_and_keeps_long_paragraphs() -> None:
    peer = optional_peer("justext", "justext")
    assert flags(peer, [MENU, P1, "", P2, P3]) == [False, True, False, True, True]
    assert flags(peer, [P1, P2, P3, "Copyright © 2024 Example News"]) == [True, True, True, False]


def test_justext_uses_the_stoplist_of_the_document_language() -> None:
    peer = optional_peer("justext", "justext")
    doc = [DE, DE + " Noch ein Satz.", "Startseite | Nachrichten"]
    assert flags(peer, doc, "de") == [True, True, False]
    assert flags(peer, doc, "de-DE") == [True, True, False]
    # Under the English stoplist German prose has no stopwords, so it reads as boilerplate;
    # an unknown language uses English.
    assert flags(peer, doc, "en") == [False, False, False]
    assert flags(peer, doc, "xx") == [False, False, False]


# trafilatura -------------------------------------------------------------------------------

def test_trafilatura_keeps_long_paragraphs() -> None:
    peer = optional_peer("trafilatura", "trafilatura")
    assert flags(peer, [P1, "", P2, "  ", P3]) == [True, False, True, False, True]


def test_trafilatura_text_mangling_drops_only_that_line() -> None:
    peer = optional_peer("trafilatura", "trafilatura")
    # trafilatura deletes the zero-width no-break space and collapses spacing: still matched.
    assert flags(peer, [P1, "\ufeff" + P2.replace(" ", "  "), P3]) == [True, True, True]


# datasketch-naive --------------------------------------------------------------------------

def test_naive_constants() -> None:
    assert (peers.NAIVE_THRESHOLD, peers.NAIVE_NUM_PERM, peers.NAIVE_SHINGLE_SIZE) == (0.7, 128, 2)


def test_naive_drops_repeats_and_near_repeats_keeps_distinct_lines() -> None:
    peer = get_peer("datasketch-naive")
    edited = P1.replace("several times", "many times")
    doc = [P1, P2, "", P1.upper(), edited, P3, "Yes.", "Yes.", "No."]
    assert flags(peer, doc) == [True, True, False, False, False, True, True, False, True]
    # One LSH index for the whole corpus.
    assert peer.run([[P1], [P1, P3]], ["en", "en"]) == [[True], [False, True]]


def test_naive_shingles() -> None:
    assert peers._naive_shingles("The  Old bridge") == ["the old", "old bridge"]
    assert peers._naive_shingles("  Yes. ") == ["yes."]


# Mapping a library's output back to lines --------------------------------------------------

@pytest.mark.parametrize(("keys", "out", "expected"), [
    (["a", "b", "c"], ["a", "b", "c"], [0, 1, 2]),
    (["a", None, "b"], ["a", "b"], [0, None, 1]),
    # A line the library dropped waits: the pointer stays for the later copy.
    (["a", "b", "a"], ["b", "a"], [None, 0, 1]),
    # A repeated line is kept only as often as the output has it.
    (["a", "a", "b"], ["a", "b"], [0, None, 1]),
    # Merged or invented output no remaining line can match is skipped, so nothing gets stuck.
    (["a", "b", "c"], ["title", "a b", "c"], [None, None, 2]),
    # Out-of-order output is matched in order only.
    (["a", "b"], ["b", "a"], [None, 0]),
    (["a"], [], [None]),
])
def test_align(keys: list[str | None], out: list[str], expected: list[int | None]) -> None:
    assert peers._align(keys, out) == expected

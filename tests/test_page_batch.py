"""The page model's batch work, gathered once and passed along: each shortcut gives what the
per-line Python it replaces gave (key ids, topic lines, template lines, token prefixes), and
the corpus-evidence model reading the page model's batch decides as it does on its own."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.boilerplate import features
from dedup.boilerplate.classifier import (
    _TOPIC_ANCHORS,
    add_template_lines,
    consent_block,
    template_line,
    topic_lines,
)
from dedup.boilerplate.model import LearnedClassifier, LineCache, line_batch
from dedup.boilerplate.page import PageClassifier
from dedup.boilerplate.repetition import LineCounts
from dedup.boilerplate.structure import key_ids
from dedup.normalize import normalize, tokens
from dedup.segment import segment
from dedup.types import DROP, Document, Paragraph, Verdict

# Lines of real pages' kinds: consent dialogs and their buttons, menus, copyright and share
# lines, prose, lines without tokens and blank ones.
LINES = [
    "We use cookies to improve your experience on our site.",
    "Accept all", "Reject all", "Manage settings", "OK",
    "Wir verwenden Cookies, um Ihnen die bestmögliche Nutzung zu ermöglichen.",
    "Your privacy matters to us", "We and our partners process personal data",
    "Home | News | Sport | Culture", "Start › Politik › Inland",
    "© 2025 Example Media. All rights reserved.", "Copyright 2024 Ünïcödé GmbH",
    "Share", "Tweet", "Copy link", "Sign up for our newsletter", "Forgot password?",
    "The council voted on Monday to expand the cycle lanes along the river.",
    "Opponents argued that the loss of parking spaces would hurt small businesses",
    "that line the main street.", "—", "...", "", "  ", "\u3000© 2023 東京", "(c) the third case",
]
PAGES = st.lists(st.lists(st.sampled_from(LINES), max_size=14), min_size=1, max_size=5)


def _docs(pages: list[list[str]]) -> list[Document]:
    return list(normalize(segment(Document(str(i), "\n".join(p)) for i, p in enumerate(pages))))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["", "a", "b", "home"]), st.text(max_size=6))))
def test_key_ids_number_keys_by_first_occurrence(keys: list[str]) -> None:
    table: dict[str, int] = {}
    want = [table.setdefault(k, len(table)) for k in keys]  # the reference: one dict per key
    ids, distinct, empty = key_ids(keys)
    assert ids.tolist() == want
    assert distinct == len(table)
    assert empty.tolist() == [not k for k in keys]


def _topical_reference(paras: list[Paragraph]) -> list[int]:
    return [i for i, p in enumerate(paras)
            if p.text and not _TOPIC_ANCHORS.isdisjoint(p.tokens or tokens(p.text))]


@settings(max_examples=60, deadline=None)
@given(PAGES, st.data())
def test_topic_lines_and_consent_blocks_as_line_by_line(pages: list[list[str]],
                                                        data: st.DataObject) -> None:
    for doc in _docs(pages):
        paras = doc.paragraphs
        assert topic_lines(paras) == _topical_reference(paras)
        assert _topic_column(paras) == _topical_reference(paras)
        cookie = data.draw(st.lists(st.booleans(), min_size=len(paras), max_size=len(paras)))
        assert (consent_block(doc, cookie, topical=topic_lines(paras))
                == consent_block(doc, cookie))


def test_topic_lines_of_lines_without_tokens_of_their_own() -> None:
    # Paragraphs made without the normaliser: their tokens come from their text.
    paras = [Paragraph(0, "We use cookies.", 0, 15), Paragraph(1, "", 16, 16),
             Paragraph(2, "Nothing here", 17, 29), Paragraph(3, "Cookie settings", 30, 45)]
    assert topic_lines(paras) == _topical_reference(paras) == _topic_column(paras) == [0, 3]


def _topic_column(paras: list[Paragraph]) -> list[int]:
    """The lines :func:`.features.line_features` flags as naming the topic (what the line
    cache keeps for :func:`.model.line_batch`)."""
    lf = features.line_features([p.text for p in paras], [p.tokens for p in paras],
                                [p.key for p in paras])
    assert lf.topic is not None
    return np.flatnonzero(lf.topic).tolist()


@settings(max_examples=60, deadline=None)
@given(PAGES, st.data())
def test_template_lines_only_where_one_can_be(pages: list[list[str]],
                                              data: st.DataObject) -> None:
    decided = Verdict(DROP, "boilerplate:nav", 0.5)
    for doc in _docs(pages):
        n = len(doc.paragraphs)
        before = data.draw(st.lists(st.sampled_from([None, decided]), min_size=n, max_size=n))
        got = list(before)
        add_template_lines(doc, got)
        want = list(before)  # the reference: every undecided non-blank line looked at
        for i, p in enumerate(doc.paragraphs):
            found = template_line(p.text, p.tokens or tokens(p.text)) if p.text else None
            if want[i] is None and found is not None:
                want[i] = Verdict(DROP, found[0], 0.9, detail=found[1])
        assert got == want


def test_template_lines_found_on_a_page() -> None:
    (doc,) = _docs([["Home | News | Sport | Culture", LINES[17], "© 2025 Example Media",
                     "Share", LINES[18]]])
    verdicts: list[Verdict | None] = [None] * len(doc.paragraphs)
    add_template_lines(doc, verdicts)
    assert [v.reason if v else None for v in verdicts] == [
        "boilerplate:nav", None, "boilerplate:legal", "boilerplate:share", None]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=9)))
def test_shared_prefixes_are_the_prefixes_one_object_each(toks: list[str]) -> None:
    long_tok = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks)) > 5
    got = features._shared_prefixes(toks, long_tok)
    assert got == [t[:5] for t, long in zip(toks, long_tok.tolist(), strict=True) if long]
    assert len({id(p) for p in got}) == len(set(got))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(st.characters(exclude_categories=["Cs"],
                                               exclude_characters="\x00"), max_size=9),
                         max_size=6), max_size=6))
def test_the_bag_of_words_from_prefix_hashes_is_the_reference_bag(
        lines: list[list[str]]) -> None:
    """The prefixes hashed in place by the kernel make the same (line, bucket) pairs as the
    prefix strings hashed one by one."""
    from dedup.shingle import key_token_columns, token_hashes

    # tokens as keys hold them: never empty, never a space or a line break
    lines = [[t for t in line if t and " " not in t and "\n" not in t] for line in lines]
    toks = [t for line in lines for t in line]
    words = np.array([len(line) for line in lines], dtype=np.int64)
    lengths = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
    hashes, _, _, _, prefixes = key_token_columns([" ".join(line) for line in lines],
                                                  features.PREFIX_CHARS)
    assert np.array_equal(hashes, token_hashes(toks)) or not toks
    want = features._bag_of_words(hashes, words, toks, lengths)
    got = features._bag_of_words(hashes, words, toks, lengths, prefixes)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(want, got,
                                                                           strict=True))


@settings(max_examples=60, deadline=None)
@given(PAGES)
def test_line_features_from_the_paragraphs_keys_are_those_from_their_tokens(
        pages: list[list[str]]) -> None:
    paras = [p for doc in _docs(pages) for p in doc.paragraphs]
    lines, toks = [p.text for p in paras], [p.tokens for p in paras]
    a = features.line_features(lines, toks)
    b = features.line_features(lines, toks, [p.key for p in paras])
    for name in ("dense", "long_line", "word_lines", "word_hashes", "rows", "buckets"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@settings(max_examples=20, deadline=None)
@given(PAGES)
def test_the_corpus_model_decides_the_same_on_the_page_models_batch(
        pages: list[list[str]]) -> None:
    docs = _docs(pages)
    counts = LineCounts(width=1 << 10, bloom_bits=1 << 12)
    counts.add_documents(docs)
    page = PageClassifier(counts=counts)
    corpus = page.corpus
    assert corpus is not None
    batch = line_batch(docs, page.lines, page.joint)
    wanted = np.arange(len(batch.paras)) % 2 == 0
    alone = LearnedClassifier(corpus.cfg, model=corpus.model, counts=counts)
    alone.lines, alone.cache_stage = LineCache(), page.joint
    assert corpus.classify_batch(docs, wanted, batch) == alone.classify_batch(docs, wanted)
    assert batch.lines.tolist() == [not p.blank for p in batch.paras]
    assert batch.words.tolist() == [len(p.tokens) for p in batch.paras]
    assert batch.topical == [topic_lines(d.paragraphs) for d in docs]


def test_page_verdicts_do_not_depend_on_the_batch() -> None:
    pages = [[LINES[0], "Accept all", "Reject all", LINES[17], LINES[18], LINES[19]],
             ["Home | News | Sport | Culture", LINES[17], "© 2025 Example Media"],
             [LINES[5], "Manage settings", LINES[17]]] * 2
    docs = _docs(pages)
    counts = LineCounts(width=1 << 10, bloom_bits=1 << 12)
    counts.add_documents(docs)
    clf = PageClassifier(counts=counts)
    together = clf.classify_batch(docs)
    alone = list(itertools.chain.from_iterable(
        PageClassifier(model=clf.model, words=clf.words, counts=counts).classify_batch([d])
        for d in _docs(pages)))
    assert together == alone
    assert any(v is not None and v.reason == "boilerplate:cookie" for v in together[0])


U64 = st.integers(0, (1 << 64) - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(U64, max_size=300), st.lists(U64, max_size=300), st.integers(0, 1 << 10))
def test_hash_set_answers_as_a_binary_search(members: list[int], others: list[int],
                                             low: int) -> None:
    # Members sharing their low bits (one table slot) and hashes beside them.
    members += [low | (k << 40) for k in range(5)]
    queries = np.array(members + others + [low | (9 << 40), low ^ 1, 0], dtype=np.uint64)
    sorted_members = np.unique(np.array(members, dtype=np.uint64))
    at = np.minimum(np.searchsorted(sorted_members, queries), len(sorted_members) - 1)
    want = sorted_members[at] == queries  # the reference: a binary search of every hash
    got = features._HashSet(np.array(members, dtype=np.uint64)).contains(queries)
    assert got.tolist() == want.tolist()
    assert features._HashSet(np.empty(0, np.uint64)).contains(queries).sum() == 0

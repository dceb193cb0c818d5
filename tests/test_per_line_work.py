"""The per-line Python work outside the classifier, done once instead of many times, gives the
same output as the straightforward code it replaced (kept below as the reference)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Cleaner, Config
from dedup import cache as cache_module
from dedup.cache import MAX_KEY_CHARS, BoundedCache
from dedup.canonical import choose
from dedup.cluster import _DocDeduper, dedup_batch
from dedup.lsh import candidate_pairs
from dedup.normalize import normalize
from dedup.segment import segment
from dedup.shingle import jaccard, shingle_batch
from dedup.signature import Shingles
from dedup.types import DROP, Document, Match, Sketch, Verdict

# --- BoundedCache.lookup ------------------------------------------------------------------


def reference_lookup(cache: BoundedCache, table: dict[Any, Any], keys: Sequence[Hashable],
                     compute: Callable[[list[int]], Sequence[Any]]) -> list[Any]:
    """The look-up as first written: a loop over the keys, then one over the repeats."""
    if not cache.capacity:  # switched off: compute every position
        return list(compute(list(range(len(keys)))))
    out: list[Any] = [None] * len(keys)
    first: dict[Any, int] = {}
    todo: list[int] = []
    for i, key in enumerate(keys):
        if key in table:
            out[i] = table[key]
        elif key not in first:
            first[key] = i
            todo.append(i)
    if todo:
        computed = compute(todo)
        for i, value in zip(todo, computed, strict=True):
            out[i] = value
        new = {keys[i]: value for i, value in zip(todo, computed, strict=True)
               if cache.key_chars(keys[i]) <= MAX_KEY_CHARS}
        if len(table) + len(new) > cache.capacity:
            table.clear()
        for key in itertools.islice(new, max(cache.capacity - len(table), 0)):
            table[key] = new[key]
        for i, key in enumerate(keys):
            if out[i] is None:
                out[i] = out[first[key]]
    return out


class _Rows(BoundedCache):
    def clear(self) -> None:
        self.rows: dict[str, tuple[str, int]] = {}


KEYS = st.text(alphabet="ab\u00e9\U0001f600", max_size=3) | st.sampled_from(
    ["", "x" * MAX_KEY_CHARS, "y" * (MAX_KEY_CHARS + 1)])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6), st.lists(st.lists(KEYS, max_size=12), max_size=6))
def test_lookup_equals_the_reference_values_tables_and_computed_keys(
        capacity: int, calls: list[list[str]]) -> None:
    fast, slow = _Rows(capacity), _Rows(capacity)
    for n, keys in enumerate(calls):
        asked: list[list[int]] = [[], []]

        def compute(at: list[int], side: int, keys: list[str] = keys, n: int = n,
                    asked: list[list[list[int]]] = asked) -> list[tuple[str, int]]:
            asked[side].append(list(at))
            return [(keys[i], n) for i in at]  # the call that computed it shows in the value

        got = fast.lookup(fast.rows, keys, lambda at: compute(at, 0))
        want = reference_lookup(slow, slow.rows, keys, lambda at: compute(at, 1))
        assert got == want
        assert all(value[0] == key for key, value in zip(keys, got, strict=True))
        assert asked[0] == asked[1]
        assert list(fast.rows.items()) == list(slow.rows.items())
        assert len(fast.rows) <= capacity


class _Picky(_Rows):
    min_hit_rate = 0.5


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=12), max_size=12),
       st.integers(1, 10), st.integers(1, 10))
def test_a_table_with_few_hits_sits_out_and_comes_back(calls: list[list[str]], probe: int,
                                                       sit_out: int) -> None:
    """Whatever the hit rate and however short the probes: every value is the computed one;
    a table judged after ``probe`` keys to have found fewer than half of them is left alone
    (keys computed at every position) for ``sit_out`` keys, then used again."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cache_module, "PROBE_KEYS", probe)
        mp.setattr(cache_module, "SIT_OUT_KEYS", sit_out)
        cache = _Picky(8)
        for n, keys in enumerate(calls):
            before = dict(cache.rows)
            sitting = cache.__dict__.get("_hit_stats", {}).get(id(cache.rows), [0, 0, 0])[2] > 0
            asked: list[list[int]] = []
            got = cache.lookup(cache.rows, keys,
                               lambda at, keys=keys, n=n, asked=asked: asked.append(list(at))
                               or [(keys[i], n) for i in at])
            assert all(value[0] == key for key, value in zip(keys, got, strict=True))
            if sitting:  # computed at every position, the table untouched
                assert asked == [list(range(len(keys)))] and cache.rows == before


def test_a_table_of_distinct_keys_sits_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "PROBE_KEYS", 4)
    monkeypatch.setattr(cache_module, "SIT_OUT_KEYS", 6)
    cache = _Picky(100)
    cache.lookup(cache.rows, ["a", "b", "c", "d"], lambda at: [1] * len(at))  # 0 of 4 found
    cache.lookup(cache.rows, ["a", "b", "e"], lambda at: [2] * len(at))  # sits out: computed
    assert sorted(cache.rows) == ["a", "b", "c", "d"]
    cache.lookup(cache.rows, ["f", "g", "h"], lambda at: [3] * len(at))  # 6 keys sat out
    cache.lookup(cache.rows, ["a", "i"], lambda at: [4] * len(at))  # probed again: kept
    assert "i" in cache.rows and cache.rows["a"] == 1


def test_lookup_says_when_compute_gives_the_wrong_number_of_values() -> None:
    cache = _Rows(8)
    with pytest.raises(ValueError):
        cache.lookup(cache.rows, ["a", "b"], lambda at: [1])


# --- in-document dedup: exact copies and boilerplate lines relabelled as copies -------------


def reference_find_matches(self: _DocDeduper, long_pos: list[int], sigs: np.ndarray,
                           decided: tuple[np.ndarray, np.ndarray] | None, keys: np.ndarray,
                           shingles: Shingles, at: int) -> None:
    """find_matches as first written: one loop over every content line, its own LSH
    candidates (the sorting reference of candidate_pairs over all the document's long
    paragraphs), each candidate verified here (``decided``, the batch's decision, is only read
    for whether the document is crowded)."""
    cfg = self.cfg
    first = 0
    pairs = None if decided is None else candidate_pairs(keys, compiled=False)
    # this document's rows hashed afresh, from their tokens (the reference ignores the batch's)
    content = self.content
    hashes, offsets = shingle_batch([content[k].tokens for k in long_pos], cfg.shingle.size,
                                    cfg.shingle.seed)
    self.doc.sketch = Sketch(np.asarray([content[k].index for k in long_pos], dtype=np.int64),
                             sigs, shingles, at)
    row = {k: i for i, k in enumerate(long_pos)}
    sets: dict[int, np.ndarray] = {}

    def shingle_set(k: int) -> np.ndarray:
        if k not in sets:
            i = row[k]
            sets[k] = np.unique(hashes[offsets[i]:offsets[i + 1]])
        return sets[k]

    indexed: set[int] = set()
    table: dict[int, list[int]] = {}
    seen: dict[str, int] = {}
    for k, p in enumerate(content):
        first_copy = seen.setdefault(p.key or p.text, k)
        if first_copy != k:
            self.exact[k] = first_copy
        if k not in row or k in self.exact:
            continue
        mine: list[int] = []
        if pairs is not None:
            cands = [c for c in (long_pos[j - first] for j in pairs.get(row[k] + first, ()))
                     if c in indexed]
        else:
            assert keys is not None
            mine = keys[row[k]].tolist()
            cands = sorted({c for key in mine for c in table.get(key, ())})
        verified = ((c, jaccard(shingle_set(k), shingle_set(c))) for c in cands)
        best = choose((c, s) for c, s in verified if s >= cfg.lsh.threshold)
        if best is not None:
            self.near[k] = best
        else:
            indexed.add(k)
            if pairs is None:
                for key in mine:
                    table.setdefault(key, []).append(k)


def reference_relabel(self: _DocDeduper) -> None:
    """relabel_boilerplate_copies as first written: one loop over every line."""
    kept: dict[str, int] = {}
    for k, p in enumerate(self.content):
        if k not in self.drops:
            kept.setdefault(p.key or p.text, k)
    position = {p.index: k for k, p in enumerate(self.content)}
    previous: int | None = None
    for p in self.doc.paragraphs:
        if p.index in position:
            previous = position[p.index]
            continue
        v = p.verdict
        if v is None or not v.reason.startswith("boilerplate:"):
            continue
        src = kept.get(p.key or p.text)
        if src is None or self.content[src].index > p.index:
            continue
        match = Match(self.doc.id, self.content[src].line)
        prev = self.drops.get(previous) if previous is not None else None
        if len(p.tokens) >= self.cfg.shingle.min_exact_words:
            p.verdict = Verdict(DROP, "duplicate:exact", 1.0, match,
                                f"also classified {v.reason}")
        elif prev is not None and self.canonical(prev.src) + 1 == src:
            p.verdict = Verdict(DROP, "duplicate:run", 1.0, match,
                                f"continues a repeated run; also classified {v.reason}")


LINES = [
    "The council approved the new harbour bridge budget on Monday after a long debate.",
    "The council approved the new harbour bridge budget on Monday after a long debate!",
    "Opposition members argued that the cost had doubled since the project was proposed.",
    "Construction is expected to begin next spring and to last roughly three years.",
    "We use cookies to improve your experience. Accept all cookies to continue.",
    "Home | News | Sport | Weather | Contact us",
    "Subscribe to our newsletter for the latest news.",
    "Share on Facebook",
    "Key quotes",
    "Read more",
    "Copyright 2024 Harbour Gazette. All rights reserved.",
    "",
    "  ",
    "Der Stadtrat hat das Budget für die neue Hafenbrücke am Montag genehmigt, nach Debatte.",
    "Совет одобрил бюджет нового моста в понедельник после долгих и трудных дебатов вчера.",
]

ONLY_DEDUP = Config().replace(boilerplate={"enabled": False}, corpus={"enabled": False})


def _outcome(cleaner: Cleaner, texts: list[str]) -> list[tuple[str, list[Verdict]]]:
    return [(r.text, r.verdicts) for r in cleaner.clean_documents(texts)]


def _flagged(page: list[tuple[int, bool]]) -> Document:
    """A segmented, normalised page whose flagged lines the classifier dropped (as a menu)."""
    doc = next(normalize(segment([Document("p", "".join(LINES[i] + "\n" for i, _ in page))])))
    for p, (_, flag) in zip(doc.paragraphs, page, strict=True):
        if flag and p.verdict is None:
            p.verdict = Verdict(DROP, "boilerplate:menu", 0.9)
    return doc


def _dedup_verdicts(pages: list[list[tuple[int, bool]]]) -> list[list[Verdict | None]]:
    docs = [_flagged(page) for page in pages]
    dedup_batch(docs, ONLY_DEDUP)
    return [[p.verdict for p in doc.paragraphs] for doc in docs]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(range(len(LINES))), st.booleans()),
                         max_size=40), min_size=1, max_size=4))
def test_dedup_of_pages_with_boilerplate_equals_the_reference(
        pages: list[list[tuple[int, bool]]]) -> None:
    got = _dedup_verdicts(pages)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_DocDeduper, "find_matches", reference_find_matches)
        mp.setattr(_DocDeduper, "relabel_boilerplate_copies", reference_relabel)
        want = _dedup_verdicts(pages)
    assert got == want


def test_a_boilerplate_line_copying_kept_content_is_relabelled() -> None:
    # what the property above compares happens: copies, runs and relabelled boilerplate
    page = [(0, False), (2, False), (8, False), (0, True), (2, False), (8, True), (11, False),
            (6, True), (9, True)]
    got = [(v.reason, v.match.line if v and v.match else None, v.detail) if v else None
           for v in _dedup_verdicts([page])[0]]
    assert got == [
        None, None, None,
        ("duplicate:exact", 1, "also classified boilerplate:menu"),
        ("duplicate:exact", 2, ""),
        ("duplicate:run", 3, "continues a repeated run; also classified boilerplate:menu"),
        ("blank", None, "empty or whitespace-only line"),
        ("boilerplate:menu", None, ""), ("boilerplate:menu", None, "")]

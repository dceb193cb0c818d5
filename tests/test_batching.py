"""Batched classification gives, line for line, what one document at a time gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Config, Document
from dedup.boilerplate.features import batch_features, doc_bounds, doc_features
from dedup.boilerplate.model import LearnedClassifier
from dedup.boilerplate.repetition import _SALTS, FINGERPRINTS, NEW_CONTENT, LineCounts, line_hashes
from dedup.corpus import GeneratorConfig, generate
from dedup.lsh import band_keys
from dedup.normalize import normalize
from dedup.segment import segment
from dedup.shingle import fmix64, shingle_batch, token_hashes
from dedup.signature import SketchCache, to32
from dedup.types import CorpusKeys

_TEXTS = [d["text"] for d, _ in generate(GeneratorConfig(docs=90, seed=3, split="test"))]
# Odd pages too: empty, blank-only, one line, no long line, all one long line.
_TEXTS += ["", "\n\n  \n", "Home", "Home\nNews\nSport\nSign in",
           "A single sentence that goes on for long enough to count as a long content line."]


def _docs() -> list[Document]:
    docs = [Document(str(i), t) for i, t in enumerate(_TEXTS)]
    return list(normalize(segment(docs)))


def _counts() -> LineCounts:
    counts = LineCounts(width=1 << 16, bloom_bits=1 << 20)
    counts.add_documents(_docs())
    return counts


_COUNTS = _counts()


def test_batch_features_equal_document_features() -> None:
    docs = _docs()
    bounds = doc_bounds([len(d.paragraphs) for d in docs])
    paras = [p for d in docs for p in d.paragraphs]
    batch = batch_features([p.text for p in paras], [p.tokens for p in paras], bounds)
    for d, doc in enumerate(docs):
        a, b = int(bounds[d]), int(bounds[d + 1])
        alone = doc_features([p.text for p in doc.paragraphs], [p.tokens for p in doc.paragraphs])
        assert np.array_equal(batch.dense[a:b], alone.dense)  # bit for bit, NaN-free
        mine = (batch.rows >= a) & (batch.rows < b)
        got = sorted(zip((batch.rows[mine] - a).tolist(), batch.buckets[mine].tolist(),
                         strict=True))
        assert got == sorted(zip(alone.rows.tolist(), alone.buckets.tolist(), strict=True))


def _verdicts(clf: LearnedClassifier, docs: list[Document], sizes: list[int]) -> list[object]:
    out: list[object] = []
    at = 0
    for size in sizes:
        out.extend(clf.classify_batch(docs[at:at + size]))
        at += size
    return out


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=12), st.booleans())
def test_any_batching_gives_the_verdicts_of_one_document_at_a_time(
        cuts: list[int], with_counts: bool) -> None:
    docs = _docs()
    clf = LearnedClassifier(Config().boilerplate, counts=_COUNTS if with_counts else None)
    one_by_one = [clf.classify(d) for d in docs]
    sizes: list[int] = []
    left = len(docs)
    for c in cuts:
        if left <= 0:
            break
        sizes.append(min(c, left))
        left -= sizes[-1]
    if left > 0:
        sizes.append(left)
    assert _verdicts(clf, docs, sizes) == one_by_one
    assert any(v is not None for vs in one_by_one for v in vs)  # the model did drop lines


def _apply_one(counts: LineCounts, prepared: tuple[np.ndarray, np.ndarray] | None) -> None:
    """The one-document update written out plainly: check every pair's bits, then set them."""
    counts.documents += 1
    if prepared is None:
        return
    cells, bits = prepared
    for d in range(counts.depth):
        np.add.at(counts.table[d], cells[d], 1)
    seen = np.ones(bits.shape[1:], dtype=bool)
    for b in bits:
        seen &= (counts.bloom[b >> 3] >> (b & 7).astype(np.uint8)) & 1 == 1
    for b in bits:
        np.bitwise_or.at(counts.bloom, (b >> 3).ravel(), (1 << (b & 7)).astype(np.uint8).ravel())
    new = cells[:, seen.mean(axis=1) < NEW_CONTENT]
    for d in range(counts.depth):
        np.add.at(counts.pairs[d], new[d], 1)


_LINES = [f"line {i} " + "word " * (i % 15) for i in range(30)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_LINES), min_size=0, max_size=12), min_size=1,
                max_size=30),
       st.integers(1, 10), st.sampled_from([1 << 6, 1 << 12]), st.booleans())
def test_counting_a_batch_equals_counting_one_document_after_the_other(
        docs: list[list[str]], batch: int, bloom_bits: int, compiled: bool) -> None:
    """Repeated lines inside one batch, and a Bloom filter small enough to collide; with the
    compiled kernel and with its numpy reference."""
    one = LineCounts(width=1 << 8, bloom_bits=bloom_bits)
    many = LineCounts(width=1 << 8, bloom_bits=bloom_bits)
    prepared = [one.prepare(d, [len(x.split()) >= 12 for x in d]) for d in docs]
    for p in prepared:
        _apply_one(one, p)
    for at in range(0, len(prepared), batch):
        many.apply_many(prepared[at:at + batch], compiled=compiled)
    assert one.documents == many.documents == len(docs)
    assert np.array_equal(one.table, many.table)
    assert np.array_equal(one.bloom, many.bloom)
    assert np.array_equal(one.pairs, many.pairs)


def _prepare_one(counts: LineCounts, keys: list[str], long_lines: list[bool]
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """The per-document hashing, written plainly: the reference the batched one must equal."""
    if not keys:
        return None
    all_hashes = line_hashes(keys)
    hashes = np.unique(all_hashes)
    cells = counts._cells(hashes)
    mask = np.asarray(long_lines, dtype=bool)
    basis = np.unique(all_hashes[mask] if mask.any() else all_hashes)
    context = basis[:FINGERPRINTS]
    with np.errstate(over="ignore"):
        pair = fmix64((hashes[:, None] * np.uint64(0x9E3779B97F4A7C15)) ^ context[None, :])
    bits = np.stack([(fmix64(pair ^ np.uint64(s)) & np.uint64(len(counts.bloom) * 8 - 1)
                      ).astype(np.int64) for s in _SALTS[:3]])
    return cells, bits


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from([*_LINES, ""]), st.booleans()), max_size=14),
                min_size=1, max_size=20))
def test_hashing_a_batch_for_the_counts_equals_one_document_at_a_time(
        docs: list[list[tuple[str, bool]]]) -> None:
    """Repeated lines, empty keys, documents without lines, with and without long lines."""
    counts = LineCounts(width=1 << 8, bloom_bits=1 << 10)
    pairs = [([k for k, _ in d], [f for _, f in d]) for d in docs]
    for many, one in zip(counts.prepare_many(pairs), (_prepare_one(counts, *p) for p in pairs),
                         strict=True):
        assert (many is None) == (one is None)
        if many is not None and one is not None:
            for a, b in zip(many, one, strict=True):
                assert a.shape == b.shape and np.array_equal(a, b)


def test_in_document_dedup_of_a_batch_equals_one_document_at_a_time() -> None:
    import copy

    from dedup.cluster import dedup_batch, dedup_document

    cfg = Config()
    docs = _docs()
    alone = copy.deepcopy(docs)
    cached = copy.deepcopy(docs)
    dedup_batch(docs, cfg)
    for doc in alone:
        dedup_document(doc, cfg)
    cache = SketchCache(capacity=40)  # small: it starts afresh several times
    for at in range(0, len(cached), 7):
        dedup_batch(cached[at:at + 7], cfg, cache)
    assert [[p.verdict for p in d.paragraphs] for d in docs] == \
        [[p.verdict for p in d.paragraphs] for d in alone] == \
        [[p.verdict for p in d.paragraphs] for d in cached]
    assert any(p.verdict is not None and p.verdict.reason.startswith("duplicate:")
               for d in docs for p in d.paragraphs)
    for a, b, c in zip(docs, alone, cached, strict=True):
        assert a.sketch is not None and b.sketch is not None and c.sketch is not None
        assert np.array_equal(a.sketch.signatures, b.sketch.signatures)
        assert np.array_equal(a.sketch.signatures, c.sketch.signatures)
        assert np.array_equal(a.sketch.index, b.sketch.index)
        assert np.array_equal(a.sketch.index, c.sketch.index)


def _corpus_keys_one(doc: Document, cfg: Config) -> CorpusKeys:
    """The corpus keys of one document, written plainly: the reference the batched ones must
    equal."""
    content = [p for p in doc.paragraphs if p.verdict is None and p.tokens]
    sk = doc.sketch
    assert sk is not None
    row_of = {int(ix): i for i, ix in enumerate(sk.index.tolist())}
    longs = [k for k, p in enumerate(content) if p.index in row_of]
    sets = {k: np.unique(to32(shingle_batch([content[k].tokens], cfg.shingle.size,
                                            cfg.shingle.seed)[0]))
            for k in longs}
    keys32 = None
    if longs:
        bands, rows = cfg.corpus_bands()
        keys32 = band_keys(sk.signatures[[row_of[content[k].index] for k in longs]], bands,
                           rows) >> np.uint64(32)
    shorts = [k for k in range(len(content)) if k not in set(longs)]
    short_hash = {k: int(token_hashes([content[k].key], cfg.shingle.seed + 0x5EED)[0])
                  for k in shorts}
    return CorpusKeys([p.index for p in content], [len(p.tokens) for p in content], longs, sets,
                      keys32, short_hash)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_corpus_keys_of_a_batch_equal_one_document_at_a_time(cuts: list[int]) -> None:
    from dedup.cluster import dedup_batch
    from dedup.crossdoc import corpus_keys_batch

    cfg = Config()
    docs = _docs()
    dedup_batch(docs, cfg)  # some long paragraphs dropped: not every sketch row is content
    got: list[CorpusKeys] = []
    cached: list[CorpusKeys] = []
    cache = SketchCache(capacity=30)  # small: it starts afresh several times
    at = 0
    for c in [*cuts, len(docs)]:
        got.extend(corpus_keys_batch(docs[at:at + c], cfg))
        cached.extend(corpus_keys_batch(docs[at:at + c], cfg, cache))
        at += c
        if at >= len(docs):
            break
    assert len(got) == len(cached) == len(docs)
    for keys, doc in [*zip(got, docs, strict=True), *zip(cached, docs, strict=True)]:
        want = _corpus_keys_one(doc, cfg)
        assert (keys.content, keys.tokens, keys.longs, keys.short_hash) == \
            (want.content, want.tokens, want.longs, want.short_hash)
        assert sorted(keys.sets) == sorted(want.sets)
        for k, values in keys.sets.items():
            assert values.dtype == np.uint32 and np.array_equal(values, want.sets[k])
        if want.keys32 is None:
            assert keys.keys32 is None
        else:
            assert keys.keys32 is not None and np.array_equal(keys.keys32, want.keys32)
    assert any(k.keys32 is not None for k in got) and any(k.short_hash for k in got)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.sampled_from([3, 50, 1 << 15]),
       st.booleans())
def test_cached_line_features_score_exactly_as_computed_ones(
        cuts: list[int], capacity: int, with_counts: bool) -> None:
    """The line cache (small enough to start afresh, or large) under random batch cuts: every
    probability equals the one computed from the page's own features, bit for bit."""
    from dedup.boilerplate.classifier import topic_lines
    from dedup.boilerplate.model import LineCache, line_batch

    docs = _docs()
    clf = LearnedClassifier(Config().boilerplate, counts=_COUNTS if with_counts else None)
    clf.lines = LineCache(capacity)
    at = 0
    for c in [*cuts, len(docs)]:
        batch = docs[at:at + c]
        probs, _, _, bounds = clf._batch_probabilities(batch)
        lines = line_batch(batch, clf.lines, clf.cache_stage)  # the cache's other columns
        for d, doc in enumerate(batch):
            want = clf.probabilities(doc)[0]
            assert np.array_equal(probs[bounds[d]:bounds[d + 1]], want)
            assert lines.topical[d] == topic_lines(doc.paragraphs)
            assert lines.words[bounds[d]:bounds[d + 1]].tolist() == [
                len(p.tokens) for p in doc.paragraphs]
        assert len(clf.lines) <= capacity
        at += c
        if at >= len(docs):
            break


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=60), st.integers(1, 8), st.integers(1, 120))
def test_bounded_batches_close_at_the_count_or_the_characters(
        lengths: list[int], size: int, chars: int) -> None:
    from dedup.batching import bounded_batches

    items = [(i, n) for i, n in enumerate(lengths)]
    got = list(bounded_batches(items, size, chars, lambda item: item[1]))
    assert [item for batch in got for item in batch] == items  # every item, in order
    for k, batch in enumerate(got):
        assert 1 <= len(batch) <= size
        total = sum(n for _, n in batch)
        # closed exactly when the count or the characters were reached, not before
        assert sum(n for _, n in batch[:-1]) < chars and len(batch[:-1]) < size
        if k < len(got) - 1:
            assert len(batch) == size or total >= chars


def test_dask_chunks_close_at_their_characters() -> None:
    from dedup import parallel
    from dedup.batching import batches

    ex = parallel.DaskExecutor.__new__(parallel.DaskExecutor)  # no cluster: only its chunks
    docs = [Document(str(i), "x" * 10) for i in range(10)]
    docs[4].raw = b"y" * 50  # a raw record counts its bytes
    ex.chunk, ex.chunk_chars = 4, 30
    assert [len(c) for c in ex.chunks(docs)] == [3, 2, 3, 2]  # 30 chars; 50 bytes; 30; the rest
    ex.chunk_chars = 1 << 30
    assert [len(c) for c in ex.chunks(docs)] == [4, 4, 2]
    local = parallel.LocalExecutor(2)  # counts documents only (its chunk is 8 in the tests)
    assert [len(c) for c in local.chunks(docs)] == [len(c) for c in
                                                    batches(docs, parallel.LocalExecutor.chunk)]

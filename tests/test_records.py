"""The prepared record: what a worker ships back rebuilds the parent's document, the record is
immutable, and its codec refuses another format version."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from dedup.config import Config
from dedup.corpus import GeneratorConfig, generate
from dedup.errors import ConfigError
from dedup.pipeline import Cleaner
from dedup.records import FORMAT, Prepared, decode
from dedup.segment import BLANK
from dedup.types import Document, Paragraph


def _prepared(n: int = 60) -> list[Document]:
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=n, seed=5, split="test"))]
    docs = [Document(str(i), t) for i, t in enumerate(texts)]
    for d in docs:
        d.ordinal = int(d.id)
    return list(Cleaner(Config()).prepare(docs))


def test_a_record_through_its_codec_rebuilds_the_document() -> None:
    """Paragraphs, offsets, verdicts (the shared blank verdict included) and the corpus keys."""
    for doc in _prepared():
        keys = doc.corpus_keys
        assert keys is not None
        record = pickle.loads(pickle.dumps(Prepared.of(doc)))
        copy = record.apply(Document(doc.id, doc.text))
        assert [(p.index, p.text, p.start, p.end, p.verdict) for p in copy.paragraphs] == \
            [(p.index, p.text, p.start, p.end, p.verdict) for p in doc.paragraphs]
        assert all(q.verdict is BLANK for p, q in zip(doc.paragraphs, copy.paragraphs,
                                                      strict=True) if p.verdict is BLANK)
        got = copy.corpus_keys
        assert got is not None
        assert (got.content, got.tokens, got.longs, got.short_hash) == \
            (keys.content, keys.tokens, keys.longs, keys.short_hash)
        assert sorted(got.sets) == sorted(keys.sets)
        assert all((got.sets[k] == keys.sets[k]).all() for k in keys.sets)
        assert (got.keys32 is None) == (keys.keys32 is None)
        if keys.keys32 is not None:
            assert (got.keys32 == keys.keys32).all()
    # A caller's own paragraphs (not slices of the text) travel as they are.
    own = Document("own", "first line\nsecond line")
    own.paragraphs = [Paragraph(0, "something else", 0, 10)]
    record = pickle.loads(pickle.dumps(Prepared.of(own)))
    assert record.apply(Document("own", own.text)).paragraphs[0].text == "something else"


def test_a_record_is_immutable_before_and_after_its_codec() -> None:
    doc = next(d for d in _prepared(8) if d.corpus_keys and d.corpus_keys.sets)
    for record in (Prepared.of(doc), pickle.loads(pickle.dumps(Prepared.of(doc)))):
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.error = "changed"  # type: ignore[misc]
        assert record.keys is not None
        for array in (record.bounds, record.keys.values, record.keys.sizes):
            with pytest.raises(ValueError, match="read-only"):
                array[:1] = 0
        # what the corpus stage gets are views it cannot write through either
        keys = record.apply(Document(doc.id, doc.text)).corpus_keys
        assert keys is not None
        first = next(iter(keys.sets.values()))
        with pytest.raises(ValueError, match="read-only"):
            first[:1] = np.uint32(0)
    # and the worker's own document keeps writeable arrays
    assert doc.corpus_keys is not None and next(iter(doc.corpus_keys.sets.values())).flags.writeable


def test_a_record_of_another_format_is_refused() -> None:
    doc = _prepared(2)[0]
    reduced = Prepared.of(doc).__reduce__()
    assert reduced[0] is decode and reduced[1][0] == FORMAT
    with pytest.raises(ConfigError, match=f"format {FORMAT + 1}, this dedup reads {FORMAT}"):
        decode(FORMAT + 1, *reduced[1][1:])

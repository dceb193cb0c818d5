"""Blocks: a parallel run reads an uncompressed JSONL file as blocks of whole lines
(readers.read_blocks), finding line ends and counting records only, and its workers make the
documents (readers.block_documents). Every document, id, field and error message is the one
the line reader (read_source) gives, whatever the block size: blank and whitespace lines, a
byte order mark, bad JSON, NUL bytes, lines over --max-doc-bytes (skipped, or binary: the
rest of the file is not read), binary data at the start, a last line without its newline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.io import readers
from dedup.io.readers import (
    Limits,
    RawBlock,
    RawReading,
    Source,
    block_documents,
    read_blocks,
    read_source,
)
from dedup.types import Document

LINES = st.one_of(
    st.builds(lambda t, n: json.dumps({"text": t, "n": n}),
              st.text(min_size=0, max_size=40), st.integers(0, 9)),
    st.builds(lambda t: json.dumps({"text": t}, ensure_ascii=False), st.text(max_size=30)),
    st.sampled_from(["", " ", "\t", " \r", "\x0b", "{not json", '{"body": "no text"}',
                     '"just a string"', '{"text": "a\\u0000b"}', '{"text": "raw\x00nul"}',
                     '{"text": "\\ud800"}', "[1, 2]", '{"text": 1e400}']),
    st.builds(lambda k, c: json.dumps({"text": c * k}), st.integers(20, 120),
              st.sampled_from(["x", "é", "\x00"])),
    st.builds(lambda k, nul: ("\x00" if nul else "y") + "z" * k, st.integers(20, 120),
              st.booleans()),
    st.builds(lambda k: "z" * k + "\x00z", st.integers(20, 120)),  # a NUL past the limit
)


def _fields(doc: Document) -> tuple[Any, ...]:
    return (doc.id, doc.text, doc.meta, doc.error, doc.skipped, doc.source)


def _by_blocks(source: Source, limits: Limits, size: int, errors: str = "strict"
               ) -> list[Document]:
    reading = RawReading({source.rel: source.path}, "text", errors, limits)
    out: list[Document] = []
    ordinal = 0
    for item in read_blocks([source], "text", errors, limits, blocks=size):
        if isinstance(item, RawBlock):
            assert item.records > 0 or not item.data.strip()
            with open(source.path, "rb") as fh:  # where it says it is in the file
                fh.seek(item.offset)
                assert fh.read(len(item.data)) == item.data
            item.ordinal = ordinal
            docs = block_documents(item, reading)
            assert [d.ordinal for d in docs] == list(range(ordinal, ordinal + item.records))
            out.extend(docs)
            ordinal += item.records
        else:
            out.append(item)
            ordinal += 1
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=14), st.booleans(), st.booleans(), st.integers(1, 300),
       st.integers(24, 90), st.sampled_from(["strict", "replace", "skip"]))
def test_blocks_make_the_documents_the_line_reader_makes(
        tmp_path_factory: pytest.TempPathFactory, lines: list[str], bom: bool, last_nl: bool,
        size: int, limit: int, errors: str) -> None:
    path = tmp_path_factory.mktemp("blocks") / "in.jsonl"
    data = "\n".join(lines).encode("utf-8", "surrogatepass") + (b"\n" if last_nl else b"")
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    source = Source(str(path), "jsonl", "in.jsonl")
    limits = Limits(line_bytes=1 << 20, doc_bytes=limit)
    want = [_fields(d) for d in read_source(source, "text", errors, limits)]
    assert [_fields(d) for d in _by_blocks(source, limits, size, errors)] == want


@settings(max_examples=100, deadline=None)
@given(st.lists(LINES, max_size=14), st.integers(1, 300), st.booleans(),
       st.sampled_from(["strict", "replace", "skip"]))
def test_a_blocks_stubs_are_the_raw_documents_with_what_the_worker_said(
        tmp_path_factory: pytest.TempPathFactory, lines: list[str], size: int, render: bool,
        errors: str) -> None:
    """The parent's documents of a block a worker made into documents (block_stubs, made at
    once) equal raw copies with apply_parsed: ids, fields, errors, sources, ordinals."""
    from dedup.parallel import apply_parsed, block_stubs, parsed_info

    path = tmp_path_factory.mktemp("stubs") / "in.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
    source = Source(str(path), "jsonl", "in.jsonl")
    limits = Limits(line_bytes=1 << 20, doc_bytes=60)
    reading = RawReading({source.rel: source.path}, "text", errors, limits)
    ordinal = 5
    for item in read_blocks([source], "text", errors, limits, blocks=size):
        if not isinstance(item, RawBlock):
            continue
        item.ordinal = ordinal
        parsed, _ = parsed_info(block_documents(item, reading), reading, render)
        expected = []
        for j, info in enumerate(parsed):
            assert info is not None
            doc = Document("", "", source=item.source, ordinal=item.ordinal + j, raw=b"")
            apply_parsed(doc, info)
            expected.append(doc)
        stubs = block_stubs(item, [p for p in parsed if p is not None])
        assert stubs == expected
        assert len({id(d.meta) for d in stubs}) == len(stubs)  # a dict of its own each
        ordinal += item.records


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.booleans(), st.integers(1, 200))
def test_binary_data_at_the_start_is_refused_as_the_line_reader_refuses_it(
        tmp_path_factory: pytest.TempPathFactory, nul_at: int, newline: bool, size: int
        ) -> None:
    """With a probe of 32 bytes: a file whose first 32 bytes hold a NUL and no newline is
    binary (one failure, the rest not read); a newline among them makes it lines."""
    path = tmp_path_factory.mktemp("binary") / "in.jsonl"
    head = bytearray(b"a" * 60)
    head[nul_at] = 0
    if newline:
        head[10] = ord("\n")
    path.write_bytes(bytes(head) + b'\n{"text": "after"}\n')
    source = Source(str(path), "jsonl", "in.jsonl")
    limits = Limits(doc_bytes=1000)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(readers, "BINARY_PROBE", 32)
        want = [_fields(d) for d in read_source(source, "text", "strict", limits)]
        got = [_fields(d) for d in _by_blocks(source, limits, size)]
    assert got == want
    assert want[-1][1] == "after" or "binary" in (want[-1][3] or "")


def test_a_compressed_file_or_a_document_reader_gets_no_blocks(tmp_path: Path) -> None:
    import gzip

    plain = tmp_path / "a.jsonl"
    plain.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    sources = [Source(str(plain), "jsonl", "a.jsonl"), Source(str(packed), "jsonl", "b.jsonl.gz")]
    items = list(read_blocks(sources))
    assert isinstance(items[0], RawBlock) and items[0].records == 2
    assert all(isinstance(i, Document) and i.raw is not None for i in items[1:])
    assert all(isinstance(i, Document) for i in readers.read_all(sources, raw_jsonl=True))


def test_held_blocks_travel_as_their_number() -> None:
    """The repetition sample's blocks, held by the parent when it forked the workers, go to
    them as an index (HeldBlock); a block past them, or another object, travels whole."""
    import pickle

    from dedup.parallel import Chunk, HeldBlock, inherited_spans

    blocks = [RawBlock("a", "a", 0, b'{"text": "x"}\n' * 1000, 1000) for _ in range(3)]
    doc = Document("d", "text")
    held = [blocks[0], doc, blocks[1]]
    out = list(inherited_spans(held, [blocks[0], [doc], blocks[1], blocks[2]]))
    assert isinstance(out[0], HeldBlock) and out[0].at == 0 and out[0].block is blocks[0]
    assert isinstance(out[1], Chunk) and out[1].span == (1, 2)
    assert isinstance(out[2], HeldBlock) and out[2].at == 2
    assert out[3] is blocks[2]
    assert len(pickle.dumps(out[0])) < 100 < len(blocks[0].data)
    copy = RawBlock("a", "a", 0, blocks[0].data, 1000)  # equal, not the one held
    assert next(iter(inherited_spans(held, [copy]))) is copy


@pytest.mark.parametrize("jobs", [2, 3])
def test_a_sample_that_ends_inside_a_block_counts_what_one_process_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    """The repetition sample is the run's first documents: the block it ends in is counted
    up to there only (PackedCounts.head), so the classifier's counts, and the output, are one
    process's; many small blocks, the sample's held by the forked workers."""
    from dedup.batch import run_clean
    from dedup.config import Config
    from dedup.corpus.generate import GeneratorConfig, generate
    from dedup.parallel import LocalExecutor

    monkeypatch.setattr(LocalExecutor, "block_bytes", 16 << 10)
    docs = [d for d, _ in generate(GeneratorConfig(docs=260, seed=3, split="test"))]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n"
                           for d in docs), encoding="utf-8")
    config = Config().replace(boilerplate={"repetition_sample": 157})
    outs = []
    for j in (1, jobs):
        out, removed = tmp_path / f"out{j}.jsonl", tmp_path / f"removed{j}.jsonl"
        report = run_clean([str(src)], str(out), config, jobs=j, removed=str(removed))
        outs.append((out.read_bytes(), removed.read_bytes(), report.stats["removed"]))
    assert outs[0] == outs[1]


def test_local_workers_read_a_block_from_its_file_and_refuse_a_changed_file(
        tmp_path: Path) -> None:
    """Local workers get a block as where it is in its file (BlockRange: a few numbers, not
    its bytes) and read it; a file changed since the parent read it is an error, not other
    documents."""
    import pickle

    from dedup.errors import InputError
    from dedup.parallel import BlockRange, LocalExecutor, resolved

    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join(b'{"text": "record %d of a file"}\n' % i for i in range(400)))
    source = Source(str(path), "jsonl", "in.jsonl")
    blocks = [b for b in read_blocks([source], blocks=1000) if isinstance(b, RawBlock)]
    assert len(blocks) > 5 and sum(b.records for b in blocks) == 400
    sent = [pickle.dumps(LocalExecutor.outgoing(b)) for b in blocks]
    assert all(len(s) < 300 for s in sent)  # where, not what
    back = [resolved(pickle.loads(s)) for s in sent]
    assert [(b.data, b.lineno, b.records, b.first) for b in back] == \
        [(b.data, b.lineno, b.records, b.first) for b in blocks]
    assert isinstance(LocalExecutor.outgoing(blocks[0]), BlockRange)
    data = bytearray(path.read_bytes())
    data[blocks[3].offset + 12] ^= 1  # one byte of the fourth block
    path.write_bytes(bytes(data))
    arrived = pickle.loads(sent[3])  # read when its task runs: an error then is the task's
    with pytest.raises(InputError, match="changed while it was being cleaned"):
        resolved(arrived)
    assert resolved(pickle.loads(sent[2])).data == blocks[2].data


def test_a_block_of_a_relative_path_is_found_from_another_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker whose working directory is another (a Dask worker's may be) still reads the
    block: its file travels as an absolute path too."""
    import pickle

    from dedup.parallel import LocalExecutor, resolved

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"text": "one"}\n{"text": "two"}\n',
                                            encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    block = next(b for b in read_blocks([Source("in/a.jsonl", "jsonl", "a.jsonl")])
                 if isinstance(b, RawBlock))
    sent = pickle.dumps(LocalExecutor.outgoing(block))
    monkeypatch.chdir(tmp_path / "in")
    back = resolved(pickle.loads(sent))
    assert back.data == block.data and back.path == "in/a.jsonl"



def test_a_block_that_cannot_be_read_again_fails_the_run_not_hangs_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that finds a block changed fails its task, and the run stops with the error
    (exit 1, nothing written): the block is read when the task runs, not while the pool
    unpickles it (a worker dying there leaves the task waiting for ever)."""
    import os
    import signal

    from click.testing import CliRunner

    from dedup import parallel
    from dedup.cli import main
    from dedup.corpus.generate import GeneratorConfig, generate

    docs = [d for d, _ in generate(GeneratorConfig(docs=120, seed=4, split="test"))]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": d["text"]}) + "\n" for d in docs),
                   encoding="utf-8")
    monkeypatch.setattr(parallel.LocalExecutor, "block_bytes", 16 << 10)
    real = parallel.BlockRange.__reduce__

    def wrong(self: parallel.BlockRange) -> tuple[object, ...]:  # as if the file changed
        make, (read, args) = real(self)
        return make, (read, (*args[:-1], args[-1] ^ 1))

    monkeypatch.setattr(parallel.BlockRange, "__reduce__", wrong)
    config = tmp_path / "c.toml"
    config.write_text("[boilerplate]\nrepetition_sample = 50\n", encoding="utf-8")
    def hung(*_: object) -> None:
        raise TimeoutError("the run hung")

    previous = signal.signal(signal.SIGALRM, hung)  # a hang fails this test, not the suite
    signal.alarm(int(os.environ.get("DEDUP_HANG_SECONDS", "240")))
    try:
        res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out.jsonl"),
                                        "--jobs", "3", "--config", str(config)])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert res.exit_code == 1, res.output
    assert "changed while it was being cleaned" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out.jsonl").exists()

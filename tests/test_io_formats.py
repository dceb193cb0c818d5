"""Compressed (gzip, zstd) and Parquet inputs and outputs, glob inputs, sharded output: through
the readers and writers, and through the command line."""

from __future__ import annotations

import datetime
import decimal
import gzip
import json
import random
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner, Result

from dedup.cli import main
from dedup.errors import ConfigError, InputError, OutputError
from dedup.io import readers
from dedup.io.readers import Source, discover, read_all, read_source
from dedup.io.writers import (
    CLUSTER_FIELD,
    AtomicFile,
    OutputWriter,
    ShardedWriter,
    output_format,
    plan_outputs,
)
from dedup.pipeline import CleanResult
from dedup.types import DocCluster, Document

LONG = "A paragraph that is certainly long enough to be compared by MinHash shingles."
COOKIE = "We use cookies. Accept all"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def unzst(data: bytes) -> bytes:
    """Streamed frames carry no content size, which one-shot ``zstandard.decompress`` needs."""
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def read_zst(path: Path) -> bytes:
    with open(path, "rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as r:
        return r.read()


def records(n: int, word: str = "item") -> list[dict[str, Any]]:
    """Records whose text is a long paragraph, a cookie line and the paragraph again."""
    return [{"id": i, "text": f"{LONG} {word} {i}\n{COOKIE}\n{LONG} {word} {i}", "lang": "en"}
            for i in range(n)]


def noise(n: int) -> list[dict[str, Any]]:
    """Records of random hex (barely compressible), to get compressed files of many chunks."""
    rng = random.Random(7)
    return [{"id": i, "text": f"{rng.getrandbits(256):064x}"} for i in range(n)]


def result(doc: Document, text: str | None = None, dropped: bool = False) -> CleanResult:
    return CleanResult(doc, doc.text if text is None else text, [], dropped_document=dropped)


def docs_of(path: Path, rel: str | None = None) -> list[Document]:
    (source,) = discover([str(path)])
    if rel is not None:
        source = Source(source.path, source.kind, rel)
    return list(read_source(source))


# --- reading -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,pack", [("a.jsonl.gz", gzip.compress), ("a.jsonl.zst", zst),
                                       ("a.ndjson.zst", zst), ("a.jsonl", bytes)])
def test_compressed_jsonl_reads_like_plain(tmp_path: Path, name: str, pack: Any) -> None:
    recs = records(3)
    data = jsonl_bytes(recs[:1]) + b"\n" + jsonl_bytes(recs[1:])  # a blank line 2
    (tmp_path / name).write_bytes(pack(data))
    docs = docs_of(tmp_path / name)
    assert [d.id for d in docs] == [f"{name}:1", f"{name}:3", f"{name}:4"]
    assert [d.meta for d in docs] == recs and [d.text for d in docs] == [r["text"] for r in recs]
    assert all(d.error is None and d.source == name for d in docs)


def test_compressed_text_file_is_one_document(tmp_path: Path) -> None:
    (tmp_path / "p.txt.gz").write_bytes(gzip.compress(f"{LONG}\n{COOKIE}\n".encode()))
    (tmp_path / "q.txt.zst").write_bytes(zst("été\n".encode()))
    assert [(d.id, d.text) for d in docs_of(tmp_path / "p.txt.gz")] == [
        ("p.txt.gz", f"{LONG}\n{COOKIE}\n")]
    assert [d.text for d in docs_of(tmp_path / "q.txt.zst")] == ["été\n"]


def test_concatenated_frames_and_members_are_all_read(tmp_path: Path) -> None:
    one, two = jsonl_bytes(records(2)), jsonl_bytes(records(3, "other"))
    (tmp_path / "m.jsonl.gz").write_bytes(gzip.compress(one) + gzip.compress(two))
    (tmp_path / "m.jsonl.zst").write_bytes(zst(one) + zst(two))
    for name in ("m.jsonl.gz", "m.jsonl.zst"):
        docs = docs_of(tmp_path / name)
        assert len(docs) == 5 and not any(d.error for d in docs)
        assert docs[-1].meta == records(3, "other")[2]


@pytest.mark.parametrize("suffix,pack,name", [(".gz", gzip.compress, "gzip"),
                                              (".zst", zst, "zstd")])
def test_truncated_stream_ends_with_an_error_document(tmp_path: Path, suffix: str, pack: Any,
                                                      name: str) -> None:
    recs = noise(6000)
    blob = pack(jsonl_bytes(recs))
    assert len(blob) > 3 * readers.ZSTD_CHUNK  # several chunks: some lines come before the end
    path = tmp_path / f"t.jsonl{suffix}"
    path.write_bytes(blob[: len(blob) // 2])
    docs = docs_of(path)
    *good, last = docs
    assert 0 < len(good) < len(recs) and not any(d.error for d in good)
    assert [d.meta for d in good] == recs[: len(good)]
    assert last.error is not None and last.id == f"t.jsonl{suffix}:{len(good) + 1}"
    assert last.error.startswith(f"{path}: {name} data is truncated or corrupt after line "
                                 f"{len(good)}")


@pytest.mark.parametrize("name", ["g.jsonl.gz", "g.jsonl.zst", "g.txt.gz", "g.txt.zst"])
def test_garbage_compressed_file_is_one_error_document(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"this is not compressed at all\n" * 3)
    (doc,) = docs_of(tmp_path / name)
    assert doc.error is not None and doc.error.startswith(f"{tmp_path / name}: ")
    assert "truncated or corrupt" in doc.error and doc.text == ""


def test_zstd_stream_cut_inside_the_frame_header_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "h.jsonl.zst").write_bytes(zst(jsonl_bytes(records(2)))[:3])
    (doc,) = docs_of(tmp_path / "h.jsonl.zst")
    assert doc.error is not None and "ends inside a zstd frame" in doc.error


def test_encoding_errors_apply_inside_compressed_files(tmp_path: Path) -> None:
    bad = b'{"text": "caf\xe9"}\n' + jsonl_bytes([{"text": "ok"}])
    path = tmp_path / "e.jsonl.zst"
    path.write_bytes(zst(bad))
    (source,) = discover([str(path)])
    strict = list(read_source(source))
    assert strict[0].error is not None and "not valid UTF-8" in strict[0].error
    assert strict[1].text == "ok"
    replaced = list(read_source(source, encoding_errors="replace"))
    assert replaced[0].text == "caf\ufffd" and replaced[0].error is None


def write_parquet(path: Path, n: int = 3) -> pa.Table:
    table = pa.table({
        "url": [f"https://example.org/{i}" for i in range(n)],
        "text": [f"{LONG} row {i}\n{COOKIE}" for i in range(n)],
        "fetched": pa.array([datetime.datetime(2024, 1, 1 + i, 12, 0) for i in range(n)],
                            pa.timestamp("ms")),
        "day": pa.array([datetime.date(2024, 2, 1 + i) for i in range(n)], pa.date32()),
        "price": pa.array([decimal.Decimal(f"{i}.25") for i in range(n)], pa.decimal128(6, 2)),
        "tags": pa.array([["a", "b"][: i % 3] for i in range(n)], pa.list_(pa.string())),
        "info": pa.array([{"len": i, "lang": "en"} for i in range(n)],
                         pa.struct([("len", pa.int32()), ("lang", pa.string())])),
        "headers": pa.array([[("k", str(i))] for i in range(n)],
                            pa.map_(pa.string(), pa.string())),
        "score": pa.array([None if i == 1 else i * 0.5 for i in range(n)], pa.float32()),
    })
    pq.write_table(table, path, row_group_size=2)
    return table


def test_parquet_rows_are_documents_with_json_meta(tmp_path: Path) -> None:
    write_parquet(tmp_path / "p.parquet", 3)
    docs = docs_of(tmp_path / "p.parquet")
    assert [d.id for d in docs] == ["p.parquet:1", "p.parquet:2", "p.parquet:3"]
    assert docs[2].text == f"{LONG} row 2\n{COOKIE}"
    assert docs[2].meta == {
        "url": "https://example.org/2", "text": docs[2].text, "fetched": "2024-01-03T12:00:00",
        "day": "2024-02-03", "price": "2.25", "tags": ["a", "b"], "info": {"len": 2, "lang": "en"},
        "headers": [["k", "2"]], "score": 1.0}
    assert docs[1].meta["score"] is None
    json.dumps([d.meta for d in docs])  # every value is JSON


def test_parquet_is_read_in_batches_with_continuing_row_numbers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 2)
    write_parquet(tmp_path / "p.parquet", 7)
    docs = docs_of(tmp_path / "p.parquet")
    assert [d.id for d in docs] == [f"p.parquet:{i}" for i in range(1, 8)]
    assert [d.meta["url"] for d in docs] == [f"https://example.org/{i}" for i in range(7)]


def test_parquet_bad_rows_and_files_become_error_documents(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": ["fine", None], "n": [1, 2]}), tmp_path / "null.parquet")
    ok, null = docs_of(tmp_path / "null.parquet")
    assert ok.text == "fine" and ok.error is None
    assert null.error == f"{tmp_path / 'null.parquet'}: row 2: column 'text' is null"
    assert null.meta == {"text": None, "n": 2}

    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "nocol.parquet")
    (doc,) = docs_of(tmp_path / "nocol.parquet")
    assert doc.id == "nocol.parquet" and doc.error is not None
    assert "no column 'text' (columns: body; use --text-field" in doc.error

    (tmp_path / "fake.parquet").write_bytes(b"PAR1 but not really")
    (doc,) = docs_of(tmp_path / "fake.parquet")
    assert doc.error is not None
    assert doc.error.startswith(f"{tmp_path / 'fake.parquet'}: not a readable Parquet file")

    good = tmp_path / "cut.parquet"
    write_parquet(good, 5)
    good.write_bytes(good.read_bytes()[:-30])  # footer gone
    (doc,) = docs_of(good)
    assert doc.error is not None and "not a readable Parquet file" in doc.error


def test_parquet_binary_text_column_is_decoded(tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": pa.array([b"caf\xc3\xa9", b"caf\xe9"], pa.binary())}),
                   tmp_path / "b.parquet")
    (source,) = discover([str(tmp_path / "b.parquet")])
    good, bad = read_source(source)
    assert good.text == "café" and good.meta == {"text": "café"}
    assert bad.error is not None and "row 2" in bad.error and "not valid UTF-8" in bad.error
    _, replaced = read_source(source, encoding_errors="replace")
    assert replaced.text == "caf\ufffd"


# --- discovering ---------------------------------------------------------------------------

def test_directories_pick_up_compressed_and_parquet_files(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("a.jsonl.gz", "b.txt.zst", "sub/c.parquet", "sub/d.ndjson.zst", "e.txt",
                 "skip.csv", ".hidden.jsonl.gz", "f.parquet.gz"):
        (src / name).write_bytes(b"")
    found = [(s.rel, s.kind, s.compression) for s in discover([str(src)])]
    assert found == [("a.jsonl.gz", "jsonl", "gz"), ("b.txt.zst", "txt", "zst"),
                     ("e.txt", "txt", ""), ("sub/c.parquet", "parquet", ""),
                     ("sub/d.ndjson.zst", "jsonl", "zst")]


def test_glob_patterns_expand_sorted_relative_to_their_directory(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    for name in ("b.jsonl.zst", "a.jsonl.zst", "c.jsonl.gz", "x/z.jsonl.zst", "x/y/w.parquet",
                 "x/v.parquet"):
        (dump / name).parent.mkdir(parents=True, exist_ok=True)
        (dump / name).write_bytes(b"")
    flat = discover([str(dump / "*.jsonl.zst")])
    assert [(s.path, s.rel) for s in flat] == [(str(dump / "a.jsonl.zst"), "a.jsonl.zst"),
                                               (str(dump / "b.jsonl.zst"), "b.jsonl.zst")]
    deep = discover([str(dump / "**" / "*.parquet")])
    assert [(s.rel, s.kind) for s in deep] == [("x/v.parquet", "parquet"),
                                               ("x/y/w.parquet", "parquet")]
    mixed = discover([str(dump / "x" / "*")])  # a matched directory is walked
    assert [s.rel for s in mixed] == ["v.parquet", "y/w.parquet", "z.jsonl.zst"]


def test_glob_matching_nothing_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no file matches this pattern") as info:
        discover([str(tmp_path / "*.jsonl.zst")])
    assert info.value.hint is not None and "**" in info.value.hint


def test_a_glob_input_plans_a_mirrored_directory(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "only.jsonl.gz").write_bytes(b"")
    pattern = str(tmp_path / "in" / "*.jsonl.gz")
    plan = plan_outputs(discover([pattern]), str(tmp_path / "out"), [pattern])
    assert plan == {"only.jsonl.gz": str(tmp_path / "out" / "only.jsonl.gz")}
    # named as a JSONL file, -o is the one file every matched input goes into
    plan = plan_outputs(discover([pattern]), str(tmp_path / "out.jsonl.gz"), [pattern])
    assert plan == {"only.jsonl.gz": str(tmp_path / "out.jsonl.gz")}


def test_parquet_from_stdin_is_refused() -> None:
    with pytest.raises(InputError, match="stdin"):
        discover(["-"], "parquet")


# --- writing -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,unpack", [("o.jsonl.gz", gzip.decompress),
                                         ("o.jsonl.zst", unzst),
                                         ("o.jsonl", bytes)])
def test_atomic_file_compresses_by_name_and_abort_leaves_nothing(
        tmp_path: Path, name: str, unpack: Any) -> None:
    fh = AtomicFile(tmp_path / name)
    fh.write("héllo\n")
    assert not (tmp_path / name).exists()
    fh.commit()
    assert unpack((tmp_path / name).read_bytes()) == "héllo\n".encode()
    fh = AtomicFile(tmp_path / "x" / name)
    fh.write("gone\n")
    fh.abort()
    assert not (tmp_path / "x").exists()  # the directory it made goes too


def test_gzip_output_is_deterministic(tmp_path: Path) -> None:
    blobs = []
    for i in range(2):
        fh = AtomicFile(tmp_path / f"{i}.txt.gz")
        fh.write(LONG)
        fh.commit()
        blobs.append((tmp_path / f"{i}.txt.gz").read_bytes())
    assert blobs[0] == blobs[1]  # no mtime or name in the gzip header


def test_output_format_follows_the_input_kind_and_the_output_name() -> None:
    assert output_format("txt", "a.parquet") == "txt"
    assert output_format("jsonl", "o/a.jsonl.zst") == "jsonl"
    assert output_format("jsonl", "o/a.parquet") == "parquet"
    assert output_format("parquet", "-") == "jsonl"
    assert output_format("parquet", "x.parquet.gz") == "parquet"


def test_compressed_parquet_output_is_refused(tmp_path: Path) -> None:
    write_parquet(tmp_path / "p.parquet")
    sources = discover([str(tmp_path / "p.parquet")])
    with pytest.raises(OutputError, match=r"cannot be \.gz/\.zst compressed"):
        plan_outputs(sources, str(tmp_path / "o.parquet.zst"), [str(tmp_path / "p.parquet")])


def test_parquet_output_mirrors_the_input_schema_and_values(tmp_path: Path) -> None:
    table = write_parquet(tmp_path / "p.parquet", 3)
    (source,) = discover([str(tmp_path / "p.parquet")])
    out = tmp_path / "out" / "p.parquet"
    writer = OutputWriter({source.rel: str(out)}, [source])
    docs = list(read_source(source))
    docs[2].cluster = DocCluster(id="p.parquet:1", duplicate=True)
    writer.write(result(docs[0], "clean 0\n"))
    writer.write(result(docs[1], "", dropped=True))  # not written
    writer.write(result(docs[2], "clean 2\n"))
    writer.close()
    assert writer.written == [str(out)]
    got = pq.read_table(out)
    assert got.schema.names == [*table.schema.names, CLUSTER_FIELD]
    for field in table.schema:
        assert got.schema.field(field.name).type == field.type
    rows = got.to_pylist()
    want = table.to_pylist()
    assert [r["text"] for r in rows] == ["clean 0\n", "clean 2\n"]
    assert [r[CLUSTER_FIELD] for r in rows] == [None, "p.parquet:1"]
    for got_row, want_row in zip(rows, [want[0], want[2]], strict=True):
        for name in table.schema.names:
            if name not in ("text", "headers"):
                assert got_row[name] == want_row[name], name
        assert dict(got_row["headers"]) == dict(want_row["headers"])


def test_parquet_output_of_jsonl_infers_columns_and_refuses_mixed_types(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(
        [{"text": "x", "n": 1, "tags": ["a"]}, {"text": "y", "extra": "late"}]))
    (source,) = discover([str(tmp_path / "a.jsonl")])
    out = tmp_path / "a.parquet"
    writer = OutputWriter({source.rel: str(out)}, [source])
    for doc in read_source(source):
        writer.write(result(doc))
    writer.close()
    assert pq.read_table(out).to_pylist() == [
        {"text": "x", "n": 1, "tags": ["a"], "extra": None, CLUSTER_FIELD: None},
        {"text": "y", "n": None, "tags": None, "extra": "late", CLUSTER_FIELD: None}]

    (tmp_path / "b.jsonl").write_bytes(jsonl_bytes([{"text": "x", "n": 1},
                                                    {"text": "y", "n": "one"}]))
    (source,) = discover([str(tmp_path / "b.jsonl")])
    writer = OutputWriter({source.rel: str(tmp_path / "b.parquet")}, [source])
    for doc in read_source(source):
        writer.write(result(doc))
    with pytest.raises(OutputError, match="column 'n'") as info:
        writer.close()
    writer.abort()
    assert info.value.hint is not None and "JSONL" in info.value.hint
    assert not (tmp_path / "b.parquet").exists() and not list(tmp_path.glob(".*.tmp"))


def test_aborted_output_writer_leaves_no_file(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl.zst").write_bytes(zst(jsonl_bytes(records(2))))
    write_parquet(tmp_path / "p.parquet")
    sources = discover([str(tmp_path / "a.jsonl.zst"), str(tmp_path / "p.parquet")])
    out = tmp_path / "out"
    plan = plan_outputs(sources, str(out), [s.path for s in sources])
    for source in sources:
        writer = OutputWriter(plan, sources)
        for doc in read_source(source):
            writer.write(result(doc))
        writer.abort()
    assert not out.exists()  # no file, and not the directory the writer made for them


# --- sharded output ------------------------------------------------------------------------

def shard_docs(n: int) -> list[Document]:
    return [Document(id=f"in.jsonl:{i + 1}", text=f"text {i}", meta={"k": i, "text": "raw"},
                     source="in.jsonl") for i in range(n)]


def read_shard(path: Path) -> list[dict[str, Any]]:
    if path.name.endswith(".parquet"):
        return list(pq.read_table(path).to_pylist())
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    elif path.name.endswith(".zst"):
        data = read_zst(path)
    return [json.loads(line) for line in data.decode().splitlines()]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"])
def test_sharded_writer_cuts_shards_every_n_written_documents(tmp_path: Path,
                                                              suffix: str) -> None:
    out = tmp_path / "shards"
    writer = ShardedWriter(str(out), suffix, shard_docs=2)
    docs = shard_docs(7)
    docs[1].error = "in.jsonl:2: not valid JSON"  # skipped, not counted
    for i, doc in enumerate(docs):
        writer.write(result(doc, dropped=(i == 4)))  # 4 is a dropped duplicate
        assert not list(out.glob("part-*"))  # nothing appears before close()
    writer.close()
    names = [f"part-0000{i}{suffix}" for i in range(3)]
    assert writer.written == [str(out / n) for n in names]
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary file left
    shards = [read_shard(out / n) for n in names]
    assert [[r["k"] for r in s] for s in shards] == [[0, 2], [3, 5], [6]]
    assert shards[0][0]["text"] == "text 0"
    if suffix == ".parquet":
        assert len({str(pq.read_schema(out / n)) for n in names}) == 1


def test_sharded_writer_abort_leaves_no_files(tmp_path: Path) -> None:
    out = tmp_path / "shards"
    writer = ShardedWriter(str(out), ".jsonl.zst", shard_docs=2)
    for doc in shard_docs(5):  # two finished shards and an open one
        writer.write(result(doc))
    writer.abort()
    assert not out.exists() and writer.written == []  # the directory it made goes too


def test_sharded_writer_records_text_files_and_duplicates(tmp_path: Path) -> None:
    writer = ShardedWriter(str(tmp_path / "s"), ".jsonl", shard_docs=10, text_field="body")
    txt = Document(id="a.txt", text="raw", source="a.txt")
    dup = Document(id="b.jsonl:1", text="raw", meta={"body": "raw", "u": 1}, source="b.jsonl",
                   cluster=DocCluster(id="a.txt", duplicate=True))
    writer.write(result(txt, "clean\n"))
    writer.write(result(dup, ""))
    writer.close()
    assert read_shard(tmp_path / "s" / "part-00000.jsonl") == [
        {"id": "a.txt", "body": "clean\n"}, {"body": "", "u": 1, CLUSTER_FIELD: "a.txt"}]


def test_sharded_writer_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="suffix"):
        ShardedWriter(str(tmp_path), ".csv")
    with pytest.raises(ConfigError, match="at least 1"):
        ShardedWriter(str(tmp_path), ".jsonl", shard_docs=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        ShardedWriter(str(tmp_path / "file"))
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "part-00000.jsonl.zst").write_bytes(b"")
    with pytest.raises(OutputError, match="already holds shards") as info:
        ShardedWriter(str(tmp_path / "old"))
    assert info.value.hint is not None and "part-*" in info.value.hint


def test_sharded_shards_read_back_through_the_readers(tmp_path: Path) -> None:
    writer = ShardedWriter(str(tmp_path / "s"), ".jsonl.zst", shard_docs=3)
    for doc in shard_docs(4):
        writer.write(result(doc))
    writer.close()
    docs = list(read_all(discover([str(tmp_path / "s" / "*.jsonl.zst")])))
    assert [d.id for d in docs] == ["part-00000.jsonl.zst:1", "part-00000.jsonl.zst:2",
                                    "part-00000.jsonl.zst:3", "part-00001.jsonl.zst:1"]
    assert [d.text for d in docs] == [f"text {i}" for i in range(4)]


# --- without pyarrow -----------------------------------------------------------------------

def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write_parquet(tmp_path / "p.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InputError) as read_info:
        discover([str(tmp_path / "p.parquet")])
    with pytest.raises(OutputError) as write_info:
        ShardedWriter(str(tmp_path / "s"), ".parquet")
    for info in (read_info, write_info):
        assert info.value.hint == 'pip install "dedup[parquet]"'
    res = run("clean", str(tmp_path / "p.parquet"), "-o", str(tmp_path / "o"), "-q")
    assert res.exit_code == 1 and 'pip install "dedup[parquet]"' in res.stderr
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)


# --- the command line ----------------------------------------------------------------------

def test_cli_round_trips_compressed_and_parquet_inputs(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(records(2, "alpha"))))
    (src / "sub" / "b.jsonl.zst").write_bytes(zst(jsonl_bytes(records(2, "beta"))))
    (src / "c.txt.zst").write_bytes(zst(f"{LONG} gamma\n{COOKIE}\n{LONG} gamma\n".encode()))
    table = write_parquet(src / "sub" / "d.parquet", 2)
    out = tmp_path / "out"
    res = run("clean", str(src), "-o", str(out), "-q", "--no-cross-doc")
    assert res.exit_code == 0, res.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file()) == ["a.jsonl.gz", "c.txt.zst", "sub/b.jsonl.zst", "sub/d.parquet"]
    a = [json.loads(x) for x in gzip.decompress((out / "a.jsonl.gz").read_bytes()).splitlines()]
    assert a == [{"id": i, "text": f"{LONG} alpha {i}\n", "lang": "en"} for i in range(2)]
    b = [json.loads(x) for x in read_zst(out / "sub" / "b.jsonl.zst").splitlines()]
    assert b == [{"id": i, "text": f"{LONG} beta {i}\n", "lang": "en"} for i in range(2)]
    assert read_zst(out / "c.txt.zst").decode() == f"{LONG} gamma\n"
    d = pq.read_table(out / "sub" / "d.parquet")
    assert d.schema.names == [*table.schema.names, CLUSTER_FIELD]
    assert d.column("text").to_pylist() == [f"{LONG} row {i}\n" for i in range(2)]
    assert d.column("url").to_pylist() == table.column("url").to_pylist()


def test_cli_output_name_chooses_compression_and_format(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl.zst").write_bytes(zst(jsonl_bytes(records(2))))
    res = run("clean", str(tmp_path / "a.jsonl.zst"), "-o", str(tmp_path / "a.jsonl"), "-q",
              "--no-cross-doc")
    assert res.exit_code == 0, res.output
    assert [json.loads(x)["id"] for x in (tmp_path / "a.jsonl").read_text().splitlines()] == [0, 1]
    res = run("clean", str(tmp_path / "a.jsonl.zst"), "-o", str(tmp_path / "a.parquet"), "-q",
              "--no-cross-doc")
    assert res.exit_code == 0, res.output
    assert pq.read_table(tmp_path / "a.parquet").column("id").to_pylist() == [0, 1]
    write_parquet(tmp_path / "p.parquet", 2)
    res = run("clean", str(tmp_path / "p.parquet"), "-o", "-", "-q", "--no-cross-doc")
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["fetched"] for r in rows] == ["2024-01-01T12:00:00", "2024-01-02T12:00:00"]


def test_cli_glob_input(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    (dump / "2024").mkdir(parents=True)
    (dump / "2024" / "x.jsonl.zst").write_bytes(zst(jsonl_bytes(records(1, "x"))))
    (dump / "y.jsonl.zst").write_bytes(zst(jsonl_bytes(records(1, "y"))))
    (dump / "z.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(records(1, "z"))))
    out = tmp_path / "out"
    res = run("clean", str(dump / "**" / "*.jsonl.zst"), "-o", str(out), "-q", "--no-cross-doc")
    assert res.exit_code == 0, res.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "2024/x.jsonl.zst", "y.jsonl.zst"]
    res = run("clean", str(dump / "*.parquet"), "-o", str(out), "-q")
    assert res.exit_code == 1 and "no file matches this pattern" in res.stderr


@pytest.mark.parametrize("name,pack", [("bad.jsonl.gz", gzip.compress),
                                       ("bad.jsonl.zst", zst)])
def test_cli_corrupt_compressed_file_is_reported_without_traceback(
        tmp_path: Path, name: str, pack: Any) -> None:
    src = tmp_path / "in"
    src.mkdir()
    blob = pack(jsonl_bytes(noise(6000)))
    (src / name).write_bytes(blob[: len(blob) // 2])
    (src / "good.jsonl").write_bytes(jsonl_bytes(records(1)))
    out = tmp_path / "out"
    res = run("clean", str(src), "-o", str(out), "-q", "--no-cross-doc")
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert f"error: {src / name}: " in res.stderr and "truncated or corrupt" in res.stderr
    assert "Traceback" not in res.output
    assert json.loads((out / "good.jsonl").read_text())["id"] == 0


def test_nan_and_infinite_parquet_cells_are_null_in_jsonl_output(tmp_path: Path) -> None:
    """JSON has no NaN or Infinity: a Parquet float cell holding one is written as null (the
    output is JSON a strict parser reads); finite values are written as they are."""
    table = pa.table({"text": [f"{LONG} one", f"{LONG} two", f"{LONG} three"],
                      "score": [float("nan"), float("inf"), 0.5],
                      "nested": [[1.0, float("-inf")], [2.0], []]})
    pq.write_table(table, tmp_path / "in.parquet")
    res = CliRunner().invoke(main, ["clean", str(tmp_path / "in.parquet"), "-o",
                                    str(tmp_path / "out.jsonl"), "-q", "--no-cross-doc"])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    records = [json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in the output"))
               for line in lines]
    assert [r["score"] for r in records] == [None, None, 0.5]
    assert [r["nested"] for r in records] == [[1.0, None], [2.0], []]

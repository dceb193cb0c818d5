"""JSONL records parsed on the workers: a parallel run's reader leaves each record's bytes
(``Document.raw``) for the worker that prepares it, which parses it as the reader would have
(``readers.parse_raw``). The documents, the outputs, the ``--removed`` journal and the report
(its failures and skipped records in input order) are those of a run that parses in the
parent."""

from __future__ import annotations

import codecs
import dataclasses
import json
from pathlib import Path

import pytest

from dedup.batch import run_clean
from dedup.io.readers import Limits, RawReading, discover, parse_raw, read_source
from dedup.parallel import apply_parsed, parse_chunk
from dedup.types import Document

S = [
    "The council approved the harbour bridge budget after a long debate on Monday evening.",
    "Opposition members argued that the cost had doubled since the plan was first proposed.",
    "Construction is expected to begin next spring and to last about three years in total.",
]

DEEP = "[" * 600 + "]" * 600

# every kind of line a JSONL reader meets, each read as a record or as a failure or a skip
LINES: list[bytes] = [
    codecs.BOM_UTF8 + json.dumps({"id": "first", "text": S[0]}).encode(),  # BOM on line 1
    json.dumps({"id": 7, "lang": "en", "text": S[1], "score": 0.1 + 0.2,
                "nested": {"a": [1, 2.5e-7, None, True]}}).encode(),
    b'{"text": "a raw NUL \x00 here"}',
    b'{"text": "bad utf-8 \xff\xfe here"}',
    b'{"text": "not json"',
    b'["an", "array"]',
    b'{"body": "no text field"}',
    b'{"text": 42}',
    b'{"text": "a lone surrogate \\ud800 escaped", "x": "\\udc00"}',
    b'{"text": "not a number", "v": NaN}',
    b'{"text": "too big", "v": 1e400}',
    ('{"text": "deep", "d": ' + DEEP + "}").encode(),
    json.dumps({"text": "x" * 3000 + "\n" + S[2]}).encode(),  # a line over --max-line-bytes
    json.dumps({"id": "", "text": S[2]}).encode(),  # an unusable id under --id-field
    json.dumps({"text": "caf\u00e9 \u201cquoted\u201d \U0001f600"}, ensure_ascii=False).encode(),
    b"   ",  # blank: no record at all
]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("errors", ["strict", "replace", "skip"])
@pytest.mark.parametrize("id_field", [None, "id"])
def test_a_record_parsed_later_is_the_record_read_at_once(
        tmp_path: Path, errors: str, id_field: str | None) -> None:
    """Read raw and parsed by parse_raw (or on a worker, then set on the parent's copy),
    every record is the document read_source makes of it: id, text, fields, error, skip."""
    source = discover([str(_write(tmp_path / "in.jsonl", LINES))])[0]
    limits = Limits(line_bytes=2000)
    direct = list(read_source(source, "text", errors, limits, id_field=id_field))
    raw = list(read_source(source, "text", errors, limits, id_field=id_field, raw_jsonl=True))
    assert len(raw) == len(direct) == len(LINES) - 1
    assert all(d.raw is not None and d.text == "" and not d.meta for d in raw)
    reading = RawReading({source.rel: source.path}, "text", errors, limits, id_field)
    here = [dataclasses.replace(d) for d in raw]
    for doc in here:
        parse_raw(doc, reading)
    assert here == direct
    # on a worker: parsed there, what the parent needs sent back (the fields without the text)
    worker = [dataclasses.replace(d) for d in raw]
    reply = parse_chunk(worker, reading)
    assert reply is not None and worker == direct
    parsed, kept = reply
    assert [None if f is None else json.loads(f) for f in kept] == [
        {k: (None if k == "text" else v) for k, v in d.meta.items()} or None for d in direct]
    rendering = parse_chunk([dataclasses.replace(d) for d in raw], reading, render=True)
    assert rendering is not None and rendering[1] == kept  # the fields stay on the worker
    assert [p[1] for p in rendering[0] if p] == [None] * len(raw)
    parent = [dataclasses.replace(d) for d in raw]
    lengths = [apply_parsed(doc, info) for doc, info in zip(parent, parsed, strict=True)]
    assert lengths == [len(d.text) for d in direct]
    for got, want in zip(parent, direct, strict=True):
        assert (got.id, got.error, got.skipped, got.raw) == (want.id, want.error, want.skipped,
                                                             None)
        assert list(got.meta) == list(want.meta)  # the same fields, in the same order
        assert got.meta == {k: (None if k == "text" else v) for k, v in want.meta.items()}
    assert parse_chunk([Document("a", "b")], reading) is None  # nothing raw: nothing said


def _corpus(tmp_path: Path) -> Path:
    """Good records with copies and boilerplate around bad ones."""
    good = [json.dumps({"id": f"d{i}", "site": "s", "text": "\n".join(
        ["Home | News | Sport", S[i % 3], S[(i + 1) % 3], "We use cookies. Accept all"])})
        .encode() for i in range(60)]
    lines = []
    for i, line in enumerate(good):
        lines.append(line)
        if i % 7 == 3:
            lines.append(LINES[2 + (i // 7) % 11])
        if i == 50:  # over --max-doc-bytes: noted by the reader, ahead of earlier chunks' failures
            lines.append(json.dumps({"text": "y" * 9000}).encode())
    return _write(tmp_path / "in.jsonl", lines)


@pytest.mark.parametrize("errors", ["strict", "skip"])
def test_a_parallel_run_parsing_on_its_workers_writes_what_one_process_writes(
        tmp_path: Path, errors: str) -> None:
    """--jobs 2 and 3 (the records parsed on the workers, the failures noted when their
    chunks come back) give the one-process run's output, removed records and report: the
    same failures and skipped records, in input order."""
    src = _corpus(tmp_path)
    runs = {}
    for jobs in (1, 2, 3):
        out, removed = tmp_path / f"out{jobs}.jsonl", tmp_path / f"removed{jobs}.jsonl"
        report = run_clean([str(src)], str(out), removed=str(removed), jobs=jobs,
                           encoding_errors=errors, id_field="id",
                           limits=Limits(doc_bytes=8000))
        runs[jobs] = (out.read_bytes(), removed.read_bytes(), report.failures, report.skipped,
                      report.stats["removed"], report.stats["documents"])
    assert runs[1][2] and any("over --max-doc-bytes" in m for m in runs[1][2])
    assert runs[2] == runs[1] and runs[3] == runs[1]
    failures = runs[1][2]
    lines = [int(m.split(":")[1]) for m in failures if m.startswith(str(src))]
    assert lines == sorted(lines)  # in input order


def test_raw_records_reach_a_one_process_cleaner_parsed(tmp_path: Path) -> None:
    """A one-process Cleaner given raw records (a library caller's reader) parses them where
    it reads, and says so for each, failures included; without a reading it refuses them."""
    from dedup.pipeline import Cleaner

    src = _write(tmp_path / "in.jsonl", [json.dumps({"text": S[0]}).encode(), b"{broken"])
    source = discover([str(src)])[0]
    raw = list(read_source(source, raw_jsonl=True))
    told: list[str | None] = []
    cleaner = Cleaner()
    cleaner.reading = RawReading({source.rel: source.path})
    cleaner.on_parsed = lambda doc: told.append(doc.error)
    results = list(cleaner.clean_documents(raw))
    assert results[0].text == S[0] + "\n" and results[1].doc.error
    assert told == [None, results[1].doc.error]
    with pytest.raises(ValueError, match="raw record"):
        list(Cleaner().clean_documents(list(read_source(source, raw_jsonl=True))))


def test_records_written_to_parquet_keep_their_fields_from_the_workers(tmp_path: Path) -> None:
    """A JSONL input written as Parquet: the workers parse, the parent makes each row from the
    fields they send back (no rendered line), the same table as one process writes."""
    pq = pytest.importorskip("pyarrow.parquet")
    src = _corpus(tmp_path)
    tables = []
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}.parquet"
        run_clean([str(src)], str(out), jobs=jobs, limits=Limits(doc_bytes=8000))
        tables.append(pq.read_table(out))
    assert tables[0].num_rows > 50 and "site" in tables[0].column_names
    assert tables[0].equals(tables[1])

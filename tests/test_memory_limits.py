"""Bounded memory per line and per document: ``--max-line-bytes`` and ``--max-doc-bytes``.

A line or document over a limit is refused without being read whole (the tests count the
decompressed bytes a reader takes, they do not time it), reported with its file, line and the
option that raises the limit (exit 1), and nothing else of the run is lost. Peak RSS on
huge inputs is measured by ``benchmarks/memory_limits.py``, not here.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
import zstandard
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup.batch import run_clean
from dedup.cli import main
from dedup.errors import ConfigError
from dedup.io import readers
from dedup.io.readers import READ_CHUNK, Limits, discover, read_source

S = [
    "The council approved the harbour bridge budget after a long debate on Monday evening.",
    "Opposition members argued that the cost had doubled since the plan was first proposed.",
    "Construction is expected to begin next spring and to last about three years in total.",
    "Local fishermen worry that the new pillars will change the currents near the old pier.",
]
LONG = " ".join(f"word{i}" for i in range(2000))  # one line of 17890 bytes


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def exited(res: Result, code: int) -> None:
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception


def jsonl(*texts: str) -> bytes:
    return "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()


def texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


class Meter:
    """A decompressed input stream that counts the bytes it hands out, and the largest piece."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.total = 0
        self.largest = 0

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        self.largest = max(self.largest, len(data))
        return data

    def read(self, n: int = -1) -> bytes:
        return self._count(self.fh.read(n))

    def readline(self, n: int = -1) -> bytes:
        return self._count(self.fh.readline(n))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


@pytest.fixture
def meters(monkeypatch: pytest.MonkeyPatch) -> list[Meter]:
    """Every input stream the readers open, metered."""
    opened: list[Meter] = []
    plain = readers._decompressed

    @contextlib.contextmanager
    def metered(source: Any, raw: BinaryIO) -> Iterator[Any]:
        with plain(source, raw) as fh:
            opened.append(Meter(fh))
            yield opened[-1]

    monkeypatch.setattr(readers, "_decompressed", metered)
    return opened


def docs_of(path: Path, limits: Limits | None = None) -> list[Any]:
    (source,) = discover([str(path)])
    return list(read_source(source, limits=limits or Limits()))


# --- a line over --max-line-bytes ------------------------------------------------------------

def test_a_long_line_fails_its_file_by_name_and_line_and_the_rest_is_cleaned(
        tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "long.txt").write_text(f"{S[0]}\n{LONG}\n{S[1]}\n", encoding="utf-8")
    (src / "good.txt").write_text(f"{S[2]}\n", encoding="utf-8")
    (src / "recs.jsonl").write_bytes(jsonl(S[3], f"{S[1]}\n{LONG}", S[0]))
    out, report = tmp_path / "out", tmp_path / "report.json"
    res = run("clean", str(src), "-o", str(out), "--report", str(report), "-q",
              "--max-line-bytes", "16K")
    exited(res, 1)
    assert (f"error: {src / 'long.txt'}: line 2 is longer than --max-line-bytes (16384 bytes)"
            in res.stderr)
    assert (f"error: {src / 'recs.jsonl'}:2: line 2 of field 'text' is longer than "
            f"--max-line-bytes (16384 bytes)" in res.stderr)
    assert "hint: raise --max-line-bytes" in res.stderr
    # The file with the long line is one document: none of it is written, all else is.
    assert sorted(p.name for p in out.iterdir()) == ["good.txt", "recs.jsonl"]
    assert (out / "good.txt").read_text(encoding="utf-8") == f"{S[2]}\n"
    assert texts(out / "recs.jsonl") == [f"{S[3]}\n", f"{S[0]}\n"]
    assert json.loads(report.read_text(encoding="utf-8"))["failures"] == 2
    # Raised, the same inputs are cleaned whole.
    res = run("clean", str(src), "-o", str(tmp_path / "raised"), "-q",
              "--max-line-bytes", "17890")
    exited(res, 0)
    assert (tmp_path / "raised" / "long.txt").read_text(encoding="utf-8") == \
        f"{S[0]}\n{LONG}\n{S[1]}\n"


def test_a_long_line_is_refused_without_being_read_whole(tmp_path: Path,
                                                         meters: list[Meter]) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"x" * 4_000_000 + b"\n" + S[0].encode())
    (doc,) = docs_of(path, Limits(line_bytes=1000))
    assert doc.error is not None and "line 1 is longer than --max-line-bytes" in doc.error
    assert meters[0].total <= READ_CHUNK  # the first chunk showed it


def test_a_long_line_in_the_middle_of_a_chunk_is_found(tmp_path: Path) -> None:
    path = tmp_path / "mid.txt"
    path.write_text(f"{S[0]}\n{S[1]}\n{'y' * 301}\n{S[2]}\n", encoding="utf-8")
    (doc,) = docs_of(path, Limits(line_bytes=300))
    assert doc.error is not None and "line 3 is longer" in doc.error
    (doc,) = docs_of(path, Limits(line_bytes=301))  # the newline does not count
    assert doc.error is None and doc.text == path.read_text(encoding="utf-8")


# --- a document over --max-doc-bytes ------------------------------------------------------------

def test_a_large_jsonl_record_is_skipped_to_its_newline_and_the_next_ones_read(
        tmp_path: Path, meters: list[Meter]) -> None:
    src = tmp_path / "r.jsonl"
    big = jsonl(LONG * 20)  # 357 KB on one line
    src.write_bytes(jsonl(S[0]) + big + jsonl(S[1]))
    out = tmp_path / "o.jsonl"
    res = run("clean", str(src), "-o", str(out), "-q", "--max-doc-bytes", "64K")
    exited(res, 1)
    assert (f"error: {src}:2: record is {len(big) - 1} bytes, over --max-doc-bytes (65536 "
            f"bytes); it was skipped" in res.stderr)
    assert "hint: raise --max-doc-bytes" in res.stderr
    assert texts(out) == [f"{S[0]}\n", f"{S[1]}\n"]
    docs = docs_of(src, Limits(doc_bytes=65536))
    assert [d.error is None for d in docs] == [True, False, True]
    assert meters[-1].largest <= 65537  # the record was never held


def test_a_text_file_over_the_document_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "book.txt"
    path.write_text(f"{S[0]}\n" * 2000, encoding="utf-8")  # 176 KB
    res = run("clean", str(path), "-o", "-", "-q", "--max-doc-bytes", "100K")
    exited(res, 1)
    assert (f"error: {path}: larger than --max-doc-bytes (102400 bytes; a text file is one "
            f"document); not read further" in res.stderr)
    assert res.stdout == ""


@pytest.mark.parametrize("name,pack", [("bomb.txt.gz", gzip.compress),
                                       ("bomb.txt.zst",
                                        zstandard.ZstdCompressor().compress)])
def test_a_compression_bomb_is_refused_after_the_limit(tmp_path: Path, meters: list[Meter],
                                                       name: str, pack: Any) -> None:
    one_line = tmp_path / f"line-{name}"
    one_line.write_bytes(pack(b"a" * 20_000_000))  # 20 MB, one line
    lines = tmp_path / f"lines-{name}"
    lines.write_bytes(pack(b"a" * 99 + b"\n") * 200_000)  # 20 MB of short lines
    assert one_line.stat().st_size < 100_000 and lines.stat().st_size < 10_000_000
    (doc,) = docs_of(one_line, Limits(line_bytes=100_000))
    assert doc.error is not None and "line 1 is longer than --max-line-bytes" in doc.error
    assert meters[-1].total <= 100_000 + READ_CHUNK
    (doc,) = docs_of(lines, Limits(doc_bytes=1 << 20))
    assert doc.error is not None and "larger than --max-doc-bytes" in doc.error
    assert meters[-1].total <= (1 << 20) + READ_CHUNK


# --- binary data, known from its first bytes ------------------------------------------------

def test_a_compressed_binary_file_is_known_from_its_first_bytes(tmp_path: Path,
                                                                meters: list[Meter]) -> None:
    zeros = tmp_path / "zeros.txt.gz"
    zeros.write_bytes(gzip.compress(bytes(20_000_000)))
    res = run("clean", str(zeros), "-o", "-", "-q")
    exited(res, 1)
    assert f"error: {zeros}: binary file, not text (NUL byte at offset 0)" in res.stderr
    assert meters[-1].total <= READ_CHUNK
    records = tmp_path / "zeros.jsonl.gz"  # no newline to wait for: not JSONL either
    records.write_bytes(gzip.compress(bytes(20_000_000)))
    (doc,) = docs_of(records)
    assert doc.error == f"{records}: binary file, not text (NUL byte at offset 0)"
    assert meters[-1].total <= readers.BINARY_PROBE


def test_a_long_binary_record_later_in_a_jsonl_file_ends_the_file(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(jsonl(S[0]) + b'{"text": "' + bytes(300_000) + jsonl(S[1]))
    good, bad = docs_of(path, Limits(doc_bytes=100_000))
    assert good.error is None and good.text == S[0]
    assert bad.error is not None and bad.error.startswith(f"{path}:2: binary data, not JSON")
    assert "the rest of the file is not read" in bad.error


# --- truncated zstd -------------------------------------------------------------------------

def test_a_truncated_zstd_file_keeps_the_lines_of_its_whole_blocks(tmp_path: Path) -> None:
    lines = [f"{S[i % 4]} number {i}" for i in range(4000)]  # 350 KB: three zstd blocks
    blob = zstandard.ZstdCompressor().compress(jsonl(*lines))
    path = tmp_path / "t.jsonl.zst"
    path.write_bytes(blob[:-100])  # the last block is cut
    *good, last = docs_of(path)
    assert len(good) >= 1400 and [d.text for d in good] == lines[: len(good)]
    assert last.error is not None and f"after line {len(good)}" in last.error
    assert "whole blocks" in last.error  # why the cut block's lines are gone


# --- the options themselves -------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [("4096", "4096 bytes"), ("4K", "4096 bytes"),
                                            ("4kib", "4096 bytes"), ("1M", "1048576 bytes")])
def test_sizes_take_binary_units(tmp_path: Path, value: str, expected: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text("z" * 2_000_000, encoding="utf-8")
    res = run("clean", str(path), "-o", "-", "-q", "--max-line-bytes", value)
    exited(res, 1)
    assert f"--max-line-bytes ({expected})" in res.stderr


@pytest.mark.parametrize("value", ["0", "-1", "lots", "1.5M"])
def test_a_bad_size_is_a_usage_error(tmp_path: Path, value: str) -> None:
    (tmp_path / "a.txt").write_text(f"{S[0]}\n", encoding="utf-8")
    res = run("clean", str(tmp_path / "a.txt"), "-o", "-", "--max-doc-bytes", value)
    assert res.exit_code == 2 and "is not a size in bytes" in res.output


def test_limits_are_checked_in_the_library() -> None:
    with pytest.raises(ConfigError, match="line_bytes = 0 is out of range"):
        Limits(line_bytes=0)


def test_explain_takes_the_limits(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(f"{S[0]}\n{LONG}\n", encoding="utf-8")
    res = run("explain", str(path), "--max-line-bytes", "1K")
    exited(res, 1)
    assert f"error: {path}: line 2 is longer than --max-line-bytes (1024 bytes)" in res.stderr


# --- under the limits, the limits change nothing -------------------------------------------

LINE = st.one_of(st.sampled_from([*S, "We use cookies. Accept all", "", "Key quotes"]),
                 st.text(max_size=80).map(
                     lambda s: s.replace("\r", " ").replace("\n", " ").replace("\x00", " ")))
DOCS = st.lists(st.lists(LINE, max_size=12).map("\n".join), min_size=1, max_size=4)


@given(DOCS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_under_the_limits_the_output_is_the_same(docs: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "in"
        src.mkdir()
        for i, text in enumerate(docs):
            (src / f"{i}.txt").write_text(text, encoding="utf-8", errors="surrogatepass")
        (src / "all.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in docs),
                                       encoding="utf-8")
        sizes = [len(t.encode("utf-8", "surrogatepass")) for t in docs]
        longest = max(len(line.encode("utf-8", "surrogatepass"))
                      for t in docs for line in t.split("\n"))
        record = max(len(line) for line in (src / "all.jsonl").read_bytes().splitlines())
        tight = Limits(line_bytes=max(longest, 1), doc_bytes=max(*sizes, record, 1))
        outputs = []
        for limits in (None, tight):
            out = root / f"out-{limits is None}"
            report = run_clean([str(src)], str(out), limits=limits)
            assert report.ok, report.failures
            outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
        assert outputs[0] == outputs[1]


# --- a long line through the stages: the same values in bounded pieces -------------------------

def test_long_lines_are_hashed_and_signed_in_pieces_with_the_same_values(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from dedup import shingle, signature
    from dedup.boilerplate import features
    from dedup.normalize import tokens

    rng = random.Random(7)
    toks = ["".join(rng.choices("abcé漢", k=rng.choice([1, 2, 6, 40, 300]))) for _ in range(400)]
    batch = [toks, toks[:2], [], toks[::-1]]
    text = " ".join(toks)
    hashes, offsets = shingle.shingle_batch(batch, 2, 1)
    sigs = signature.signatures(hashes, offsets, 16, 1)
    words, lengths = np.array([len(toks)]), np.array([len(t) for t in toks])
    bag = features._bag_of_words(shingle.token_hashes(toks), words, toks, lengths)
    monkeypatch.setattr(shingle, "HASH_CHUNK", 50)  # many chunks, and tokens longer than one
    monkeypatch.setattr(shingle, "_SLICE_COPY", 10)
    monkeypatch.setattr(signature, "_CELLS", 48)
    monkeypatch.setattr(features, "_SHARED_PREFIXES", 0)
    got, got_offsets = shingle.shingle_batch(batch, 2, 1)
    assert (got == hashes).all() and (got_offsets == offsets).all()
    assert (signature.signatures(got, got_offsets, 16, 1) == sigs).all()
    got_bag = features._bag_of_words(shingle.token_hashes(toks), words, toks, lengths)
    assert all((a == b).all() and a.dtype == b.dtype for a, b in zip(bag, got_bag, strict=True))
    short = tokens(text)
    monkeypatch.setattr("dedup.normalize.LONG_LINE", 10)
    assert tokens(text) == short

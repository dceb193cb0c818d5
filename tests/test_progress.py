"""The progress bar of ``dedup clean`` and its closing line.

The bar is driven by the bytes of the inputs read (told as their documents are written), so one
big file shows progress; it shows documents, bytes, the rate and the time left, only on a
terminal; the closing line has the rate and the top removal reasons. The terminal cases run
``dedup clean`` in a child process on a real pseudo-terminal.
"""

from __future__ import annotations

import gzip
import importlib
import io
import json
import os
import random
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner

import dedup
from dedup.batch import RunReport, run_clean
from dedup.cli import main
from dedup.config import BoilerplateConfig, Config
from dedup.io import readers
from dedup.parallel import LocalExecutor, Part
from dedup.pipeline import CleanResult

from .conftest import generated_jsonl

pty = pytest.importorskip("pty")  # the terminal tests need a POSIX pseudo-terminal

_WORDS = ("harbour", "bridge", "council", "river", "market", "school", "train", "museum",
          "garden", "library", "festival", "street", "winter", "summer", "morning", "evening",
          "report", "budget", "vote", "plan", "road", "park")
_COOKIE = "We use cookies to improve your experience. Accept all cookies"
_FRAME = re.compile(r"cleaning +(\d+)%\|[^|]*\| ([\d.]+[kMG]?)B/([\d.]+[kMG]?)B, ([\d,]+) docs "
                    r"\[\d\d:\d\d<(\d\d:\d\d|\?), ([\d.]+[kMG]?B/s|\?B/s)\]")


def _library() -> Any:
    """``dedup.progress`` (imported here, so each test of it fails alone where it is missing)."""
    return importlib.import_module("dedup.progress")


def _cli() -> Any:
    """``dedup.cli.progress``."""
    return importlib.import_module("dedup.cli.progress")


def _bytes(shown: str) -> float:
    """A size as tqdm shows it (``1.23M``, ``987k``, ``12.0``) in bytes."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(shown[-1:], 1.0)
    return float(shown.rstrip("kMG")) * scale


def _pages(n: int, seed: int = 3) -> list[dict[str, str]]:
    """``n`` pages of distinct sentences, some with a cookie banner, every fifth repeating the
    page before it (exact duplicate lines across documents)."""
    rnd = random.Random(seed)
    pages: list[dict[str, str]] = []
    for i in range(n):
        if i % 5 == 4:
            text = pages[-1]["text"]
        else:
            lines = [" ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(8, 16))).capitalize()
                     + "." for _ in range(6)]
            if i % 3 == 0:
                lines.append(_COOKIE)
            text = "\n".join(lines)
        pages.append({"id": f"doc-{i:04d}", "text": text})
    return pages


def _jsonl(path: Path, pages: list[dict[str, str]]) -> Path:
    path.write_bytes("".join(json.dumps(p) + "\n" for p in pages).encode("utf-8"))
    return path


class Recorder:
    """A fake progress: what the run told it, and how many documents were written by then."""

    def __init__(self) -> None:
        self.starts: list[tuple[int | None, int]] = []
        self.reads: list[int] = []
        self.docs_at_read: list[int] = []
        self.docs = 0

    def start(self, total: int | None, done: int) -> None:
        self.starts.append((total, done))

    def read(self, nbytes: int) -> None:
        self.reads.append(nbytes)
        self.docs_at_read.append(self.docs)

    def documents(self, results: Iterator[CleanResult | Part], _: int
                  ) -> Iterator[CleanResult | Part]:
        for result in results:  # (a parallel run of JSONL inputs hands over parts)
            self.docs += result.documents if isinstance(result, Part) else 1
            yield result


def _run(inputs: list[Path], out: Path, config: Config | None = None,
         **options: Any) -> tuple[Recorder, RunReport]:
    rec = Recorder()
    report = run_clean([str(p) for p in inputs], str(out), config or Config(),
                       progress=rec.documents, read_progress=rec, **options)
    return rec, report


def _told_in_full(rec: Recorder, total: int) -> None:
    """Reading started once with ``total`` bytes, every count was positive (the cumulative
    count only grows) and the counts add up to ``total``."""
    assert rec.starts == [(total, 0)]
    assert rec.reads and all(n > 0 for n in rec.reads)
    assert sum(rec.reads) == total


# --- the byte-driven progress source -----------------------------------------------------------

def test_one_big_jsonl_file_moves_the_progress_while_its_documents_are_cleaned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_library(), "READ_CHUNK", 4096)  # many chunks in a small file
    big = _jsonl(tmp_path / "big.jsonl", _pages(300))
    rec, report = _run([big], tmp_path / "out.jsonl")
    _told_in_full(rec, big.stat().st_size)
    assert report.input_bytes == big.stat().st_size
    # told as the documents are written, not all at once when the file has been read ahead
    assert len(rec.reads) >= 10
    assert len(set(rec.docs_at_read)) >= 10
    assert min(rec.docs_at_read) < 100 and max(rec.docs_at_read) >= 290
    assert rec.docs == 300


def test_parallel_run_tells_every_byte_once(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_library(), "READ_CHUNK", 4096)
    # read in blocks of lines (see dedup.io.readers.read_blocks): many blocks in a small file
    monkeypatch.setattr(LocalExecutor, "block_bytes", 8192)
    big = _jsonl(tmp_path / "big.jsonl", _pages(300))
    rec, report = _run([big], tmp_path / "out.jsonl", jobs=2)
    _told_in_full(rec, big.stat().st_size)
    assert len(set(rec.docs_at_read)) >= 5
    assert report.input_bytes == big.stat().st_size


def test_dask_engine_tells_every_byte_once(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    src = generated_jsonl(tmp_path / "in", 2, 40)
    total = sum(p.stat().st_size for p in src.iterdir())
    rec, report = _run([src], tmp_path / "out", engine="dask", jobs=2)
    _told_in_full(rec, total)
    assert rec.docs == 80 and report.input_bytes == total


def test_compressed_inputs_count_compressed_bytes(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    pages = _pages(120)
    plain = _jsonl(src / "a.jsonl", pages[:40])
    raw = "".join(json.dumps(p) + "\n" for p in pages[40:80]).encode("utf-8")
    gz = src / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(raw))
    zst = src / "c.jsonl.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(
        "".join(json.dumps(p) + "\n" for p in pages[80:]).encode("utf-8")))
    (src / "d.txt").write_text(pages[0]["text"], encoding="utf-8")
    sizes = [p.stat().st_size for p in (plain, gz, zst, src / "d.txt")]
    assert gz.stat().st_size < len(raw)  # so counting decompressed bytes would show
    rec, report = _run([src], tmp_path / "out")
    _told_in_full(rec, sum(sizes))
    assert report.input_bytes == sum(sizes)


def test_parquet_rows_count_their_share_of_the_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 10)
    path = tmp_path / "pages.parquet"
    pq.write_table(pa.Table.from_pylist(_pages(60)), path)
    rec, _ = _run([path], tmp_path / "out.parquet")
    _told_in_full(rec, path.stat().st_size)
    assert len(rec.reads) >= 5  # one share per batch of rows


def test_a_second_pass_is_not_counted_twice(tmp_path: Path) -> None:
    """``repetition = 'full'`` reads the inputs twice: the bar follows the cleaning pass."""
    src = generated_jsonl(tmp_path / "in", 2, 30)
    total = sum(p.stat().st_size for p in src.iterdir())
    cfg = Config(boilerplate=BoilerplateConfig(repetition="full"))
    rec, report = _run([src], tmp_path / "out", cfg)
    _told_in_full(rec, total)
    assert report.input_bytes == total


def test_stdin_has_no_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = "\n".join(p["text"] for p in _pages(20)).encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    rec = Recorder()
    report = run_clean(["-"], str(tmp_path / "out.txt"), Config(), read_progress=rec)
    assert rec.starts == [(None, 0)]
    assert sum(rec.reads) == len(data) == report.input_bytes


class Stop(Exception):
    """Stands for Ctrl-C in the middle of a run."""


def test_resume_counts_the_finished_inputs_as_done(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "in", 6, 25)
    files = sorted(src.iterdir())
    total = sum(p.stat().st_size for p in files)

    def stop_after(results: Iterator[CleanResult], _: int) -> Iterator[CleanResult]:
        for i, result in enumerate(results):
            if i == 90:
                raise Stop
            yield result

    out = tmp_path / "out"
    with pytest.raises(Stop):
        run_clean([str(src)], str(out), Config(), checkpoint_seconds=0, progress=stop_after)
    rec, report = _run([src], out, resume=True)
    assert len(rec.starts) == 1 and rec.starts[0][0] == total
    done = rec.starts[0][1]
    # the inputs before the checkpoint, whole: the first k files, 0 < k < 6
    prefixes = [sum(p.stat().st_size for p in files[:k]) for k in range(1, 6)]
    assert done in prefixes
    assert sum(rec.reads) == total - done == report.input_bytes


def test_counted_reader_reports_chunks_not_lines() -> None:
    seen: list[int] = []
    data = b"".join(b"line %d\n" % i for i in range(20000))
    fh = _library().counted(io.BytesIO(data), seen.append)
    lines = sum(1 for _ in iter(fh.readline, b""))
    assert lines == 20000
    assert sum(seen) == len(data)
    assert len(seen) == -(-len(data) // _library().READ_CHUNK)  # one call per chunk


# --- the bar itself, drawn into a buffer -------------------------------------------------------

def test_bar_shows_documents_bytes_rate_and_time_left(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "in", 3, 20)
    screen = io.StringIO()
    bar = _cli().ProgressBar(screen, enabled=True, refresh=0)
    try:
        run_clean([str(src)], str(tmp_path / "out"), Config(), progress=bar.documents,
                  read_progress=bar)
    finally:
        bar.close()
    frames = [m for m in _FRAME.finditer(screen.getvalue())]
    assert frames, screen.getvalue()
    last = frames[-1]
    assert last.group(1) == "100" and last.group(2) == last.group(3)
    assert last.group(4) == "60"
    assert any(m.group(5) != "?" and m.group(6) != "?B/s" for m in frames)  # time left, rate
    assert screen.getvalue().endswith("\r")  # the bar is cleared at the end


def test_disabled_bar_draws_nothing_and_output_is_unchanged(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "in", 3, 20)
    outputs = []
    for enabled in (True, False, None):
        screen = io.StringIO()
        out, removed = tmp_path / f"out-{enabled}", tmp_path / f"removed-{enabled}.jsonl"
        if enabled is None:  # no progress machinery at all
            run_clean([str(src)], str(out), Config(), removed=str(removed))
        else:
            bar = _cli().ProgressBar(screen, enabled=enabled, refresh=0)
            run_clean([str(src)], str(out), Config(), removed=str(removed),
                      progress=bar.documents, read_progress=bar)
            bar.close()
            assert bool(screen.getvalue()) == enabled
        outputs.append(({p.name: p.read_bytes() for p in sorted(out.iterdir())},
                        removed.read_bytes()))
    assert outputs[0] == outputs[1] == outputs[2]


# --- the closing line --------------------------------------------------------------------------

def test_closing_line_golden() -> None:
    report = RunReport({"documents": 5000, "lines_in": 182344, "lines_out": 120001,
                        "removed": {"boilerplate:nav": 9876, "duplicate:exact": 40211,
                                    "duplicate:near": 4100, "blank": 7, "boilerplate:cookie": 7,
                                    "boilerplate:ads": 12, "boilerplate:footer": 3,
                                    "duplicate:cross-doc": 1}},
                       seconds=4.1, input_bytes=12_300_000)
    assert _cli().closing_line(report) == (
        "dedup: 5,000 documents, 12.3 MB in 4.1 s (3.0 MB/s); 182,344 lines in, 120,001 kept; "
        "removed: duplicate:exact 40,211, boilerplate:nav 9,876, duplicate:near 4,100 "
        "(+5 more reasons)")


def test_closing_line_ties_by_name_singular_and_failures() -> None:
    report = RunReport({"documents": 2, "lines_in": 9, "lines_out": 9, "removed": {}},
                       failures=["a.jsonl:3: not valid JSON"], seconds=0.5, input_bytes=2048,
                       skipped=["x", "y"])
    assert _cli().closing_line(report) == (
        "dedup: 2 documents, 2.0 kB in 0.50 s (0.00 MB/s); 9 lines in, 9 kept; 2 skipped; "
        "1 failed")
    assert _cli().top_reasons({"b": 2, "a": 2, "c": 2, "d": 1}) == \
        "a 2, b 2, c 2 (+1 more reason)"


def _planted(tmp_path: Path) -> Path:
    return _jsonl(tmp_path / "pages.jsonl", _pages(40))


def test_cli_closing_line_has_rate_and_top_reasons(tmp_path: Path) -> None:
    src = _planted(tmp_path)
    report = tmp_path / "report.json"
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out.jsonl"),
                                    "--report", str(report)])
    assert res.exit_code == 0, res.output
    line = res.stderr.strip()
    removed = json.loads(report.read_text())["removed"]
    ranked = sorted(removed.items(), key=lambda rn: (-rn[1], rn[0]))
    size = src.stat().st_size
    m = re.fullmatch(r"dedup: 40 documents, ([\d.]+) kB in ([\d.]+) s \(([\d.]+) MB/s\); "
                     r"([\d,]+) lines in, ([\d,]+) kept; removed: (.*)", line)
    assert m, line
    assert m.group(1) == f"{size / 1000:.1f}"
    expected = ", ".join(f"{r} {n:,}" for r, n in ranked[:3])
    if len(ranked) > 3:
        expected += f" (+{len(ranked) - 3} more reason{'s' if len(ranked) > 4 else ''})"
    assert m.group(6) == expected
    assert "boilerplate:cookie" in removed and "duplicate:cross-doc" in removed


def test_cli_not_a_terminal_has_no_bar_and_quiet_has_nothing(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "in", 3, 10)
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "\r" not in res.stderr and "cleaning" not in res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("dedup: 30 documents")
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out2"), "-q"])
    assert res.exit_code == 0 and res.stderr == ""


# --- on a real terminal ------------------------------------------------------------------------

def _on_terminal(args: list[str], stdout_too: bool = False) -> str:
    """What ``dedup clean ARGS`` writes to a terminal of 120 columns as its stderr (and
    stdout, with ``stdout_too``)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(Path(dedup.__file__).resolve().parents[1]))
    child = subprocess.Popen([sys.executable, "-m", "dedup", "clean", *args], stderr=slave,
                             stdout=slave if stdout_too else subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                break
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            seen += data
    finally:
        os.close(master)
        child.wait(timeout=120)
    assert child.returncode == 0, seen
    return seen.decode("utf-8")


def test_terminal_shows_progress_for_one_big_file(tmp_path: Path) -> None:
    big = _jsonl(tmp_path / "big.jsonl", _pages(1500))
    out = tmp_path / "out.jsonl"
    screen = _on_terminal([str(big), "-o", str(out)])
    frames = list(_FRAME.finditer(screen))
    assert frames, screen
    assert _bytes(frames[-1].group(3)) == pytest.approx(big.stat().st_size, rel=0.01)
    assert len({m.group(1) for m in frames}) >= 3  # it moved: 0%, some way, 100%
    assert screen.rstrip().splitlines()[-1].startswith("dedup: 1,500 documents")
    quiet = tmp_path / "quiet.jsonl"
    assert CliRunner().invoke(main, ["clean", str(big), "-o", str(quiet), "-q"]).exit_code == 0
    assert out.read_bytes() == quiet.read_bytes()  # the bar changes no output byte


def test_terminal_bar_for_several_files_has_count_rate_and_time_left(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "in", 4, 15)
    screen = _on_terminal([str(src), "-o", str(tmp_path / "out")])
    frames = list(_FRAME.finditer(screen))
    assert frames, screen
    assert int(frames[-1].group(4).replace(",", "")) > 0
    assert any(m.group(5) != "?" and "?" not in m.group(6) for m in frames), screen


def test_terminal_bar_stays_off_stdout(tmp_path: Path) -> None:
    """``-o -`` on the terminal: no bar to mix with the text; stdout holds only the text."""
    src = generated_jsonl(tmp_path / "in", 2, 10)
    screen = _on_terminal([str(src), "-o", "-"], stdout_too=True)
    assert "cleaning" not in screen and "docs [" not in screen
    assert "dedup: 20 documents" in screen

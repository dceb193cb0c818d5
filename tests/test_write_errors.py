"""Write errors: a full disk, a quota, a read-only file system, permissions, an I/O error or a
file size limit stop the run with one message naming the file (exit 1, no traceback), no
temporary file left and no output published: the outputs, ``--removed`` and ``--report`` appear
together or not at all, and an older file at an output path stays as it was."""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner, Result

from dedup.cli import main

WORDS = ["harbour", "bridge", "council", "budget", "debate", "evening", "opposition", "members",
         "cost", "plan", "construction", "spring", "fishermen", "pillars", "currents", "hearing",
         "report", "engineers", "tunnel", "deck", "model", "university", "second", "week",
         "june", "public", "environmental", "scheduled", "expected"]


def _line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "."


def _inputs(root: Path) -> Path:
    """Text, JSONL.gz, JSONL.zst and Parquet inputs with duplicates (so --removed has lines)."""
    rng = random.Random(7)
    src = root / "in"
    src.mkdir(parents=True)
    shared = [_line(rng) for _ in range(5)]
    for n in range(4):
        lines = [_line(rng) for _ in range(30)] + shared
        (src / f"t{n}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = [{"id": n, "text": "\n".join([_line(rng) for _ in range(8)] + shared)}
               for n in range(20)]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    (src / "r.jsonl.gz").write_bytes(gzip.compress(body, mtime=0))
    (src / "r2.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.Table.from_pylist(records), src / "p.parquet")
    return src


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


class _Disk:
    """A disk with ``free`` bytes left: a write beyond them raises ``OSError(err)``."""

    def __init__(self, free: int, err: int) -> None:
        self.free = free
        self.err = err
        self.used = 0


def _fdopen_on(disk: _Disk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file the writers create (``os.fdopen`` of a temporary file) writes to ``disk``."""
    real = os.fdopen

    class Raw(io.FileIO):
        def write(self, data: Any) -> int:
            n = memoryview(data).nbytes
            if n > disk.free:
                raise OSError(disk.err, os.strerror(disk.err))
            disk.free -= n
            disk.used += n
            return super().write(data)

    def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            return io.BufferedWriter(Raw(fd, "wb"))
        return real(fd, mode, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)


def _clean(src: Path, out: Path, tmp: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["clean", str(src), "-o", str(out), "-q",
                                     "--removed", str(tmp / "removed.jsonl"),
                                     "--report", str(tmp / "report.json"), *extra])


def _bytes_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    """Bytes the run writes through its writers, on a disk with room to spare."""
    src = _inputs(tmp_path / "probe")
    disk = _Disk(1 << 40, errno.ENOSPC)
    with monkeypatch.context() as m:
        _fdopen_on(disk, m)
        res = _clean(src, tmp_path / "probe" / "out", tmp_path / "probe", *extra)
    assert res.exit_code == 0, res.output
    return disk.used


def _no_tmp(root: Path) -> list[str]:
    return [p.as_posix() for p in root.rglob("*.tmp")]


@pytest.mark.parametrize("shards", [False, True])
def test_a_full_disk_at_any_point_publishes_nothing(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    shards: bool) -> None:
    extra = ("--shard-docs", "10", "--shard-format", ".jsonl.zst") if shards else ()
    total = _bytes_written(tmp_path, monkeypatch, *extra)
    src = _inputs(tmp_path)
    before = _tree(src)
    # 0: the first output; total - 500: inside the report (about 2.5 KB; its paths and
    # timings make its length vary by a few bytes), after every output and --removed
    for free in sorted({0, total // 4, total // 2, 3 * total // 4, total - 500}):
        out = tmp_path / f"out{free}"
        disk = _Disk(free, errno.ENOSPC)
        with monkeypatch.context() as m:
            _fdopen_on(disk, m)
            res = _clean(src, out, tmp_path, *extra)
        assert res.exit_code == 1, (free, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert "Traceback" not in res.output
        assert "cannot write (No space left on device)" in res.output, res.output
        assert "hint: the disk is full" in res.output
        assert [p for p in _tree(out) if not p.startswith(".")] == [], free  # none published
        assert not (tmp_path / "removed.jsonl").exists()
        assert not (tmp_path / "report.json").exists()
        # A resumable run keeps its state and the finished outputs its last checkpoint names
        # (for --resume to publish); no other temporary file stays.
        ckpt = out / ".dedup-run" / "checkpoint.json"
        named = ckpt.read_text(encoding="utf-8") if ckpt.exists() else ""
        assert [t for t in _no_tmp(out) if Path(t).name not in named] == [], free
        assert list(tmp_path.glob("*.tmp")) == [] and _no_tmp(src) == []
        assert _tree(src) == before


def test_a_full_disk_in_an_all_or_nothing_run_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--strict (not resumable): no output, no state, no temporary file, whenever it fails."""
    total = _bytes_written(tmp_path, monkeypatch, "--strict")
    src = _inputs(tmp_path)
    for free in sorted({0, total // 3, 2 * total // 3, total - 500}):
        out = tmp_path / f"out{free}"
        with monkeypatch.context() as m:
            _fdopen_on(_Disk(free, errno.ENOSPC), m)
            res = _clean(src, out, tmp_path, "--strict")
        assert res.exit_code == 1, (free, res.output)
        assert "cannot write (No space left on device)" in res.output, res.output
        assert _tree(out) == {}, (free, sorted(_tree(out)))
        assert not (tmp_path / "removed.jsonl").exists()
        assert not (tmp_path / "report.json").exists()
        assert _no_tmp(tmp_path) == []


@pytest.mark.parametrize(("err", "hint"), [
    (errno.ENOSPC, "the disk is full"),
    (errno.EDQUOT, "quota"),
    (errno.EROFS, "read-only"),
    (errno.EACCES, "permission"),
    (errno.EIO, "I/O error"),
    (errno.EFBIG, "ulimit -f"),
])
def test_every_write_error_is_a_message_and_older_outputs_stay(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int, hint: str) -> None:
    src = tmp_path / "a.txt"
    src.write_text("A line of text that is long enough to be written.\n" * 3, encoding="utf-8")
    out = tmp_path / "out.txt"
    out.write_text("an older output\n", encoding="utf-8")
    (tmp_path / "report.json").write_text("{}\n", encoding="utf-8")
    before = _tree(tmp_path)
    for free in (0, 60):  # the output itself; the --removed file after it
        with monkeypatch.context() as m:
            _fdopen_on(_Disk(free, err), m)
            res = _clean(src, out, tmp_path)
        assert res.exit_code == 1, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        assert f"cannot write ({os.strerror(err)})" in res.output
        assert hint in res.output
        assert _tree(tmp_path) == before
        assert _no_tmp(tmp_path) == []


def test_a_failed_rename_names_what_was_already_published(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Renames rarely fail (all bytes are written first); when one does, the message says so."""
    src = _inputs(tmp_path)
    real = os.replace
    calls = []

    def replace(a: Any, b: Any) -> None:
        if Path(b).parent == tmp_path / "out":  # the outputs' renames, not the state's
            calls.append(b)
            if len(calls) == 2:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(a, b)

    monkeypatch.setattr(os, "replace", replace)
    res = _clean(src, tmp_path / "out", tmp_path, "--strict")
    assert res.exit_code == 1, res.output
    assert "cannot publish the output (Input/output error)" in res.output
    assert "1 output(s) were already renamed into place" in res.output
    assert _no_tmp(tmp_path) == []


def _limit(size: int) -> Any:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return preexec


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_a_file_size_limit_end_to_end(tmp_path: Path) -> None:
    """A real write error in a real process: ``ulimit -f`` (RLIMIT_FSIZE) makes a write fail
    with EFBIG, as a full disk fails with ENOSPC."""
    rng = random.Random(3)
    src = tmp_path / "in"
    src.mkdir()
    for n in range(3):
        (src / f"t{n}.txt").write_text("\n".join(_line(rng) for _ in range(2000)) + "\n",
                                       encoding="utf-8")
    old = tmp_path / "out" / "t0.txt"
    old.parent.mkdir()
    old.write_text("an older output\n", encoding="utf-8")
    before = _tree(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "clean", str(src), "-o", str(tmp_path / "out"),
         "--removed", str(tmp_path / "removed.jsonl"), "--report", str(tmp_path / "r.json"),
         "--no-cross-doc", "-q"],
        capture_output=True, text=True, timeout=300, preexec_fn=_limit(64 * 1024))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "cannot write (File too large)" in proc.stderr, proc.stderr
    assert "ulimit -f" in proc.stderr
    after = {k: v for k, v in _tree(tmp_path).items() if not k.startswith("out/.dedup-run/")}
    assert after == before  # inputs, the older output: as they were; nothing new
    assert _no_tmp(tmp_path) == []


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("limit", [20_000, 400_000])
def test_a_file_size_limit_on_the_index(tmp_path: Path, limit: int) -> None:
    """The index's row store grows during the run (20 KB: fails there, then again when it is
    closed) or is saved at its end (400 KB: the arrays fail): one message, no output, no
    temporary file."""
    rng = random.Random(4)
    src = tmp_path / "a.txt"
    src.write_text("\n".join(_line(rng) for _ in range(8000)) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "clean", str(src), "-o", str(tmp_path / "out.txt"),
         "--index", str(tmp_path / "idx"), "--no-boilerplate", "-q"],
        capture_output=True, text=True, timeout=300, preexec_fn=_limit(limit))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{tmp_path / 'idx'}" in proc.stderr and "(File too large)" in proc.stderr
    assert not (tmp_path / "out.txt").exists()
    assert not (tmp_path / "idx" / "meta.json").exists()
    assert [p.name for p in tmp_path.rglob(".*.tmp")] == []


def test_a_failed_run_leaves_no_empty_directories(tmp_path: Path) -> None:
    """The directories a run made for its outputs go with them when it fails."""
    src = tmp_path / "src"
    (src / "a" / "deep").mkdir(parents=True)
    (src / "b").mkdir()
    (src / "a" / "deep" / "x.txt").write_text("A line of text that is kept.\n", encoding="utf-8")
    (src / "b" / "y.jsonl").write_text('{"text": "fine"}\n{not json\n', encoding="utf-8")
    (tmp_path / "keep").mkdir()
    out = tmp_path / "keep" / "out"
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(out), "--strict", "-q"])
    assert res.exit_code == 1 and "not valid JSON" in res.output
    assert not out.exists()  # out/a/deep, out/a and out itself were made by the run
    assert (tmp_path / "keep").is_dir()  # not the run's: stays

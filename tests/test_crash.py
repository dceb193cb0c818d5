"""Crash consistency: a real ``dedup`` process killed (SIGKILL) at chosen points of the commit
protocol and at random moments, then resumed or re-run, gives the bytes of an uninterrupted run;
locks refuse a second run; damaged state is refused with a message, never trusted or a
traceback."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dedup.cli import main
from dedup.commit import CRASH_ENV, DirLock
from dedup.config import Config
from dedup.index import CorpusIndex
from dedup.resume import STATE

from .conftest import generated_jsonl

FILES, PER_FILE = 6, 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JSONL files of generated pages (articles shared across files)."""
    return generated_jsonl(tmp_path_factory.mktemp("crash") / "in", FILES, PER_FILE)


def _args(src: Path, root: Path, *extra: str) -> list[str]:
    return ["clean", str(src), "-o", str(root / "out"), "--index", str(root / "ix"),
            "--removed", str(root / "removed.jsonl"), "--report", str(root / "report.json"),
            "--checkpoint-seconds", "0", "-q", "--no-boilerplate", *extra]


def _dedup(args: list[str], crash: str | None = None) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash:
        env[CRASH_ENV] = crash
    return subprocess.Popen([sys.executable, "-m", "dedup", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(args: list[str], crash: str | None = None) -> tuple[int, str]:
    proc = _dedup(args, crash)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err.decode()


def _result(root: Path) -> dict[str, object]:
    """What a user gets: the outputs, the removed lines, the index's contents (the arrays,
    not the zip container, whose timestamps differ), and no temporary file anywhere."""
    out = {p.relative_to(root).as_posix(): p.read_bytes()
           for p in sorted((root / "out").rglob("*")) if p.is_file()}
    out["removed"] = (root / "removed.jsonl").read_bytes()
    manifest = json.loads((root / "ix" / "manifest.json").read_text())
    out["index"] = {k: manifest[k] for k in ("documents", "paragraphs", "runs", "spec")}
    with np.load(root / "ix" / manifest["files"]["keys"]["name"]) as z:
        out["arrays"] = {k: z[k].tobytes() for k in z.files}
    for name in ("rows.u32", "docids.txt"):
        out[name] = (root / "ix" / name).read_bytes()
    report = json.loads((root / "report.json").read_text().replace(str(root), "ROOT"))
    out["report"] = {k: v for k, v in report.items()
                     if k not in ("seconds", "stage_seconds", "cpu_seconds",
                                   "decision_rounds", "peak_rss_mb")}
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".tmp") or p.name == STATE]
    assert not leftovers, leftovers
    return out


@pytest.fixture(scope="module")
def whole(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("whole")
    code, err = _run(_args(corpus, root))
    assert code == 0, err
    return _result(root)


# Points of the protocol, each with the pass at which to die: inside an index snapshot, between
# the snapshot and checkpoint.json (the window of the old wrong-output bug), between a
# manifest's write and its rename, after the rename, after the last checkpoint, after the index
# commit, while publishing, and after the run's state was removed (before it exited).
CRASHES = ["checkpoint:index-written:3", "checkpoint:files-written:2",
           "commit:manifest-written:4", "commit:renamed:3", "commit:file-written:5",
           "run:finishing-committed", "index:keys-written", "run:index-saved",
           "commit:manifest-written:7", "publish:output:2", "run:finished"]


@pytest.mark.parametrize("point", CRASHES)
def test_a_kill_at_any_point_then_resume_gives_the_uninterrupted_result(
        corpus: Path, whole: dict[str, object], tmp_path: Path, point: str) -> None:
    code, err = _run(_args(corpus, tmp_path), crash=point)
    assert code == -signal.SIGKILL, f"the crash point {point} was not reached: {err}"
    if not point.startswith(("publish:", "run:finished")):  # some or all are in place
        assert not [p for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")], \
            "a killed run published outputs"
    code, err = _run(_args(corpus, tmp_path, "--resume"))
    assert code == 0, err
    assert _result(tmp_path) == whole


def test_kills_at_random_moments_then_resume(corpus: Path, whole: dict[str, object],
                                            tmp_path: Path) -> None:
    rng = random.Random(16)
    # how long an uninterrupted run takes here, so the kills fall inside it
    t0 = time.monotonic()
    code, err = _run(_args(corpus, tmp_path / "timing"))
    assert code == 0, err
    span = time.monotonic() - t0
    for attempt in range(4):
        root = tmp_path / f"r{attempt}"
        proc = _dedup(_args(corpus, root))
        time.sleep(rng.uniform(0.3, 0.9) * span)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if proc.returncode == 0:  # it finished first (the machine was quick): nothing to resume
            assert _result(root) == whole
            continue
        for _ in range(3):  # a resume may be killed too: resume again until it finishes
            code, err = _run(_args(corpus, root, "--resume"))
            if code == 0:
                break
        assert code == 0, err
        assert _result(root) == whole


def test_a_new_run_after_a_kill_discards_the_old_state(corpus: Path, whole: dict[str, object],
                                                      tmp_path: Path) -> None:
    code, _ = _run(_args(corpus, tmp_path), crash="run:checkpoint:4")
    assert code == -signal.SIGKILL
    assert list((tmp_path / "out").glob(".*.tmp"))  # finished outputs wait for --resume
    # without --resume: the killed run's state, index records and outputs are forgotten
    code, err = _run(_args(corpus, tmp_path))
    assert code == 0, err
    assert _result(tmp_path) == whole


def test_sharded_run_leftovers_are_removed_by_the_next_run(corpus: Path, tmp_path: Path) -> None:
    args = ["clean", str(corpus), "-o", str(tmp_path / "out"), "--shard-docs", "30", "-q",
            "--no-boilerplate"]
    (tmp_path / "out").mkdir()  # what a killed sharded run leaves
    (tmp_path / "out" / ".part-00000.jsonl.zst.abcdefgh.dedup.tmp").write_bytes(b"half")
    code, err = _run(args)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"part-0000{i}.jsonl.zst" for i in range(4)]


def test_a_second_run_on_the_same_index_or_output_is_refused(corpus: Path,
                                                             tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "ix").mkdir()
    held = DirLock(tmp_path / "ix", "the corpus index")
    res = runner.invoke(main, _args(corpus, tmp_path))
    held.release()
    assert res.exit_code == 1 and "another dedup run is using this directory as the corpus " \
        "index" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    (tmp_path / "out").mkdir(exist_ok=True)
    held = DirLock(tmp_path / "out", "the output directory")
    res = runner.invoke(main, _args(corpus, tmp_path))
    held.release()
    assert res.exit_code == 1 and "as the output directory" in res.output
    res = runner.invoke(main, _args(corpus, tmp_path))
    assert res.exit_code == 0, res.output


def test_two_processes_on_one_index_one_wins_the_other_is_refused(corpus: Path,
                                                                  tmp_path: Path) -> None:
    a = _dedup(["clean", str(corpus), "-o", str(tmp_path / "a"), "--index",
                str(tmp_path / "ix"), "-q", "--no-boilerplate"])
    b = _dedup(["clean", str(corpus), "-o", str(tmp_path / "b"), "--index",
                str(tmp_path / "ix"), "-q", "--no-boilerplate"])
    errors = [p.communicate(timeout=300)[1].decode() for p in (a, b)]
    results = [(p.returncode, err) for p, err in zip((a, b), errors, strict=True)]
    codes = sorted(code for code, _ in results)
    if codes == [0, 0]:  # one finished before the other started: both ran, one after the other
        index = CorpusIndex(Config(), tmp_path / "ix")
        assert index.runs == 2 and index.documents == 2 * FILES * PER_FILE
        index.close()
        return
    assert codes == [0, 1]
    assert any("another dedup run" in err for _, err in results)
    index = CorpusIndex(Config(), tmp_path / "ix")
    assert index.runs == 1 and index.documents == FILES * PER_FILE
    index.close()


def _saved_index(corpus: Path, root: Path) -> Path:
    code, err = _run(["clean", str(corpus), "-o", str(root / "first"), "--index",
                      str(root / "ix"), "-q", "--no-boilerplate"])
    assert code == 0, err
    return root / "ix"


def _damage_rows_truncated(ix: Path) -> None:
    with open(ix / "rows.u32", "r+b") as fh:
        fh.truncate(1000)


def _damage_rows_flipped(ix: Path) -> None:
    data = bytearray((ix / "rows.u32").read_bytes())
    data[5000] ^= 0xFF
    (ix / "rows.u32").write_bytes(bytes(data))


def _damage_keys_truncated(ix: Path) -> None:
    keys = next(ix.glob("index-*.npz"))
    keys.write_bytes(keys.read_bytes()[:300])


def _damage_manifest_value(ix: Path) -> None:
    manifest = json.loads((ix / "manifest.json").read_text())
    manifest["files"]["rows.u32"]["size"] = "abc"
    (ix / "manifest.json").write_text(json.dumps(manifest))


def _damage_manifest_size(ix: Path) -> None:
    manifest = json.loads((ix / "manifest.json").read_text())
    manifest["files"]["docids.txt"]["size"] -= 10  # a smaller store than the arrays point into
    (ix / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "rows.u32 missing": (lambda ix: (ix / "rows.u32").unlink(), "is missing"),
    "docids.txt missing": (lambda ix: (ix / "docids.txt").unlink(), "is missing"),
    "rows.u32 truncated": (_damage_rows_truncated, "is truncated"),
    "rows.u32 changed": (_damage_rows_flipped, "is damaged"),
    "keys truncated": (_damage_keys_truncated, "has 300 bytes"),
    "keys missing": (lambda ix: next(ix.glob("index-*.npz")).unlink(), "is missing"),
    "manifest value": (_damage_manifest_value, "is damaged"),
    "manifest size": (_damage_manifest_size, "is damaged"),
    "manifest garbage": (lambda ix: (ix / "manifest.json").write_bytes(b"\x00\xff{"),
                         "is damaged"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_index_is_refused_with_a_way_out(corpus: Path, tmp_path: Path,
                                                   case: str) -> None:
    ix = _saved_index(corpus, tmp_path)
    damage, message = DAMAGE[case]
    damage(ix)
    before = {p.name: p.read_bytes() for p in ix.iterdir()}
    res = CliRunner().invoke(main, ["clean", str(corpus), "-o", str(tmp_path / "again"),
                                    "--index", str(ix), "-q", "--no-boilerplate"])
    assert res.exit_code == 1, res.output
    assert message in res.output and "hint:" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "again").exists() or not [
        p for p in (tmp_path / "again").iterdir() if not p.name.startswith(".")]
    assert {p.name: p.read_bytes() for p in ix.iterdir()} == before  # left as it was


def test_a_kill_between_the_keys_and_the_manifest_keeps_the_last_index(corpus: Path,
                                                                      tmp_path: Path) -> None:
    ix = _saved_index(corpus, tmp_path)
    before = json.loads((ix / "manifest.json").read_text())
    code, _ = _run(["clean", str(corpus), "-o", str(tmp_path / "second"), "--index", str(ix),
                    "-q", "--no-boilerplate"], crash="index:keys-written")
    assert code == -signal.SIGKILL
    index = CorpusIndex(Config(), ix)  # the last committed index, the stray generation gone
    assert index.runs == before["runs"] and index.documents == before["documents"]
    index.close()
    assert sorted(p.name for p in ix.iterdir()) == [
        "docids.txt", before["files"]["keys"]["name"], "manifest.json", "rows.u32"]


def test_resume_never_unpickles_and_refuses_changed_state(corpus: Path, tmp_path: Path) -> None:
    code, _ = _run(_args(corpus, tmp_path), crash="run:checkpoint:2")
    assert code == -signal.SIGKILL
    state = tmp_path / "out" / STATE
    planted = tmp_path / "owned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(planted),))

    (state / "stats.pkl").write_bytes(pickle.dumps(Exploit()))
    stats = next(state.glob("stats-*.json"))
    original = stats.read_bytes()
    stats.write_bytes(original.replace(b'"documents": ', b'"documents": 1'))
    res = CliRunner().invoke(main, _args(corpus, tmp_path, "--resume"))
    assert res.exit_code == 1 and "is damaged" in res.output and "hint:" in res.output
    stats.write_bytes(original)
    code, err = _run(_args(corpus, tmp_path, "--resume"))
    assert code == 0, err
    assert not planted.exists()


def test_a_finished_output_deleted_before_resume_is_reported(corpus: Path,
                                                            tmp_path: Path) -> None:
    code, _ = _run(_args(corpus, tmp_path), crash="run:checkpoint:3")
    assert code == -signal.SIGKILL
    manifest = json.loads((tmp_path / "out" / STATE / "checkpoint.json").read_text())
    Path(manifest["staged"][0][1]).unlink()
    res = CliRunner().invoke(main, _args(corpus, tmp_path, "--resume"))
    assert res.exit_code == 1 and "is missing" in res.output and "without --resume" in res.output


def test_resume_after_a_finished_run_with_an_index_does_nothing(
        corpus: Path, whole: dict[str, object], tmp_path: Path) -> None:
    """The run finished and saved its documents in the index: a --resume must not clean
    everything again against them (every paragraph a duplicate of itself). With its outputs in
    place it says so and succeeds; with one missing it is refused."""
    code, err = _run(_args(corpus, tmp_path))
    assert code == 0, err
    loud = [a for a in _args(corpus, tmp_path, "--resume") if a != "-q"]
    res = CliRunner().invoke(main, loud)
    assert res.exit_code == 0 and "had already finished" in res.output
    assert _result(tmp_path) == whole  # nothing was touched
    quiet = CliRunner().invoke(main, _args(corpus, tmp_path, "--resume"))
    assert quiet.exit_code == 0 and quiet.output == ""  # -q: nothing printed
    next(p for p in (tmp_path / "out").iterdir() if p.is_file()).unlink()
    res = CliRunner().invoke(main, _args(corpus, tmp_path, "--resume"))
    assert res.exit_code == 1 and "not all in place" in res.output and "hint:" in res.output

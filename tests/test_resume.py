"""Interrupted runs and --resume: complete outputs only, and the same result as one run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dedup.batch import run_clean
from dedup.cli import main
from dedup.config import Config
from dedup.errors import InputError
from dedup.io.readers import Limits
from dedup.parallel import Part
from dedup.pipeline import CleanResult
from dedup.resume import STATE

from .conftest import generated_jsonl


def _inputs(root: Path, files: int = 6, per_file: int = 25) -> Path:
    return generated_jsonl(root / "in", files, per_file)


class Stop(Exception):
    """Stands for Ctrl-C or a kill in the middle of a run."""


def _stop_after(n: int):  # type: ignore[no-untyped-def]
    """A progress hook that stops the run once ``n`` documents were handed to the writers
    (a parallel run of JSONL inputs hands them over as parts, many at once)."""
    def progress(results: Iterator[CleanResult | Part], _: int
                 ) -> Iterator[CleanResult | Part]:
        seen = 0
        for result in results:
            if seen >= n:
                raise Stop
            seen += result.documents if isinstance(result, Part) else 1
            yield result
    return progress


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("jobs", [1, 2])
def test_resume_gives_the_result_of_one_uninterrupted_run(tmp_path: Path, jobs: int) -> None:
    src = _inputs(tmp_path)
    cfg = Config()  # the learned classifier (150 documents give counts) and cross-doc dedup
    whole = tmp_path / "whole"
    first = run_clean([str(src)], str(whole), cfg,
                      removed=str(tmp_path / "whole.removed.jsonl"), jobs=jobs)
    out = tmp_path / "out"
    removed = str(tmp_path / "out.removed.jsonl")
    with pytest.raises(Stop):
        run_clean([str(src)], str(out), cfg, removed=removed, jobs=jobs, checkpoint_seconds=0,
                  progress=_stop_after(90))
    # Nothing is published by a run that stops: the outputs of the inputs finished before the
    # last checkpoint wait, complete, under the temporary names the checkpoint names.
    assert not [p for p in out.iterdir() if not p.name.startswith(".")]
    manifest = json.loads((out / STATE / "checkpoint.json").read_text())
    staged = {Path(target).name: Path(temp) for target, temp, _, _ in manifest["staged"]}
    assert 0 < len(staged) < 6
    assert sorted(p.name for p in out.glob(".*.tmp")) == sorted(p.name for p in staged.values())
    for name, temp in staged.items():
        assert temp.read_bytes() == (whole / name).read_bytes()
    report = run_clean([str(src)], str(out), cfg, removed=removed, jobs=jobs, resume=True,
                       checkpoint_seconds=0, report=str(tmp_path / "report.json"))
    assert _tree(out) == _tree(whole)  # and the state directory is gone
    assert Path(removed).read_bytes() == (tmp_path / "whole.removed.jsonl").read_bytes()
    assert report.stats["documents"] == 150
    # every count as one run's, also where a checkpoint fell inside a chunk whose statistics
    # a parallel run counted at once (chunks of 128 documents, inputs of 25)
    counts = ("documents", "lines_in", "lines_out", "bytes_in", "bytes_out", "removed",
              "documents_by_reason", "duplicate_documents", "emptied_by_boilerplate",
              "emptied_by_boilerplate_ids")
    assert {k: report.stats[k] for k in counts} == {k: first.stats[k] for k in counts}
    assert len(report.outputs) == 6


def test_resume_with_a_saved_index(tmp_path: Path) -> None:
    src = _inputs(tmp_path, files=4, per_file=15)
    cfg = Config().replace(boilerplate={"enabled": False})
    run_clean([str(src)], str(tmp_path / "whole"), cfg, index=str(tmp_path / "ix1"))
    with pytest.raises(Stop):
        run_clean([str(src)], str(tmp_path / "out"), cfg, index=str(tmp_path / "ix2"),
                  checkpoint_seconds=0, progress=_stop_after(35))
    run_clean([str(src)], str(tmp_path / "out"), cfg, index=str(tmp_path / "ix2"), resume=True)
    assert _tree(tmp_path / "out") == _tree(tmp_path / "whole")
    assert sorted(p.name for p in (tmp_path / "ix2").iterdir()) == [
        "docids.txt", "index-000001.npz", "manifest.json", "rows.u32"]
    meta1, meta2 = (json.loads((tmp_path / i / "manifest.json").read_text())
                    for i in ("ix1", "ix2"))
    assert meta1["paragraphs"] == meta2["paragraphs"] and meta1["documents"] == 60


def test_resume_refuses_changed_inputs_or_options(tmp_path: Path) -> None:
    src = _inputs(tmp_path, files=3, per_file=10)
    cfg = Config().replace(boilerplate={"enabled": False})
    with pytest.raises(Stop):
        run_clean([str(src)], str(tmp_path / "out"), cfg, checkpoint_seconds=0,
                  progress=_stop_after(15))
    with pytest.raises(InputError, match="configuration differs"):
        run_clean([str(src)], str(tmp_path / "out"), cfg.replace(lsh={"threshold": 0.8}),
                  resume=True)
    with pytest.raises(InputError, match="--max-line-bytes or --max-doc-bytes differ"):
        run_clean([str(src)], str(tmp_path / "out"), cfg, limits=Limits(line_bytes=4096),
                  resume=True)
    (src / "part2.jsonl").write_text('{"text": "changed"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="inputs changed"):
        run_clean([str(src)], str(tmp_path / "out"), cfg, resume=True)
    # A new run without --resume starts over and forgets the old state.
    run_clean([str(src)], str(tmp_path / "out"), cfg)
    assert not (tmp_path / "out" / STATE).exists()


def test_resume_without_a_checkpoint_runs_everything(tmp_path: Path) -> None:
    src = _inputs(tmp_path, files=2, per_file=5)
    cfg = Config().replace(boilerplate={"enabled": False})
    report = run_clean([str(src)], str(tmp_path / "out"), cfg, resume=True)
    assert report.stats["documents"] == 10 and len(report.outputs) == 2


def test_cli_resume_and_where_it_is_not_possible(tmp_path: Path) -> None:
    src = _inputs(tmp_path, files=2, per_file=5)
    runner = CliRunner()
    res = runner.invoke(main, ["clean", str(src), "-o", "-", "--resume"])
    assert res.exit_code == 1 and "--resume is not possible" in res.output
    res = runner.invoke(main, ["clean", str(src / "part0.jsonl"), "-o", str(tmp_path / "x.jsonl"),
                               "--resume"])
    assert res.exit_code == 1 and "one input into one output file" in res.output
    res = runner.invoke(main, ["clean", str(src), "-o", str(tmp_path / "o"), "--strict",
                               "--resume"])
    assert res.exit_code == 1 and "--strict writes all or nothing" in res.output
    res = runner.invoke(main, ["clean", str(src), "-o", str(tmp_path / "o"), "--resume",
                               "--checkpoint-seconds", "0", "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["part0.jsonl", "part1.jsonl"]

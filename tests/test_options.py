"""RunOptions: one checked, immutable value for a batch run's options."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dedup import RunOptions
from dedup.batch import run_clean
from dedup.cli import main
from dedup.errors import ConfigError
from dedup.io.readers import Limits

from .conftest import generated_jsonl

BAD = [
    ("removed", ""),
    ("report", 3),
    ("index", b"idx"),
    ("text_field", ""),
    ("input_format", "csv"),
    ("encoding_errors", "ignore"),
    ("limits", (4096, 4096)),
    ("jobs", 0),
    ("jobs", 2.0),
    ("jobs", True),
    ("engine", "spark"),
    ("scheduler", ""),
    ("shard_docs", -1),
    ("shard_docs", "10"),
    ("shard_suffix", ".csv"),
    ("strict", "yes"),
    ("resume", 1),
    ("checkpoint_seconds", -1),
    ("checkpoint_seconds", float("nan")),
    ("checkpoint_seconds", "300"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_every_invalid_value_is_a_config_error_naming_the_option(name: str, value: Any) -> None:
    with pytest.raises(ConfigError) as err:
        RunOptions(**{name: value})
    assert err.value.message.startswith(f"{name} = ") and err.value.hint


def test_scheduler_needs_the_dask_engine() -> None:
    with pytest.raises(ConfigError, match="scheduler = 'tcp://x:1' needs engine = 'dask'"):
        RunOptions(scheduler="tcp://x:1")
    assert RunOptions(engine="dask", scheduler="tcp://x:1").scheduler == "tcp://x:1"


def test_defaults_are_the_old_run_clean_defaults() -> None:
    opts = RunOptions()
    assert (opts.removed, opts.report, opts.index, opts.scheduler) == (None, None, None, None)
    assert (opts.text_field, opts.input_format, opts.encoding_errors) == ("text", "auto",
                                                                         "strict")
    assert opts.limits == Limits() and RunOptions(limits=None).limits == Limits()  # type: ignore[arg-type]
    assert (opts.jobs, opts.engine, opts.shard_docs, opts.shard_suffix) == (1, "local", 0,
                                                                           ".jsonl.zst")
    assert (opts.strict, opts.resume, opts.checkpoint_seconds) == (False, False, 300.0)


def test_paths_are_strings() -> None:
    opts = RunOptions(removed=Path("r.jsonl"), index=Path("idx"))  # type: ignore[arg-type]
    assert (opts.removed, opts.index) == ("r.jsonl", "idx")


def test_options_are_immutable_hashable_and_picklable() -> None:
    opts = RunOptions(removed="r.jsonl", jobs=2, limits=Limits(line_bytes=4096),
                      engine="dask", scheduler="tcp://h:8786", checkpoint_seconds=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.jobs = 3  # type: ignore[misc]
    assert not hasattr(opts, "__dict__")  # slotted: no stray attributes either
    assert hash(opts) == hash(RunOptions(**{f.name: getattr(opts, f.name)
                                            for f in dataclasses.fields(opts)}))
    assert len({opts, pickle.loads(pickle.dumps(opts))}) == 1
    assert pickle.loads(pickle.dumps(opts)) == opts


def test_replace_checks_again() -> None:
    opts = RunOptions(engine="dask", scheduler="tcp://h:8786")
    assert opts.replace(jobs=4).jobs == 4
    with pytest.raises(ConfigError, match="needs engine = 'dask'"):
        opts.replace(engine="local")
    with pytest.raises(TypeError, match=r"unknown run option.*'job'.*did you mean 'jobs'"):
        opts.replace(job=4)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_options_object_and_overrides_give_the_same_bytes(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "src", files=3, per_file=20)
    run_clean([str(src)], str(tmp_path / "a"), None,
              RunOptions(jobs=2, removed=str(tmp_path / "a.removed.jsonl")))
    run_clean([str(src)], str(tmp_path / "b"), jobs=2,
              removed=str(tmp_path / "b.removed.jsonl"))
    # both: overrides over an options object
    run_clean([str(src)], str(tmp_path / "c"), None, RunOptions(jobs=1),
              jobs=2, removed=str(tmp_path / "c.removed.jsonl"))
    a = _tree(tmp_path / "a")
    assert a and a == _tree(tmp_path / "b") == _tree(tmp_path / "c")
    removed = (tmp_path / "a.removed.jsonl").read_bytes()
    assert removed and removed == (tmp_path / "b.removed.jsonl").read_bytes() \
        == (tmp_path / "c.removed.jsonl").read_bytes()


def test_unknown_override_is_refused_before_anything_runs(tmp_path: Path) -> None:
    src = generated_jsonl(tmp_path / "src", files=1, per_file=2)
    with pytest.raises(TypeError, match=r"unknown run option.*'shard_format'.*shard_suffix"):
        run_clean([str(src)], str(tmp_path / "out"), shard_format=".jsonl")
    with pytest.raises(TypeError, match="options must be a RunOptions"):
        run_clean([str(src)], str(tmp_path / "out"), None, {"jobs": 2})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="jobs = 0"):
        run_clean([str(src)], str(tmp_path / "out"), jobs=0)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args", [
    ["--scheduler", "tcp://x:1"],
    ["--engine", "local", "--scheduler", "tcp://x:1"],
    ["--checkpoint-seconds", "nan"],
])
def test_bad_cli_combination_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    res = CliRunner().invoke(main, ["clean", "-", "-o", str(tmp_path / "out.txt"), *args],
                             input="x\n", prog_name="dedup")
    assert res.exit_code == 2, res.output
    assert "Usage: dedup clean [OPTIONS]" in res.output and "hint: --" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "out.txt").exists()

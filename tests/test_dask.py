"""The Dask engine: a 2-worker LocalCluster on 127.0.0.1 gives the local engine's bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dedup import parallel
from dedup.batch import run_clean
from dedup.cli import main
from dedup.config import Config
from dedup.corpus import GeneratorConfig, write_corpus
from dedup.errors import ConfigError


def test_dask_local_cluster_matches_the_local_engine(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # five chunks, not one: held results, finishing tasks and corpus windows across chunks
    # (the JSONL file is read in blocks of lines, each one chunk)
    monkeypatch.setattr(parallel.DaskExecutor, "chunk", 32)
    monkeypatch.setattr(parallel.DaskExecutor, "block_bytes", 1 << 16)
    sent: list[object] = []  # what went to the workers ahead of its task
    ranges: list[object] = []  # blocks sent as where they are in their file
    scattered = parallel.DaskExecutor._scattered
    outgoing = parallel.DaskExecutor.outgoing

    def spy(self: parallel.DaskExecutor, item: object) -> object:
        out = scattered(self, item)
        if out is not item:
            sent.append(item)
        return out

    def spy_out(self: parallel.DaskExecutor, item: object) -> object:
        out = outgoing(self, item)
        if isinstance(out, parallel.BlockRange):
            ranges.append(out)
        return out

    monkeypatch.setattr(parallel.DaskExecutor, "_scattered", spy)
    monkeypatch.setattr(parallel.DaskExecutor, "outgoing", spy_out)
    write_corpus(GeneratorConfig(docs=150, seed=4, split="test"), tmp_path / "c")
    docs = str(tmp_path / "c" / "docs.jsonl")
    out = {}
    for engine, jobs in (("local", 1), ("dask", 2)):
        clean, removed = tmp_path / f"{engine}.jsonl", tmp_path / f"{engine}-removed.jsonl"
        links: list[str] = []
        outcome = run_clean([docs], str(clean), Config(), removed=str(removed), engine=engine,
                            jobs=jobs, on_start=links.append)
        out[engine] = (clean.read_bytes(), removed.read_bytes())
        assert outcome.stats["removed"].get("duplicate:cross-doc", 0) > 0
        if engine == "dask":
            assert links and links[0].startswith("http://127.0.0.1:")
            assert {"boilerplate", "dedup", "corpus"} <= set(outcome.stats["stage_seconds"])
            assert outcome.stats["peak_rss_mb"]["largest_worker"] > 10  # read from the workers
            assert outcome.stats["decision_rounds"]["engine"] == "rounds"
    assert out["dask"] == out["local"]
    # the workers of a LocalCluster of ours read the JSONL file's blocks themselves (5 to
    # prepare, and the sample's): nothing of the text went through the client
    assert len(ranges) >= 5 and not sent


def test_a_cluster_given_by_its_scheduler_gets_the_chunks_inside_their_tasks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--scheduler``: nothing is scattered (a lost worker's tasks can be run again) and the
    output is the local engine's."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(parallel.DaskExecutor, "chunk", 32)
    monkeypatch.setattr(parallel.DaskExecutor, "block_bytes", 1 << 16)
    scattered = parallel.DaskExecutor._scattered
    passed: list[object] = []  # the chunks of documents, each sent inside its task

    def spy(self: parallel.DaskExecutor, item: object) -> object:
        out = scattered(self, item)
        assert out is item, "a chunk was scattered"
        if isinstance(item, parallel.Chunk | parallel.RawBlock):
            passed.append(item)
        return out

    monkeypatch.setattr(parallel.DaskExecutor, "_scattered", spy)
    write_corpus(GeneratorConfig(docs=100, seed=5, split="test"), tmp_path / "c")
    docs = str(tmp_path / "c" / "docs.jsonl")
    run_clean([docs], str(tmp_path / "local.jsonl"), Config(), engine="local", jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        run_clean([docs], str(tmp_path / "remote.jsonl"), Config(), engine="dask",
                  scheduler=cluster.scheduler_address)
    assert len(passed) >= 4  # 100 documents in blocks of 64 KB (and the sample's)
    assert (tmp_path / "remote.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_cli_dask_engine_prints_the_dashboard(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    line = "The harbour bridge reopened on Monday after eighteen months of repairs."
    src.write_text(f"{line}\n{line}\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out.txt"),
                                    "--engine", "dask", "--jobs", "2"])
    assert res.exit_code == 0, res.output
    assert "dask dashboard: http://127.0.0.1:" in res.output
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == line + "\n"


def test_unreachable_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "1s")
    src = tmp_path / "in.txt"
    src.write_text("hello\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out.txt"),
                                    "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert res.exit_code == 1 and "cannot reach the Dask scheduler" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "out.txt").exists()


def test_scheduler_without_dask_engine_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["clean", "-", "-o", "-", "--scheduler", "tcp://x:1"],
                             input="x\n")
    assert res.exit_code == 2 and "--engine dask" in res.output


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = parallel.importlib.import_module

    def fake(name: str) -> object:
        if name.startswith("dask"):
            raise ImportError(f"No module named {name!r}")
        return real(name)

    monkeypatch.setattr(parallel.importlib, "import_module", fake)
    with pytest.raises(ConfigError) as err:
        parallel.DaskExecutor(2)
    assert 'pip install "dedup[dask]"' in str(err.value)

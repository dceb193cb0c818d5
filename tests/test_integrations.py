"""The datatrove step and the Dataset.map function, each run by the real library on a small
planted corpus: boilerplate lines and a duplicate paragraph of an earlier document out, the
same result as dedup's own Cleaner."""

from __future__ import annotations

import importlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

from dedup import Cleaner, Config, Document
from dedup.corpus import GeneratorConfig, generate
from dedup.errors import ConfigError, InputError

datatrove = pytest.importorskip("datatrove")
datasets = pytest.importorskip("datasets")

from datatrove.data import Document as DTDocument  # noqa: E402
from datatrove.executor import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.writers import JsonlWriter  # noqa: E402

from dedup.integrations.datatrove import DedupStep  # noqa: E402
from dedup.integrations.hf import Deduper  # noqa: E402

A = "The council approved the harbour bridge budget after a long debate on Monday evening."
B = "Engineers said the new span would carry trams as well as cars when it opens next spring."
C = "Residents of the old quarter asked for a second footpath on the eastern side of the bridge."
D = "The river museum will reopen in June with a gallery devoted to the history of the ferries."
E = "A local bakery won the regional prize for its rye loaf, the third award in five years."
COOKIE = "We use cookies. Accept all to continue."

# id -> text; "c" repeats a paragraph of "b", "e" near-duplicates "a" (every line copied),
# "d" is all boilerplate
PAGES = {
    "a": f"{COOKIE}\n{A}\n{B}\n",
    "b": f"{C}\n{D}\n",
    "c": f"Subscribe to our newsletter\n{D}\n{E}\n",
    "d": f"{COOKIE}\nPrivacy policy\n",
    "e": f"{A}\n{B}\n{C}\n",
}
CLEAN = {"a": f"{A}\n{B}\n", "b": f"{C}\n{D}\n", "c": f"{E}\n", "d": "", "e": ""}
REASONS = {
    "a": ["boilerplate:cookie"],
    "b": [],
    "c": ["boilerplate:newsletter", "duplicate:cross-doc"],
    "d": ["boilerplate:cookie", "boilerplate:cookie"],
    "e": ["duplicate:cross-doc"] * 3,
}


def test_planted_corpus_is_what_the_cleaner_gives() -> None:
    """The expectations below are dedup's own: the adapters must only carry them."""
    results = list(Cleaner().clean_documents(Document(i, t) for i, t in PAGES.items()))
    assert {r.doc.id: r.text for r in results} == CLEAN
    assert {r.doc.id: r.line_counts()[1] for r in results} == REASONS


# -- datatrove ---------------------------------------------------------------------------


def _write_jsonl(path: Path, pages: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": i, "text": t, "url": f"https://example.org/{i}"})
                            + "\n" for i, t in pages.items()), encoding="utf-8")


def _read_jsonl(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines()]


def _run(tmp_path: Path, step: DedupStep, tasks: int = 1) -> None:
    LocalPipelineExecutor(
        pipeline=[JsonlReader(str(tmp_path / "in")), step,
                  JsonlWriter(str(tmp_path / "out"), compression=None)],
        tasks=tasks, workers=1, logging_dir=str(tmp_path / "logs")).run()


def _step_stats(tmp_path: Path) -> dict[str, int]:
    merged = json.loads((tmp_path / "logs" / "stats.json").read_text(encoding="utf-8"))
    (stats,) = [s["stats"] for s in merged if s["name"].endswith(DedupStep.name)]
    return {k: v if isinstance(v, int) else v["total"] for k, v in stats.items()}


def test_datatrove_pipeline_cleans_counts_and_excludes(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "in" / "pages.jsonl", PAGES)
    step = DedupStep(exclusion_writer=JsonlWriter(str(tmp_path / "excluded"), compression=None))
    _run(tmp_path, step)

    out = _read_jsonl(tmp_path / "out")
    assert {d["id"]: d["text"] for d in out} == {i: t for i, t in CLEAN.items() if t}
    assert all(d["metadata"]["url"] == f"https://example.org/{d['id']}" for d in out)

    excluded = {d["id"]: d for d in _read_jsonl(tmp_path / "excluded")}
    assert set(excluded) == {"d", "e"}
    assert excluded["e"]["text"] == PAGES["e"]  # the original text, to see what went
    assert excluded["e"]["metadata"]["filter_reason"] == "all_lines_dropped"
    assert excluded["e"]["metadata"]["dedup_removed"] == {"duplicate:cross-doc": 3}
    assert excluded["d"]["metadata"]["dedup_removed"] == {"boilerplate:cookie": 2}
    assert excluded["d"]["metadata"]["url"] == "https://example.org/d"

    stats = _step_stats(tmp_path)
    assert stats["total"] == 5 and stats["forwarded"] == 3 and stats["dropped"] == 2
    assert stats["dropped_all_lines_dropped"] == 2
    assert stats["lines"] == 13
    assert stats["dropped_lines/boilerplate:cookie"] == 3
    assert stats["dropped_lines/boilerplate:newsletter"] == 1
    assert stats["dropped_lines/duplicate:cross-doc"] == 4
    assert stats["duplicate_documents"] == 1


def test_datatrove_drop_mode_excludes_the_near_duplicate_document(tmp_path: Path) -> None:
    """``step.run`` straight on documents; the near-duplicate ``e`` leaves as a document."""
    config = Config().replace(corpus={"documents": "drop"})
    step = DedupStep(config, exclusion_writer=JsonlWriter(str(tmp_path / "ex"), compression=None))
    docs = [DTDocument(text=t, id=i, metadata={"n": n}) for n, (i, t) in enumerate(PAGES.items())]
    kept = list(step.run(iter(docs)))
    assert [(d.id, d.text, d.metadata) for d in kept] == [
        ("a", CLEAN["a"], {"n": 0}), ("b", CLEAN["b"], {"n": 1}), ("c", CLEAN["c"], {"n": 2})]
    excluded = {d["id"]: d["metadata"] for d in _read_jsonl(tmp_path / "ex")}
    assert excluded["e"]["filter_reason"] == "duplicate_document"
    assert excluded["d"]["filter_reason"] == "all_lines_dropped"
    assert step.stats["dropped_duplicate_document"].total == 1


def test_datatrove_config_from_toml_and_no_exclusion_writer(tmp_path: Path) -> None:
    toml = tmp_path / "dedup.toml"
    toml.write_text("[boilerplate]\nenabled = false\n", encoding="utf-8")
    step = DedupStep(toml)
    kept = list(step.run(DTDocument(text=t, id=i) for i, t in PAGES.items()))
    # boilerplate kept now: the cookie line of "a" stays, "d" keeps both its lines
    assert [d.id for d in kept] == ["a", "b", "c", "d"]
    assert kept[0].text == PAGES["a"]
    assert kept[2].text == f"Subscribe to our newsletter\n{E}\n"


def test_datatrove_tasks_share_a_saved_index_one_after_the_other(tmp_path: Path) -> None:
    """Two tasks, one file each: each alone misses the duplicate across files; run one after
    the other on one saved index, the second task drops it."""
    first = {i: PAGES[i] for i in ("a", "b")}
    second = {"x": f"{E}\n{A}\n"}
    _write_jsonl(tmp_path / "in" / "0.jsonl", first)
    _write_jsonl(tmp_path / "in" / "1.jsonl", second)

    alone = tmp_path / "alone"
    (alone / "in").mkdir(parents=True)
    for f in (tmp_path / "in").iterdir():
        (alone / "in" / f.name).write_bytes(f.read_bytes())
    _run(alone, DedupStep(), tasks=2)
    assert {d["id"]: d["text"] for d in _read_jsonl(alone / "out")}["x"] == second["x"]

    _run(tmp_path, DedupStep(index=tmp_path / "idx"), tasks=2)
    assert {d["id"]: d["text"] for d in _read_jsonl(tmp_path / "out")}["x"] == f"{E}\n"
    assert (tmp_path / "idx" / "manifest.json").exists()


def test_datatrove_refuses_full_repetition() -> None:
    with pytest.raises(ConfigError, match="two passes"):
        DedupStep(Config().replace(boilerplate={"repetition": "full"}))


def test_datatrove_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datatrove.pipeline.base", None)
    monkeypatch.delitem(sys.modules, "dedup.integrations.datatrove")
    with pytest.raises(ImportError, match=r'pip install "dedup\[datatrove\]"'):
        importlib.import_module("dedup.integrations.datatrove")


# -- Hugging Face datasets ---------------------------------------------------------------


def _dataset(pages: dict[str, str]) -> Any:
    return datasets.Dataset.from_dict({
        "id": list(pages), "text": list(pages.values()),
        "url": [f"https://example.org/{i}" for i in pages]})


def _map(ds: Any, deduper: Deduper, batch_size: int | None) -> Any:
    return ds.map(deduper, batched=True, batch_size=batch_size, keep_in_memory=True)


def test_map_drops_a_duplicate_from_an_earlier_batch() -> None:
    out = _map(_dataset(PAGES), Deduper(id_column="id"), batch_size=2)
    # "e" (third batch) copies "a" (first batch), "c" (second) a paragraph of "b" (first)
    assert out["text"][:] == list(CLEAN.values())
    assert out["dedup_keep"][:] == [True, True, True, False, False]
    assert out["dedup_reasons"][:] == [" ".join(REASONS[i]) for i in PAGES]
    assert out["dedup_removed"][:] == [len(REASONS[i]) for i in PAGES]
    assert out["dedup_duplicate_of"][:] == ["", "", "", "", "a"]
    assert out["url"][:] == [f"https://example.org/{i}" for i in PAGES]
    kept = out.filter(lambda row: row["dedup_keep"], keep_in_memory=True)
    assert kept["id"][:] == ["a", "b", "c"]


@pytest.fixture(scope="module")
def generated() -> list[str]:
    """60 generated pages (articles shared across pages): more than the 50 documents the
    classifier's line counts need, so they change the output."""
    return [d["text"] for d, _ in generate(GeneratorConfig(docs=60, seed=8, split="test"))]


@pytest.mark.parametrize("batch_size", [1, 2, 7, None])
def test_map_is_one_stream_whatever_the_batch_size(generated: list[str],
                                                   batch_size: int | None) -> None:
    """With the sample: the output of ``Cleaner().clean_documents`` over the same texts, the
    line counts included."""
    reference = list(Cleaner().clean_documents(generated))
    assert any(r.line_counts()[1] for r in reference)
    ds = datasets.Dataset.from_dict({"text": generated})
    out = _map(ds, Deduper(sample=ds if batch_size == 2 else generated), batch_size)
    assert out["text"][:] == [r.text for r in reference]
    assert out["dedup_reasons"][:] == [" ".join(r.line_counts()[1]) for r in reference]


def test_map_without_sample_does_not_depend_on_batches(generated: list[str]) -> None:
    """Without the sample the counts are off (and the config says so): batch sizes agree."""
    deduper = Deduper()
    assert deduper.config.boilerplate.repetition == "off"
    reference = [r.text for r in Cleaner(deduper.config).clean_documents(generated)]
    ds = datasets.Dataset.from_dict({"text": generated})
    for batch_size in (3, 50):
        assert _map(ds, Deduper(), batch_size)["text"][:] == reference


def test_a_sample_too_small_to_count_is_no_sample(generated: list[str]) -> None:
    """Fewer sample rows than the counts need: the counts are off, not taken from a batch."""
    deduper = Deduper(sample=generated[:10])
    assert deduper.config.boilerplate.repetition == "off"
    reference = [r.text for r in Cleaner(deduper.config).clean_documents(generated)]
    assert _map(datasets.Dataset.from_dict({"text": generated}), deduper, 55)["text"][:] == \
        reference


def test_deduper_keeps_dedup_across_map_calls() -> None:
    """One Deduper over two datasets: the second is deduped against the first (a train/test
    split), and its stats count both."""
    deduper = Deduper(id_column="id")
    _map(_dataset({i: PAGES[i] for i in "abcd"}), deduper, 2)
    out = _map(_dataset({"e": PAGES["e"]}), deduper, 2)
    assert out["text"][:] == [""] and out["dedup_duplicate_of"][:] == ["a"]
    assert deduper.stats.documents == 5


def test_deduper_pickles_hashes_and_its_copies_refuse() -> None:
    from datasets.fingerprint import Hasher

    deduper = Deduper()
    assert Hasher.hash(deduper) == Hasher.hash(deduper)
    assert Hasher.hash(deduper) != Hasher.hash(Deduper())  # never another's cache
    before = Hasher.hash(deduper)
    deduper({"text": [PAGES["a"]]})
    assert Hasher.hash(deduper) != before  # its state changed what it returns
    copy = pickle.loads(pickle.dumps(deduper))
    with pytest.raises(ConfigError, match="num_proc"):
        copy({"text": [PAGES["e"]]})
    per_process = pickle.loads(pickle.dumps(Deduper(per_process=True)))
    assert per_process({"text": [PAGES["a"]]})["text"] == [CLEAN["a"]]


def test_map_with_num_proc_is_refused() -> None:
    with pytest.raises(ConfigError, match="num_proc"):
        _dataset(PAGES).map(Deduper(), batched=True, batch_size=2, num_proc=2)


def test_deduper_bad_columns() -> None:
    with pytest.raises(InputError, match="no column 'content'") as err:
        Deduper(text_column="content")({"text": ["x"]})
    assert err.value.hint is not None and "text_column" in err.value.hint
    with pytest.raises(InputError, match="row 1: column 'text' holds NoneType"):
        Deduper()({"text": ["x", None]})
    with pytest.raises(ConfigError, match="sample"):
        Deduper(Config().replace(boilerplate={"repetition": "full"}))

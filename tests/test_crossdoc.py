"""Cross-document dedup: planted duplicates across documents, short lines, document clusters,
keep policies, determinism and independence of input chunking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.batch import run_clean
from dedup.cli import main
from dedup.config import Config
from dedup.crossdoc import group_keys
from dedup.index import CorpusIndex
from dedup.pipeline import Cleaner

A1 = "The harbour bridge reopened on Monday after eighteen months of repairs to its rusting steel."
A2 = "Engineers replaced four hundred rivets and repainted the whole span in the original green."
A3 = "Commuters who had faced a forty minute detour welcomed the reopening with a small parade."
B1 = "A local bakery has won the national prize for its rye bread, made with a century-old starter."
B2 = "The owner said the secret was patience, cold fermentation and flour from a nearby mill."
B3 = "Queues formed outside the shop before dawn as customers hoped to taste the winning loaf."
C1 = "Volunteers planted two thousand oak saplings along the river to slow the winter floods."
HEAD = "Key quotes"
# Rules only: these tests are about duplicates, not about the boilerplate model.
CFG = Config().replace(boilerplate={"enabled": False})


def clean(texts: list[str], cfg: Config = CFG) -> list[list[tuple[str, str]]]:
    cleaner = Cleaner(cfg)
    out = [[(p.text, v.reason) for p, v in zip(r.doc.paragraphs, r.verdicts, strict=True)]
           for r in cleaner.clean_documents(texts)]
    cleaner.close()
    return out


def test_a_paragraph_kept_earlier_is_dropped_with_its_source() -> None:
    cleaner = Cleaner(CFG)
    edited = A2.replace("whole ", "")
    results = list(cleaner.clean_documents([f"{A1}\n{A2}", f"{B1}\n{edited}\n{A1}"]))
    second = results[1]
    assert [v.reason for v in second.verdicts] == ["content", "duplicate:cross-doc",
                                                   "duplicate:cross-doc"]
    near, exact = second.verdicts[1], second.verdicts[2]
    assert near.match is not None and (near.match.doc, near.match.line) == ("0", 2)
    assert 0.7 <= near.score < 1.0
    assert exact.match is not None and (exact.match.doc, exact.match.line) == ("0", 1)
    assert exact.score == 1.0
    assert second.text == B1 + "\n"
    assert cleaner.stats.reasons["duplicate:cross-doc"] == 2
    assert cleaner.stats.documents_by_reason["duplicate:cross-doc"] == 1
    cleaner.close()


def test_below_the_threshold_nothing_is_dropped() -> None:
    other = "The harbour bridge will close again next spring for a second round of work."
    out = clean([f"{A1}\n{A2}", f"{other}\n{C1}"])
    assert [r for _, r in out[1]] == ["content", "content"]


def test_short_lines_repeat_freely_but_go_inside_a_repeated_run() -> None:
    out = clean([f"{A1}\n{HEAD}\n{A2}", f"{B1}\n{HEAD}\n{B2}", f"{A1}\n{HEAD}\n{A2}\n{C1}"])
    # another article's "Key quotes" stays
    assert [r for _, r in out[1]] == ["content"] * 3
    # the same article again: the heading between two copied paragraphs goes with them
    assert [r for _, r in out[2]] == ["duplicate:cross-doc"] * 3 + ["content"]


def test_a_short_line_between_two_matched_documents_takes_its_left_neighbours(
        tmp_path: Path) -> None:
    """The heading sits between a paragraph copied from document 1 and one copied from
    document 0; both hold the heading. It goes with its left neighbour's document, the same in
    one run as across two runs with a saved index (the table's layout plays no part)."""
    texts = [f"{B1}\n{HEAD}\n{B2}", f"{A1}\n{HEAD}\n{A2}", f"{A1}\n{HEAD}\n{B2}\n{C1}"]
    cleaner = Cleaner(CFG)
    one_run = list(cleaner.clean_documents(texts))[2]
    cleaner.close()
    index = CorpusIndex(CFG, tmp_path / "index")
    first = Cleaner(CFG, index=index)
    assert len(list(first.clean_documents(texts[:2]))) == 2
    index.save()
    index.close()
    index = CorpusIndex(CFG, tmp_path / "index")
    second = Cleaner(CFG, index=index)
    (two_runs,) = list(second.clean_documents(texts[2:]))
    index.close()
    for result in (one_run, two_runs):
        verdicts = result.verdicts
        assert [v.reason for v in verdicts] == ["duplicate:cross-doc"] * 3 + ["content"]
        heading = verdicts[1].match
        assert heading is not None and heading.line == 2
    assert one_run.verdicts[1].match.doc == "1"  # type: ignore[union-attr]
    assert two_runs.verdicts[1].match.doc == "1"  # type: ignore[union-attr]


def test_documents_cluster_and_tag_or_drop() -> None:
    first = f"{A1}\n{A2}\n{A3}"
    texts = [first, f"{B1}\n{B2}\n{B3}", f"{A1}\n{A2}\n{A3}\n{C1}", f"{B1}\n{C1}"]
    cleaner = Cleaner(CFG)
    results = list(cleaner.clean_documents(texts))
    clusters = [r.doc.cluster for r in results]
    assert [c.id if c else None for c in clusters] == ["0", "1", "0", "3"]
    assert [c.duplicate if c else None for c in clusters] == [False, False, True, False]
    assert clusters[2] is not None and 0.7 < clusters[2].similarity < 1.0
    assert cleaner.stats.duplicate_documents == 1 and cleaner.stats.to_dict()[
        "document_clusters"] == 3
    cleaner.close()
    drop = Cleaner(CFG.replace(corpus={"documents": "drop"}))
    results = list(drop.clean_documents(texts))
    assert [r.dropped_document for r in results] == [False, False, True, False]
    assert [v.reason for v in results[2].verdicts][-1] == "duplicate:document"
    drop.close()


def _write_jsonl(path: Path, texts: list[str], start: int = 0) -> None:
    path.write_text("".join(json.dumps({"id": f"d{start + i}", "text": t}) + "\n"
                            for i, t in enumerate(texts)), encoding="utf-8")


def _texts(path: Path) -> list[str]:
    return [json.loads(x)["text"] for x in path.read_text(encoding="utf-8").splitlines()]


def test_keep_longest_keeps_the_fuller_copy_whole(tmp_path: Path) -> None:
    texts = [f"{A1}\n{A2}", f"{B1}\n{B2}", f"{A1}\n{A2}\n{A3}"]
    _write_jsonl(tmp_path / "in.jsonl", texts)
    run_clean([str(tmp_path / "in.jsonl")], str(tmp_path / "first.jsonl"), CFG)
    run_clean([str(tmp_path / "in.jsonl")], str(tmp_path / "longest.jsonl"),
              Config.from_mapping({**CFG.to_dict(), "keep": "longest"}))
    assert _texts(tmp_path / "first.jsonl") == [f"{A1}\n{A2}\n", f"{B1}\n{B2}\n", f"{A3}\n"]
    assert _texts(tmp_path / "longest.jsonl") == ["", f"{B1}\n{B2}\n", f"{A1}\n{A2}\n{A3}\n"]


def test_output_does_not_depend_on_how_the_input_is_chunked(tmp_path: Path) -> None:
    texts = [f"{A1}\n{A2}", f"{B1}\n{HEAD}\n{A1}", f"{A1}\n{HEAD}\n{A2}\n{A3}", f"{B1}\n{B2}",
             f"{C1}\n{A3}", f"{A2}\n{B3}"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir()
    parts.mkdir()
    _write_jsonl(whole / "all.jsonl", texts)
    for n, (a, b) in enumerate(((0, 1), (1, 4), (4, 6))):
        _write_jsonl(parts / f"part{n}.jsonl", texts[a:b], start=a)
    run_clean([str(whole)], str(tmp_path / "out1"), CFG)
    run_clean([str(parts)], str(tmp_path / "out2"), CFG)
    run_clean([str(parts)], str(tmp_path / "out3"), CFG)
    one = _texts(tmp_path / "out1" / "all.jsonl")
    two = [t for n in range(3) for t in _texts(tmp_path / "out2" / f"part{n}.jsonl")]
    assert one == two
    for n in range(3):  # and byte-identical from run to run
        name = f"part{n}.jsonl"
        assert (tmp_path / "out2" / name).read_bytes() == (tmp_path / "out3" / name).read_bytes()


def test_two_batches_with_a_saved_index(tmp_path: Path) -> None:
    week1, week2 = tmp_path / "week1.jsonl", tmp_path / "week2.jsonl"
    _write_jsonl(week1, [f"{A1}\n{A2}\n{A3}", f"{B1}\n{B2}"])
    _write_jsonl(week2, [f"{C1}\n{A2}", f"{B1}\n{B2}\n{B3}", f"{A1}\n{A2}\n{A3}"], start=2)
    index = tmp_path / "index"
    runner = CliRunner()
    args = ["--no-boilerplate", "--index", str(index), "-q", "--removed"]
    res = runner.invoke(main, ["clean", str(week1), "-o", str(tmp_path / "c1.jsonl"), *args,
                               str(tmp_path / "r1.jsonl")])
    assert res.exit_code == 0, res.output
    assert (index / "manifest.json").exists()
    res = runner.invoke(main, ["clean", str(week2), "-o", str(tmp_path / "c2.jsonl"), *args,
                               str(tmp_path / "r2.jsonl")])
    assert res.exit_code == 0, res.output
    assert _texts(tmp_path / "c2.jsonl") == [f"{C1}\n", f"{B3}\n", ""]
    removed = [json.loads(x) for x in (tmp_path / "r2.jsonl").read_text().splitlines()]
    cross = [r for r in removed if r["reason"] == "duplicate:cross-doc"]
    w1, w2 = "week1.jsonl:", "week2.jsonl:"
    assert {(r["doc"], r["match"]["doc"]) for r in cross} == {
        (w2 + "1", w1 + "1"), (w2 + "2", w1 + "2"), (w2 + "3", w1 + "1")}
    tagged = [r for r in removed if r["reason"] == "duplicate:document"]
    assert [(r["doc"], r["cluster"]) for r in tagged] == [(w2 + "2", w1 + "2"),
                                                          (w2 + "3", w1 + "1")]
    # Without the index the second batch is clean on its own.
    res = runner.invoke(main, ["clean", str(week2), "-o", str(tmp_path / "c3.jsonl"),
                               "--no-boilerplate", "-q"])
    assert _texts(tmp_path / "c3.jsonl") == [f"{C1}\n{A2}\n", f"{B1}\n{B2}\n{B3}\n",
                                             f"{A1}\n{A3}\n"]


def test_an_index_built_under_another_config_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, [f"{A1}\n{A2}"])
    runner = CliRunner()
    index = str(tmp_path / "index")
    res = runner.invoke(main, ["clean", str(src), "-o", str(tmp_path / "a.jsonl"), "--index",
                               index, "-q"])
    assert res.exit_code == 0
    res = runner.invoke(main, ["clean", str(src), "-o", str(tmp_path / "b.jsonl"), "--index",
                               index, "--num-perm", "64", "-q"])
    assert res.exit_code == 1
    assert "built with another configuration" in res.output and "num_perm 128" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "b.jsonl").exists()


def test_keep_longest_refuses_stdin() -> None:
    res = CliRunner().invoke(main, ["clean", "-", "-o", "-", "--keep", "longest"], input="x\n")
    assert res.exit_code == 1 and "stdin" in res.output


def test_documents_drop_writes_no_record_and_no_file(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text(f"{A1}\n{A2}\n{A3}\n", encoding="utf-8")
    (src / "b.txt").write_text(f"{A1}\n{A2}\n{A3}\n{C1}\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(tmp_path / "out"),
                                    "--documents", "drop", "--no-boilerplate", "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.txt"]


def test_sharded_output_through_the_cli(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    texts = [f"{A1}\n{A2}", f"{B1}\n{B2}", f"{A1}\n{A3}", f"{C1}", f"{B3}"]
    _write_jsonl(src, texts)
    out = tmp_path / "shards"
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(out), "--shard-docs", "2",
                                    "--shard-format", ".jsonl", "--no-boilerplate", "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["part-00000.jsonl", "part-00001.jsonl",
                                                    "part-00002.jsonl"]
    got = [t for n in range(3) for t in _texts(out / f"part-0000{n}.jsonl")]
    assert got == [f"{A1}\n{A2}\n", f"{B1}\n{B2}\n", f"{A3}\n", f"{C1}\n", f"{B3}\n"]
    bad = CliRunner().invoke(main, ["clean", str(src), "-o", "-", "--shard-docs", "2"])
    assert bad.exit_code == 1 and "directory" in bad.output


def test_batched_index_look_ups_decide_as_one_document_at_a_time(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The corpus stage looks a batch's band keys up at once and finds the rows the batch
    itself adds on the side: the verdicts are those of one look-up per document, including
    copies of a paragraph kept earlier in the same batch."""
    import dedup.crossdoc as crossdoc
    from dedup.corpus import GeneratorConfig, generate

    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=150, seed=4, split="test"))]

    def run(batch: int) -> list[list[tuple[str, float, object]]]:
        monkeypatch.setattr(crossdoc, "BATCH", batch)
        cleaner = Cleaner(Config())
        out = [[(v.reason, v.score, v.match) for v in r.verdicts]
               for r in cleaner.clean_documents(texts)]
        cleaner.close()
        return out

    one = run(1)
    assert run(32) == one
    assert run(7) == one
    assert sum(v[0] == "duplicate:cross-doc" for doc in one for v in doc) > 50


@given(st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=20), max_size=12),
       st.integers(1, 4), st.data())
@settings(max_examples=100, deadline=None)
def test_group_keys_equal_the_scalar_chain(sets: list[list[int]], bands: int,
                                           data: st.DataObject) -> None:
    """The kernel and the numpy reference give, bit for bit, the chain written out in Python
    integers; rows with equal sets and band keys get equal keys, and these rows (few, any
    values) never share one otherwise."""
    arrays = [np.array(s, dtype=np.uint32) for s in sets]
    keys = np.array([data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=bands,
                                        max_size=bands)) for _ in sets],
                    dtype=np.uint32).reshape(len(sets), bands)
    mask = 2**64 - 1

    def fmix(h: int) -> int:
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & mask
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & mask
        return h ^ (h >> 33)

    k = 0x9E3779B97F4A7C15
    want = []
    for s, row in zip(sets, keys.tolist(), strict=True):
        h = fmix(((len(s) * k) & mask) ^ bands)
        for v in [*s, *row]:
            h = fmix(((h ^ v) + k) & mask)
        want.append(h)
    got = group_keys(arrays, keys)
    assert got.tolist() == want
    assert group_keys(arrays, keys, compiled=False).tolist() == want
    rows = [(tuple(s), tuple(r)) for s, r in zip(sets, keys.tolist(), strict=True)]
    assert len(set(rows)) == len(set(got.tolist()))


def test_group_keys_of_no_rows_and_bad_arguments() -> None:
    assert group_keys([], np.empty((0, 4), dtype=np.uint64)).tolist() == []
    with pytest.raises(ValueError, match="1 sets but 2 rows"):
        group_keys([np.array([1], dtype=np.uint32)], np.zeros((2, 3), dtype=np.uint64))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**31 - 1)), max_size=20))
def test_doc_keys_are_the_scalar_doc_keys(asks: list[tuple[int, int]]) -> None:
    from dedup.crossdoc import _doc_key, _doc_keys

    hashes = np.array([h for h, _ in asks], dtype=np.uint64)
    docs = np.array([d for _, d in asks], dtype=np.int64)
    assert _doc_keys(hashes, docs).tolist() == [_doc_key(h, d) for h, d in asks]

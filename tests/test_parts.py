"""Parts: a parallel run of JSONL inputs written as JSONL hands its documents to the writers a
chunk at a time (dedup.parallel.Part: the chunk's documents of one input, their output records,
--removed records and statistics made on the workers). The outputs, --removed file and report
are those of one process, for every writer (one output per input, one combined file, shards
cut inside a part, compressed), with unreadable records, blank lines and dropped documents."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from dedup.batch import run_clean
from dedup.config import Config
from dedup.corpus.generate import GeneratorConfig, generate
from dedup.parallel import Part, make_parts
from dedup.pipeline import CleanResult
from dedup.records import Finished
from dedup.types import DocCluster

COUNTS = ("documents", "lines_in", "lines_out", "bytes_in", "bytes_out", "removed",
          "documents_by_reason", "duplicate_documents", "document_clusters",
          "emptied_by_boilerplate", "emptied_by_boilerplate_ids")


def _inputs(root: Path) -> Path:
    """Three JSONL files of generated pages (articles shared across them), with a record that
    is not JSON, one without its text field, blank lines and an extra field in between."""
    src = root / "in"
    src.mkdir()
    docs = [d for d, _ in generate(GeneratorConfig(docs=300, seed=5, split="test"))]
    for n in range(3):
        lines = [json.dumps({"id": d["id"], "text": d["text"], "n": i})
                 for i, d in enumerate(docs[n * 100:(n + 1) * 100])]
        lines.insert(17, "{not json")
        lines.insert(40, "")
        lines.insert(41, "   ")
        lines.insert(63, json.dumps({"id": "no-text", "body": "x"}))
        (src / f"part{n}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return src


class Seen:
    """A progress hook that records what the run handed to the writers."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.documents = 0

    def __call__(self, results: Iterator[CleanResult | Part], _: int
                 ) -> Iterator[CleanResult | Part]:
        for result in results:
            self.kinds.add(type(result).__name__)
            self.documents += result.documents if isinstance(result, Part) else 1
            yield result


def _tree(root: Path) -> dict[str, bytes]:
    if root.is_file():
        return {root.name: root.read_bytes()}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _clean(src: Path, out: Path, jobs: int, config: Config, **options: Any
           ) -> tuple[dict[str, bytes], bytes, dict[str, Any], Seen]:
    seen = Seen()
    removed = out.parent / f"{out.name}.removed.jsonl"
    report = run_clean([str(src)], str(out), config, jobs=jobs, removed=str(removed),
                       progress=seen, **options)
    return _tree(out), removed.read_bytes(), {k: report.stats[k] for k in COUNTS}, seen


@pytest.mark.parametrize("target,options", [
    ("mirror", {}),
    ("all.jsonl", {}),
    ("all.jsonl.gz", {}),
    ("all.jsonl.zst", {}),
    ("shards", {"shard_docs": 7, "shard_suffix": ".jsonl"}),
    ("shards", {"shard_docs": 40, "shard_suffix": ".jsonl.zst"}),
])
def test_parts_write_what_one_process_writes(tmp_path: Path, target: str,
                                             options: dict[str, Any]) -> None:
    src = _inputs(tmp_path)
    config = Config()
    one = _clean(src, tmp_path / "1" / target, 1, config, **options)
    two = _clean(src, tmp_path / "2" / target, 2, config, **options)
    assert two[3].kinds == {"Part"}  # handed over as parts, not one result a document
    assert one[3].kinds == {"CleanResult"}
    assert one[:3] == two[:3]
    assert one[3].documents == two[3].documents == 3 * 102  # (blank lines are no records)
    assert one[2]["documents"] == 3 * 102
    assert one[2]["duplicate_documents"] > 0 and one[2]["removed"]
    records = b"".join(v for k, v in sorted(one[0].items()) if not k.startswith("."))
    if target.endswith(".gz"):
        records = gzip.decompress(records)
    elif target.endswith(".zst") or options.get("shard_suffix") == ".jsonl.zst":
        records = b"".join(zstandard.ZstdDecompressor().decompressobj().decompress(v)
                           for k, v in sorted(one[0].items()))
    assert records.count(b"\n") == 3 * 100  # every readable record, none of the bad ones


def test_parts_with_dropped_documents_and_three_jobs(tmp_path: Path) -> None:
    src = _inputs(tmp_path)
    config = Config().replace(corpus={"documents": "drop"})
    one = _clean(src, tmp_path / "out1", 1, config)
    three = _clean(src, tmp_path / "out3", 3, config)
    assert three[3].kinds == {"Part"}
    assert one[:3] == three[:3]
    written = sum(v.count(b"\n") for v in one[0].values())
    assert written == 3 * 100 - one[2]["duplicate_documents"]  # dropped documents not written


def _finished(text: str, removed: str | None) -> Finished:
    return Finished(text, 2, ("boilerplate:nav",), removed, 10, len(text))


def test_make_parts_cuts_at_each_input_and_leaves_out_what_is_not_written() -> None:
    done = [_finished(f"t{i}", None) for i in range(6)]
    sources = ["a", "a", "b", "b", "b", "a"]
    unread = [False, True, False, False, False, False]
    dup = DocCluster("d0", True, 0.9, 0, 5)
    clusters = [None, None, dup, None, dup, None]
    lines = [f"r{i}\n" for i in range(6)]
    keep = make_parts(done, [f"d{i}" for i in range(6)], sources, list(range(10, 16)), unread,
                      clusters, Config(), lines)
    assert [(p.source, p.first, p.last, p.documents, p.written, p.records) for p in keep] == [
        ("a", 10, 11, 2, 1, "r0\n"), ("b", 12, 14, 3, 3, "r2\nr3\nr4\n"),
        ("a", 15, 15, 1, 1, "r5\n")]
    assert [p.removed for p in keep] == [None, None, None]
    assert [p.stats.documents for p in keep] == [2, 3, 1]
    assert keep[1].stats.duplicate_documents == 2
    drop = make_parts(done, [f"d{i}" for i in range(6)], sources, list(range(6)), unread,
                      clusters, Config().replace(corpus={"documents": "drop"}), lines)
    assert [p.records for p in drop] == ["r0\n", "r3\n", "r5\n"]  # near-duplicates dropped
    with_removed = make_parts([_finished("t", f"x{i}\n") for i in range(6)],
                              [f"d{i}" for i in range(6)], sources, list(range(6)), unread,
                              clusters, Config(), lines)
    assert [p.removed for p in with_removed] == ["x0\nx1\n", "x2\nx3\nx4\n", "x5\n"]
    with pytest.raises(ValueError, match="without its output record"):
        make_parts(done, [f"d{i}" for i in range(6)], sources, list(range(6)), unread,
                   clusters, Config(), [None] * 6)

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedup.corpus import GeneratorConfig, generate
from dedup.parallel import LocalExecutor

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "seed" / "000_07834c4afbc45afc.txt"
SEED_EXPECTED = ROOT / "corpus" / "seed" / "000_07834c4afbc45afc.expected.txt"


@pytest.fixture(autouse=True)
def _small_local_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local parallel runs in tests send chunks of 8 documents: the tests' corpora are small,
    and every chunk boundary (a chunk prepared here, the next by a worker) should be crossed
    many times. The chunk size changes no output, only how the work is cut."""
    monkeypatch.setattr(LocalExecutor, "chunk", 8)


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def seed_expected() -> str:
    return SEED_EXPECTED.read_text(encoding="utf-8")


def generated_jsonl(src: Path, files: int, per_file: int) -> Path:
    """A directory ``src`` of JSONL files of generated pages (articles shared across files)."""
    src.mkdir()
    docs = [d for d, _ in generate(GeneratorConfig(docs=files * per_file, seed=8, split="test"))]
    for n in range(files):
        chunk = docs[n * per_file:(n + 1) * per_file]
        (src / f"part{n}.jsonl").write_text(
            "".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in chunk),
            encoding="utf-8")
    return src

"""The decision in rounds (dedup/decide.py) on the graph of a real run equals the corpus stage's.

The graph is built by ``benchmarks/rounds_on_corpus.py`` (loaded from its file): every long
content paragraph of a cleaned generated corpus is a row, verified cross-document band-key
candidates are edges. With the default ``corpus.documents = "tag"`` and a fresh index, the
first-come rule over that graph is exactly what :class:`~dedup.crossdoc.CorpusDeduper` does, so
every row must agree: kept rows kept, ``duplicate:cross-doc`` rows dropped against the same
(document, line) at the same (rounded) similarity.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dedup.config import Config
from dedup.crossdoc import REASON
from dedup.decide import decide_rounds, decide_sequential

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "rounds_on_corpus.py"


def _bench() -> ModuleType:
    name = "benchmarks_rounds_on_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {BENCH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("boilerplate", [True, False])
def test_rounds_equal_the_corpus_stage(boilerplate: bool) -> None:
    bench = _bench()
    cfg = Config() if boilerplate else Config().replace(boilerplate={"enabled": False})
    graph = bench.build(bench.corpus_texts(150, 7), cfg)
    dropped = sum(r == REASON for r in graph.reason)
    assert graph.rows > 500 and dropped > 100 and len(graph.src) >= dropped  # syndication
    assert not graph.skipped_buckets
    decision, rounds = decide_rounds(graph.rows, graph.src, graph.dst, graph.sim, sharp=True)
    assert decision.same(decide_sequential(graph.rows, graph.src, graph.dst, graph.sim))
    assert rounds.remainder == 0
    cmp = bench.compare(graph, decision)
    assert dict(cmp.categories) == {}
    assert cmp.agree == graph.rows

"""kernels_off() runs every Python reference: no kernel is left out of it, it restores them, and
a whole clean gives the same bytes with the kernels and without (the benchmark
benchmarks/kernels_identical.py checks that on 10,000 generated pages and the real pages)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import dedup
from dedup.corpus import GeneratorConfig, generate
from dedup.kernels import HOLDERS, kernels_off
from dedup.pipeline import Cleaner


def _kernels_held() -> set[tuple[str, str]]:
    """(module, name) of every module-level name in dedup bound to a compiled dedup._* module."""
    held = set()
    for info in pkgutil.walk_packages(dedup.__path__, "dedup."):
        if info.name.split(".")[-1].startswith("_") or ".integrations" in info.name:
            continue
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, types.ModuleType) and value.__name__.startswith("dedup._") \
                    and getattr(value, "__file__", "").endswith(".so"):
                held.add((info.name, attr))
    return held


def test_every_kernel_is_switched() -> None:
    held = _kernels_held()
    assert held, "no kernel found: is the package built?"
    assert held == set(HOLDERS)


def test_kernels_off_restores_them() -> None:
    before = {(m, a): getattr(importlib.import_module(m), a) for m, a in HOLDERS}
    with kernels_off():
        assert all(getattr(importlib.import_module(m), a) is None for m, a in HOLDERS)
    assert {(m, a): getattr(importlib.import_module(m), a) for m, a in HOLDERS} == before
    assert all(v is not None for v in before.values())


def test_a_whole_clean_is_the_same_without_the_kernels() -> None:
    texts = [d["text"] for d, _ in generate(GeneratorConfig(docs=60, seed=5, split="test"))]
    with_kernels = [(r.text, [(v.label, v.reason, v.score) for v in r.verdicts])
                    for r in Cleaner().clean_documents(texts)]
    with kernels_off():
        reference = [(r.text, [(v.label, v.reason, v.score) for v in r.verdicts])
                     for r in Cleaner().clean_documents(texts)]
    assert with_kernels == reference
    assert any(label == "drop" for _, verdicts in reference for label, _, _ in verdicts)

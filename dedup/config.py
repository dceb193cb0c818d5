"""Configuration: one frozen dataclass per concern, shared by every stage.

The CLI and a TOML file map onto :class:`Config` in one place, :meth:`Config.from_mapping`.
:meth:`Config.fingerprint` identifies every setting that changes the output.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, slots=True)
class NormConfig:
    """How a paragraph is normalised for matching (the written text is never changed)."""

    casefold: bool = True
    strip_accents: bool = False


@dataclass(frozen=True, slots=True)
class BoilerplateConfig:
    """The boilerplate classifier.

    ``classifier``: ``page`` (the page-structure model trained on real pages, text alone: the
    same for one page as for a corpus), ``learned`` (the linear model trained on the generated
    corpus, with corpus counts as evidence when available), ``rules`` (cookie and consent
    notices and template lines from cue phrases and shapes only) or ``auto`` (``page``, plus
    the learned model's confident drops, P >= 0.8, when the run has corpus counts).
    ``preset`` picks the drop threshold on P(boilerplate) (page model: precision 0.8, balanced
    0.5, recall 0.35; learned: 0.8/0.6/0.35; rules: 0.8/0.5/0.3); ``threshold`` overrides it.
    A long sentence-like line (``guard_words`` words or more) needs ``guard`` or more.
    ``repetition``: corpus line counts as evidence (``auto`` and ``learned``) — ``off``,
    ``sample`` (the first
    ``repetition_sample`` documents of a run) or ``full`` (a first pass over every input).
    """

    enabled: bool = True
    classifier: str = "auto"
    preset: str = "balanced"
    threshold: float | None = None
    guard: float = 0.9
    guard_words: int = 20
    max_guard_words: int = 80
    repetition: str = "sample"
    repetition_sample: int = 10000
    repetition_min_docs: int = 50
    model: str = ""
    page_model: str = ""


@dataclass(frozen=True, slots=True)
class ShingleConfig:
    """Word shingles for MinHash; lines shorter than ``min_words`` are matched exactly instead."""

    size: int = 2
    min_words: int = 8
    min_exact_words: int = 4
    seed: int = 1


@dataclass(frozen=True, slots=True)
class LSHConfig:
    """MinHash/LSH: permutations, the verified Jaccard threshold, bands x rows (0 = derived)."""

    num_perm: int = 128
    threshold: float = 0.7
    bands: int = 0
    rows: int = 0
    gap_similarity: float = 0.6


@dataclass(frozen=True, slots=True)
class CorpusConfig:
    """Cross-document dedup: paragraphs against every earlier document, and document clusters.

    ``bands`` x ``rows`` of the MinHash signature key the corpus index (0 = derived: 5 rows and
    up to 16 bands, as many as ``lsh.num_perm`` allows; with 128 permutations, 16 x 5: a pair at
    Jaccard 0.7 becomes a candidate with probability 0.95, at 0.8 with 0.999; about 140 bytes
    per indexed paragraph). A document whose content Jaccard with an earlier one (estimated from its
    matched paragraphs) reaches ``document_threshold`` joins that one's cluster; ``documents``
    says what happens to it: ``tag`` (written, with its cluster id) or ``drop`` (not written).
    """

    enabled: bool = True
    bands: int = 0
    rows: int = 0
    documents: str = "tag"
    document_threshold: float = 0.5


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting of a run. Build one with keyword arguments, :meth:`from_toml` or
    :meth:`from_mapping`; all stages read the same instance.

    >>> Config().lsh.threshold
    0.7
    >>> Config.from_mapping({"lsh": {"threshold": 0.8}}).lsh.threshold
    0.8
    """

    norm: NormConfig = field(default_factory=NormConfig)
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    shingle: ShingleConfig = field(default_factory=ShingleConfig)
    lsh: LSHConfig = field(default_factory=LSHConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    keep: str = "first"

    def __post_init__(self) -> None:
        _check(0.0 < self.lsh.threshold <= 1.0, "lsh.threshold", self.lsh.threshold, "in (0, 1]")
        _check(0.0 < self.lsh.gap_similarity <= 1.0, "lsh.gap_similarity",
               self.lsh.gap_similarity, "in (0, 1]")
        _check(2 <= self.lsh.num_perm <= 4096, "lsh.num_perm", self.lsh.num_perm, "in [2, 4096]")
        _check(self.lsh.bands >= 0 and self.lsh.rows >= 0, "lsh.bands/rows",
               (self.lsh.bands, self.lsh.rows), ">= 0")
        _check(self.lsh.bands * self.lsh.rows <= self.lsh.num_perm, "lsh.bands*rows",
               self.lsh.bands * self.lsh.rows, f"<= num_perm ({self.lsh.num_perm})")
        _check((self.lsh.bands == 0) == (self.lsh.rows == 0), "lsh.bands/rows",
               (self.lsh.bands, self.lsh.rows), "both set or both 0")
        _check(1 <= self.shingle.size <= 16, "shingle.size", self.shingle.size, "in [1, 16]")
        _check(self.shingle.min_words >= 1, "shingle.min_words", self.shingle.min_words, ">= 1")
        _check(self.shingle.min_exact_words >= 1, "shingle.min_exact_words",
               self.shingle.min_exact_words, ">= 1")
        bp = self.boilerplate
        _check(bp.threshold is None or 0.0 <= bp.threshold <= 1.0, "boilerplate.threshold",
               bp.threshold, "in [0, 1]")
        _check(bp.classifier in ("auto", "page", "learned", "rules"),
               "boilerplate.classifier", bp.classifier, "'auto', 'page', 'learned' or 'rules'")
        _check(bp.preset in ("precision", "balanced", "recall"), "boilerplate.preset", bp.preset,
               "'precision', 'balanced' or 'recall'")
        _check(0.0 <= bp.guard <= 1.0, "boilerplate.guard", bp.guard, "in [0, 1]")
        _check(bp.repetition in ("off", "sample", "full"), "boilerplate.repetition",
               bp.repetition, "'off', 'sample' or 'full'")
        _check(bp.repetition_sample >= 1, "boilerplate.repetition_sample",
               bp.repetition_sample, ">= 1")
        c = self.corpus
        _check(c.bands >= 0 and c.rows >= 0 and (c.bands == 0) == (c.rows == 0),
               "corpus.bands/rows", (c.bands, c.rows), "both >= 1, or both 0 (derived)")
        _check(c.bands * c.rows <= self.lsh.num_perm, "corpus.bands*rows", c.bands * c.rows,
               f"<= num_perm ({self.lsh.num_perm})")
        _check(c.documents in ("tag", "drop"), "corpus.documents", c.documents,
               "'tag' or 'drop'")
        _check(0.0 < c.document_threshold <= 1.0, "corpus.document_threshold",
               c.document_threshold, "in (0, 1]")
        _check(self.keep in ("first", "longest"), "keep", self.keep, "'first' or 'longest'")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Config:
        """Build a config from nested mappings (a parsed TOML file, CLI overrides)."""
        sections = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name not in sections:
                raise ConfigError(f"unknown config section {name!r}",
                                  hint=f"known sections: {', '.join(sorted(sections))}")
            default = getattr(cls(), name)
            if dataclasses.is_dataclass(default):
                if not isinstance(value, Mapping):
                    raise ConfigError(f"config section {name!r} must be a table")
                known = {f.name for f in dataclasses.fields(default)}
                unknown = set(value) - known
                if unknown:
                    raise ConfigError(f"unknown key(s) in [{name}]: {', '.join(sorted(unknown))}",
                                      hint=f"known keys: {', '.join(sorted(known))}")
                try:
                    kwargs[name] = dataclasses.replace(default, **value)  # type: ignore[type-var]
                except TypeError as exc:
                    raise ConfigError(f"bad value in [{name}]: {exc}") from exc
            else:
                kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a TOML file whose tables mirror the dataclasses (``[lsh]``, ``[shingle]`` ...)."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(data)

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys of some sections changed.

        >>> Config().replace(lsh={"threshold": 0.8}).lsh.threshold
        0.8
        """
        merged = {
            name: {**dataclasses.asdict(getattr(self, name)), **dict(values)}
            for name, values in sections.items()
        }
        return Config.from_mapping({**self.to_dict(), **merged})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def corpus_bands(self) -> tuple[int, int]:
        """``(bands, rows)`` of the corpus index: the configured ones, or derived.

        >>> Config().corpus_bands(), Config().replace(lsh={"num_perm": 32}).corpus_bands()
        ((16, 5), (6, 5))
        """
        if self.corpus.bands:
            return self.corpus.bands, self.corpus.rows
        rows = min(5, self.lsh.num_perm)
        return max(1, min(16, self.lsh.num_perm // rows)), rows

    def fingerprint(self) -> str:
        """A short stable hash of every setting: equal fingerprints mean equal output."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{name} = {value!r} is out of range", hint=f"it must be {expected}")

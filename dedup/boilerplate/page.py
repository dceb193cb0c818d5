"""The page-structure classifier: boilerplate from what a line is and where it stands.

Two stacked gradient-boosted tree ensembles (:mod:`.trees`), trained on real pages with
human gold (:mod:`.labelled`) and on the generated corpus (``dedup train-classifier
--real-pages``):

1. stage 1 sees each non-blank line's shape (:data:`.features.DENSE`), what its words say (the
   class probabilities of the hashed-words linear model of :mod:`.model`, stage 1 only) and the
   page structure around it (:mod:`.structure`: runs of short lines, text density in windows,
   the main block of sentences, repeats on the page, neighbours);
2. stage 2 adds stage 1's content probability of the neighbours and the page's main block by
   that probability (:func:`.structure.smoothed_features`).

Text alone: one page is cleaned as well as a corpus (corpus counts are not an input). The
drop threshold is stage 2's P(boilerplate) (``--preset``); the cookie rules still drop
notices on their own, consent dialogs go whole, and copyright, share, menu and sign-up lines
recognisable by their shape alone go as template lines. The reason code names the category the
words model finds most likely among the boilerplate classes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..config import BoilerplateConfig
from ..errors import ConfigError
from ..types import DROP, Document, Verdict
from .classifier import add_template_lines, block_verdict, consent_block
from .features import DENSE, doc_bounds, line_docs
from .model import (
    CLASSES,
    RULE_OVERRIDE,
    RULE_OVERRIDE_SENTENCE,
    LearnedClassifier,
    LineCache,
    Model,
    load_model,
)
from .model import softmax as _softmax
from .repetition import LineCounts
from .structure import SMOOTHED, STRUCTURE, smoothed_features, structure_features
from .trees import Ensemble

PAGE_MODEL_PATH = Path(__file__).with_name("page_model.npz")
FEATURES1 = DENSE + tuple(f"words_{c}" for c in CLASSES) + STRUCTURE
FEATURES2 = (*FEATURES1, "stage1_content", *SMOOTHED)
PAGE_PRESETS = {"precision": 0.8, "balanced": 0.5, "recall": 0.35}
CORPUS_THRESHOLD = 0.8  # the learned model's precision preset, for its drops with counts
EMPTY_PAGE_SHARE = 0.5  # see PageClassifier.classify_batch
_COL = {name: i for i, name in enumerate(DENSE)}


@dataclass(frozen=True, slots=True)
class PageInputs:
    """Stage-1 inputs of a batch's non-blank lines (``rows``: their places among all the
    batch's paragraphs; ``bounds``: the documents among the rows) and the words model's class
    probabilities."""

    x1: np.ndarray
    rows: np.ndarray
    bounds: np.ndarray
    words: np.ndarray


def page_inputs(docs: Sequence[Document], words: Model, cache: LineCache) -> PageInputs:
    """The stage-1 inputs of the non-blank lines of ``docs`` (segmented and normalised)."""
    paras = [p for doc in docs for p in doc.paragraphs]
    bounds = doc_bounds([len(doc.paragraphs) for doc in docs])
    feats, word_z = cache.features(paras, bounds, words.stage1)
    rows = np.flatnonzero(np.fromiter((not p.blank for p in paras), dtype=bool,
                                      count=len(paras)))
    sizes = np.bincount(line_docs(bounds)[rows], minlength=len(docs))
    inner = doc_bounds(sizes.tolist())
    dense = feats.dense[rows]
    p_words = (_softmax(words.stage1.logits(dense, word_z=word_z[rows])) if len(rows)
               else np.zeros((0, len(CLASSES))))
    keys = [paras[i].key for i in rows.tolist()]
    x1 = np.hstack([dense, p_words, structure_features(dense, keys, inner)])
    return PageInputs(x1, rows, inner, p_words)


def stage2_inputs(x1: np.ndarray, p1: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Stage-2 inputs: stage 1's inputs, its content probability and its smoothed context."""
    return np.hstack([x1, p1[:, None], smoothed_features(p1, bounds)])


@dataclass(frozen=True, slots=True)
class PageModel:
    """The two ensembles (each gives the log-odds of content) and what they were trained on."""

    stage1: Ensemble
    stage2: Ensemble
    meta: dict[str, Any]

    def content_probability(self, inputs: PageInputs) -> np.ndarray:
        """P(content) of every row of ``inputs``."""
        if not len(inputs.x1):
            return np.zeros(0)
        p1 = self.stage1.proba(inputs.x1)
        return self.stage2.proba(stage2_inputs(inputs.x1, p1, inputs.bounds))

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {**self.stage1.arrays("s1"), **self.stage2.arrays("s2")}
        arrays["meta"] = np.frombuffer(json.dumps(self.meta, sort_keys=True).encode(),
                                       dtype=np.uint8)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> PageModel:
        hint = "reinstall dedup, or retrain with `dedup train-classifier --real-pages DIR`"
        try:
            with np.load(path) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                s1 = Ensemble.from_arrays(data, "s1")
                s2 = Ensemble.from_arrays(data, "s2")
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot load the page model {path}: {exc}", hint=hint) from exc
        if (tuple(meta.get("features1", ())) != FEATURES1
                or tuple(meta.get("features2", ())) != FEATURES2
                or s1.columns != len(FEATURES1) or s2.columns != len(FEATURES2)):
            raise ConfigError(f"the page model {path} was trained on other features", hint=hint)
        return cls(s1, s2, meta)


@lru_cache(maxsize=4)
def load_page_model(path: str = str(PAGE_MODEL_PATH)) -> PageModel:
    """The page model shipped with the package (read once per process)."""
    return PageModel.load(Path(path))


class PageClassifier:
    """The page-structure classifier as a pipeline :class:`~dedup.boilerplate.Classifier`."""

    def __init__(self, cfg: BoilerplateConfig = BoilerplateConfig(),
                 model: PageModel | None = None, words: Model | None = None,
                 counts: LineCounts | None = None) -> None:
        self.cfg = cfg
        self.model = model or load_page_model(cfg.page_model or str(PAGE_MODEL_PATH))
        self.words = words or (load_model(cfg.model) if cfg.model else load_model())
        self.threshold = PAGE_PRESETS[cfg.preset] if cfg.threshold is None else cfg.threshold
        self.lines = LineCache()  # recurring lines' own features, computed once
        # With corpus counts, the generated-corpus model's confident drops add to the page
        # model's: a line a site repeats on page after page is evidence the text alone lacks.
        self.corpus = None if counts is None else LearnedClassifier(
            replace(cfg, threshold=CORPUS_THRESHOLD), model=self.words, counts=counts)
        if self.corpus is not None:
            self.corpus.lines = self.lines  # the same words model: one cache of line features

    def classify(self, doc: Document) -> list[Verdict | None]:
        return self.classify_batch([doc])[0]

    def classify_batch(self, docs: Sequence[Document]) -> list[list[Verdict | None]]:
        """Verdicts for several documents, their lines scored together (the same verdicts as
        one by one: no feature looks past its document)."""
        if not any(doc.paragraphs for doc in docs):
            return [[] for _ in docs]
        inputs = page_inputs(docs, self.words, self.lines)
        p_content = self.model.content_probability(inputs)
        bp = 1.0 - p_content
        x1 = inputs.x1
        sentence = ((x1[:, _COL["log_words"]] >= np.log1p(self.cfg.guard_words))
                    & (x1[:, _COL["ends_terminal"]] > 0)
                    & (x1[:, _COL["stopword_share"]] >= 0.2))
        needed = np.where(sentence, np.maximum(self.threshold, self.cfg.guard), self.threshold)
        by_model = bp >= needed
        # A page is not emptied on weak evidence: when the model would drop every line of a
        # page, the lines at least half as likely content as its likeliest line stay.
        page_of = line_docs(inputs.bounds)
        kept = np.bincount(page_of, weights=~by_model, minlength=len(docs))
        best = np.zeros(len(docs))
        np.maximum.at(best, page_of, p_content)
        by_model &= ~((kept[page_of] == 0) & (p_content >= EMPTY_PAGE_SHARE * best[page_of]))
        rule = x1[:, _COL["cookie_rule_unquoted"]]
        by_rule = (((rule >= RULE_OVERRIDE) & ~sentence) | (rule >= RULE_OVERRIDE_SENTENCE))
        category = 1 + np.argmax(inputs.words[:, 1:], axis=1) if len(x1) else np.zeros(0, int)
        extra = None
        if self.corpus is not None:  # its verdicts count only where this model has none
            wanted = np.zeros(sum(len(doc.paragraphs) for doc in docs), dtype=bool)
            wanted[inputs.rows] = ~(by_rule | by_model)
            extra = self.corpus.classify_batch(docs, wanted)
        out: list[list[Verdict | None]] = []
        at = 0
        rows = inputs.rows.tolist()
        dropped = np.flatnonzero(by_rule | by_model)  # verdicts for these rows only
        cut = np.searchsorted(dropped, inputs.bounds).tolist()
        dropped_rows = dropped.tolist()
        for d, doc in enumerate(docs):
            verdicts: list[Verdict | None] = [None] * len(doc.paragraphs)
            for r in dropped_rows[cut[d]:cut[d + 1]]:
                i = rows[r] - at
                if by_rule[r]:
                    verdicts[i] = Verdict(DROP, "boilerplate:cookie", round(float(rule[r]), 4),
                                          detail=f"cookie rules {rule[r]:.2f} (page model "
                                                 f"P(boilerplate)={bp[r]:.2f})")
                else:
                    cls = CLASSES[int(category[r])]
                    detail = (f"page model P(boilerplate)={bp[r]:.2f}; the words look most "
                              f"like {cls}")
                    if sentence[r]:
                        detail += f"; long sentence-like line, guard {self.cfg.guard:.2f}"
                    verdicts[i] = Verdict(DROP, f"boilerplate:{cls}", round(float(bp[r]), 4),
                                          detail=detail)
            if extra is not None:
                for i, v in enumerate(extra[d]):
                    if verdicts[i] is None and v is not None:
                        verdicts[i] = Verdict(v.label, v.reason, v.score,
                                              detail=f"with corpus counts: {v.detail}")
            cookie = [v is not None and v.reason == "boilerplate:cookie" for v in verdicts]
            for i, how in consent_block(doc, cookie):  # a dialog's lines are consent lines
                old = verdicts[i]
                if old is None or old.reason != "boilerplate:cookie":
                    verdicts[i] = block_verdict(how)
            add_template_lines(doc, verdicts)
            out.append(verdicts)
            at += len(doc.paragraphs)
        return out

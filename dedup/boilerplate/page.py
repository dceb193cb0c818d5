"""The page-structure classifier: boilerplate from what a line is and where it stands.

Gradient-boosted trees (:mod:`.trees`), trained on real pages with human gold
(:mod:`.labelled`) and on the generated corpus (``dedup train-classifier --real-pages``), see
for each non-blank line:

- its shape (:data:`.features.DENSE`);
- what its words say: the class probabilities of the generated corpus's hashed-words model
  (:mod:`.model`, stage 1) and the real pages' own words model (:mod:`.lexical`), with its
  neighbours' scores;
- the page structure around it (:mod:`.structure`: runs of short lines, text density in
  windows, the main block of sentences, repeats on the page, neighbours) and the layout
  (:mod:`.layout`: repeated card shapes, prices, sorted runs, the page's title, lengths
  against the page's own).

Text alone: one page is cleaned as well as a corpus (corpus counts are not an input). The
drop threshold is the trees' P(boilerplate) (``--preset``); the cookie rules still drop
notices on their own, consent dialogs go whole, and copyright, share, menu and sign-up lines
recognisable by their shape alone go as template lines. The reason code names the category the
words model finds most likely among the boilerplate classes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import compress, repeat
from operator import is_not
from pathlib import Path
from typing import Any

import numpy as np

from ..config import BoilerplateConfig
from ..errors import ConfigError
from ..types import DROP, Document, Verdict, instances
from .classifier import add_template_lines, block_verdict, consent_block
from .features import DENSE, doc_bounds, line_docs
from .layout import LAYOUT, layout_features
from .lexical import LEXICAL, Lexical, lexical_columns
from .model import (
    CLASSES,
    RULE_OVERRIDE,
    RULE_OVERRIDE_SENTENCE,
    LearnedClassifier,
    LinearStage,
    LineBatch,
    LineCache,
    Model,
    line_batch,
    load_model,
)
from .model import softmax as _softmax
from .repetition import LineCounts
from .structure import STRUCTURE, structure_features
from .trees import Ensemble

PAGE_MODEL_PATH = Path(__file__).with_name("page_model.npz")
FEATURES = DENSE + tuple(f"words_{c}" for c in CLASSES) + STRUCTURE + LAYOUT + LEXICAL
PAGE_PRESETS = {"precision": 0.8, "balanced": 0.5, "recall": 0.35}
CORPUS_THRESHOLD = 0.8  # the learned model's precision preset, for its drops with counts
EMPTY_PAGE_SHARE = 0.5  # see PageClassifier.classify_batch
_COL = {name: i for i, name in enumerate(DENSE)}
_REASONS = tuple(f"boilerplate:{c}" for c in CLASSES)


@dataclass(frozen=True, slots=True)
class PageInputs:
    """The trees' inputs of a batch's non-blank lines (``rows``: their places among all the
    batch's paragraphs; ``bounds``: the documents among the rows) and the words model's class
    probabilities."""

    x: np.ndarray
    rows: np.ndarray
    bounds: np.ndarray
    words: np.ndarray


def page_inputs(docs: Sequence[Document], words: Model, lexical: Lexical, cache: LineCache,
                joint: LinearStage | None = None, batch: LineBatch | None = None) -> PageInputs:
    """The trees' inputs for the non-blank lines of ``docs`` (segmented and normalised).
    ``joint`` is ``lexical.joint(words.stage1)``, built once by the caller; ``batch`` the
    :func:`.model.line_batch` of ``docs`` under ``joint``, when the caller has it."""
    joint = joint or lexical.joint(words.stage1)
    batch = batch or line_batch(docs, cache, joint)
    k = len(CLASSES)
    rows = np.flatnonzero(batch.lines)
    sizes = np.bincount(line_docs(batch.bounds)[rows], minlength=len(docs))
    inner = doc_bounds(sizes.tolist())
    dense = batch.feats.dense[rows]
    word_z = batch.word_z[rows]
    p_words = (_softmax(words.stage1.logits(dense, word_z=word_z[:, :k])) if len(rows)
               else np.zeros((0, k)))
    mask = batch.lines.tolist()
    texts = list(compress(batch.texts, mask))
    keys = list(compress(batch.keys, mask))
    x = np.hstack([dense, p_words, structure_features(dense, keys, inner),
                   layout_features(texts, keys, dense, inner),
                   lexical_columns(lexical.score(word_z[:, k], dense), inner)])
    return PageInputs(x, rows, inner, p_words)


@dataclass(frozen=True, slots=True)
class PageModel:
    """The real pages' words model, the trees (the log-odds of content) and what they were
    trained on."""

    lexical: Lexical
    trees: Ensemble
    meta: dict[str, Any]
    _joint: dict[int, tuple[LinearStage, LinearStage]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def joint(self, stage: LinearStage) -> LinearStage:
        """:meth:`.Lexical.joint` of ``stage``, built once per model and stage (a cleaner per
        page would otherwise rebuild its 300,000-bucket table every time)."""
        got = self._joint.get(id(stage))
        if got is None or got[0] is not stage:
            got = (stage, self.lexical.joint(stage))
            self._joint[id(stage)] = got
        return got[1]

    def content_probability(self, inputs: PageInputs) -> np.ndarray:
        """P(content) of every row of ``inputs``."""
        if not len(inputs.x):
            return np.zeros(0)
        return self.trees.proba(inputs.x)

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {**self.lexical.arrays("lx"), **self.trees.arrays("t")}
        arrays["meta"] = np.frombuffer(json.dumps(self.meta, sort_keys=True).encode(),
                                       dtype=np.uint8)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> PageModel:
        hint = "reinstall dedup, or retrain with `dedup train-classifier --real-pages DIR`"
        try:
            with np.load(path) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                lexical = Lexical.from_arrays(data, "lx")
                trees = Ensemble.from_arrays(data, "t")
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot load the page model {path}: {exc}", hint=hint) from exc
        if tuple(meta.get("features", ())) != FEATURES or trees.columns != len(FEATURES):
            raise ConfigError(f"the page model {path} was trained on other features", hint=hint)
        return cls(lexical, trees, meta)


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
        self.joint = self.model.joint(self.words.stage1)  # both words models at once
        # With corpus counts, the generated-corpus model's confident drops add to the page
        # model's: a line a site repeats on page after page is evidence the text alone lacks.
        self.corpus = None if counts is None else LearnedClassifier(
            replace(cfg, threshold=CORPUS_THRESHOLD), model=self.words, counts=counts)
        if self.corpus is not None:  # the same words model: one cache of line features
            self.corpus.lines = self.lines
            self.corpus.cache_stage = self.joint

    def classify(self, doc: Document) -> list[Verdict | None]:
        return self.classify_batch([doc])[0]

    def classify_batch(self, docs: Sequence[Document]) -> list[list[Verdict | None]]:
        """Verdicts for several documents, their lines scored together (the same verdicts as
        one by one: no feature looks past its document)."""
        if not any(doc.paragraphs for doc in docs):
            return [[] for _ in docs]
        batch = line_batch(docs, self.lines, self.joint)  # read by both models
        inputs = page_inputs(docs, self.words, self.model.lexical, self.lines, self.joint,
                             batch)
        p_content = self.model.content_probability(inputs)
        bp = 1.0 - p_content
        x1 = inputs.x
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
            wanted = np.zeros(len(batch.paras), dtype=bool)
            wanted[inputs.rows] = ~(by_rule | by_model)
            extra = self.corpus.classify_batch(docs, wanted, batch)
        out: list[list[Verdict | None]] = []
        at = 0
        rows = inputs.rows.tolist()
        dropped = np.flatnonzero(by_rule | by_model)  # verdicts for these rows only
        cut = np.searchsorted(dropped, inputs.bounds).tolist()
        # Python values of the dropped rows (numpy scalars cost more per use)
        dropped_rows = dropped.tolist()
        d_rule = by_rule[dropped].tolist()
        d_score = rule[dropped].tolist()
        d_bp = bp[dropped].tolist()
        d_score4 = list(map(round, d_score, repeat(4)))
        d_bp4 = list(map(round, d_bp, repeat(4)))
        d_cls = category[dropped].tolist()
        d_sentence = sentence[dropped].tolist()
        guard = f"; long sentence-like line, guard {self.cfg.guard:.2f}"
        for d, doc in enumerate(docs):
            verdicts: list[Verdict | None] = [None] * len(doc.paragraphs)
            places: list[int] = []
            made: list[tuple[str, str, float, None, str]] = []
            for j in range(cut[d], cut[d + 1]):
                places.append(rows[dropped_rows[j]] - at)
                if d_rule[j]:
                    score = d_score[j]
                    made.append((DROP, "boilerplate:cookie", d_score4[j], None,
                                 f"cookie rules {score:.2f} (page model "
                                 f"P(boilerplate)={d_bp[j]:.2f})"))
                else:
                    cls = CLASSES[d_cls[j]]
                    detail = (f"page model P(boilerplate)={d_bp[j]:.2f}; the words look most "
                              f"like {cls}")
                    if d_sentence[j]:
                        detail += guard
                    made.append((DROP, _REASONS[d_cls[j]], d_bp4[j], None, detail))
            for i, verdict in zip(places, instances(Verdict, made), strict=True):
                verdicts[i] = verdict
            if extra is not None:
                more = extra[d]
                for i in compress(range(len(more)), map(is_not, more, repeat(None))):
                    v = more[i]
                    if verdicts[i] is None and v is not None:
                        verdicts[i] = Verdict(v.label, v.reason, v.score,
                                              detail=f"with corpus counts: {v.detail}")
            cookie = [v is not None and v.reason == "boilerplate:cookie" for v in verdicts]
            # a dialog's lines are consent lines
            for i, how in consent_block(doc, cookie, topical=batch.topical[d]):
                old = verdicts[i]
                if old is None or old.reason != "boilerplate:cookie":
                    verdicts[i] = block_verdict(how)
            add_template_lines(doc, verdicts)
            out.append(verdicts)
            at += len(doc.paragraphs)
        return out

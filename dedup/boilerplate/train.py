"""Training and evaluating the learned boilerplate classifier (``dedup train-classifier``).

Reproducible: the training data is the generated corpus of the ``dev`` split (disjoint articles
and boilerplate phrasings from ``test``) at a fixed size and seed, and scikit-learn's lbfgs
logistic regression is deterministic. Stage 2 is trained on out-of-fold stage-1 probabilities
(two folds by document), so it learns how much to trust stage 1 on lines stage 1 has not seen.
Every training line appears twice for stage 2, once with corpus repetition features and once
without, so the model works with and without corpus counts.

scikit-learn is needed here only (``pip install "dedup[train]"``); inference is numpy.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import BoilerplateConfig
from ..corpus import GeneratorConfig, generate
from ..errors import ConfigError
from ..normalize import normalize
from ..segment import segment
from ..types import Document
from .features import BUCKETS, DENSE, doc_features
from .model import (
    CLASSES,
    PRESETS,
    REPETITION,
    STAGE2,
    LinearStage,
    Model,
    context_features,
    decide,
    repetition_features,
    softmax,
    sparse_words,
    standardise,
)
from .repetition import LineCounts

if TYPE_CHECKING:
    from .page import PageModel


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """What to train on and how strongly to regularise (inverse strength ``c``)."""

    docs: int = 3000
    seed: int = 11
    c1: float = 1.0
    c2: float = 0.1
    max_iter: int = 400


@dataclass(slots=True)
class Dataset:
    """Features and labels of many documents, concatenated line by line."""

    dense: np.ndarray
    rows: np.ndarray
    buckets: np.ndarray
    labels: np.ndarray
    doc_of_line: np.ndarray
    repetition: np.ndarray
    langs: list[str]
    gold: list[str]


def label_index(gold: str) -> int:
    """Class index of a gold label (a duplicate is article text: content)."""
    if gold.startswith("boilerplate:"):
        return CLASSES.index(gold.split(":", 1)[1])
    return 0


def prepare(records: Iterable[tuple[dict[str, Any], dict[str, Any]]],
            counts: LineCounts | None) -> Dataset:
    """Segment, normalise and featurise generated documents with their gold labels."""
    dense: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    buckets: list[np.ndarray] = []
    reps: list[np.ndarray] = []
    labels: list[int] = []
    owner: list[int] = []
    langs: list[str] = []
    gold: list[str] = []
    offset = 0
    pairs = list(records)
    docs = [Document(d["id"], d["text"]) for d, _ in pairs]
    for i, (doc, (_, g)) in enumerate(zip(normalize(segment(docs)), pairs, strict=True)):
        paras = doc.paragraphs
        if len(paras) != len(g["labels"]):
            raise ConfigError(f"{doc.id}: {len(paras)} lines but {len(g['labels'])} labels")
        toks = [p.tokens for p in paras]
        f = doc_features([p.text for p in paras], toks)
        words = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
        dense.append(f.dense)
        rows.append(f.rows + offset)
        buckets.append(f.buckets)
        labels.extend(label_index(x) for x in g["labels"])
        owner.extend([i] * len(paras))
        reps.append(repetition_features([p.key for p in paras], words, counts))
        langs.extend([g["site_lang"]] * len(paras))
        gold.extend(g["labels"])
        offset += len(paras)
    return Dataset(np.vstack(dense), np.concatenate(rows), np.concatenate(buckets),
                   np.asarray(labels), np.asarray(owner), np.vstack(reps), langs, gold)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per column, over the values present (NaN means missing)."""
    present = ~np.isnan(x)
    counts = np.maximum(present.sum(axis=0), 1)
    mean = np.where(present, x, 0.0).sum(axis=0) / counts
    var = (np.where(present, x - mean, 0.0) ** 2).sum(axis=0) / counts
    scale = np.sqrt(var)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def _fit(x: Any, y: np.ndarray, c: float, max_iter: int) -> Any:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise ConfigError("training the classifier needs scikit-learn",
                          hint='pip install "dedup[train]"') from exc
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    clf = LogisticRegression(C=c, max_iter=max_iter, tol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    if list(clf.classes_) != list(range(len(CLASSES))):
        raise ConfigError("the training data lacks some classes",
                          hint="generate more documents (--docs)")
    return clf


def _stage1(ds: Dataset, lines: np.ndarray, c: float, max_iter: int) -> LinearStage:
    mean, scale = _standardise(ds.dense[lines])
    x = _design1(ds, lines, mean, scale)
    clf = _fit(x, ds.labels[lines], c, max_iter)
    d = len(DENSE)
    coef = clf.coef_
    return LinearStage(mean, scale, coef[:, :d].T.copy(), clf.intercept_.copy(),
                       *sparse_words(np.asarray(coef[:, d:].T)))


def _words_of(ds: Dataset, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (row, bucket) word pairs of ``lines``, rows renumbered to positions in ``lines``."""
    position = np.full(len(ds.labels), -1, dtype=np.int64)
    position[lines] = np.arange(len(lines))
    keep = position[ds.rows] >= 0
    return position[ds.rows[keep]], ds.buckets[keep]


def _design1(ds: Dataset, lines: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> Any:
    from scipy import sparse

    rows, buckets = _words_of(ds, lines)
    words = sparse.csr_matrix((np.ones(len(rows)), (rows, buckets)),
                              shape=(len(lines), BUCKETS))
    dense = sparse.csr_matrix(standardise(ds.dense[lines], mean, scale))
    return sparse.hstack([dense, words], format="csr")


def _predict1(stage: LinearStage, ds: Dataset, lines: np.ndarray) -> np.ndarray:
    rows, buckets = _words_of(ds, lines)
    return softmax(stage.logits(ds.dense[lines], rows, buckets))


def _documents(ds: Dataset) -> Iterator[tuple[int, int]]:
    """``(start, end)`` line ranges of the documents of ``ds``."""
    bounds = np.flatnonzero(np.r_[True, ds.doc_of_line[1:] != ds.doc_of_line[:-1], True])
    return itertools.pairwise(bounds.tolist())


def _context(ds: Dataset, p1: np.ndarray) -> np.ndarray:
    out = np.zeros((len(p1), len(context_features(p1[:1]).T)), dtype=np.float64)
    for a, b in _documents(ds):
        out[a:b] = context_features(p1[a:b])
    return out


def train(cfg: TrainConfig, say: Any = None) -> tuple[Model, dict[str, Any]]:
    """Train both stages on the dev split; returns the model and a training report."""
    say = say or (lambda msg: None)
    t0 = time.perf_counter()
    say(f"generating {cfg.docs} dev documents (seed {cfg.seed}) in two halves")
    # Each half has its own articles and boilerplate phrasings, so stage 1 trained on one half
    # meets unseen phrasings on the other, as the final model will on real pages.
    half = cfg.docs // 2
    records = [(d, {**g, "fold": k}) for k, sub in enumerate(("dev/0", "dev/1"))
               for d, g in generate(GeneratorConfig(docs=half, seed=cfg.seed + k, split=sub))]
    counts = LineCounts()
    counts.add_documents(normalize(segment(Document(d["id"], d["text"]) for d, _ in records)))
    ds = prepare(records, counts)
    n = len(ds.labels)
    say(f"{n} lines, {len(records)} documents; fitting stage 1 (two folds, then all)")
    fold = np.asarray([records[i][1]["fold"] for i in ds.doc_of_line])
    p1 = np.zeros((n, len(CLASSES)))
    for k in (0, 1):
        train_lines = np.flatnonzero(fold != k)
        held = np.flatnonzero(fold == k)
        p1[held] = _predict1(_stage1(ds, train_lines, cfg.c1, cfg.max_iter), ds, held)
    stage1 = _stage1(ds, np.arange(n), cfg.c1, cfg.max_iter)
    say("fitting stage 2 (context and repetition)")
    x2 = np.hstack([ds.dense, _context(ds, p1), ds.repetition])
    x2_off = x2.copy()
    x2_off[:, -len(REPETITION):] = np.nan  # no corpus counts: neutral
    x2_off[:, -1] = 0.0  # has_counts
    x2_all = np.vstack([x2, x2_off])
    y2 = np.concatenate([ds.labels, ds.labels])
    mean2, scale2 = _standardise(x2_all)
    clf2 = _fit(standardise(x2_all, mean2, scale2), y2, cfg.c2, cfg.max_iter)
    stage2 = LinearStage(mean2, scale2, clf2.coef_.T.copy(), clf2.intercept_.copy())
    meta = {"dense": list(DENSE), "classes": list(CLASSES), "stage2": list(STAGE2),
            "train": asdict(cfg),
            "lines": n, "documents": len(records),
            "label_counts": dict(sorted(Counter(ds.gold).items()))}
    model = Model(stage1, stage2, meta)
    report = {"seconds": round(time.perf_counter() - t0, 1), **meta}
    return model, report


def evaluate(model: Model, docs: int = 2000, seed: int = 1, split: str = "test",
             repetition: bool = True) -> dict[str, Any]:
    """Boilerplate precision/recall per preset, per category and per language on a split,
    with the same decision rule as the pipeline (:func:`~.model.decide`)."""
    records = list(generate(GeneratorConfig(docs=docs, seed=seed, split=split)))
    counts = None
    if repetition:
        counts = LineCounts()
        counts.add_documents(normalize(segment(Document(d["id"], d["text"]) for d, _ in records)))
    ds = prepare(records, counts)
    probs = np.zeros((len(ds.labels), len(CLASSES)))
    for a, b in _documents(ds):
        p1 = _predict1(model.stage1, ds, np.arange(a, b))
        x2 = np.hstack([ds.dense[a:b], context_features(p1), ds.repetition[a:b]])
        probs[a:b] = softmax(model.stage2.logits(x2))
    return score(probs, ds, docs, split, repetition)


def score(probs: np.ndarray, ds: Dataset, docs: int, split: str,
          repetition: bool) -> dict[str, Any]:
    """Metrics of class probabilities against the gold labels of ``ds``."""
    bp_true = ds.labels > 0
    # Copies of article lines (gold duplicates) are removed anyway: dropping them as
    # boilerplate is neither a hit nor a loss of content, so they are left out here.
    gold = np.asarray(ds.gold)
    scored = gold != "duplicate"
    out: dict[str, Any] = {"docs": docs, "split": split, "repetition": repetition,
                           "lines": len(ds.labels), "presets": {}}
    for name, threshold in PRESETS.items():
        pred = decide(probs, ds.dense, threshold, BoilerplateConfig()).drop
        tp = int((pred & bp_true).sum())
        fp = int((pred & ~bp_true & scored).sum())
        fn = int((~pred & bp_true).sum())
        content = (ds.labels == 0) & scored
        per_cat = {c: round(float(pred[ds.labels == i].mean()), 4)
                   for i, c in enumerate(CLASSES) if i and (ds.labels == i).any()}
        langs = np.asarray(ds.langs)
        cookie = ds.labels == CLASSES.index("cookie")
        per_lang = {lang: round(float(pred[cookie & (langs == lang)].mean()), 4)
                    for lang in sorted(set(ds.langs)) if (cookie & (langs == lang)).any()}
        out["presets"][name] = {
            "threshold": threshold,
            "precision": round(tp / max(tp + fp, 1), 4),
            "recall": round(tp / max(tp + fn, 1), 4),
            "content_dropped": round(float(pred[content].mean()), 4),
            "recall_by_category": per_cat,
            "cookie_recall_by_language": per_lang,
        }
    return out


def write_model(model: Model | PageModel, path: Path) -> None:
    """Save a model atomically next to the target (numpy writes ``.npz``)."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        model.save(Path(tmp))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)

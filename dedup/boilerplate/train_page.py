"""Training the page-structure classifier on real pages (``dedup train-classifier --real-pages``).

Data: every line of the real pages under a user-given directory, labelled by aligning it with
the human gold (:mod:`.labelled`), and the generated corpus's dev split (languages and
phrasings the real pages lack; weighted ``generated_weight`` a line). Pages are split by site:
every page of a domain sits in one fold, so cross-validated numbers come from models that never
saw the site.

Stage 2 is trained on out-of-fold stage-1 probabilities (the real pages by domain fold, the
generated pages in two halves), so it learns how far to trust stage 1 on pages stage 1 has not
seen. :func:`cross_validate` nests that inside each outer fold: a fold's model never saw its
pages, in either stage.

scikit-learn is needed here only (``pip install "dedup[train]"``); inference is
:mod:`.trees`. Deterministic: the same pages and config give the same trees.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..corpus import GeneratorConfig, generate
from ..errors import ConfigError
from ..normalize import normalize
from ..segment import segment
from ..types import Document
from .features import doc_bounds
from .labelled import LabelledPage, domain_folds
from .model import LineCache, Model, load_model
from .page import FEATURES1, FEATURES2, PageModel, page_inputs, stage2_inputs
from .trees import Ensemble, from_sklearn

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PageTrainConfig:
    """What the page model is trained on and how."""

    folds: int = 5
    trees: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    max_depth: int = 8
    min_samples_leaf: int = 40
    l2: float = 1.0
    generated_docs: int = 1500
    generated_weight: float = 0.5
    clean_copies: bool = True
    seed: int = 11


@dataclass(frozen=True, slots=True)
class LineSet:
    """Stage-1 inputs and labels of many pages' non-blank lines (``page``: the page of each
    line, in page order; ``bounds``: the pages among the lines)."""

    x1: np.ndarray
    content: np.ndarray
    page: np.ndarray
    bounds: np.ndarray

    def take(self, pages: np.ndarray) -> LineSet:
        """The lines of ``pages`` (sorted page numbers), renumbered from 0."""
        keep = np.isin(self.page, pages)
        sizes = np.diff(self.bounds)[pages]
        return LineSet(self.x1[keep], self.content[keep],
                       np.repeat(np.arange(len(pages)), sizes), doc_bounds(sizes.tolist()))


def _batches(docs: Sequence[Any], size: int = 32) -> Iterator[Sequence[Any]]:
    for i in range(0, len(docs), size):
        yield docs[i:i + size]


def line_set(docs: Sequence[tuple[str, str, np.ndarray]], words: Model) -> LineSet:
    """Features of ``(id, text, content label per line)`` documents."""
    cache = LineCache()
    x1: list[np.ndarray] = []
    content: list[np.ndarray] = []
    sizes: list[int] = []
    for batch in _batches(docs):
        parsed = list(normalize(segment(Document(i, text) for i, text, _ in batch)))
        for doc, (_, _, labels) in zip(parsed, batch, strict=True):
            if len(doc.paragraphs) != len(labels):
                raise ConfigError(f"{doc.id}: {len(doc.paragraphs)} lines but "
                                  f"{len(labels)} labels")
        inputs = page_inputs(parsed, words, cache)
        labels = np.concatenate([lab for _, _, lab in batch])
        x1.append(inputs.x1)
        content.append(labels[inputs.rows])
        sizes.extend(np.diff(inputs.bounds).tolist())
    bounds = doc_bounds(sizes)
    page = np.repeat(np.arange(len(sizes)), sizes)
    width = len(FEATURES1)
    return LineSet(np.vstack(x1) if x1 else np.zeros((0, width)),
                   np.concatenate(content) if content else np.zeros(0, dtype=bool),
                   page, bounds)


def with_clean_copies(pages: Sequence[LabelledPage]) -> list[LabelledPage]:
    """``pages`` and, after them, each page's content lines alone as a page of its own, every
    line content: what dedup writes for a page is itself a page to keep whole (cleaning clean
    text changes nothing), and short pages of plain sentences are common input too. A copy
    shares its page's site, so it falls in the same fold."""
    copies = []
    for p in pages:
        lines = tuple(line for line, c in zip(p.lines, p.content.tolist(), strict=True) if c)
        if lines:
            copies.append(LabelledPage(f"{p.name}#clean", p.domain, p.page_type, lines,
                                       np.ones(len(lines), dtype=bool)))
    return [*pages, *copies]


def real_lines(pages: Sequence[LabelledPage], words: Model) -> LineSet:
    return line_set([(p.name, "\n".join(p.lines), p.content) for p in pages], words)


def generated_lines(docs: int, seed: int, words: Model) -> LineSet:
    """The generated dev split's lines; content = not boilerplate (a copied article paragraph
    is content to the classifier: the duplicate stages remove it)."""
    records = generate(GeneratorConfig(docs=docs, seed=seed, split="dev/0")) if docs else ()
    return line_set([(d["id"], d["text"],
                      np.asarray([not lab.startswith("boilerplate:") for lab in g["labels"]]))
                     for d, g in records], words)


def _fit(cfg: PageTrainConfig, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Ensemble:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        max_iter=cfg.trees, learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
        max_depth=cfg.max_depth, min_samples_leaf=cfg.min_samples_leaf,
        l2_regularization=cfg.l2, early_stopping=False, random_state=cfg.seed)
    model.fit(x, y.astype(np.int64), sample_weight=w)
    return from_sklearn(model, x.shape[1])


def _joined(cfg: PageTrainConfig, yr: np.ndarray, yg: np.ndarray, xr: np.ndarray,
            xg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.vstack([xr, xg])
    y = np.concatenate([yr, yg])
    w = np.concatenate([np.ones(len(xr)), np.full(len(xg), cfg.generated_weight)])
    return x, y, w


def fit_page_model(cfg: PageTrainConfig, real: LineSet, real_fold: np.ndarray, gen: LineSet,
                   say: Say | None = None) -> PageModel:
    """Both stages on ``real`` (``real_fold``: the domain fold of each page) and ``gen``."""
    say = say or (lambda msg: None)
    p1 = np.zeros(len(real.content))
    g1 = np.zeros(len(gen.content))
    folds = sorted(set(real_fold.tolist()))
    if len(folds) < 2:
        raise ConfigError("training needs the real pages of at least two domain folds",
                          hint="give pages of more sites, or fewer --folds")
    line_fold = real_fold[real.page]
    # The generated pages are dealt to the same folds, so one model per fold scores both.
    gen_fold = np.asarray(folds)[gen.page % len(folds)] if folds else gen.page
    for k in folds:  # stage 1 out of fold: each real page scored by a model without its site
        held, gheld = line_fold == k, gen_fold == k
        sub = _fit(cfg, *_joined(cfg, real.content[~held], gen.content[~gheld],
                                 real.x1[~held], gen.x1[~gheld]))
        p1[held] = sub.proba(real.x1[held])
        g1[gheld] = sub.proba(gen.x1[gheld])
        say(f"  stage 1, fold {k}: {int(held.sum())} real lines scored out of fold")
    stage1 = _fit(cfg, *_joined(cfg, real.content, gen.content, real.x1, gen.x1))
    say("  stage 2")
    x2r = stage2_inputs(real.x1, p1, real.bounds)
    x2g = stage2_inputs(gen.x1, g1, gen.bounds) if len(gen.content) else np.zeros(
        (0, len(FEATURES2)))
    stage2 = _fit(cfg, *_joined(cfg, real.content, gen.content, x2r, x2g))
    meta = {"features1": list(FEATURES1), "features2": list(FEATURES2), "train": asdict(cfg),
            "real_lines": len(real.content), "real_pages": len(real.bounds) - 1,
            "generated_lines": len(gen.content), "versions": training_versions()}
    return PageModel(stage1, stage2, meta)


def training_versions() -> dict[str, str]:
    """The versions of what a model is trained with (recorded in its metadata)."""
    from importlib.metadata import version

    return {name: version(name) for name in ("scikit-learn", "numpy", "dedup")}


def _say(say: Say | None) -> Say:
    return say or (lambda msg: None)


def train_page_model(cfg: PageTrainConfig, pages: Sequence[LabelledPage],
                     say: Say | None = None, words: Model | None = None) -> PageModel:
    """The model shipped in the package: trained on all ``pages`` and the generated split."""
    say = _say(say)
    words = words or load_model()
    t0 = time.perf_counter()
    say(f"featurising {len(pages)} real pages and {cfg.generated_docs} generated pages")
    if cfg.clean_copies:
        pages = with_clean_copies(pages)
    real = real_lines(pages, words)
    gen = generated_lines(cfg.generated_docs, cfg.seed, words)
    model = fit_page_model(cfg, real, domain_folds(pages, cfg.folds), gen, say)
    say(f"trained in {time.perf_counter() - t0:.0f}s")
    return model


def cross_validate(cfg: PageTrainConfig, pages: Sequence[LabelledPage],
                   say: Say | None = None, words: Model | None = None
                   ) -> tuple[np.ndarray, list[PageModel]]:
    """One model per domain fold, each trained (both stages) without that fold's pages;
    returns the fold of every page of ``pages`` and the models."""
    say = _say(say)
    words = words or load_model()
    n_pages = len(pages)
    fold = domain_folds(pages, cfg.folds)
    if cfg.clean_copies:
        pages = with_clean_copies(pages)
        fold = domain_folds(pages, cfg.folds)  # the same folds: copies share their site
    real = real_lines(pages, words)
    gen = generated_lines(cfg.generated_docs, cfg.seed, words)
    models = []
    first = fold[:n_pages].copy()
    for k in range(cfg.folds):
        train = np.flatnonzero(fold != k)
        say(f"fold {k}: training on {len(train)} pages of the other folds")
        models.append(fit_page_model(cfg, real.take(train), fold[train], gen, say))
    return first, models

"""Training the page-structure classifier on real pages (``dedup train-classifier --real-pages``).

Data: every line of the real pages under a user-given directory, labelled by aligning it with
the human gold (:mod:`.labelled`), and the generated corpus's dev split (languages and
phrasings the real pages lack; weighted ``generated_weight`` a line). Pages are split by site:
every page of a domain sits in one fold, so cross-validated numbers come from models that never
saw the site.

The real pages' words model (:mod:`.lexical`, a logistic regression over the hashed words) is
fitted first; the trees are trained on its out-of-fold scores (each page scored by a words
model that never saw its site, the generated pages dealt to the same folds), so they learn how
far to trust it on pages it has not seen. Each real page weighs the same in the trees, however
many lines it has: a shop page of 1,000 menu lines does not outvote ten articles.
:func:`cross_validate` nests all of that inside each outer fold: a fold's model never saw its
pages, in either part.

scikit-learn is needed here only (``pip install "dedup[train]"``); inference is
:mod:`.trees`. Deterministic: the same pages and config give the same trees.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ..corpus import GeneratorConfig, generate
from ..errors import ConfigError
from ..normalize import normalize
from ..segment import segment
from ..types import Document
from .features import BUCKETS, doc_bounds, line_features
from .labelled import LabelledPage, domain_folds
from .lexical import LEXICAL, Lexical, lexical_columns, pair_scale
from .model import LineCache, Model, load_model
from .page import FEATURES, PageModel, page_inputs
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
    clean_weight: float = 0.25
    page_weights: bool = True
    lexical_alpha: float = 3e-6
    lexical_epochs: int = 20
    seed: int = 11


@dataclass(frozen=True, slots=True)
class LineSet:
    """The inputs but the ``LEXICAL`` columns (``base``), the hashed words (``words``: a
    lines x buckets sparse matrix, each line scaled as :func:`.lexical.pair_scale`) and the
    labels of many pages' non-blank lines (``page``: the page of each line, in page order;
    ``bounds``: the pages among the lines)."""

    base: np.ndarray
    words: Any
    content: np.ndarray
    page: np.ndarray
    bounds: np.ndarray
    weight: np.ndarray  # per page: its weight relative to a real page

    def take(self, pages: np.ndarray) -> LineSet:
        """The lines of ``pages`` (sorted page numbers), renumbered from 0."""
        keep = np.isin(self.page, pages)
        sizes = np.diff(self.bounds)[pages]
        return LineSet(self.base[keep], self.words[np.flatnonzero(keep)], self.content[keep],
                       np.repeat(np.arange(len(pages)), sizes), doc_bounds(sizes.tolist()),
                       self.weight[pages])


def _batches(docs: Sequence[Any], size: int = 32) -> Iterator[Sequence[Any]]:
    for i in range(0, len(docs), size):
        yield docs[i:i + size]


_NO_WORDS = Lexical(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), 0.0)
_BASE = len(FEATURES) - len(LEXICAL)


def line_set(docs: Sequence[tuple[str, str, np.ndarray]], words: Model) -> LineSet:
    """Features of ``(id, text, content label per line)`` documents."""
    from scipy import sparse

    cache = LineCache()
    base: list[np.ndarray] = []
    content: list[np.ndarray] = []
    sizes: list[int] = []
    pairs: list[Any] = []
    for batch in _batches(docs):
        parsed = list(normalize(segment(Document(i, text) for i, text, _ in batch)))
        for doc, (_, _, labels) in zip(parsed, batch, strict=True):
            if len(doc.paragraphs) != len(labels):
                raise ConfigError(f"{doc.id}: {len(doc.paragraphs)} lines but "
                                  f"{len(labels)} labels")
        inputs = page_inputs(parsed, words, _NO_WORDS, cache)
        paras = [p for doc in parsed for p in doc.paragraphs]
        lines = [paras[i] for i in inputs.rows.tolist()]
        lf = line_features([p.text for p in lines], [p.tokens for p in lines])
        m = sparse.csr_matrix((np.ones(len(lf.rows)), (lf.rows, lf.buckets)),
                              shape=(len(lines), BUCKETS))
        m.sum_duplicates()
        pairs.append(sparse.diags(pair_scale(inputs.x)) @ m)
        labels = np.concatenate([lab for _, _, lab in batch])
        base.append(inputs.x[:, :_BASE])
        content.append(labels[inputs.rows])
        sizes.extend(np.diff(inputs.bounds).tolist())
    bounds = doc_bounds(sizes)
    page = np.repeat(np.arange(len(sizes)), sizes)
    return LineSet(np.vstack(base) if base else np.zeros((0, _BASE)),
                   sparse.vstack(pairs).tocsr() if pairs else sparse.csr_matrix((0, BUCKETS)),
                   np.concatenate(content) if content else np.zeros(0, dtype=bool),
                   page, bounds, np.ones(len(sizes)))


def with_clean_copies(pages: Sequence[LabelledPage]) -> list[LabelledPage]:
    """``pages`` and, after them, each page's content lines alone as a page of its own, every
    line content: what dedup writes for a page is itself a page to keep whole (cleaning clean
    text changes nothing), and short pages of plain sentences are common input too. A copy
    shares its page's site, so it falls in the same fold. A copy weighs ``clean_weight`` of a
    page in training: at a whole page's weight, short all-content pages would teach the trees
    that any short page is content (a seven-line shop page kept its cookie button)."""
    copies = []
    for p in pages:
        lines = tuple(line for line, c in zip(p.lines, p.content.tolist(), strict=True) if c)
        if lines:
            copies.append(LabelledPage(f"{p.name}#clean", p.domain, p.page_type, lines,
                                       np.ones(len(lines), dtype=bool)))
    return [*pages, *copies]


def real_lines(pages: Sequence[LabelledPage], words: Model) -> LineSet:
    return line_set([(p.name, "\n".join(p.lines), p.content) for p in pages], words)


def _with_copies(cfg: PageTrainConfig, pages: Sequence[LabelledPage], words: Model
                 ) -> tuple[list[LabelledPage], LineSet]:
    """``pages`` (with their clean copies when ``clean_copies``) and their lines."""
    if not cfg.clean_copies:
        return list(pages), real_lines(pages, words)
    every = with_clean_copies(pages)
    weight = np.ones(len(every))
    weight[len(pages):] = cfg.clean_weight  # the copies come after their pages
    return every, replace(real_lines(every, words), weight=weight)


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


def _weights(cfg: PageTrainConfig, real: LineSet, gen: LineSet) -> np.ndarray:
    """Training weights of ``real``'s then ``gen``'s lines: each real page its ``weight`` in
    total (``page_weights``; the real lines' mean weight stays 1) or a line its page's weight,
    each generated line ``generated_weight``."""
    if len(real.content):
        per = real.weight[real.page]
        if cfg.page_weights:
            per = per / np.diff(real.bounds).astype(np.float64)[real.page]
        wr = per * len(per) / per.sum()
    else:
        wr = np.ones(0)
    return np.concatenate([wr, np.full(len(gen.content), cfg.generated_weight)])


def _fit_lexical(cfg: PageTrainConfig, words: Any, y: np.ndarray, w: np.ndarray) -> Lexical:
    from sklearn.linear_model import SGDClassifier

    # A fixed number of epochs (tol=None): the same data give the same weights, and no
    # convergence warning stands for a criterion that is not used.
    model = SGDClassifier(loss="log_loss", alpha=cfg.lexical_alpha,
                          max_iter=cfg.lexical_epochs, tol=None, random_state=cfg.seed)
    model.fit(words, y.astype(np.int64), sample_weight=w)
    coef = model.coef_[0]
    rows = np.flatnonzero(coef)
    return Lexical(rows.astype(np.int64), coef[rows].astype(np.float32),
                   float(model.intercept_[0]))


def _lex_scores(lexical: Lexical, words: Any) -> np.ndarray:
    """The words' scores of lines in a training matrix (already scaled per line)."""
    full = np.zeros(BUCKETS, dtype=np.float64)
    full[lexical.rows] = lexical.weights
    out: np.ndarray = words @ full + lexical.bias
    return out


def fit_page_model(cfg: PageTrainConfig, real: LineSet, real_fold: np.ndarray, gen: LineSet,
                   say: Say | None = None) -> PageModel:
    """The words model and the trees on ``real`` (``real_fold``: the domain fold of each
    page) and ``gen``."""
    from scipy import sparse

    say = say or (lambda msg: None)
    folds = sorted(set(real_fold.tolist()))
    if len(folds) < 2:
        raise ConfigError("training needs the real pages of at least two domain folds",
                          hint="give pages of more sites, or fewer --folds")
    line_fold = np.concatenate([real_fold[real.page],
                                # the generated pages are dealt to the same folds
                                np.asarray(folds)[gen.page % len(folds)]])
    words = sparse.vstack([real.words, gen.words]).tocsr()
    y = np.concatenate([real.content, gen.content])
    w = _weights(cfg, real, gen)
    lex = np.zeros(len(y))
    for k in folds:  # out of fold: each page scored by a words model without its site
        held = line_fold == k
        sub = _fit_lexical(cfg, words[np.flatnonzero(~held)], y[~held], w[~held])
        lex[held] = _lex_scores(sub, words[np.flatnonzero(held)])
        say(f"  words model, fold {k}: {int(held[: len(real.content)].sum())} real lines "
            "scored out of fold")
    lexical = _fit_lexical(cfg, words, y, w)
    n = len(real.content)
    x = np.vstack([np.hstack([real.base, lexical_columns(lex[:n], real.bounds)]),
                   np.hstack([gen.base, lexical_columns(lex[n:], gen.bounds)])])
    say("  trees")
    trees = _fit(cfg, x, y, w)
    meta = {"features": list(FEATURES), "train": asdict(cfg),
            "real_lines": len(real.content), "real_pages": len(real.bounds) - 1,
            "generated_lines": len(gen.content), "versions": training_versions()}
    return PageModel(lexical, trees, meta)


def training_versions() -> dict[str, str]:
    """The versions of what a model is trained with (recorded in its metadata)."""
    from importlib.metadata import version

    return {name: version(name) for name in ("scikit-learn", "scipy", "numpy", "dedup")}


def _say(say: Say | None) -> Say:
    return say or (lambda msg: None)


def train_page_model(cfg: PageTrainConfig, pages: Sequence[LabelledPage],
                     say: Say | None = None, words: Model | None = None) -> PageModel:
    """The model shipped in the package: trained on all ``pages`` and the generated split."""
    say = _say(say)
    words = words or load_model()
    t0 = time.perf_counter()
    say(f"featurising {len(pages)} real pages and {cfg.generated_docs} generated pages")
    pages, real = _with_copies(cfg, pages, words)
    gen = generated_lines(cfg.generated_docs, cfg.seed, words)
    model = fit_page_model(cfg, real, domain_folds(pages, cfg.folds), gen, say)
    say(f"trained in {time.perf_counter() - t0:.0f}s")
    return model


def cross_validate(cfg: PageTrainConfig, pages: Sequence[LabelledPage],
                   say: Say | None = None, words: Model | None = None
                   ) -> tuple[np.ndarray, list[PageModel]]:
    """One model per domain fold, each trained (words model and trees) without that fold's
    pages; returns the fold of every page of ``pages`` and the models."""
    say = _say(say)
    words = words or load_model()
    n_pages = len(pages)
    pages, real = _with_copies(cfg, pages, words)
    fold = domain_folds(pages, cfg.folds)  # the same folds: copies share their site
    gen = generated_lines(cfg.generated_docs, cfg.seed, words)
    models = []
    first = fold[:n_pages].copy()
    for k in range(cfg.folds):
        train = np.flatnonzero(fold != k)
        say(f"fold {k}: training on {len(train)} pages of the other folds")
        models.append(fit_page_model(cfg, real.take(train), fold[train], gen, say))
    return first, models

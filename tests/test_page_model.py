"""The page-structure classifier: line labels from gold, tree inference, structure features,
reproducible training, the classifier in the pipeline and the training command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Cleaner, Config
from dedup.boilerplate.features import doc_bounds
from dedup.boilerplate.labelled import domain_folds, line_labels, load_pages
from dedup.boilerplate.lexical import Lexical
from dedup.boilerplate.page import (
    FEATURES,
    PageClassifier,
    PageModel,
    load_page_model,
    page_inputs,
)
from dedup.boilerplate.structure import Segmented, structure_features
from dedup.boilerplate.trees import Ensemble, from_sklearn
from dedup.cli import main
from dedup.errors import ConfigError, InputError
from dedup.normalize import normalize
from dedup.segment import segment
from dedup.types import Document

ARTICLE = [
    "The council voted on Monday to expand the cycle lanes along the river, after a year of "
    "consultation with residents and shop owners in the old town.",
    "Supporters said the plan would make the daily commute safer for the thousands of people "
    "who cross the bridge every morning on their way to work.",
    "Opponents argued that the loss of parking spaces would hurt the small businesses that "
    "line the main street, and asked for a review in twelve months.",
    "The first section of the new lanes is expected to open in the spring, the council said in "
    "a statement published on its website on Tuesday evening.",
]
MENU = ["Home", "News", "Sport", "Culture", "Weather", "Contact"]
FOOTER = ["Privacy Policy", "Terms of Use", "About us", "© 2025 Example Media"]


def page_text(title: str = "Council backs new cycle lanes") -> str:
    return "\n".join([*MENU, title, *ARTICLE, "Share", *FOOTER]) + "\n"


# line labels ---------------------------------------------------------------------------------

def test_labels_exact_split_and_joined_lines() -> None:
    lines = ["Menu", "Council backs new cycle lanes", ARTICLE[0], ARTICLE[1][:60],
             ARTICLE[1][60:], "Share"]
    gold = "\n".join(["Council backs new cycle lanes", ARTICLE[0] + " " + ARTICLE[1]])
    assert line_labels(lines, gold).tolist() == [False, True, True, True, True, False]


def test_labels_title_repeated_in_a_menu_goes_to_the_article_copy() -> None:
    # The breadcrumb repeats the title before the article: the monotone alignment gives the
    # gold title to one copy only, and the stray menu words match nothing.
    lines = ["Home", "News", "Council backs new cycle lanes", "Council backs new cycle lanes",
             ARTICLE[0], "News"]
    gold = "Council backs new cycle lanes\n" + ARTICLE[0]
    labels = line_labels(lines, gold).tolist()
    assert labels.count(True) == 2 and labels[4] and not labels[0] and not labels[5]


def test_short_matches_count_only_as_whole_gold_lines() -> None:
    lines = ["Reviews", "Home", ARTICLE[0]]
    gold = "Reviews\n" + ARTICLE[0] + " Home is where it is."
    assert line_labels(lines, gold).tolist() == [True, False, True]


def write_set(root: Path, pages: dict[str, tuple[str, str, str]]) -> None:
    """A WCXB-style set: name -> (domain, page text, gold text)."""
    for d in ("pages", "gold"):
        (root / "wcxb" / d).mkdir(parents=True, exist_ok=True)
    rows = ["name\tpage_type\tdomain"]
    for name, (domain, text, gold) in pages.items():
        (root / "wcxb" / "pages" / f"{name}.txt").write_text(text, encoding="utf-8")
        (root / "wcxb" / "gold" / f"{name}.txt").write_text(gold, encoding="utf-8")
        rows.append(f"{name}\tarticle\t{domain}")
    (root / "wcxb" / "manifest.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_load_pages_and_domain_folds(tmp_path: Path) -> None:
    gold = "\n".join(ARTICLE)
    write_set(tmp_path, {f"p{i}": (f"site{i % 3}.org", page_text(), gold) for i in range(6)})
    pages = load_pages(tmp_path)
    assert [p.name for p in pages] == [f"p{i}" for i in range(6)]
    assert pages[0].content.sum() == len(ARTICLE)
    folds = domain_folds(pages, 4)
    for a, b in zip(pages, folds.tolist(), strict=True):  # a site's pages share a fold
        assert all(f == b for p, f in zip(pages, folds.tolist(), strict=True)
                   if p.domain == a.domain)
    with pytest.raises(InputError):
        load_pages(tmp_path / "nowhere")


# trees ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fitted() -> tuple[object, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 6))
    x[rng.random(x.shape) < 0.1] = np.nan  # missing values take the learned side
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) ** 2 > 1).astype(int)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(x, y)
    return model, x


def test_trees_equal_sklearn(fitted: tuple[object, np.ndarray]) -> None:
    model, x = fitted
    ens = from_sklearn(model, x.shape[1])
    expected = model.decision_function(x)  # type: ignore[attr-defined]
    assert np.array_equal(ens.raw(x), expected)
    assert np.array_equal(ens.raw(x, compiled=False), expected)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.one_of(st.floats(-3, 3), st.just(float("nan"))), min_size=6,
                         max_size=6), min_size=1, max_size=40))
def test_compiled_kernel_equals_reference(rows: list[list[float]]) -> None:
    model, _ = _FIT
    ens = from_sklearn(model, 6)
    xs = np.asarray(rows, dtype=np.float64)
    assert np.array_equal(ens.raw(xs), ens.raw(xs, compiled=False))


def _fit_once() -> tuple[object, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 6))
    y = (x[:, 2] > 0).astype(int)
    return HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(x, y), x


_FIT = _fit_once()


def test_damaged_tree_arrays_are_refused(fitted: tuple[object, np.ndarray]) -> None:
    model, x = fitted
    arrays = from_sklearn(model, x.shape[1]).arrays("s")
    ok = Ensemble.from_arrays(arrays, "s")
    assert ok.columns == x.shape[1]
    bad = dict(arrays)
    left = bad["s_left"].copy()
    left[np.flatnonzero(left >= 0)[0]] = 10**6
    bad["s_left"] = left
    with pytest.raises(ValueError, match="outside"):
        Ensemble.from_arrays(bad, "s")
    with pytest.raises(ValueError, match="features"):
        ok.raw(np.zeros((2, x.shape[1] + 1)))


# structure features --------------------------------------------------------------------------

def test_runs_and_main_block() -> None:
    seg = Segmented(doc_bounds([5, 3]))
    short = np.array([1, 1, 0, 1, 1, 1, 0, 0], dtype=bool)
    length, _ = seg.run_length(short)
    # The run of three short lines stops at the document's edge (rows 3-4 | row 5).
    assert length.tolist() == [2, 2, 0, 2, 2, 1, 0, 0]
    inside, dist, _ = seg.main_block(np.array([-1, 2, 2, -1, -1, -1, 1, 1.0]))
    assert inside.tolist() == [False, True, True, False, False, False, True, True]
    assert dist.tolist() == [-1, 0, 0, 1, 2, -1, 0, 0]


def _inputs(texts: list[str]) -> np.ndarray:
    from dedup.boilerplate.model import LineCache, load_model

    docs = list(normalize(segment(Document(str(i), t) for i, t in enumerate(texts))))
    lexical = Lexical(np.array([3, 77, 1 << 10]), np.array([0.5, -1.0, 2.0], dtype=np.float32),
                      0.25)
    return page_inputs(docs, load_model(), lexical, LineCache()).x


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*MENU, *ARTICLE, *FOOTER, ""]), max_size=12),
                min_size=1, max_size=5))
def test_features_do_not_depend_on_the_batch(pages: list[list[str]]) -> None:
    texts = ["\n".join(p) for p in pages]
    together = _inputs(texts)
    alone = [_inputs([t]) for t in texts]
    assert np.array_equal(together, np.vstack(alone), equal_nan=True)
    assert together.shape[1] == len(FEATURES)


def test_page_repeats_count_within_the_page() -> None:
    dense = np.zeros((4, 36))
    assert structure_features(dense, ["a", "a", "b", "c"], doc_bounds([4]))[:, 8].tolist() == [
        pytest.approx(np.log(2))] * 2 + [0.0, 0.0]


# training ------------------------------------------------------------------------------------

def _tiny_set(root: Path) -> None:
    gold = "\n".join(["Council backs new cycle lanes", *ARTICLE])
    write_set(root, {f"p{i}": (f"site{i}.org", page_text(), gold) for i in range(6)})


def test_training_is_reproducible(tmp_path: Path) -> None:
    from dedup.boilerplate.train_page import PageTrainConfig, train_page_model

    _tiny_set(tmp_path)
    pages = load_pages(tmp_path)
    cfg = PageTrainConfig(folds=2, trees=5, generated_docs=20, min_samples_leaf=5)
    a = train_page_model(cfg, pages)
    b = train_page_model(cfg, pages)
    for name, value in {**a.trees.arrays("x"), **a.lexical.arrays("l")}.items():
        assert np.array_equal(value, {**b.trees.arrays("x"), **b.lexical.arrays("l")}[name])
    assert len(a.lexical.rows) > 0
    assert a.meta["versions"]["scikit-learn"]


def test_train_command_writes_a_model_the_cleaner_uses(tmp_path: Path) -> None:
    _tiny_set(tmp_path / "set")
    out = tmp_path / "model.npz"
    runner = CliRunner()
    res = runner.invoke(main, ["train-classifier", "--real-pages", str(tmp_path / "set"),
                               "--folds", "2", "--trees", "5", "--generated-docs", "20"])
    assert res.exit_code == 2 and "Missing option '-o'" in res.output
    res = runner.invoke(main, ["train-classifier", "--real-pages", str(tmp_path / "set"),
                               "--folds", "2", "--trees", "5", "--generated-docs", "20",
                               "-o", str(out),
                               "--report", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    model = PageModel.load(out)
    assert model.meta["real_pages"] == 12  # six pages and their clean copies
    assert json.loads((tmp_path / "r.json").read_text())["train"]["real_pages"] == 12
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[boilerplate]\npage_model = "{out}"\n')
    page = tmp_path / "page.txt"
    page.write_text(page_text())
    res = runner.invoke(main, ["clean", str(page), "-o", "-", "-q", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ConfigError):
        PageModel.load(tmp_path / "bad.npz")


# the shipped model in the pipeline -----------------------------------------------------------

def test_shipped_model_cleans_one_page() -> None:
    result = Cleaner(Config()).clean(page_text())
    kept = result.text.splitlines()
    for line in ARTICLE:
        assert line in kept
    for line in [*MENU, "© 2025 Example Media", "Share"]:
        assert line not in kept
    dropped = [v for v in result.verdicts if v.dropped]
    assert dropped and all(v.reason.startswith("boilerplate:") for v in dropped)


def test_batch_verdicts_equal_single_page_verdicts() -> None:
    clf = PageClassifier()
    texts = [page_text(), "\n".join(ARTICLE), "\n".join(MENU), page_text("Another title")]
    docs = list(normalize(segment(Document(str(i), t) for i, t in enumerate(texts))))
    together = clf.classify_batch(docs)
    alone = [PageClassifier().classify(d) for d in docs]
    assert together == alone
    assert load_page_model() is load_page_model()


def test_cross_validated_systems_clean_each_page_with_its_folds_model(tmp_path: Path) -> None:
    from dedup.bench.realpages import (
        DEDUP_CV_DIRECTORY,
        DEDUP_CV_PAGE,
        RealPage,
        cross_validated_systems,
    )
    from dedup.boilerplate.train_page import PageTrainConfig

    _tiny_set(tmp_path)
    cfg = PageTrainConfig(folds=3, trees=5, generated_docs=20, min_samples_leaf=5)
    systems = cross_validated_systems(tmp_path, cfg)
    pages = [RealPage(f"p{i}", f"site{i}.org", "article", page_text()) for i in range(6)]
    whole = systems[DEDUP_CV_DIRECTORY](pages)
    alone = systems[DEDUP_CV_PAGE](pages)
    assert len(whole) == len(alone) == 6
    fold = domain_folds(load_pages(tmp_path), cfg.folds).tolist()
    first = {k: fold.index(k) for k in set(fold)}
    for i, k in enumerate(fold):
        assert alone[i] == alone[first[k]]  # one model per fold, whatever page it cleans
        if i == first[k]:
            assert whole[i] == alone[i]  # the first page of a fold's directory run
        else:  # a later copy in the same run: its paragraphs are duplicates of the first's
            assert all(len(line) < 100 for line in whole[i].splitlines())

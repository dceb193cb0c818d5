"""``dedup train-classifier``: train and evaluate the learned boilerplate classifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import DedupError
from . import main
from .common import fail


@main.command("train-classifier")
@click.option("--docs", type=click.IntRange(40), default=3000, show_default=True,
              help="Dev-split documents to generate and train on.")
@click.option("--seed", type=int, default=11, show_default=True, help="Training corpus seed.")
@click.option("--eval-docs", type=click.IntRange(0), default=2000, show_default=True,
              help="Test-split documents to evaluate on (0: skip the evaluation).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Where to write the model (.npz). Use it with --config ([boilerplate] "
                   "model = ..., or page_model = ... for --real-pages).")
@click.option("--report", type=click.Path(dir_okay=False),
              help="Write the training and evaluation report as JSON.")
@click.option("--real-pages", "real_pages", type=click.Path(exists=True, file_okay=False),
              help="Train the page-structure model instead, on the real pages with gold under "
                   "this directory (WCXB layout: wcxb/pages, wcxb/gold, wcxb/manifest.tsv) "
                   "and the generated dev split.")
@click.option("--cv", "cv", is_flag=True,
              help="With --real-pages: also cross-validate by site (one model per fold, each "
                   "without its fold's sites) and print the scorer's numbers for a directory "
                   "and for single pages.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True,
              help="With --real-pages: domain folds.")
@click.option("--trees", type=click.IntRange(1), default=200, show_default=True,
              help="With --real-pages: trees per stage.")
@click.option("--generated-docs", type=click.IntRange(0), default=1500, show_default=True,
              help="With --real-pages: generated dev-split pages trained on beside the real "
                   "ones (languages and phrasings the real pages lack).")
def train_classifier(docs: int, seed: int, eval_docs: int, output: str,
                     report: str | None, real_pages: str | None, cv: bool, folds: int,
                     trees: int, generated_docs: int) -> None:
    """Train the boilerplate classifier on the generated dev split and evaluate it on the
    test split (unseen articles and boilerplate phrasings), with and without corpus counts;
    or, with --real-pages, train the page-structure model (the default classifier) on real
    pages with human gold.

    Needs scikit-learn: pip install "dedup[train]". The same options give the same model.
    """
    if real_pages is not None:
        from ..boilerplate.train_page import PageTrainConfig

        _train_page(Path(real_pages), output, report, cv,
                    PageTrainConfig(folds=folds, trees=trees, seed=seed,
                                    generated_docs=generated_docs))
        return
    from ..boilerplate.train import TrainConfig, evaluate, train, write_model
    from ..io.writers import write_json

    try:
        model, info = train(TrainConfig(docs=docs, seed=seed),
                            say=lambda msg: click.echo(msg, err=True))
        path = Path(output)
        write_model(model, path)
        click.echo(f"wrote {path} ({info['lines']} training lines, {info['seconds']}s)", err=True)
        results: dict[str, object] = {"train": info}
        if eval_docs:
            for counts in (True, False):
                ev = evaluate(model, docs=eval_docs, repetition=counts)
                results[f"test_{'with' if counts else 'without'}_counts"] = ev
                click.echo(_table(ev))
        if report:
            write_json(report, results)
    except DedupError as exc:
        raise fail(exc) from exc


def _table(ev: dict[str, Any]) -> str:
    presets = ev["presets"]
    lines = [f"test split, {ev['docs']} documents, corpus counts: {ev['repetition']}", "",
             "| preset | threshold | precision | recall | content dropped |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, p in presets.items():
        lines.append(f"| {name} | {p['threshold']} | {p['precision']:.4f} | {p['recall']:.4f} | "
                      f"{p['content_dropped']:.4f} |")
    bal = presets["balanced"]
    lines += ["", "recall by category (balanced): " + json.dumps(bal["recall_by_category"]),
              "cookie recall by language (balanced): "
              + json.dumps(bal["cookie_recall_by_language"]), ""]
    return "\n".join(lines)


def _train_page(root: Path, output: str, report: str | None, cv: bool,
                cfg: Any) -> None:
    """``train-classifier --real-pages``: the page model, optionally cross-validated."""
    from ..boilerplate.labelled import load_pages
    from ..boilerplate.train import write_model
    from ..boilerplate.train_page import train_page_model
    from ..io.writers import write_json

    say = lambda msg: click.echo(msg, err=True)  # noqa: E731
    try:
        _require_sklearn()
        pages = load_pages(root)
        results: dict[str, Any] = {}
        if cv:
            from ..bench.realpages import cross_validated_scores

            results["cross_validation"] = cv_scores = cross_validated_scores(root, cfg, say=say)
            click.echo(_cv_table(cv_scores))
        model = train_page_model(cfg, pages, say=say)
        write_model(model, Path(output))
        click.echo(f"wrote {output} ({model.meta['real_lines']} real lines, "
                   f"{model.meta['generated_lines']} generated)", err=True)
        results["train"] = model.meta
        if report:
            write_json(report, results)
    except DedupError as exc:
        raise fail(exc) from exc


def _require_sklearn() -> None:
    from ..errors import ConfigError

    try:
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ConfigError("training needs scikit-learn",
                          hint='pip install "dedup[train]"') from exc


def _cv_table(scores: dict[str, Any]) -> str:
    from ..bench.realpages import markdown_table

    return markdown_table(scores)

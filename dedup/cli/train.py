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
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write the model (.npz). [default: the package's own model]")
@click.option("--report", type=click.Path(dir_okay=False),
              help="Write the training and evaluation report as JSON.")
def train_classifier(docs: int, seed: int, eval_docs: int, output: str | None,
                     report: str | None) -> None:
    """Train the boilerplate classifier on the generated dev split and evaluate it on the
    test split (unseen articles and boilerplate phrasings), with and without corpus counts.

    Needs scikit-learn: pip install "dedup[train]". The same options give the same model.
    """
    from ..boilerplate.model import MODEL_PATH
    from ..boilerplate.train import TrainConfig, evaluate, train, write_model
    from ..io.writers import write_json

    try:
        model, info = train(TrainConfig(docs=docs, seed=seed),
                            say=lambda msg: click.echo(msg, err=True))
        path = Path(output) if output else MODEL_PATH
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

"""``dedup corpus generate``: the repeated-article corpus with gold labels."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import DedupError
from . import main
from .common import fail


@main.group()
def corpus() -> None:
    """The repeated-article corpus: scraped-like pages with gold labels for every line."""


@corpus.command()
@click.option("--docs", type=click.IntRange(1), default=1000, show_default=True,
              help="Number of documents (pages) to generate.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; the same seed and options give the same bytes.")
@click.option("--split", type=click.Choice(["dev", "test"]), default="dev", show_default=True,
              help="Which source articles and boilerplate phrasings to use (disjoint halves).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Directory for docs.jsonl, gold.jsonl and manifest.json.")
@click.option("--source", type=click.Path(exists=True, file_okay=False),
              help="The corpus sources folder (articles/, boilerplate/); default: the checkout's "
                   "corpus/.")
@click.option("--body-repeat", type=click.FloatRange(0, 1), default=0.35, show_default=True,
              help="Share of pages whose article body is pasted again (full or cut short).")
@click.option("--remix", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Share of pages carrying a unique article instead of a syndicated one.")
def generate(docs: int, seed: int, split: str, output: str, source: str | None,
             body_repeat: float, remix: float) -> None:
    """Generate DOCS scraped pages with gold labels into OUTPUT.

    docs.jsonl holds {id, url, site, lang, text}; gold.jsonl holds, per document, its cluster
    (source article) and one label per line: content, duplicate (with the line it copies) or
    boilerplate:<category>; manifest.json records the config and the files' SHA-256.
    """
    from ..corpus import GeneratorConfig, write_corpus  # not imported by every dedup command

    try:
        cfg = GeneratorConfig(docs=docs, seed=seed, split=split, body_repeat=body_repeat,
                              remix=remix)
        manifest = write_corpus(cfg, output, Path(source) if source else None)
    except DedupError as exc:
        raise fail(exc) from exc
    labels = manifest["line_labels"]
    click.echo(f"wrote {docs} documents, {sum(labels.values())} lines to {output} "
               f"(docs sha256 {manifest['docs_sha256'][:12]})", err=True)

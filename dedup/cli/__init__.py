"""The ``dedup`` command: a thin click group; each subcommand lives in its own module."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dedup")
def main() -> None:
    """Clean scraped web text: drop boilerplate (cookie notices first) and near-duplicate
    paragraphs, keep one canonical copy, and say for every removed line why.

    \b
    Examples:
      dedup clean page.txt -o -                 clean one file to stdout
      dedup clean dump/ -o clean/ --removed removed.jsonl --report report.json
      dedup explain page.txt                    show each line's verdict and reason
      dedup corpus generate --docs 1000 -o corpus-1k/
      dedup bench --quick                       quality and speed beside the peers
    """
    from ..allocator import tune_runtime

    tune_runtime()  # reuse freed memory; collect cycles less often (see dedup.allocator)


from . import bench, clean, corpus, train  # noqa: E402  (subcommands register on main)

__all__ = ["bench", "clean", "corpus", "main", "train"]

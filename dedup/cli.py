"""The ``dedup`` command: a thin click layer over :mod:`dedup.batch` and :class:`dedup.Cleaner`.

Library errors (:class:`~dedup.errors.DedupError`) become a message on stderr and exit code 1
(2 for usage errors, as click does); no traceback reaches the user.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from . import __version__
from .batch import run_clean
from .config import Config
from .errors import DedupError
from .io.readers import ENCODING_ERRORS, FORMATS, discover, read_all
from .pipeline import Cleaner, CleanResult

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _config(config_file: str | None, threshold: float | None, num_perm: int | None) -> Config:
    cfg = Config.from_toml(config_file) if config_file else Config()
    lsh: dict[str, Any] = {}
    if threshold is not None:
        lsh["threshold"] = threshold
    if num_perm is not None:
        lsh["num_perm"] = num_perm
    return cfg.replace(lsh=lsh) if lsh else cfg


def config_options(func: F) -> F:
    """The options every command that cleans shares."""
    options = [
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                     help="TOML file with [norm], [boilerplate], [shingle] and [lsh] tables."),
        click.option("--threshold", type=click.FloatRange(0.0, 1.0, min_open=True),
                     help="Jaccard similarity (word shingles) at or above which two paragraphs "
                          "are near-duplicates. [default: 0.7]"),
        click.option("--num-perm", type=click.IntRange(2, 4096),
                     help="MinHash permutations; more is more accurate and slower. "
                          "[default: 128]"),
        click.option("--text-field", default="text", show_default=True,
                     help="JSONL field holding the text; all other fields are kept."),
        click.option("--input-format", type=click.Choice(FORMATS), default="auto",
                     show_default=True,
                     help="How to read inputs; auto goes by suffix (.jsonl, else text)."),
        click.option("--encoding-errors", type=click.Choice(ENCODING_ERRORS), default="strict",
                     show_default=True,
                     help="strict: a file that is not UTF-8 is skipped and reported; "
                          "replace: bad bytes become U+FFFD."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class _Failed(click.ClickException):
    exit_code = EXIT_FAILED


def _fail(exc: DedupError) -> click.ClickException:
    return _Failed(exc.message + (f"\n  hint: {exc.hint}" if exc.hint else ""))


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
    """


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(allow_dash=True),
              help="Output file, directory (mirrors the inputs' relative names) or - for stdout.")
@click.option("--removed", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write every dropped line as JSONL: doc, line, reason, score, match, text.")
@click.option("--report", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write a JSON report: counts per reason, documents, bytes, seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary on stderr.")
@config_options
def clean(inputs: tuple[str, ...], output: str, removed: str | None, report: str | None,
          quiet: bool, config_file: str | None, threshold: float | None, num_perm: int | None,
          text_field: str, input_format: str, encoding_errors: str) -> None:
    """Clean INPUTS (.txt files, .jsonl files, directories, or - for stdin) into OUTPUT.

    A .txt file is one document with one paragraph per line; a .jsonl file holds one document
    per line. Outputs mirror the inputs; every write is atomic.

    \b
    Exit codes:
      0  every input was cleaned
      1  some input could not be read (listed on stderr and in --report), or a fatal error
      2  bad command-line usage
    """
    try:
        cfg = _config(config_file, threshold, num_perm)
        show = not quiet and output != "-" and sys.stderr.isatty()

        def progress(results: Iterator[CleanResult], n: int) -> Iterator[CleanResult]:
            if not show or n < 2:
                yield from results
                return
            with click.progressbar(results, label="cleaning", file=sys.stderr) as bar:
                yield from bar

        outcome = run_clean(inputs, output, cfg, removed=removed, report=report,
                            text_field=text_field, input_format=input_format,
                            encoding_errors=encoding_errors, progress=progress)
    except DedupError as exc:
        raise _fail(exc) from exc
    for failure in outcome.failures:
        click.echo(f"error: {failure}", err=True)
    if not quiet:
        st = outcome.stats
        click.echo(f"dedup: {st['documents']} documents, {st['lines_in']} lines in, "
                   f"{st['lines_out']} kept, {outcome.seconds:.2f}s"
                   + (f", {len(outcome.failures)} failed" if outcome.failures else ""), err=True)
    if outcome.failures:
        sys.exit(EXIT_FAILED)


@main.command()
@click.argument("input", type=click.Path(allow_dash=True))
@click.option("--dropped-only", is_flag=True, help="Show only the lines that are removed.")
@click.option("--width", type=click.IntRange(20, 1000), default=70, show_default=True,
              help="Characters of each line's text to show.")
@config_options
def explain(input: str, dropped_only: bool, width: int, config_file: str | None,
            threshold: float | None, num_perm: int | None, text_field: str, input_format: str,
            encoding_errors: str) -> None:
    """Show every line of INPUT with its verdict, reason code, score and evidence.

    Columns: line number, KEEP or DROP, reason, score (classifier score or similarity), the line
    it duplicates (=doc:line), then the text; the deciding features follow on an indented line.
    """
    try:
        cfg = _config(config_file, threshold, num_perm)
        sources = discover([input], input_format)
        cleaner = Cleaner(cfg)
        failed = False
        for result in cleaner.clean_documents(read_all(sources, text_field, encoding_errors)):
            if result.doc.error:
                click.echo(f"error: {result.doc.error}", err=True)
                failed = True
                continue
            click.echo(f"# {result.doc.id}")
            for para, v in zip(result.doc.paragraphs, result.verdicts, strict=True):
                if dropped_only and not v.dropped:
                    continue
                target = ""
                if v.match is not None:
                    same = v.match.doc == result.doc.id
                    target = f"=line {v.match.line}" if same else f"={v.match.doc}:{v.match.line}"
                text = para.text if len(para.text) <= width else para.text[: width - 1] + "…"
                click.echo(f"{para.line:>5} {'DROP' if v.dropped else 'KEEP'} "
                           f"{v.reason:<20} {v.score:5.3f} {target:<14} | {text}")
                if v.dropped and v.detail:
                    click.echo(f"{'':>11}{v.detail}")
    except DedupError as exc:
        raise _fail(exc) from exc
    if failed:
        sys.exit(EXIT_FAILED)

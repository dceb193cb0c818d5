"""``dedup clean`` and ``dedup explain``."""

from __future__ import annotations

import sys

import click

from ..batch import run_clean
from ..config import Config
from ..errors import AlreadyFinished, ConfigError, DedupError
from ..io.paths import check_streams
from ..io.readers import Limits, OptionMismatch, discover, read_all
from ..options import RunOptions
from ..pipeline import Cleaner
from . import main
from .common import EXIT_FAILED, config_options, fail, usage_error
from .progress import ProgressBar, closing_line


def run_options(*, removed: str | None, report: str | None, index_dir: str | None, jobs: int,
                engine: str, scheduler: str | None, shard_docs: int | None, shard_format: str,
                strict: bool, resume: bool, checkpoint_seconds: float, text_field: str,
                id_field: str | None, input_format: str, encoding_errors: str,
                limits: Limits) -> RunOptions:
    """The ``dedup clean`` options as the run's :class:`~dedup.options.RunOptions`, in this one
    place; a bad value or combination (``--scheduler`` without ``--engine dask``) is a usage
    error (exit 2)."""
    try:
        return RunOptions(removed=removed, report=report, text_field=text_field,
                          id_field=id_field, input_format=input_format,
                          encoding_errors=encoding_errors, limits=limits, index=index_dir,
                          jobs=jobs, engine=engine, scheduler=scheduler, shard_docs=shard_docs or 0,
                          shard_suffix=shard_format, strict=strict, resume=resume,
                          checkpoint_seconds=checkpoint_seconds)
    except ConfigError as exc:
        raise usage_error(exc) from exc


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("-o", "--output", required=True, type=click.Path(allow_dash=True),
              help="Output file, directory (mirrors the inputs' relative names) or - for stdout.")
@click.option("--removed", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write every dropped line as JSONL: doc, line, reason, score, match, text.")
@click.option("--report", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write a JSON report: counts per reason, documents, bytes, seconds.")
@click.option("--index", "index_dir", type=click.Path(file_okay=False),
              help="Corpus index directory: loaded before the run (when it exists) so the "
                   "inputs are deduplicated against earlier runs, saved after it.")
@click.option("-j", "--jobs", type=click.IntRange(1, 512), default=1, show_default=True,
              help="Processes for the per-document work (classifier, in-document dedup, "
                   "signatures): N-1 workers and this one (Dask: N workers); the output is the "
                   "same for every value.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="Where the per-document work runs: local worker processes, or a Dask "
                   'cluster (pip install "dedup[dask]"). The output is the same.')
@click.option("--scheduler", metavar="ADDRESS",
              help="With --engine dask: the scheduler of an existing cluster "
                   "(tcp://host:8786); default: a LocalCluster of --jobs workers on 127.0.0.1.")
@click.option("--shard-docs", type=click.IntRange(1), default=None,
              help="Write all documents into OUTPUT (a directory) as part-00000.jsonl.zst, ... "
                   "with this many documents each, instead of mirroring the inputs.")
@click.option("--shard-format", type=click.Choice([".jsonl.zst", ".jsonl.gz", ".jsonl",
                                                   ".parquet"]),
              default=".jsonl.zst", show_default=True, help="Format of the shards.")
@click.option("--strict", is_flag=True,
              help="Stop at the first record that cannot be read (exit 1) and write no output "
                   "at all; by default such records are reported, the rest is cleaned and "
                   "written, and the exit code is 1 at the end.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run into the same -o directory from its last "
                   "checkpoint (same inputs and options); the result is the same as an "
                   "uninterrupted run.")
@click.option("--checkpoint-seconds", type=click.FloatRange(0), default=300, show_default=True,
              help="How often a run into a directory saves its state for --resume (at the end "
                   "of an input; 0: after every input).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar, no summary and no list of skipped records on stderr.")
@config_options
def clean(inputs: tuple[str, ...], output: str, removed: str | None, report: str | None,
          index_dir: str | None, jobs: int, engine: str, scheduler: str | None,
          shard_docs: int | None, shard_format: str, strict: bool, resume: bool,
          checkpoint_seconds: float, quiet: bool, config: Config, text_field: str,
          id_field: str | None, input_format: str, encoding_errors: str,
          limits: Limits) -> None:
    """Clean INPUTS (.txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet files, directories, quoted
    glob patterns, or - for stdin) into OUTPUT.

    A .txt file is one document with one paragraph per line; a .jsonl file holds one document
    per line, a .parquet file one per row. Outputs mirror the inputs (or go into shards with
    --shard-docs); every write is atomic.

    A WET or WARC file (.warc.wet.gz, .warc.gz, ...; pip install "dedup[warc]") holds one
    document per text record or HTML page, named by its WARC-Record-ID; it is written as JSONL
    with the fields id, url, record_id and date.

    \b
    Exit codes:
      0  every input was cleaned (records skipped by --encoding-errors skip included)
      1  some input could not be read, or was over --max-line-bytes or --max-doc-bytes
         (listed on stderr and in --report; with --strict the run stops there and writes
         nothing), or a fatal error
      2  bad command-line usage
    """
    try:
        check_streams(output, removed, report)  # before stdin is read to tell its format
    except DedupError as exc:
        raise usage_error(exc) from exc
    options = run_options(removed=removed, report=report, index_dir=index_dir, jobs=jobs,
                          engine=engine, scheduler=scheduler, shard_docs=shard_docs,
                          shard_format=shard_format, strict=strict, resume=resume,
                          checkpoint_seconds=checkpoint_seconds, text_field=text_field,
                          id_field=id_field, input_format=input_format,
                          encoding_errors=encoding_errors, limits=limits)
    # The bar only on a terminal, and not when stdout, with output on it, is the terminal too.
    on_stdout = "-" in (output, removed, report)
    bar = ProgressBar(sys.stderr, enabled=not quiet and _tty(sys.stderr)
                      and not (on_stdout and _tty(sys.stdout)))
    try:
        outcome = run_clean(inputs, output, config, options, progress=bar.documents,
                            read_progress=bar,
                            on_start=None if quiet else (
                                lambda link: click.echo(f"dask dashboard: {link}", err=True)))
    except OptionMismatch as exc:
        raise usage_error(exc) from exc
    except AlreadyFinished as exc:
        bar.close()
        if not quiet:
            click.echo(f"dedup: {exc.message}", err=True)
        return
    except DedupError as exc:
        raise fail(exc) from exc
    finally:
        bar.close()
    for failure in outcome.failures:
        click.echo(f"error: {failure}", err=True)
    if not quiet:
        for skip in outcome.skipped:
            click.echo(f"skipped: {skip}", err=True)
        click.echo(closing_line(outcome), err=True)
    if outcome.failures:
        sys.exit(EXIT_FAILED)


def _tty(stream: object) -> bool:
    """Whether ``stream`` is a terminal (a stream without ``isatty`` is not)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


@main.command()
@click.argument("input", type=click.Path(allow_dash=True))
@click.option("--dropped-only", is_flag=True, help="Show only the lines that are removed.")
@click.option("--width", type=click.IntRange(20, 1000), default=70, show_default=True,
              help="Characters of each line's text to show.")
@config_options
def explain(input: str, dropped_only: bool, width: int, config: Config, text_field: str,
            id_field: str | None, input_format: str, encoding_errors: str,
            limits: Limits) -> None:
    """Show every line of INPUT with its verdict, reason code, score and evidence.

    Columns: line number, KEEP or DROP, reason, score (classifier score or similarity), the line
    it duplicates (=doc:line), then the text; the deciding features follow on an indented line.
    """
    try:
        fields = RunOptions(text_field=text_field, id_field=id_field).record_fields()
        sources = discover([input], input_format, fields=fields)
        cleaner = Cleaner(config)
        failed = False
        docs = read_all(sources, text_field, encoding_errors, limits, id_field=id_field)
        for result in cleaner.clean_documents(docs):
            if result.doc.error:
                click.echo(f"{'skipped' if result.doc.skipped else 'error'}: "
                           f"{result.doc.error}", err=True)
                failed = failed or not result.doc.skipped
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
    except (OptionMismatch, ConfigError) as exc:  # options that cannot apply: exit 2
        raise usage_error(exc) from exc
    except DedupError as exc:
        raise fail(exc) from exc
    if failed:
        sys.exit(EXIT_FAILED)

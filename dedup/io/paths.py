"""Every path a run writes, checked before anything is written.

A run writes its outputs (``-o``: one file, or one per input mirrored into a directory, or
``part-*`` shards), the ``--removed`` and ``--report`` files, the ``--index`` directory and,
in a run into a directory, its state directory ``OUT/.dedup-run`` (see :mod:`dedup.resume`).
:func:`check_write_paths` refuses a plan in which any of them

- is an input, after resolving symbolic links, or a hard link to one (same device and inode);
- is a file the same inputs would read next time (``--removed d/removed.jsonl`` with input
  ``d/``; ``--index d/idx``, whose ``docids.txt`` a walk of ``d/`` would read);
- is another of them (``--removed`` equal to ``-o`` or ``--report``), or lies in a directory
  the run owns: every file of the ``--index`` directory and of the state directory is the run's
  to replace or delete (the state directory is removed when the run ends);
- holds an input: an input inside the ``--index`` or the state directory.

The error names both paths and says how to fix the plan.

Before that, :func:`check_plan` refuses what cannot be meant (both in :func:`run_targets`):

- stdout (``-``) for more than one of ``-o``, ``--removed`` and ``--report`` (their lines
  would mix; stdin given twice is refused by :func:`~dedup.io.readers.discover`);
- ``-o`` naming a file (an existing file, or a name with a file suffix such as ``.txt``)
  when the outputs go into a directory that mirrors the inputs (a directory, a glob pattern
  or several inputs); with ``--shard-docs`` ``-o`` is the shards' directory, whatever its
  name. A JSONL or Parquet name is no mirror: every document goes into that one file
  (:func:`dedup.io.writers.combined_output`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import OutputError
from .readers import (
    COMPRESSION_SUFFIXES,
    JSONL_SUFFIXES,
    PARQUET_SUFFIXES,
    TEXT_SUFFIXES,
    Source,
    reader,
)

STATE_DIR = ".dedup-run"  # a run's checkpoint state inside its output directory (dedup.resume)
INDEX_PROBE = "docids.txt"  # a text file every --index directory holds (dedup.index)
# A name with one of these suffixes is a file name: not taken for a directory of outputs.
FILE_SUFFIXES = (*TEXT_SUFFIXES, *JSONL_SUFFIXES, *PARQUET_SUFFIXES, *COMPRESSION_SUFFIXES,
                 ".json", ".csv", ".tsv", ".md", ".html", ".xml")


@dataclass(frozen=True, slots=True)
class Target:
    """One path a run writes.

    ``scope``: ``file`` (that file), ``dir`` (the directory and every file in it are the
    run's: the index, the state directory) or ``shards`` (the ``part-*`` files in it).
    """

    path: str  # as given, for messages
    what: str  # what it is, for messages: "--removed", "the --index directory", ...
    option: str  # the option that names it, for the hint
    scope: str = "file"
    note: str = ""  # said after the path: " (the output of a.txt)"
    real: str = ""  # the path with every symbolic link resolved (default: resolved here)

    def __post_init__(self) -> None:
        if not self.real:
            object.__setattr__(self, "real", os.path.realpath(self.path))

    def holds(self, real: str) -> bool:
        """Whether the file or directory at ``real`` (a real path) is this target's."""
        if self.scope == "file":
            return real == self.real
        inside = real == self.real or real.startswith(self.real.rstrip(os.sep) + os.sep)
        if self.scope == "shards":
            return inside and os.path.dirname(real) == self.real and \
                os.path.basename(real).startswith("part-")
        return inside

    def describe(self) -> str:
        return f"{self.what} {self.path}{self.note}"


class _Resolver:
    """``os.path.realpath``, each directory resolved once (realpath alone took seconds for a
    run's 100,000 outputs); for one check: links may change between runs."""

    def __init__(self) -> None:
        self.dirs: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        head, name = os.path.split(os.path.abspath(path))
        if not name or os.path.islink(path):
            return os.path.realpath(path)
        if head not in self.dirs:
            self.dirs[head] = os.path.realpath(head)
        return os.path.join(self.dirs[head], name)


def _inode(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_streams(out: str, removed: str | None = None, report: str | None = None) -> None:
    """Raise OutputError when stdout is more than one output.

    >>> check_streams("-", removed="-")
    Traceback (most recent call last):
    ...
    dedup.errors.OutputError: -o and --removed both write to stdout (-): their lines would mix
      hint: give --removed a file path (or -o one, and keep --removed -)
    """
    named = [name for name, path in (("-o", out), ("--removed", removed),
                                     ("--report", report)) if path == "-"]
    if len(named) > 1:
        raise OutputError(f"{' and '.join(named)} both write to stdout (-): their lines would "
                          f"mix", hint=f"give {named[-1]} a file path (or {named[0]} one, and "
                                       f"keep {named[-1]} -)")


def _looks_like_a_file(out: str) -> bool:
    """An existing file, or a name with a file suffix not written as a directory (``x.txt/``)."""
    if os.path.isdir(out):
        return False
    if os.path.exists(out):
        return True
    return not out.endswith(os.sep) and os.path.basename(out).lower().endswith(FILE_SUFFIXES)


def check_plan(out: str, *, out_is_dir: bool, shards: bool, removed: str | None = None,
               report: str | None = None) -> None:
    """Refuse a plan that cannot be what was meant (see the module docstring): stdout for
    two outputs, or ``-o`` naming a file where the outputs go into a directory."""
    check_streams(out, removed, report)
    if out_is_dir and not shards and out != "-" and _looks_like_a_file(out):
        what = "is a file" if os.path.exists(out) else "is named like a file"
        raise OutputError(
            f"-o {out} {what}, but the outputs of these inputs (a directory, a glob pattern or "
            f"several inputs) go into a directory that mirrors them",
            hint="give -o a directory (made when missing, e.g. -o clean/); for one file of "
                 "all the documents name it .jsonl (also .gz, .zst) or .parquet, or use "
                 "--shard-docs N -o DIR for shards")


def run_targets(plan: dict[str, str], sources: Sequence[Source], out: str, *,
                out_is_dir: bool, removed: str | None = None, report: str | None = None,
                index: str | None = None, shards: bool = False) -> list[Target]:
    """The paths a run with this plan and these options writes (stdout, ``-``, left out).
    Raises OutputError for a plan :func:`check_plan` refuses."""
    check_plan(out, out_is_dir=out_is_dir, shards=shards, removed=removed, report=report)
    resolve = _Resolver()
    targets: list[Target] = []  # the options a user names first: messages start with them
    if index is not None:
        targets.append(Target(index, "the --index directory", "--index", "dir"))
    for path, option in ((removed, "--removed"), (report, "--report")):
        if path and path != "-":
            targets.append(Target(path, option, option))
    if shards:
        targets.append(Target(out, "the shards directory", "-o", "shards"))
    else:
        paths = {s.rel: s.path for s in sources}
        named: set[str] = set()
        for rel, dest in plan.items():
            if dest in named:  # every input into one file (CombinedWriter): one target
                continue
            named.add(dest)
            if dest != "-":
                targets.append(Target(dest, "-o", "-o", note="" if dest == out else
                                      f" (the output of {paths.get(rel, rel)})",
                                      real=resolve(dest)))
    if out_is_dir:
        targets.append(Target(os.path.join(out, STATE_DIR),
                              "the run's state directory (for --resume)", "-o", "dir"))
    return targets


def check_write_paths(targets: Sequence[Target], inputs: Sequence[str],
                      sources: Sequence[Source], fmt: str = "auto") -> None:
    """Raise OutputError if a run that writes ``targets`` would overwrite, delete or later read
    one of its inputs, or write one path twice (see the module docstring)."""
    _against_each_other(targets)
    _against_inputs(targets, inputs, sources, fmt)


def _clash(a: Target, b: Target, how: str) -> OutputError:
    option = a.option if b.option == "-o" else b.option
    return OutputError(f"{a.describe()} and {b.describe()} {how}",
                       hint=f"give {option} another path")


def _owners(real: str, owned: Sequence[Target], skip: Target | None = None) -> Iterable[Target]:
    return (t for t in owned if t is not skip and t.holds(real))


def _against_each_other(targets: Sequence[Target]) -> None:
    files: dict[str, Target] = {}
    inodes: dict[tuple[int, int], Target] = {}
    owned = [t for t in targets if t.scope != "file"]
    for t in targets:
        real = t.real
        if t.scope == "file":
            if real in files:
                raise _clash(files[real], t, "are the same file")
            files[real] = t
            inode = _inode(real)
            if inode is not None:
                if inode in inodes:
                    raise _clash(inodes[inode], t, "are the same file (hard links)")
                inodes[inode] = t
        for owner in _owners(real, owned, skip=t):
            where = "is" if real == owner.real else "is inside"
            if owner.scope == "shards":
                where = "could be a shard in"
            option = t.option if t.option != "-o" else owner.option
            raise OutputError(f"{t.describe()} {where} {owner.describe()}",
                              hint=f"give {option} another path: the run replaces or deletes "
                                   f"what is in {owner.path}")


def _against_inputs(targets: Sequence[Target], inputs: Sequence[str],
                    sources: Sequence[Source], fmt: str) -> None:
    files = [s for s in sources if not s.is_stdin]
    resolve = _Resolver()
    reals = {resolve(s.path): s for s in files}
    inodes: dict[tuple[int, int], Source] = {}
    for s in files:
        inode = _inode(s.path)
        if inode is not None:
            inodes.setdefault(inode, s)
    owned = [t for t in targets if t.scope == "dir"]
    for real, s in reals.items():
        for owner in _owners(real, owned):
            raise OutputError(f"the input {s.path} is inside {owner.describe()}",
                              hint=f"move the input, or give {owner.option} another path: "
                                   f"the run replaces or deletes what is there")
    readers = [(i, reader(i, fmt)) for i in inputs if i != "-"]
    for t in targets:
        real = t.real
        if t.scope == "file":
            src = reals.get(real)
            how = ""
            if src is None:
                inode = _inode(real)
                src = inodes.get(inode) if inode is not None else None
                how = " (a hard link to it)"
            if src is not None:
                raise OutputError(f"refusing to overwrite the input {src.path}: it is also "
                                  f"{t.describe()}{how}", hint=f"give {t.option} another path")
        probe = real if t.scope == "file" else os.path.join(real, INDEX_PROBE)
        if t.scope == "shards":
            probe = os.path.join(real, "part-00000.jsonl")
        for g, reads in readers:
            if reads(probe):
                what = ("would be read as input by the next run" if t.scope == "file"
                        else "holds files the next run would read as input")
                raise OutputError(f"{t.describe()} is inside the input {g}: it {what}",
                                  hint=f"give {t.option} a path outside the inputs")

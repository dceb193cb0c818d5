"""Resumable batch runs: checkpoints at input boundaries, and ``--resume`` after a stop.

A run that writes into an output directory locks it and keeps its state in ``OUT/.dedup-run/``.
At most every ``checkpoint_seconds``, when an input ends, it commits one checkpoint
(:mod:`dedup.commit`): new files of the next generation (the corpus index's key arrays as they
were before the next input's first document, the classifier's line counts, the run's
statistics as JSON), then ``checkpoint.json`` naming them with their checksums, the committed
lengths of the append-only files (the index's record store, the ``--removed`` journal), the
finished outputs (complete files under temporary names beside their targets, with checksums),
the config fingerprint and the inputs (name, size, modification time). A kill at any moment
leaves the previous checkpoint whole.

Outputs are renamed into place only when the whole run is done: the last checkpoint (phase
``finishing``) names every output, then the ``--index`` is committed, then the outputs, the
``--removed`` file and the report are published and the state is removed. ``--resume`` after a
stop during those steps finishes them.

``--resume`` verifies every file the checkpoint names, refuses it when the config, the inputs or
the index changed, and cleans the remaining inputs exactly as the interrupted run would have:
same index, counts and document numbers, so the outputs are byte-identical to an uninterrupted
run. A new run without ``--resume`` discards an old state (and its unpublished outputs).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .boilerplate.repetition import LineCounts
from .commit import (
    Entry,
    append_only,
    crash_point,
    file_hash,
    read_manifest,
    sweep,
    verify,
    write_manifest,
    write_new,
)
from .config import Config
from .errors import InputError
from .index import CorpusIndex, Snapshot
from .io.readers import Limits, Source
from .stats import Stats

STATE = ".dedup-run"
MANIFEST = "checkpoint.json"
JOURNAL = "removed.jsonl"
FORMAT = 2
RESUME_HINT = "run without --resume to start over"


@dataclass(frozen=True, slots=True)
class Staged:
    """A finished output waiting under a temporary name beside its target."""

    target: str
    temp: str
    size: int
    xxh3: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where an interrupted run stood at its last checkpoint."""

    fingerprint: str
    inputs: list[list[Any]]
    sources_done: int
    docs_done: int
    removed_bytes: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    staged: list[Staged] = field(default_factory=list)
    phase: str = "running"  # "finishing": every input is done, the outputs are being published
    index_dir: str | None = None  # the --index directory (resolved), None: the run's own
    index_generation: int = 0  # the --index's generation before this run
    generation: int = 0
    limits: list[int] = field(default_factory=list)  # --max-line-bytes, --max-doc-bytes


def inputs_signature(sources: Sequence[Source]) -> list[list[Any]]:
    """Name, size and modification time of every input: a changed input refuses a resume."""
    out: list[list[Any]] = []
    for s in sources:
        # A broken link found in an input directory is a failure of the run, not a crash here.
        st = os.lstat(s.path) if s.problem else os.stat(s.path)
        out.append([s.rel, st.st_size, st.st_mtime_ns])
    return out


def _ours(name: str) -> bool:
    return name in (MANIFEST, JOURNAL) or any(
        name.startswith(p) and name[len(p):].split(".")[0].isdigit()
        for p in ("stats-", "counts-", "index-"))


def _resolved(index_dir: str | None) -> str | None:
    return None if index_dir is None else os.path.realpath(index_dir)


class RunState:
    """The state directory of one resumable run (``OUT/.dedup-run``)."""

    def __init__(self, out: str, config: Config, sources: Sequence[Source],
                 index_dir: str | None = None, limits: Limits | None = None) -> None:
        self.root = Path(out) / STATE
        self.config = config
        limits = limits or Limits()
        self.limits = [limits.line_bytes, limits.doc_bytes]
        self.sources = list(sources)
        self.index_dir = _resolved(index_dir)
        self.manifest: dict[str, Any] | None = None
        self.ckpt: Checkpoint | None = None
        self.hashed: dict[str, Staged] = {}  # temporary output path -> its entry

    @property
    def index_root(self) -> Path:
        """Where the run's corpus index lives when no ``--index`` is given."""
        return self.root / "index"

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL

    def discard(self) -> None:
        """Forget an earlier run's state (a new run that does not resume), with the outputs it
        had finished but not published."""
        try:
            old = read_manifest(self.root / MANIFEST, "the old checkpoint", RESUME_HINT)
        except InputError:
            old = None
        for staged in (old or {}).get("staged", []):
            if isinstance(staged, list) and len(staged) == 4 and isinstance(staged[1], str):
                with contextlib.suppress(OSError):
                    if Path(staged[1]).name.endswith(".tmp"):
                        Path(staged[1]).unlink()
        if self.root.exists():
            shutil.rmtree(self.root)

    def load(self) -> Checkpoint | None:
        """The last checkpoint, verified, or ``None`` when there is none; refused (InputError
        with a way out) when it is damaged, stale or its files changed."""
        path = self.root / MANIFEST
        manifest = read_manifest(path, "--resume: the checkpoint", RESUME_HINT)
        if manifest is None:
            return None
        try:
            if manifest.get("format") != FORMAT:
                raise ValueError(f"format {manifest.get('format')!r}, not {FORMAT}")
            staged = [Staged(*s) for s in manifest["staged"]]
            if not all(isinstance(s.target, str) and isinstance(s.temp, str)
                       and type(s.size) is int and isinstance(s.xxh3, str) for s in staged):
                raise ValueError("bad staged outputs")
            ckpt = Checkpoint(**{k: v for k, v in manifest.items()
                                 if k not in ("files", "format", "staged", "index_runs")},
                            staged=staged)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"--resume: the checkpoint {path} is damaged ({exc})",
                             hint=RESUME_HINT) from exc
        if ckpt.fingerprint != self.config.fingerprint():
            raise InputError("--resume: the configuration differs from the interrupted run's",
                             hint=RESUME_HINT)
        if ckpt.inputs != inputs_signature(self.sources):
            raise InputError("--resume: the inputs changed since the interrupted run "
                             "(added, removed, resized or modified files)", hint=RESUME_HINT)
        if ckpt.limits != self.limits:
            raise InputError("--resume: --max-line-bytes or --max-doc-bytes differ from the "
                             "interrupted run's", hint=RESUME_HINT)
        if ckpt.index_dir != self.index_dir:
            raise InputError(f"--resume: the interrupted run used --index {ckpt.index_dir}, "
                             f"this one {self.index_dir}",
                             hint="give the same --index, or run without --resume")
        files: dict[str, Entry] = manifest["files"]
        for key, entry in files.items():
            if key in ("stats", "counts", "keys", JOURNAL):
                verify(self.root, entry, "--resume: the checkpoint", RESUME_HINT)
        for s in staged:
            if Path(s.temp).exists():
                verify(Path(s.temp).parent, Entry(Path(s.temp).name, s.size, s.xxh3),
                       "--resume: an output the interrupted run finished", RESUME_HINT)
            elif ckpt.phase == "finishing" and Path(s.target).exists():
                # published before the stop: it must be that output
                verify(Path(s.target).parent, Entry(Path(s.target).name, s.size, s.xxh3),
                       "--resume: an output the interrupted run published", RESUME_HINT)
            else:
                raise InputError(f"--resume: {s.temp}, the finished output for {s.target}, "
                                 "is missing", hint=RESUME_HINT)
        self.manifest = manifest
        self.ckpt = ckpt
        self.hashed = {s.temp: s for s in staged}
        sweep(self.root, {e.name for e in files.values()} | {MANIFEST, "index"}, _ours)
        return ckpt

    def stats(self) -> Stats:
        assert self.manifest is not None
        entry = self.manifest["files"]["stats"]
        try:
            return Stats.from_state(json.loads((self.root / entry.name).read_text("utf-8")))
        except (OSError, ValueError) as exc:
            raise InputError(f"--resume: the run's statistics are damaged ({exc})",
                             hint=RESUME_HINT) from exc

    def counts(self) -> LineCounts | None:
        assert self.manifest is not None
        entry = self.manifest["files"].get("counts")
        if entry is None:
            return None
        try:
            with np.load(self.root / entry.name, allow_pickle=False) as z:
                counts = LineCounts(width=int(z["width"]), depth=int(z["depth"]),
                                    bloom_bits=len(z["bloom"]) * 8)
                counts.table[:] = z["table"]
                counts.pairs[:] = z["pairs"]
                counts.bloom[:] = z["bloom"]
                counts.documents = int(z["documents"])
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"--resume: the run's line counts are damaged ({exc})",
                             hint=RESUME_HINT) from exc
        return counts

    def index_snapshot(self) -> Snapshot | None:
        """The corpus index as the checkpoint saved it (``None``: the run has no index)."""
        if self.manifest is None or "keys" not in self.manifest["files"]:
            return None
        files = self.manifest["files"]
        return Snapshot(self.root, {"keys": files["keys"], "rows.u32": files["rows.u32"],
                                    "docids.txt": files["docids.txt"]},
                        int(self.manifest.get("index_runs", 0)))

    def stage(self, temp: str, target: str) -> Staged:
        """The checkpoint entry of a finished output (hashed once)."""
        if temp not in self.hashed:
            path = Path(temp)
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            self.hashed[temp] = Staged(target, temp, path.stat().st_size, file_hash(path))
        return self.hashed[temp]

    def save(self, ckpt: Checkpoint, stats: Stats, counts: LineCounts | None,
             index: CorpusIndex | None, marks: tuple[int, int], journal_bytes: int) -> None:
        """Commit a checkpoint: new files first, ``checkpoint.json`` last (one rename)."""
        self.root.mkdir(parents=True, exist_ok=True)
        generation = (self.ckpt.generation if self.ckpt is not None else 0) + 1
        files: dict[str, Entry] = {}
        index_runs = 0
        if index is not None:
            files.update(index.write_keys(self.root, f"index-{generation:06d}.npz",
                                          rows=marks[0], docs=marks[1]))
            index_runs = index.runs
            crash_point("checkpoint:index-written")
        if counts is not None:
            files["counts"] = write_new(self.root, f"counts-{generation:06d}.npz",
                                        lambda fh: np.savez(
                fh, width=counts.width, depth=counts.depth, table=counts.table,
                pairs=counts.pairs, bloom=counts.bloom, documents=counts.documents))
        files["stats"] = write_new(self.root, f"stats-{generation:06d}.json", lambda fh: fh.write(
            json.dumps(stats.to_state(), sort_keys=True).encode("utf-8")))
        if self.journal.exists():
            files[JOURNAL] = append_only(self.root, JOURNAL, journal_bytes,
                                         self._journal_segments())
        crash_point("checkpoint:files-written")
        ckpt = replace(ckpt, generation=generation, index_dir=self.index_dir,
                       limits=self.limits)
        data = {k: getattr(ckpt, k) for k in Checkpoint.__dataclass_fields__ if k != "staged"}
        data.update(format=FORMAT, index_runs=index_runs,
                    staged=[[s.target, s.temp, s.size, s.xxh3] for s in ckpt.staged])
        write_manifest(self.root / MANIFEST, data, files)
        self.manifest = {**data, "files": files}
        self.ckpt = ckpt
        sweep(self.root, {e.name for e in files.values()} | {MANIFEST, "index"}, _ours)

    def _journal_segments(self) -> list[tuple[int, str]]:
        if self.manifest is None or JOURNAL not in self.manifest["files"]:
            return []
        return list(self.manifest["files"][JOURNAL].segments)

    def finish(self) -> None:
        """The run completed and published its outputs: its state is not needed any more. The
        checkpoint's manifest goes first (one unlink), so a stop inside the removal leaves no
        checkpoint to trust, only files that the next run sweeps."""
        (self.root / MANIFEST).unlink(missing_ok=True)
        if self.root.exists():
            shutil.rmtree(self.root)

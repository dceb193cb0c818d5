"""Resumable batch runs: checkpoints at input boundaries, and ``--resume`` after a stop.

A run that writes into an output directory keeps its state in ``OUT/.dedup-run/``. At most
every ``checkpoint_seconds``, when an input ends, it saves:

- the outputs of the finished inputs, renamed into place (so they are complete files);
- the corpus index as it was before the next input's first document (``checkpoint.npz`` and
  ``checkpoint.json`` beside the index: the store is append-only, so only its lengths are
  recorded), the classifier's line counts and the run's statistics;
- ``checkpoint.json`` last: the config fingerprint, the inputs (name, size, modification
  time), how many inputs and documents are done, the ``--removed`` journal's length.

``--resume`` loads that state, refuses it when the config or the inputs changed, and cleans the
remaining inputs exactly as the interrupted run would have: same index, counts and document
numbers, so the outputs are byte-identical to an uninterrupted run. A finished run removes
its state; a new run without ``--resume`` discards an old one.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .boilerplate.repetition import LineCounts
from .config import Config
from .errors import InputError
from .index import CorpusIndex
from .io.readers import Source
from .pipeline import Stats

STATE = ".dedup-run"
CHECKPOINT = "checkpoint"
RESUME_HINT = "run without --resume to start over"


@dataclass(slots=True)
class Checkpoint:
    """Where an interrupted run stood at its last checkpoint."""

    fingerprint: str
    inputs: list[list[Any]]
    sources_done: int
    docs_done: int
    removed_bytes: int = 0
    written: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def inputs_signature(sources: Sequence[Source]) -> list[list[Any]]:
    """Name, size and modification time of every input: a changed input refuses a resume."""
    out: list[list[Any]] = []
    for s in sources:
        # A broken link found in an input directory is a failure of the run, not a crash here.
        st = os.lstat(s.path) if s.problem else os.stat(s.path)
        out.append([s.rel, st.st_size, st.st_mtime_ns])
    return out


class RunState:
    """The state directory of one resumable run (``OUT/.dedup-run``)."""

    def __init__(self, out: str, config: Config, sources: Sequence[Source]) -> None:
        self.root = Path(out) / STATE
        self.config = config
        self.sources = list(sources)

    @property
    def index_root(self) -> Path:
        """Where the run's corpus index lives when no ``--index`` is given."""
        return self.root / "index"

    def discard(self, index_dir: str | None) -> None:
        """Forget an earlier run's state (a new run that does not resume)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        if index_dir is not None and Path(index_dir).is_dir():
            CorpusIndex.drop_checkpoint(Path(index_dir), CHECKPOINT)

    def load(self) -> Checkpoint | None:
        """The last checkpoint, or ``None`` when there is none; refused when stale."""
        path = self.root / f"{CHECKPOINT}.json"
        if not path.exists():
            return None
        try:
            ckpt = Checkpoint(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(f"{path}: the checkpoint is damaged ({exc})",
                             hint=RESUME_HINT) from exc
        if ckpt.fingerprint != self.config.fingerprint():
            raise InputError("--resume: the configuration differs from the interrupted run's",
                             hint=RESUME_HINT)
        if ckpt.inputs != inputs_signature(self.sources)[: len(ckpt.inputs)] or \
                len(ckpt.inputs) != len(self.sources):
            raise InputError("--resume: the inputs changed since the interrupted run "
                             "(added, removed, resized or modified files)", hint=RESUME_HINT)
        return ckpt

    def stats(self) -> Stats:
        with open(self.root / "stats.pkl", "rb") as fh:
            stats: Stats = pickle.load(fh)  # our own file, written by save()
        return stats

    def counts(self) -> LineCounts | None:
        path = self.root / "counts.npz"
        if not path.exists():
            return None
        with np.load(path) as z:
            counts = LineCounts(width=int(z["width"]), depth=int(z["depth"]),
                                bloom_bits=len(z["bloom"]) * 8)
            counts.table[:] = z["table"]
            counts.pairs[:] = z["pairs"]
            counts.bloom[:] = z["bloom"]
            counts.documents = int(z["documents"])
        return counts

    def save(self, ckpt: Checkpoint, stats: Stats, counts: LineCounts | None,
             index: CorpusIndex | None, marks: tuple[int, int]) -> None:
        """Write a checkpoint; ``checkpoint.json`` goes last, so a crash keeps the previous."""
        self.root.mkdir(parents=True, exist_ok=True)
        if index is not None:
            index.save(rows=marks[0], docs=marks[1], name=CHECKPOINT)
        if counts is not None:
            _atomic(self.root / "counts.npz", lambda fh: np.savez(
                fh, width=counts.width, depth=counts.depth, table=counts.table,
                pairs=counts.pairs, bloom=counts.bloom, documents=counts.documents))
        _atomic(self.root / "stats.pkl", lambda fh: pickle.dump(stats, fh))
        _atomic(self.root / f"{CHECKPOINT}.json", lambda fh: fh.write(
            json.dumps(asdict(ckpt), indent=2).encode("utf-8")))

    def finish(self, index_dir: str | None) -> None:
        """The run completed: its state is not needed any more."""
        self.discard(index_dir)


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

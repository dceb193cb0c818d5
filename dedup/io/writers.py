"""Writers: clean text mirroring the input layout, drop records, the run report.

Every file is written to a temporary file beside its target and renamed over it only when
complete (``os.replace``), so an interrupted run never leaves a half-written output.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..errors import OutputError
from ..pipeline import CleanResult
from .readers import Source


class AtomicFile:
    """A text file that appears at ``path`` only on :meth:`commit`; :meth:`abort` removes it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                       dir=self.path.parent)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write ({exc.strerror})") from exc
        self.tmp = Path(tmp)
        self.fh: TextIO = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, text: str) -> None:
        self.fh.write(text)

    def commit(self) -> None:
        self.fh.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual mode
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class _Stdout:
    def write(self, text: str) -> None:
        sys.stdout.write(text)

    def commit(self) -> None:
        sys.stdout.flush()

    def abort(self) -> None:
        sys.stdout.flush()


def plan_outputs(sources: Sequence[Source], out: str, inputs: Sequence[str]) -> dict[str, str]:
    """Map each source's relative name to its output path (``-`` for stdout).

    One file given in ``inputs`` and ``out`` not an existing directory: ``out`` is the output
    file. Otherwise
    ``out`` is a directory that mirrors the inputs' relative names. Refuses to overwrite an input
    or to write inside an input directory, and refuses two inputs with the same output name.
    """
    if out == "-":
        return {s.rel: "-" for s in sources}
    target = Path(out)
    single = (len(inputs) == 1 and inputs[0] != "-" and not Path(inputs[0]).is_dir()
              and not target.is_dir())
    plan: dict[str, str] = {}
    for s in sources:
        dest = target if single else target / s.rel
        if s.rel in plan and plan[s.rel] != str(dest):
            raise OutputError(f"two inputs would both be written to {dest}",
                              hint="clean them in separate runs or rename one")
        plan[s.rel] = str(dest)
    input_paths = {Path(s.path).resolve() for s in sources if not s.is_stdin}
    for planned in plan.values():
        if Path(planned).resolve() in input_paths:
            raise OutputError(f"refusing to overwrite the input {planned}",
                              hint="choose another -o path")
    if not single:
        outdir = target.resolve()
        roots = [Path(i).resolve() for i in inputs if i != "-" and Path(i).is_dir()]
        for root in roots:
            if outdir == root or root in outdir.parents:
                raise OutputError(f"refusing to write into the input directory {out}",
                                  hint="choose an -o directory outside the inputs")
    return plan


CLUSTER_FIELD = "dedup_cluster"  # added to a JSONL record that near-duplicates an earlier one


class OutputWriter:
    """Writes clean results source by source, committing each output when its source ends."""

    def __init__(self, plan: dict[str, str], sources: Sequence[Source],
                 text_field: str = "text") -> None:
        self.plan = plan
        self.kinds = {s.rel: s.kind for s in sources}
        self.text_field = text_field
        self.current: str | None = None
        self.fh: AtomicFile | _Stdout | None = None
        self.written: list[str] = []

    def _switch(self, rel: str) -> None:
        if self.current == rel:
            return
        self._commit()
        self.current = rel
        dest = self.plan[rel]
        self.fh = _Stdout() if dest == "-" else AtomicFile(dest)

    def _commit(self) -> None:
        if self.fh is not None and self.current is not None:
            self.fh.commit()
            self.written.append(self.plan[self.current])
        self.fh = None
        self.current = None

    def write(self, result: CleanResult) -> None:
        doc = result.doc
        if (doc.error or result.dropped_document) and self.kinds.get(doc.source) == "txt":
            return  # an unreadable or dropped text file gets no output file
        self._switch(doc.source)
        if self.fh is None:  # pragma: no cover - _switch always opens one
            return
        if self.kinds[doc.source] == "jsonl":
            if doc.error or result.dropped_document:
                return
            record = dict(doc.meta)
            record[self.text_field] = result.text
            if doc.cluster is not None and doc.cluster.duplicate:
                record[CLUSTER_FIELD] = doc.cluster.id
            self.fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            self.fh.write(result.text)

    def close(self) -> None:
        self._commit()

    def abort(self) -> None:
        if self.fh is not None:
            self.fh.abort()
        self.fh = None
        self.current = None


def removed_records(result: CleanResult) -> list[dict[str, Any]]:
    """One JSON-ready record per dropped line: where, what, why, which line it copies."""
    doc = result.doc
    cluster = doc.cluster.id if doc.cluster is not None else None
    out: list[dict[str, Any]] = []
    if doc.cluster is not None and doc.cluster.duplicate and not result.dropped_document:
        # a tagged near-duplicate document: one record for the document itself
        out.append({"doc": doc.id, "line": None, "reason": "duplicate:document",
                    "score": doc.cluster.similarity, "match": {"doc": cluster, "line": None},
                    "cluster": cluster, "detail": "tagged, not dropped", "text": None})
    for para, v in result.removed:
        match = None
        if v.match is not None:
            match = {"doc": v.match.doc, "line": v.match.line or None}
        out.append({
            "doc": doc.id,
            "line": para.line,
            "reason": v.reason,
            "score": v.score,
            "match": match,
            "cluster": cluster,
            "detail": v.detail,
            "text": para.text,
        })
    return out


class RemovedWriter:
    """The ``--removed`` JSONL file, written atomically."""

    def __init__(self, path: str) -> None:
        self.fh: AtomicFile | _Stdout = _Stdout() if path == "-" else AtomicFile(path)

    def write(self, result: CleanResult) -> None:
        for rec in removed_records(result):
            self.fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.fh.commit()

    def abort(self) -> None:
        self.fh.abort()


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write a JSON document atomically (``-`` for stdout)."""
    fh: AtomicFile | _Stdout = _Stdout() if path == "-" else AtomicFile(path)
    fh.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    fh.commit()

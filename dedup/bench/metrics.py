"""Scoring a keep/drop decision per line against gold labels.

Gold labels are ``content``, ``duplicate`` or ``boilerplate:<category>``. A system only says
keep or drop, so:

- *removal* precision/recall/F1 treats every non-content line as a positive;
- *boilerplate* (or *duplicate*) recall is the share of those gold lines dropped, and its precision
  counts content lines dropped as the false positives (dropping a line of the other removable
  class is neither a hit nor an error for this class);
- *content lost* is the share of content lines dropped;
- *token F1* compares the multiset of matching tokens of the output with the gold text
  (the content lines), per document, averaged over documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..normalize import tokens

CONTENT = "content"
DUPLICATE = "duplicate"
BOILERPLATE = "boilerplate"


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 (1.0 where the denominator is empty: nothing to find)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
            "tp": tp, "fp": fp, "fn": fn}


def kind(label: str) -> str:
    return label.split(":", 1)[0]


CROSS_DOC = "duplicate:cross-doc"


EXACT_GOLD_WORDS = 8


def corpus_labels(golds: Sequence[dict[str, Any]], texts: Sequence[str] | None = None
                  ) -> list[list[str]]:
    """Per-line gold for corpus-wide dedup: a content line becomes ``duplicate:cross-doc`` when
    its source line already appeared as content in an earlier document, or (given ``texts``)
    when it has :data:`EXACT_GOLD_WORDS` words or more and its case-folded, space-collapsed text
    did (two different articles can share a byline or a title word for word). The first copy in
    input order is the one to keep.

    >>> g = [{"labels": ["content", "content"], "sources": ["a:1", "a:2"]},
    ...      {"labels": ["boilerplate:nav", "content", "content"], "sources": [None, "a:2", "b:1"]}]
    >>> corpus_labels(g)[1]
    ['boilerplate:nav', 'duplicate:cross-doc', 'content']
    """
    seen: set[str] = set()
    out = []
    for n, g in enumerate(golds):
        labels = list(g["labels"])
        lines = texts[n].split("\n") if texts is not None else [""] * len(labels)
        first = []
        for i, (label, src) in enumerate(zip(g["labels"], g["sources"], strict=True)):
            if label != CONTENT or src is None:
                continue
            words = lines[i].casefold().split()
            text = "text:" + " ".join(words) if len(words) >= EXACT_GOLD_WORDS else None
            if src in seen or (text is not None and text in seen):
                labels[i] = CROSS_DOC
            else:
                first.extend([src] + ([text] if text else []))
        seen.update(first)
        out.append(labels)
    return out


@dataclass(slots=True)
class LineScores:
    """Accumulates line counts over documents; :meth:`summary` gives the metrics."""

    dropped: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    by_lang: dict[str, Counter[str]] = field(default_factory=dict)
    token_f1: list[float] = field(default_factory=list)
    by_reason: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, labels: Sequence[str], keep: Sequence[bool], lines: Sequence[str],
            lang: str = "", reasons: Sequence[str] | None = None) -> None:
        if len(labels) != len(keep):
            raise ValueError(f"{len(labels)} gold labels but {len(keep)} keep flags")
        if reasons is not None:
            for label, reason, kept in zip(labels, reasons, keep, strict=True):
                if not kept:
                    self.by_reason.setdefault(reason, Counter())[kind(label)] += 1
        per_lang = self.by_lang.setdefault(lang, Counter())
        for label, kept in zip(labels, keep, strict=True):
            self.total[label] += 1
            per_lang[f"total:{label}"] += 1
            if not kept:
                self.dropped[label] += 1
                per_lang[f"dropped:{label}"] += 1
        gold = Counter(t for line, lab in zip(lines, labels, strict=True) if lab == CONTENT
                       for t in tokens(line))
        out = Counter(t for line, kept in zip(lines, keep, strict=True) if kept
                      for t in tokens(line))
        overlap = sum((gold & out).values())
        p = overlap / sum(out.values()) if out else (1.0 if not gold else 0.0)
        r = overlap / sum(gold.values()) if gold else 1.0
        self.token_f1.append(2 * p * r / (p + r) if p + r else 0.0)

    def _sum(self, counter: Counter[str], k: str) -> int:
        return sum(v for label, v in counter.items() if kind(label) == k)

    def summary(self) -> dict[str, object]:
        d, t = self.dropped, self.total
        content_dropped = d[CONTENT]
        removable = self._sum(t, BOILERPLATE) + self._sum(t, DUPLICATE)
        removed_ok = self._sum(d, BOILERPLATE) + self._sum(d, DUPLICATE)
        out: dict[str, object] = {
            "removal": prf(removed_ok, content_dropped, removable - removed_ok),
            "boilerplate": prf(self._sum(d, BOILERPLATE), content_dropped,
                               self._sum(t, BOILERPLATE) - self._sum(d, BOILERPLATE)),
            "duplicate": prf(self._sum(d, DUPLICATE), content_dropped,
                             self._sum(t, DUPLICATE) - self._sum(d, DUPLICATE)),
            "content_lost": round(content_dropped / t[CONTENT], 4) if t[CONTENT] else 0.0,
            "content_lines": t[CONTENT],
            "token_f1": round(float(np.mean(self.token_f1)), 4) if self.token_f1 else 1.0,
            "recall_by_category": {
                label.split(":", 1)[1]: round(d[label] / t[label], 4)
                for label in sorted(t) if label.startswith(BOILERPLATE + ":")
            },
            "cookie_recall_by_language": {
                lang: round(c["dropped:boilerplate:cookie"] / c["total:boilerplate:cookie"], 4)
                for lang, c in sorted(self.by_lang.items()) if c["total:boilerplate:cookie"]
            },
            "boilerplate_recall_by_language": {
                lang: round(sum(v for k, v in c.items() if k.startswith("dropped:boilerplate"))
                            / max(1, sum(v for k, v in c.items()
                                         if k.startswith("total:boilerplate"))), 4)
                for lang, c in sorted(self.by_lang.items())
                if any(k.startswith("total:boilerplate") for k in c)
            },
        }
        if t[CROSS_DOC]:
            out["cross_doc"] = prf(d[CROSS_DOC], content_dropped, t[CROSS_DOC] - d[CROSS_DOC])
        if self.by_reason:
            # Share of the lines dropped for each reason that were not content.
            out["reason_precision"] = {
                reason: round(1 - c[CONTENT] / max(1, sum(c.values())), 4)
                for reason, c in sorted(self.by_reason.items())
            }
        return out


def adjusted_rand_index(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Adjusted Rand index of two clusterings given as one cluster id per item."""
    if len(gold) != len(pred):
        raise ValueError("clusterings differ in length")
    n = len(gold)
    if n < 2:
        return 1.0
    pairs = Counter(zip(gold, pred, strict=True))

    def comb2(x: int) -> float:
        return x * (x - 1) / 2

    index = sum(comb2(v) for v in pairs.values())
    a = sum(comb2(v) for v in Counter(gold).values())
    b = sum(comb2(v) for v in Counter(pred).values())
    expected = a * b / comb2(n)
    maximum = (a + b) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)

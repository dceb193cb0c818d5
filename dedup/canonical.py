"""Which copy is kept: an explicit, deterministic keep policy.

Policy ``first`` (the default and, for now, the only one): paragraphs are visited in document
order and each is compared only with paragraphs already *kept*, so the earliest copy of every
group is the canonical one and a dropped copy always points at a kept line (no chains).
Among several verified matches, the most similar wins, then the earliest.
"""

from __future__ import annotations

from collections.abc import Iterable

POLICIES = ("first",)


def choose(matches: Iterable[tuple[int, float]]) -> tuple[int, float] | None:
    """Pick the canonical match among ``(position, similarity)`` pairs, or ``None`` if empty.

    >>> choose([(7, 0.8), (3, 0.9), (2, 0.9)])
    (2, 0.9)
    """
    best: tuple[int, float] | None = None
    for pos, sim in matches:
        if best is None or sim > best[1] or (sim == best[1] and pos < best[0]):
            best = (pos, sim)
    return best

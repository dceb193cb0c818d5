"""A corpus with little repetition, for measuring speed where the caches rarely hit.

The generated corpus flatters the caches: most of its long paragraphs repeat an earlier one word
for word (syndicated articles, pasted bodies). A crawl of many unrelated sites repeats far
less. This corpus stands for such a crawl:

- **real pages** (the text dumps of ``shared/realpages``, read where the user keeps them, never
  copied into the project): every page once as it is, then again in cycles until the target
  size, each cycle in its own shuffled page order and each copy lightly edited
  (:func:`edit_page`), so that a copy's lines differ from the earlier copies' and exact-copy
  caches rarely hit;
- when the real pages are not there, the **generator with syndication off** (every article a
  remix, no refetches, no pasted bodies or captions, one page per site), its pages edited in
  the same way (the generator's small library alone still repeats its sentences).

Same source, size and seed give the same bytes (:func:`corpus_sha256`); :func:`repetition`
says how repetitive a corpus is.

>>> import random
>>> edit_page("Home\\nThe council met on 12 May to approve the harbour bridge budget.",
...           random.Random(1), 1)
'Home\\nThe council the on 13 May to approve the harbour bridge budget.'
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from ..config import NormConfig, ShingleConfig
from ..corpus import GeneratorConfig, generate
from ..errors import ConfigError
from ..normalize import tokens

#: Lines of at least this many words get word substitutions; shorter ones (menu items, buttons)
#: keep their words, as a site's template keeps them, and only their numbers change.
EDIT_MIN_WORDS = 3
#: One word in this many is replaced (at least one per edited line): a 30-word paragraph gets 3,
#: which leaves well under half of its word 3-shingles, so a copy is not a near-duplicate either.
EDIT_EVERY = 8
_NUMBER = regex.compile(r"\d+")
_WORD = regex.compile(r"\p{L}{3,}")
#: What the generator fallback turns off: syndication (every article a remix), refetches, pasted
#: bodies and repeated captions; one page per site, so site templates do not repeat either.
GENERATED_LOWREP = {"remix": 1.0, "refetch": 0.0, "body_repeat": 0.0, "caption_repeat": 0.0,
                    "docs_per_site": 1}


@dataclass(frozen=True, slots=True)
class LowRepCorpus:
    """The documents (ids, texts, languages) and where they come from, in words."""

    source: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    langs: tuple[str, ...]

    @property
    def mb(self) -> float:
        return sum(len(t.encode("utf-8")) for t in self.texts) / 1e6


def edit_page(text: str, rng: random.Random, shift: int) -> str:
    """``text`` lightly edited: every number plus ``shift``; in each line of ``EDIT_MIN_WORDS``
    words or more, one word in ``EDIT_EVERY`` (at least one) replaced by a word drawn from the
    page itself (so the language stays). Deterministic for a given ``rng`` state."""
    vocab = sorted(set(_WORD.findall(text)))
    out = []
    for line in text.split("\n"):
        line = _NUMBER.sub(lambda m: str(int(m.group()) + shift), line)
        words = line.split(" ")
        if vocab and sum(1 for w in words if w) >= EDIT_MIN_WORDS:
            for i in rng.sample(range(len(words)), max(1, len(words) // EDIT_EVERY)):
                words[i] = rng.choice(vocab)
            line = " ".join(words)
        out.append(line)
    return "\n".join(out)


def _cycled(pages: Sequence[tuple[str, str, str]], target_bytes: int, seed: int
            ) -> Iterator[tuple[str, str, str]]:
    """``pages`` (id, text, language) as they are, then cycles of edited copies, each cycle in
    its own shuffled order, until ``target_bytes`` are reached (the last page may pass it)."""
    total = 0
    for cycle in itertools.count():
        before = total
        order = list(range(len(pages)))
        random.Random(f"lowrep-order:{seed}:{cycle}").shuffle(order)  # a size below one
        # cycle takes pages from all over the set, not the first names
        for i in order:
            if total >= target_bytes:
                return
            doc_id, text, lang = pages[i]
            if cycle:
                text = edit_page(text, random.Random(f"lowrep-edit:{seed}:{cycle}:{doc_id}"),
                                 cycle)
            total += len(text.encode("utf-8"))
            yield f"{doc_id}~{cycle}", text, lang
        if total == before:
            raise ConfigError("the low-repetition corpus cannot reach its size",
                              hint="its source pages are empty")


def from_real_pages(root: Path, target_mb: float, seed: int = 0) -> LowRepCorpus:
    """The real pages under ``root`` (the realpages folder) cycled with edits to ``target_mb``."""
    from .realpages import LANG, load_pages

    pages = [(p.name, p.text, LANG) for p in load_pages(root)]
    ids, texts, langs = zip(*_cycled(pages, _target(target_mb), seed), strict=True)
    return LowRepCorpus(f"real pages ({len(pages)} pages of {root}), cycled with edits",
                        ids, texts, langs)


def from_generator(target_mb: float, seed: int = 0, split: str = "test") -> LowRepCorpus:
    """The generator with syndication off (:data:`GENERATED_LOWREP`), every page edited, up to
    ``target_mb``."""
    target = _target(target_mb)
    # about 3 kB a page with these settings; a margin, then cut at the target
    cfg = GeneratorConfig(docs=max(10, target // 2000), seed=seed, split=split,
                          **GENERATED_LOWREP)  # type: ignore[arg-type]
    ids: list[str] = []
    texts: list[str] = []
    langs: list[str] = []
    total = 0
    for n, (doc, _) in enumerate(generate(cfg)):
        if total >= target:
            break
        text = edit_page(doc["text"], random.Random(f"lowrep-edit:{seed}:{n}"), 1 + n % 7)
        ids.append(doc["id"])
        texts.append(text)
        langs.append(doc["lang"])
        total += len(text.encode("utf-8"))
    return LowRepCorpus("generated, syndication off, every page edited", tuple(ids),
                        tuple(texts), tuple(langs))


def build_lowrep(target_mb: float, seed: int = 0, real_pages: Path | None = None,
                 split: str = "test") -> LowRepCorpus:
    """The low-repetition corpus of about ``target_mb`` MB (at least that): from the real pages
    when ``real_pages`` is given, else from the generator (see the module doc)."""
    if real_pages is not None:
        return from_real_pages(real_pages, target_mb, seed)
    return from_generator(target_mb, seed, split)


def _target(target_mb: float) -> int:
    if not target_mb > 0:
        raise ConfigError(f"corpus size {target_mb} MB is out of range", hint="use more than 0")
    return int(target_mb * 1e6)


def corpus_sha256(texts: Sequence[str]) -> str:
    """A hash of the documents' bytes (each text, then a NUL), to pin a corpus."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def repetition(texts: Sequence[str], norm: NormConfig = NormConfig(),
               min_words: int = ShingleConfig().min_words) -> dict[str, Any]:
    """How repetitive ``texts`` are: the share of long paragraphs (``min_words`` tokens or more,
    the ones MinHashed) whose normalised text repeats an earlier one word for word, the share
    of all non-blank lines that do, and the mean bytes per line.

    >>> long = "one two three four five six seven eight"
    >>> repetition([f"{long}\\nHome", f"{long}\\nHome\\nother"])["long_repeat_share"]
    0.5
    """
    seen: set[str] = set()
    lines = nonblank = repeats = longs = long_repeats = 0
    nbytes = sum(len(text.encode("utf-8")) for text in texts)
    for text in texts:
        for line in text.split("\n"):
            lines += 1
            toks = tokens(line, norm)
            if not toks:
                continue
            nonblank += 1
            key = " ".join(toks)
            again = key in seen
            seen.add(key)
            repeats += again
            if len(toks) >= min_words:
                longs += 1
                long_repeats += again
    return {"docs": len(texts), "lines": lines, "mb": round(nbytes / 1e6, 3),
            "bytes_per_line": round(nbytes / max(lines, 1), 1),
            "long_paragraphs": longs,
            "long_repeat_share": round(long_repeats / max(longs, 1), 4),
            "line_repeat_share": round(repeats / max(nonblank, 1), 4)}

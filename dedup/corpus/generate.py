"""A deterministic generator of scraped pages with gold labels, shaped like real dumps.

Each document is one page of a *site*: the site's template lines (cookie notice, menu, login,
newsletter and share prompts, related-article block, comment prompt, ad markers, photo credits,
legal footer) stand where sites put them and repeat on every page of that site; the article sits
in the middle with its captions repeated, and its body is sometimes pasted again in full or cut
short, with near-duplicate edits on the copies (quote styles, typos, a dropped or added word,
whitespace, case, prefixes such as "UPDATE:", split or merged lines). The same source article is
published on several sites (a document cluster); other documents carry unique "remixed" articles
built from sentences of the sources; some pages are fetched twice.

Every line gets a gold label: ``content``, ``boilerplate:<category>`` or ``duplicate`` (with the
1-based line it copies), plus the id of the source line it comes from, so cross-document
duplicates can be derived too. Same config and seed give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import regex

from ..errors import ConfigError
from ..io.writers import AtomicFile
from ..normalize import tokens
from .sources import SPLITS, SUBSPLITS, Article, Library, load_articles, load_library

GENERATOR_VERSION = 5
_SENTENCE = regex.compile(r"(?<=[.!?…»”\"])\s+(?=[\p{Lu}„«“\"])")
_PREFIXES = ("UPDATE: ", "Updated: ", "EXCLUSIVE: ", "BREAKING: ", "+++ ")
_QUOTES = {'"': ("“", "”"), "“": ('"', '"'), "”": ('"', '"'), "„": ('"', '"'), "«": ('"', '"'),
           "»": ('"', '"')}
EDITS = ("quotes", "typo", "drop_word", "add_word", "whitespace", "case", "prefix", "split",
         "merge")


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """What to generate. Rates are probabilities per document (or per copied line for edits)."""

    docs: int = 1000
    seed: int = 0
    split: str = "dev"
    docs_per_site: int = 25
    remix: float = 0.4
    refetch: float = 0.05
    foreign_site: float = 0.12
    caption_lead: float = 0.5
    caption_repeat: float = 0.4
    body_repeat: float = 0.35
    body_full: float = 0.4
    cut_mid_line: float = 0.3
    edit_rate: float = 0.4

    def __post_init__(self) -> None:
        if self.docs < 1:
            raise ConfigError(f"docs = {self.docs} is out of range", hint="it must be >= 1")
        if self.split not in SPLITS + SUBSPLITS:
            raise ConfigError(f"split {self.split!r} is unknown",
                              hint=f"use one of {', '.join(SPLITS + SUBSPLITS)}")
        for name in ("remix", "refetch", "foreign_site", "caption_lead", "caption_repeat",
                     "body_repeat", "body_full", "cut_mid_line", "edit_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} = {value} is out of range", hint="it must be in [0, 1]")


@dataclass(slots=True)
class Site:
    """A site's template: the boilerplate lines that stand on every one of its pages."""

    name: str
    lang: str
    content_lang: str
    cookie: list[str]
    cookie_top: bool
    nav: list[str]
    login: list[str]
    newsletter: list[str]
    share: list[str]
    related: str | None
    comments: list[str]
    legal: list[str]
    ads: list[str]
    ad_rate: float
    credits: list[str]


@dataclass(slots=True)
class _Line:
    text: str
    label: str
    source: str | None = None
    copies: int | None = None


@dataclass(slots=True)
class _Page:
    lines: list[_Line] = field(default_factory=list)
    first: dict[str, int] = field(default_factory=dict)

    def bp(self, text: str, category: str) -> None:
        self.lines.append(_Line(text, f"boilerplate:{category}"))

    def bps(self, texts: list[str], category: str) -> None:
        for text in texts:
            self.bp(text, category)

    def content(self, text: str, source: str) -> None:
        """A line of the article: content the first time its source appears, else a duplicate."""
        if source in self.first:
            self.lines.append(_Line(text, "duplicate", source, self.first[source]))
        else:
            self.lines.append(_Line(text, "content", source))
            self.first[source] = len(self.lines)


def _pick(rng: random.Random, options: tuple[str, ...] | list[str], k: int = 1) -> list[str]:
    if not options:
        return []
    return rng.sample(list(options), min(k, len(options)))


def _make_site(rng: random.Random, n: int, lib: Library, lang: str, content_lang: str) -> Site:
    def get(cat: str) -> tuple[str, ...]:
        return lib.get(lang, cat)

    cookie = _pick(rng, get("cookie"), rng.choice((1, 1, 2)))
    nav_line = _pick(rng, get("nav"))
    nav = nav_line
    if nav_line and rng.random() < 0.3:  # menu rendered one item per line
        nav = [x.strip() for x in regex.split(r"\s+[|>»·]\s+", nav_line[0]) if x.strip()]

    def maybe(cat: str, p: float, k: int = 1) -> list[str]:
        return _pick(rng, get(cat), k) if rng.random() < p else []

    related = _pick(rng, get("related"))
    return Site(
        name=f"site{n:04d}-{lang}",
        lang=lang,
        content_lang=content_lang,
        cookie=cookie,
        cookie_top=rng.random() < 0.8,
        nav=nav,
        login=maybe("login", 0.5),
        newsletter=maybe("newsletter", 0.7),
        share=maybe("share", 0.7),
        related=related[0] if related and rng.random() < 0.5 else None,
        comments=maybe("comments", 0.5),
        legal=_pick(rng, get("legal"), rng.choice((0, 1, 2, 3))),
        ads=_pick(rng, get("ads"), 2),
        ad_rate=rng.choice((0.0, 0.15, 0.3)),
        credits=maybe("credits", 0.4),
    )


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s]


Shape = Callable[[str], str]  # makes a title, heading or caption of a sentence
# A remixed line must stay clearly below the similarity at which dedup calls two lines
# near-duplicates (Jaccard 0.7 of word 2-shingles by default), with every line a copy of other
# text can become: the margin covers the small edits copies get.
REMIX_SHINGLE = 2
REMIX_OVERLAP = 0.6


def _shingles(text: str) -> frozenset[str]:
    """What a remixed line is compared by: the word ``REMIX_SHINGLE``-shingles of dedup's own
    matching tokens (case-folded, punctuation-free), as dedup verifies a pair; a shorter line
    is one shingle of all its tokens."""
    toks = tokens(text)
    if len(toks) < REMIX_SHINGLE:
        return frozenset((" ".join(toks),)) if toks else frozenset()
    return frozenset(" ".join(toks[i:i + REMIX_SHINGLE])
                     for i in range(len(toks) - REMIX_SHINGLE + 1))


class _ShingleIndex:
    """Shingle sets under an inverted index: has a line a Jaccard of at least
    :data:`REMIX_OVERLAP` with any of them? Only the entries of the line's rarest shingles are
    verified: a set with Jaccard ``>= t`` shares at least ``ceil(t * n)`` of the line's ``n``
    shingles, so it shares one of any ``n - ceil(t * n) + 1`` of them."""

    __slots__ = ("known", "postings", "sets")

    def __init__(self) -> None:
        self.sets: list[frozenset[str]] = []
        self.known: set[frozenset[str]] = set()
        self.postings: dict[str, list[int]] = {}

    def add(self, text: str) -> None:
        shingles = _shingles(text)
        if not shingles or shingles in self.known:
            return
        self.known.add(shingles)
        self.sets.append(shingles)
        for s in shingles:
            self.postings.setdefault(s, []).append(len(self.sets) - 1)

    def near(self, text: str) -> bool:
        shingles = _shingles(text)
        n = len(shingles)
        probe = sorted(shingles, key=lambda s: (len(self.postings.get(s, ())), s))
        seen: set[int] = set()
        for s in probe[: n - math.ceil(REMIX_OVERLAP * n) + 1]:
            for i in self.postings.get(s, ()):
                if i in seen:
                    continue
                seen.add(i)
                other = self.sets[i]
                inter = len(shingles & other)
                if inter >= REMIX_OVERLAP * (n + len(other) - inter):
                    return True
        return False


def _split_parts(text: str) -> Iterator[str]:
    """The lines a ``split`` edit can leave of ``text`` (a run of leading or trailing sentences),
    and each single sentence of it."""
    parts = _sentences(text)
    for cut in range(1, len(parts)):
        yield " ".join(parts[:cut])
        yield " ".join(parts[cut:])
    if len(parts) > 2:
        yield from parts[1:-1]


@dataclass(frozen=True, slots=True)
class _Seen:
    """Text that already stands somewhere, indexed twice: ``content``, the lines whose first copy
    the gold calls content (titles and whole lines), and ``forms``, every whole line a copy of
    them can become (the content lines, their ``split`` parts and sentences, neighbouring lines
    joined by ``merge``). ``openers`` are the sentences that begin a line: a ``cut`` copy of that
    line can stop anywhere in them."""

    content: _ShingleIndex = field(default_factory=_ShingleIndex)
    forms: _ShingleIndex = field(default_factory=_ShingleIndex)
    openers: set[str] = field(default_factory=set)

    def add(self, text: str, parts: tuple[str, ...] = ()) -> None:
        self.content.add(text)
        self.forms.add(text)
        for part in parts:
            self.forms.add(part)


@lru_cache(maxsize=64)
def _pool_seen(pool: tuple[Article, ...]) -> _Seen:
    """What a pool's articles put on pages (built once per pool)."""
    seen = _Seen()
    for art in pool:
        seen.add(art.title)
        texts = [t for _, t in art.lines]
        for i, text in enumerate(texts):
            merged = (f"{text} {texts[i + 1]}",) if i + 1 < len(texts) else ()
            seen.add(text, (*_split_parts(text), *merged))
            seen.openers.update(_sentences(text)[:1])
    return seen


@dataclass(slots=True)
class _RemixState:
    """What earlier remixes of a language used, so remixes are unique against each other too:
    their lines (:class:`_Seen`), the sentence pairs of their paragraphs (two remix paragraphs
    never share two) and the sentences that gave a title, heading or caption (no remix paragraph
    begins with one)."""

    seen: _Seen = field(default_factory=_Seen)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    singles: set[str] = field(default_factory=set)


def _remix(rng: random.Random, n: int, pool: list[Article], state: _RemixState
           ) -> Article | None:
    """A unique article built from sentences of the pool, whose lines really exist nowhere
    else, so the gold may call their first copy content. A line is kept only if it is fresh: its
    shingle Jaccard is below :data:`REMIX_OVERLAP` with every line any copy of a pool article or of
    an earlier remix line can become (whole lines, ``split`` parts, single sentences, ``merge``
    joins), and so is the Jaccard of each of its own ``split`` parts with every pool or remix
    line the gold calls content. Titles, headings and captions (a sentence or its opening words)
    take no sentence that begins a pool or remix line, which a ``cut`` copy could match, and no
    remix paragraph begins with their sentence. ``None`` when no fresh title is left."""
    paragraphs = [t for a in pool for r, t in a.lines if r == "paragraph"]
    by_para = [(i, s) for i, t in enumerate(paragraphs) for s in _sentences(t)]
    pool_seen = _pool_seen(tuple(pool))
    seen = state.seen

    def take(line: str, parts: tuple[str, ...] = ()) -> bool:
        """Keep ``line`` if it is fresh (and remember it, so later lines differ from it)."""
        if pool_seen.forms.near(line) or seen.forms.near(line):
            return False
        for part in parts:
            if pool_seen.content.near(part) or seen.content.near(part):
                return False
        seen.add(line, parts)
        return True

    def single(shape: Shape) -> str | None:
        """A fresh line shaped from one sentence that begins no line."""
        for _ in range(20):
            sentence = rng.choice(by_para)[1]
            if sentence in pool_seen.openers or sentence in seen.openers:
                continue
            line = shape(sentence)
            if take(line):
                state.singles.add(sentence)
                return line
        return None

    def paragraph() -> str | None:
        for _ in range(20):
            picked = rng.sample(by_para, min(len(by_para), rng.randint(2, 4)))
            sents = [s for _, s in picked]
            pairs = {(a, b) if a < b else (b, a) for a in sents for b in sents if a != b}
            if len({i for i, _ in picked}) < len(picked) or pairs & state.pairs \
                    or sents[0] in state.singles:
                continue
            text = " ".join(sents)
            if take(text, tuple(_split_parts(text))):
                state.pairs.update(pairs)
                seen.openers.add(sents[0])
                return text
        return None

    def opening_words(lo: int, hi: int, credit: str = "") -> Shape:
        """The first ``lo`` to ``hi`` words of a sentence, at most about half of it (the whole
        sentence stands on pages as a ``split`` part), with a photo credit for a caption."""
        def shape(sentence: str) -> str:
            words = sentence.rstrip(".!?…").split()
            line = " ".join(words[: rng.randint(lo, max(lo, min(hi, (len(words) + 1) // 2)))])
            return f"{line} /{credit}" if credit else line
        return shape

    title = single(opening_words(6, 12))
    if title is None:
        return None
    lines: list[tuple[str, str]] = []
    bylines = [t.partition(" | ") for x in pool for r, t in x.lines if r == "byline"]
    if bylines:
        # an author of the pool with another article's date, if that is no pool byline
        author, date = rng.choice(bylines)[0], rng.choice(bylines)[2]
        byline = f"{author} | {date}" if date else author
        if take(byline):
            lines.append(("byline", byline))
    credits = [t.rpartition(" /")[2] for x in pool for r, t in x.lines
               if r == "caption" and " /" in t]
    for i in range(rng.randint(6, 14)):
        if i and rng.random() < 0.12:
            # a heading of its own: the opening words of a sentence, not another article's
            heading = single(opening_words(2, 4))
            if heading is not None:
                lines.append(("heading", heading))
            continue
        if i == 1 and credits and rng.random() < 0.6:
            caption = single(opening_words(6, 14, rng.choice(credits)))
            if caption is not None:
                lines.append(("caption", caption))
        text = paragraph()
        if text is not None:
            lines.append(("paragraph", text))
    return Article(f"remix-{n:07d}", pool[0].lang, pool[0].split, title, tuple(lines))


def _edit(rng: random.Random, text: str, kind: str) -> list[str]:
    """A near-duplicate edit of one copied line; ``split`` may return two lines."""
    words = text.split(" ")
    if kind == "quotes":
        out = "".join(rng.choice(_QUOTES[c]) if c in _QUOTES else c for c in text)
        return [out.replace("'", "’") if out == text else out]
    if kind == "typo":
        long_ = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if long_:
            i = rng.choice(long_)
            w = words[i]
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        return [" ".join(words)]
    if kind == "drop_word" and len(words) >= 6:
        del words[rng.randrange(len(words))]
        return [" ".join(words)]
    if kind == "add_word" and len(words) >= 3:
        i = rng.randrange(len(words))
        words.insert(i, words[rng.randrange(len(words))])
        return [" ".join(words)]
    if kind == "whitespace":
        return [rng.choice(("  ", "\t", " ")) + text.replace(" ", rng.choice(("  ", " \t", " ")))
                + rng.choice((" ", "  ", ""))]
    if kind == "case":
        return [text.upper() if len(words) < 8 else text.lower()]
    if kind == "prefix":
        return [rng.choice(_PREFIXES) + text]
    if kind == "split":
        parts = _sentences(text)
        if len(parts) >= 2:
            cut = rng.randrange(1, len(parts))
            return [" ".join(parts[:cut]), " ".join(parts[cut:])]
    return [text]


def _compose(rng: random.Random, cfg: GeneratorConfig, site: Site, art: Article,
             titles: list[str]) -> list[_Line]:
    page = _Page()
    if site.cookie_top:
        page.bps(site.cookie, "cookie")
    page.bps(site.nav, "nav")
    page.bps(site.login, "login")
    page.content(art.title, f"{art.id}:title")
    body = [(role, text, f"{art.id}:{i}") for i, (role, text) in enumerate(art.lines)]
    lead = [b for b in body if b[0] == "byline"][:1]
    rest = [b for b in body if b not in lead]
    captions = [b for b in rest if b[0] == "caption"]
    if captions and rng.random() < cfg.caption_lead:  # lead image: caption right under the title
        rest.remove(captions[0])
        rest.insert(0, captions[0])
    for _, text, src in lead:
        page.content(text, src)
    copy_from = len(page.lines)
    paragraphs_seen = 0
    for role, text, src in rest:
        page.content(text, src)
        if role == "caption":
            if rng.random() < cfg.caption_repeat:
                page.content(text, src)  # the image's alt text and its caption
            page.bps(site.credits, "credits")
        if role == "paragraph":
            paragraphs_seen += 1
            if site.ads and paragraphs_seen % 2 == 0 and rng.random() < site.ad_rate * 2:
                page.bp(rng.choice(site.ads), "ads")
    body_lines = [(line.text, line.source) for line in page.lines[copy_from:]
                  if line.label == "content"]
    page.bps(site.share, "share")
    if site.related and titles:
        page.bp(site.related, "related")
        for t in _pick(rng, titles, rng.randint(2, 3)):
            page.bp(t, "related")
    repeat = bool(body_lines) and rng.random() < cfg.body_repeat
    at_end = rng.random() < 0.5  # scrapers also append the second copy after the footer
    if repeat and not at_end:
        _repeat_body(rng, cfg, page, body_lines)
    page.bps(site.comments, "comments")
    page.bps(site.newsletter, "newsletter")
    page.bps(site.legal, "legal")
    if not site.cookie_top:
        page.bps(site.cookie, "cookie")
    if repeat and at_end:
        _repeat_body(rng, cfg, page, body_lines)
    return page.lines


def _repeat_body(rng: random.Random, cfg: GeneratorConfig, page: _Page,
                 body: list[tuple[str, str | None]]) -> None:
    """Paste the body again, in full or cut short, with near-duplicate edits on the copies."""
    if rng.random() < cfg.body_full or len(body) < 4:
        copy = list(body)
    else:
        copy = body[: rng.randint(3, len(body) - 1)]
    i = 0
    while i < len(copy):
        text, src = copy[i]
        last = i == len(copy) - 1
        if last and len(copy) < len(body) and rng.random() < cfg.cut_mid_line:
            words = text.split(" ")
            if len(words) >= 6:
                text = " ".join(words[: rng.randint(3, len(words) - 2)])
        lines = [text]
        if rng.random() < cfg.edit_rate:
            kind = rng.choice(EDITS)
            if kind == "merge" and not last:
                lines = [text + " " + copy[i + 1][0]]
                i += 1
            else:
                lines = _edit(rng, text, kind)
        for t in lines:
            if src is not None and src in page.first:
                page.lines.append(_Line(t, "duplicate", src, page.first[src]))
        i += 1


def generate(cfg: GeneratorConfig, root: Path | None = None
             ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(document, gold)`` records, one per page, deterministically from ``cfg``."""
    rng = random.Random(f"dedup-corpus/{GENERATOR_VERSION}/{cfg.seed}/{cfg.split}")
    articles = load_articles(root, cfg.split)
    lib = load_library(root, cfg.split)
    by_lang: dict[str, list[Article]] = {}
    for a in articles:
        by_lang.setdefault(a.lang, []).append(a)
    content_langs = sorted(by_lang)
    foreign = sorted(set(lib.languages) - set(content_langs))
    sites = []
    # At least three sites per language, so every article can be syndicated across sites.
    for n in range(max(3 * len(content_langs), math.ceil(cfg.docs / cfg.docs_per_site))):
        if foreign and rng.random() < cfg.foreign_site:
            # e.g. an English edition of a Swedish site: local template, English articles
            site_lang = rng.choice(foreign)
            clang = "en" if "en" in by_lang else content_langs[0]
        else:
            clang = content_langs[n % len(content_langs)] if n < 3 * len(content_langs) \
                else rng.choice(content_langs)
            site_lang = clang
        sites.append(_make_site(rng, n, lib, site_lang, clang))
    remixes = 0
    remix_state: dict[str, _RemixState] = {}
    previous: tuple[Site, Article] | None = None
    for i in range(cfg.docs):
        if previous is not None and rng.random() < cfg.refetch:
            site, art = previous  # the same page fetched again under another URL
        else:
            site = rng.choice(sites)
            pool = by_lang[site.content_lang]
            remix = None
            if rng.random() < cfg.remix:
                state = remix_state.setdefault(site.content_lang, _RemixState())
                remix = _remix(rng, remixes, pool, state)
                remixes += remix is not None
            art = remix if remix is not None else rng.choice(pool)
        previous = (site, art)
        titles = [a.title for a in by_lang[site.content_lang] if a.id != art.id]
        lines = _compose(rng, cfg, site, art, titles)
        doc_id = f"doc-{i:07d}"
        doc = {"id": doc_id, "url": f"https://{site.name}.example/{art.id}/{i}",
               "site": site.name, "lang": site.content_lang,
               "text": "\n".join(line.text for line in lines)}
        gold = {"id": doc_id, "cluster": art.id, "site": site.name, "lang": site.content_lang,
                "site_lang": site.lang,
                "labels": [line.label for line in lines],
                "copies": [line.copies for line in lines],
                "sources": [line.source for line in lines]}
        yield doc, gold


def write_corpus(cfg: GeneratorConfig, out: str | Path, root: Path | None = None
                 ) -> dict[str, Any]:
    """Write ``docs.jsonl``, ``gold.jsonl`` and ``manifest.json`` into ``out`` atomically."""
    out = Path(out)
    docs_f, gold_f = AtomicFile(out / "docs.jsonl"), AtomicFile(out / "gold.jsonl")
    hd, hg = hashlib.sha256(), hashlib.sha256()
    counts: dict[str, int] = {}
    try:
        for doc, gold in generate(cfg, root):
            d = json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n"
            g = json.dumps(gold, ensure_ascii=False, sort_keys=True) + "\n"
            docs_f.write(d)
            gold_f.write(g)
            hd.update(d.encode())
            hg.update(g.encode())
            for label in gold["labels"]:
                counts[label] = counts.get(label, 0) + 1
    except BaseException:
        docs_f.abort()
        gold_f.abort()
        raise
    docs_f.commit()
    gold_f.commit()
    manifest = {"generator_version": GENERATOR_VERSION, "config": asdict(cfg),
                "docs_sha256": hd.hexdigest(), "gold_sha256": hg.hexdigest(),
                "line_labels": dict(sorted(counts.items()))}
    manifest_f = AtomicFile(out / "manifest.json")
    manifest_f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    manifest_f.commit()
    return manifest

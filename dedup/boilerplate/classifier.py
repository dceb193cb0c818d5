"""The boilerplate classifier stage.

A classifier looks at a whole document (so context can count) and returns, per paragraph, a
:class:`~dedup.types.Verdict` to drop it or ``None`` to leave it to later stages. The first
classifier, :class:`RuleClassifier`, scores cookie and consent notices from the cue phrases in
:mod:`dedup.boilerplate.rules` with a small hand-set linear model; a learned model implements the
same :class:`Classifier` protocol and slots in via :class:`~dedup.pipeline.Cleaner`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import _lru_cache_wrapper, cached_property, lru_cache
from operator import and_, attrgetter, is_, not_
from typing import Any, Protocol, TypeVar

import regex

from ..batching import BATCH, batches
from ..cache import MAX_KEY_CHARS
from ..config import BoilerplateConfig
from ..normalize import tokens
from ..types import DROP, Document, Paragraph, Verdict
from . import rules


class Classifier(Protocol):
    """Anything that maps a document to one optional drop verdict per paragraph."""

    def classify(self, doc: Document) -> list[Verdict | None]: ...


def _trie(phrases: Collection[str]) -> str:
    """A regex alternation of ``phrases`` shaped as a trie (shared prefixes factored out), so
    the engine tries each character once instead of once per phrase: ~3x faster than a flat
    alternation on long phrase lists. Longer matches win, as with longest-first ordering."""
    root: dict[str, Any] = {}
    for phrase in phrases:
        node = root
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}
    escaped = {ch: regex.escape(ch) for ch in set("".join(phrases))}  # once per character

    def build(node: dict[str, Any]) -> str:
        chain = []  # a run of nodes with one child and no phrase end: their characters
        while len(node) == 1 and "" not in node:
            ((ch, node),) = node.items()
            chain.append(escaped[ch])
        branches = [escaped[ch] + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return "".join(chain)
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "".join(chain) + (f"(?:{body})?" if "" in node else body)

    return build(root)


# The phrase patterns run in the standard library's ``re``, about 3x faster than in ``regex``,
# on a text made to give the same matches there (:func:`matchable`). ``(?<![\w])`` and
# ``(?![\w])`` are the patterns' only construct whose meaning differs between the engines
# (``regex`` counts combining marks, join controls and more as word characters, ``re`` counts "²"
# and "½"); literals, groups, ``?`` and ordered alternation match alike. So replacing each
# character the engines disagree on by a stand-in that both classify as ``regex`` does, and that
# no phrase holds (nor any disagreeing character: checked when a pattern is built), leaves every
# match where it was: the same spans, holding no replaced character, so the same strings.
_WORD_STAND_IN = "\u00aa"  # "ª": a word character in both engines
_NONWORD_STAND_IN = "\x00"  # a word character in neither


@lru_cache(maxsize=1 << 16)
def _stand_in(ch: str) -> str | None:
    r"""The stand-in for ``ch`` when ``re`` and ``regex`` disagree on whether it is ``\w``."""
    word = regex.match(r"[\w]", ch) is not None  # as the patterns ask it
    if word == (re.match(r"[\w]", ch) is not None):
        return None
    return _WORD_STAND_IN if word else _NONWORD_STAND_IN


def matchable(low: str) -> str:
    r"""``low`` with every character on which ``re`` and ``regex`` disagree about ``\w`` replaced
    by its stand-in: a phrase pattern's ``re`` matches in it are its ``regex`` matches in ``low``.

    >>> matchable("cookies\u0301 ok") == "cookies\u00aa ok"  # an accent: a word character
    True
    """
    if low.isascii():  # the engines agree on every ASCII character
        return low
    table = {}
    for ch in set(low):
        if ch > "\x7f":
            sub = _stand_in(ch)
            if sub is not None:
                table[ord(ch)] = sub
    return low.translate(table) if table else low


_WORDS = re.compile(r"\w+")


class Phrases:
    """One alternation of cue phrases between word boundaries, built and compiled on first use
    (a process that never meets a cue compiles nothing): ``exact`` in ``regex`` (the reference),
    ``quick`` in ``re`` (run on :func:`matchable` text: the same matches)."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = frozenset(phrases)

    @cached_property
    def source(self) -> str:
        return rf"(?<![\w])(?:{_trie(self.phrases)})(?![\w])"

    @cached_property
    def exact(self) -> regex.Pattern[str]:
        return regex.compile(self.source)

    @cached_property
    def quick(self) -> re.Pattern[str]:
        odd = {ch for ch in "".join(self.phrases)
               if ch in (_WORD_STAND_IN, _NONWORD_STAND_IN) or _stand_in(ch) is not None}
        if odd:  # a rule-list edit broke what matchable() relies on
            raise ValueError(f"cue phrases hold characters the engines read apart: {odd}")
        return re.compile(self.source)

    @cached_property
    def anchors(self) -> frozenset[str] | None:
        r"""The longest ``re`` word (``\w+``) of every phrase: a phrase matches only between
        non-word characters, so each of its words is a whole word of the :func:`matchable`
        text it matches in; a text none of whose words is an anchor holds no match. ``None``
        when a phrase has no word (it could match anywhere)."""
        sets = self.word_sets
        return None if sets is None else frozenset(sets)

    @cached_property
    def word_sets(self) -> dict[str, tuple[frozenset[str], ...]] | None:
        r"""The ``re`` words (``\w+``) of every phrase, by the phrase's anchor (its longest
        word, see :attr:`anchors`): a phrase matches only where each of its words is a whole
        word of the text. ``None`` when a phrase has no word."""
        out: dict[str, list[frozenset[str]]] = {}
        for phrase in self.phrases:
            found = _WORDS.findall(phrase)
            if not found:
                return None
            out.setdefault(max(found, key=len), []).append(frozenset(found))
        return {anchor: tuple(sets) for anchor, sets in out.items()}

    def absent(self, words: frozenset[str] | set[str]) -> bool:
        r"""Whether a :func:`matchable` text whose ``\w+`` words are ``words`` surely holds no
        match: no phrase has all its words among them (see :attr:`word_sets`; a text with an
        anchor but not the rest of its phrase, "using" without "this website", runs no
        pattern)."""
        sets = self.word_sets
        if sets is None:
            return False
        return not any(phrase <= words for anchor in sets.keys() & words
                       for phrase in sets[anchor])

    def pattern(self, fast: bool = True) -> re.Pattern[str] | regex.Pattern[str]:
        """``quick`` (for :func:`matchable` text) when ``fast``, else ``exact``."""
        return self.quick if fast else self.exact

    def search(self, low: str, fast: bool = True) -> re.Match[str] | regex.Match[str] | None:
        """The first match in the lowercased ``low``: with ``quick`` when ``fast``."""
        return self.quick.search(matchable(low)) if fast else self.exact.search(low)

    def findall(self, low: str, fast: bool = True) -> list[str]:
        """Every match in the lowercased ``low``: with ``quick`` when ``fast``."""
        found: list[str] = (self.quick.findall(matchable(low)) if fast
                            else self.exact.findall(low))
        return found


def _alternation(phrases: Iterable[str]) -> Phrases:
    return Phrases(phrases)


def _group(category: dict[str, dict[str, tuple[str, ...]]], name: str) -> Phrases:
    return _alternation(p for lang in rules.LANGUAGES for p in category[name].get(lang, ()))


# One alternation per cue group, every language together (compiled on first use).
_TOPIC = _group(rules.COOKIE, "topic")
_STRONG = _group(rules.COOKIE, "strong")
_AGENT = _group(rules.COOKIE, "agent")
_ACTION = _group(rules.COOKIE, "action")
_BUTTON = _group(rules.COOKIE, "button")
_REPORTING = _alternation(p for lang in rules.LANGUAGES for p in rules.REPORTING[lang])


def _anchors(category: dict[str, dict[str, tuple[str, ...]]], groups: Sequence[str]
             ) -> frozenset[str]:
    """The longest matching token of every phrase: a line that has none of them cannot match
    any phrase of ``groups``, so the regexes need not run (most content lines stop here)."""
    out = set()
    for group in groups:
        for phrases in category[group].values():
            for phrase in phrases:
                toks = tokens(phrase)
                if toks:
                    out.add(max(toks, key=len))
    return frozenset(out)


_COOKIE_ANCHORS = _anchors(rules.COOKIE, ("topic", "strong", "button"))
_TOPIC_ANCHORS = _anchors(rules.COOKIE, ("topic", "strong"))
_BUTTON_ANCHORS = _anchors(rules.COOKIE, ("button",))


@dataclass(frozen=True, slots=True)
class CookieEvidence:
    """The cues found in one line and the score they give."""

    topic: tuple[str, ...]
    strong: tuple[str, ...]
    agent: tuple[str, ...]
    action: tuple[str, ...]
    buttons: tuple[str, ...]
    button_cover: float
    reporting: tuple[str, ...]
    words: int
    score: float

    def describe(self) -> str:
        parts = []
        for name in ("strong", "topic", "buttons", "agent", "action", "reporting"):
            found: tuple[str, ...] = getattr(self, name)
            if found:
                parts.append(f"{name}={'/'.join(found[:3])}")
        parts.append(f"words={self.words}")
        return " ".join(parts)


def _distinct(found: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(found))


SHORT_NOTICE_WORDS = 15  # up to this many words, a consent phrase addressed to the reader


def cookie_evidence(text: str, cfg: BoilerplateConfig = BoilerplateConfig(),
                    toks: Sequence[str] | None = None, fast: bool = True) -> CookieEvidence:
    """Score how much ``text`` looks like a cookie or consent notice (0..1).

    ``toks`` are the line's matching tokens (:func:`dedup.normalize.tokens`), when known: a line
    without any cue's anchor token is scored 0 without running the phrase patterns.
    ``fast``: match the phrases in ``re`` where it gives the same matches (:class:`Phrases`);
    ``False``: always in ``regex`` (the reference the tests compare with).

    >>> cookie_evidence("We use cookies. By continuing to browse you agree.").score > 0.9
    True
    >>> cookie_evidence("The regulator said sites that use cookies must ask first.").score < 0.1
    True
    """
    toks = tokens(text) if toks is None else toks
    if _COOKIE_ANCHORS.isdisjoint(toks):
        return _NOTHING
    return _memo(_scored, text)(text, cfg, tuple(toks), fast)


T = TypeVar("T")


def _memo(memo: _lru_cache_wrapper[T], text: str) -> Callable[..., T]:
    """The line memo ``memo`` for a line of ``text`` up to ``MAX_KEY_CHARS`` characters, else
    the function it wraps: a memo's entries hold their line's text, so a long line (which
    rarely recurs) is judged afresh rather than kept."""
    return memo if len(text) <= MAX_KEY_CHARS else memo.__wrapped__


@lru_cache(maxsize=1 << 14)
def _scored(text: str, cfg: BoilerplateConfig, toks: tuple[str, ...], fast: bool
            ) -> CookieEvidence:
    """The phrase patterns' verdict on a line with a cue's anchor token. Cached: a site's
    notice recurs word for word on every one of its pages."""
    low = matchable(text.lower()) if fast else text.lower()  # once for the six patterns
    words = len(toks)
    # fast: a pattern none of whose anchors is a word of the line is not run (no match)
    present = frozenset(_WORDS.findall(low)) if fast else frozenset()

    def found(phrases: Phrases) -> list[str]:
        return [] if fast and phrases.absent(present) else phrases.pattern(fast).findall(low)

    topic = _distinct(found(_TOPIC))
    strong = _distinct(found(_STRONG))
    every_button = found(_BUTTON)  # whole matches: they cover the line
    buttons = _distinct(every_button)
    if not (topic or strong or len(buttons) >= 2):
        return CookieEvidence((), (), (), (), buttons, 0.0, (), words, 0.0)
    agent = _distinct(found(_AGENT))
    action = _distinct(found(_ACTION))
    reporting = _distinct(found(_REPORTING))
    covered = sum(map(len, every_button))
    letters = sum(len(t) for t in toks) or 1
    cover = min(1.0, covered / letters)
    z = -4.0
    z += 1.5 * bool(topic) + 2.5 * min(len(strong), 2)
    z += 0.8 * min(len(agent), 2) + 0.8 * min(len(action), 2)
    z -= 2.5 * min(len(reporting), 2)
    if len(buttons) >= 2 and cover >= 0.6 and words <= 12:
        z += 5.0  # a row of consent buttons rendered as text
    if strong and agent and not reporting and words <= SHORT_NOTICE_WORDS:
        z += 1.0  # a short line addressing the reader with a consent phrase is the notice itself
    if words > cfg.max_guard_words:
        z -= 1.5  # a long, sentence-like line needs strong evidence
    score = 1.0 / (1.0 + math.exp(-z))
    return CookieEvidence(topic, strong, agent, action, buttons, cover, reporting, words, score)


BUTTON_WORDS = 5  # a line this short that is all consent-button labels ("J'accepte")


def _covered(pattern: Phrases, low: str, toks: Sequence[str], fast: bool = True) -> bool:
    """Whether ``pattern``'s matches in the lowercased line ``low`` cover most of it: 80% of
    its token letters (what a line of nothing but labels looks like)."""
    return sum(map(len, pattern.findall(low, fast))) >= 0.8 * sum(map(len, toks))


def button_only(text: str, toks: Sequence[str], fast: bool = True) -> bool:
    """Whether a line is nothing but consent-button labels ("Accept all", "Rejeitar")."""
    if not toks or len(toks) > BUTTON_WORDS or _COOKIE_ANCHORS.isdisjoint(toks):
        return False
    return _covered(_BUTTON, text.lower(), toks, fast)


# The rest of a consent dialog (see :func:`consent_block`).
_UI_PHRASES = [p for lang in rules.LANGUAGES
               for p in (*rules.CONSENT_UI[lang], *rules.COOKIE["button"].get(lang, ()))]
_UI = _alternation(_UI_PHRASES)
_UI_ANCHORS = frozenset(max(toks, key=len) for toks in map(tokens, _UI_PHRASES) if toks)
_YES_NO = frozenset(p for lang in rules.LANGUAGES for p in rules.CONSENT_UI[lang]
                    if len(p) <= 3 and " " not in p)  # "ja", "no", "sì", "não", ...
DIALOG_WORDS = 6  # a dialog's button line ("No, take me to settings") is this short or shorter
HEADING_WORDS = 4  # a dialog's heading ("Wir brauchen Ihre Zustimmung")
WEAK_SCORE = 0.15  # cue-bearing lines this likely to be a notice belong to one beside it
SENTENCE_WORDS = 40  # a sentence naming a consent button ("Click „Akzeptieren" to ...")
_TERMINAL = frozenset(".!?…:;\"'”’»)")


def dialog_role(text: str, toks: Sequence[str], fast: bool = True) -> str | None:
    """What a line can be in a consent dialog: ``"button"`` (:func:`button_only`), ``"ui"`` (a
    short label: half its letters or more are consent-dialog words), ``"weak"`` (notice text
    too weak to drop on its own: cookie evidence of ``WEAK_SCORE`` or more, a short heading
    naming consent or privacy, a sentence addressed to the reader that names a consent button),
    or ``None``.
    Lines with reporting cues ("said", "according to") are never part of a dialog.
    ``fast``: as in :func:`cookie_evidence`."""
    return _memo(_dialog_role, text)(text, tuple(toks), fast)


@lru_cache(maxsize=1 << 14)
def _dialog_role(text: str, toks: tuple[str, ...], fast: bool) -> str | None:
    """:func:`dialog_role`, cached: a site's notice, buttons and footer recur on its pages,
    and the page model and its corpus-evidence model both look for dialogs."""
    if not toks:
        return None
    if button_only(text, toks, fast):
        return "button"
    low = ""
    if len(toks) <= DIALOG_WORDS and not _UI_ANCHORS.isdisjoint(toks):
        low = text.lower()
        found = _UI.findall(low, fast)
        if (sum(map(len, found)) >= 0.5 * sum(len(t) for t in toks)
                and not _YES_NO.issuperset(found) and not _REPORTING.search(low, fast)):
            return "ui"  # a bare "No." is an answer, not a button
    if _COOKIE_ANCHORS.isdisjoint(toks) and not (len(toks) <= HEADING_WORDS and low):
        return None
    # cached: the features scored the line already
    ev = cookie_evidence(text, toks=toks, fast=fast)
    if ev.reporting:
        return None
    if ev.score >= WEAK_SCORE:
        return "weak"
    low = low or text.lower()
    if len(toks) <= HEADING_WORDS and (ev.topic or _UI.search(low, fast)):
        return None if _REPORTING.search(low, fast) else "weak"
    if (len(toks) <= SENTENCE_WORDS and not _BUTTON_ANCHORS.isdisjoint(toks)
            and _BUTTON.search(low, fast) and _AGENT.search(low, fast)
            and not _REPORTING.search(low, fast)):
        return "weak"
    return None


def _continues(before: str, after: str) -> bool:
    """Whether ``after`` goes on with the sentence ``before`` left open (an extractor split
    one sentence over two lines): no closing punctuation, then a lowercase start."""
    return bool(before) and before[-1] not in _TERMINAL and after[:1].islower()


_TOKENS = attrgetter("tokens")
_TEXT = attrgetter("text")
DIALOG = "dialog"  # a block with no notice strong enough alone: text with a topic, 2+ buttons


def _line_tokens(paras: Sequence[Paragraph]) -> list[tuple[str, ...]]:
    """Each line's tokens: its own, or for a line without them, those of its text."""
    toks = list(map(_TOKENS, paras))
    bare = map(and_, map(bool, map(_TEXT, paras)), map(not_, toks))
    for i in itertools.compress(range(len(toks)), bare):
        toks[i] = tokens(paras[i].text)
    return toks


def _topic_lines(paras: Sequence[Paragraph], toks: Sequence[Sequence[str]]) -> list[int]:
    named = itertools.compress(range(len(toks)), map(not_, map(_TOPIC_ANCHORS.isdisjoint, toks)))
    return [i for i in named if paras[i].text]


def topic_lines(paras: Sequence[Paragraph]) -> list[int]:
    """The non-blank lines of ``paras`` with a word naming the consent topic (cookies,
    consent, personal data): where :func:`consent_block`'s runs can start without a notice."""
    return _topic_lines(paras, _line_tokens(paras))


def consent_block(doc: Document, cookie: Sequence[bool], fast: bool = True,
                  topical: Sequence[int] | None = None) -> list[tuple[int, str]]:
    """The other lines of every consent dialog, as ``(line index, how)``.

    A dialog is a run of lines (blank lines allowed between) each of which has a
    :func:`dialog_role` or continues the sentence of a notice line. ``cookie``: the lines
    already judged cookie notices. Beside one of them, lines of nothing but button labels go
    (``how`` = ``"notice"``). When the run also holds a button or label line and the notice is
    worded as one (cookie evidence of ``WEAK_SCORE`` or more), it is a dialog and its labels,
    heading and weaker notice text go too; without one, a heading or a sentence about consent
    beside a notice may be an article's own (an article about cookie banners). A run with none
    is a dialog when it holds notice text naming the topic (cookies, consent, personal data)
    and two or more button lines (``how`` = ``"dialog"``): buttons on their own lines are the
    same evidence as buttons inside a notice line. A lone "OK" or "Settings" is no notice;
    beside one, it is the notice's button. ``fast``: as in :func:`cookie_evidence`.
    ``topical``: :func:`topic_lines` of the document, when the caller has them.
    """
    paras = doc.paragraphs
    n = len(paras)
    roles: dict[int, str | None] = {}

    def role(i: int) -> str | None:
        """The line's role, computed once and only for lines near a notice or a cue."""
        if i not in roles:
            p = paras[i]
            if p.blank and not cookie[i]:
                roles[i] = None
            else:
                toks = p.tokens or (tokens(p.text) if p.text else p.tokens)  # as _line_tokens
                if cookie[i]:
                    worded = cookie_evidence(p.text, toks=toks, fast=fast).score >= WEAK_SCORE
                    roles[i] = "seed" if worded else "mark"
                else:
                    roles[i] = dialog_role(p.text, toks, fast)
        return roles[i]

    def joins(i: int, step: int) -> bool:
        """Whether line ``i`` belongs to the run its neighbour ``i - step`` is in."""
        if paras[i].blank or role(i) is not None:
            return True
        near = i - step
        if paras[near].blank or role(near) not in ("seed", "weak"):
            return False
        a, b = (paras[near], paras[i]) if step > 0 else (paras[i], paras[near])
        if _continues(a.text, b.text):  # a notice sentence split over two lines
            roles[i] = "weak"
            return True
        return False

    # A dialog holds a notice or notice text naming the topic: runs grow from those lines.
    if topical is None:
        topical = topic_lines(paras)
    if not topical and not any(cookie):
        return []  # neither: no run (what the page of most documents is)
    starts = sorted(set(itertools.compress(range(n), cookie)).union(
        i for i in topical if not cookie[i] and role(i) is not None))
    out: list[tuple[int, str]] = []
    done = -1
    for s in starts:
        if s <= done:
            continue
        lo = s
        while lo > 0 and joins(lo - 1, -1):
            lo -= 1
        hi = s
        while hi < n - 1 and joins(hi + 1, 1):
            hi += 1
        done = hi
        members = [m for m in range(lo, hi + 1) if not paras[m].blank]
        kinds = [role(m) for m in members]
        buttons = kinds.count("ui") + kinds.count("button")
        if "seed" in kinds and buttons:
            out.extend((m, "notice") for m in members if role(m) not in ("seed", "mark"))
        elif "mark" in kinds:  # a notice by its context alone: only what is all buttons
            out.extend((m, "notice") for m in members if role(m) == "button")
        elif buttons >= 2 and "seed" not in kinds and any(
                role(m) == "weak" and _TOPIC.search(paras[m].text.lower(), fast)
                for m in members):
            out.extend((m, DIALOG) for m in members)
    return out


BUTTON_SCORE = 0.9
BUTTON_DETAIL = "part of a cookie notice's dialog: its buttons, heading or the rest of its text"
DIALOG_SCORE = 0.8
DIALOG_DETAIL = "a consent dialog: notice text beside two or more button lines"


def block_verdict(how: str) -> Verdict:
    """The verdict of a line :func:`consent_block` adds."""
    if how == DIALOG:
        return Verdict(DROP, "boilerplate:cookie", DIALOG_SCORE, detail=DIALOG_DETAIL)
    return Verdict(DROP, "boilerplate:cookie", BUTTON_SCORE, detail=BUTTON_DETAIL)


# Template lines by shape, for the rules (small inputs): copyright lines, menus, share rows.
_RIGHTS = _alternation(rules.RIGHTS_RESERVED)
_RIGHTS_ANCHORS = frozenset(max(tokens(p), key=len) for p in rules.RIGHTS_RESERVED)
# "© ...", "(c) 2025 ...", "Copyright © ...", "Copyright 2025 ..."; not "Copyright law ..." nor
# an enumerated "(c) the third case".
_COPYRIGHT_START = regex.compile(r"^\s*(?:©|\(c\)\s*\d{4}|copyright\s*(?:©|\(c\)|\d{4}))",
                                 regex.IGNORECASE)
_COPYRIGHT_FIRST = frozenset("©(cC")  # what _COPYRIGHT_START's first non-space matches
_SHARE = _alternation(p for phrases in rules.SHARE.values() for p in phrases)
_SHARE_ANCHORS = frozenset(max(toks, key=len) for phrases in rules.SHARE.values()
                           for toks in map(tokens, phrases) if toks)
_PROMPTS = {name: _alternation(p for phrases in by_lang.values() for p in phrases)
            for name, by_lang in rules.PROMPTS.items()}
# A prompt line must hold one of its kind's naming words, not only "email" or "your".
_PROMPT_ANCHORS = {name: frozenset(max(toks, key=len) for phrases in by_lang.values()
                                   for toks in map(tokens, phrases) if toks)
                   - {"email", "mail", "address", "adres", "adresse", "adresa", "your", "our"}
                   for name, by_lang in rules.PROMPTS.items()}
_TEMPLATE_ANCHORS = _RIGHTS_ANCHORS.union(_SHARE_ANCHORS, *_PROMPT_ANCHORS.values())
_MENU_SPLIT = regex.compile(r"\s*[|·•›»]\s*")
_CRUMB = regex.compile(r"[›»]")
_MENU_CHAR = re.compile(r"[|·•›»]")  # the standard library's: a cheaper call per line
LEGAL_WORDS = 30  # a copyright line is short; a longer one is prose that names copyright
MENU_ITEMS = 4  # items of a menu line ("Home | News | Sport | Culture"); a breadcrumb: 3
MENU_ITEM_WORDS = 4
SHARE_WORDS = 6
PROMPT_WORDS = 8  # "Sign up for our newsletter", "Enter your email address"; a sentence is longer
TEMPLATE_SCORE = 0.9


def template_line(text: str, toks: Sequence[str], fast: bool = True) -> tuple[str, str] | None:
    """A site template line recognisable by its shape alone, as ``(reason, detail)``:

    - ``boilerplate:legal``: a copyright line (it starts with "©", "(c) 2025" or "Copyright ©"
      / "Copyright 2025", or says "all rights reserved" in one of the 12 languages), at most
      ``LEGAL_WORDS`` words;
    - ``boilerplate:nav``: a menu or breadcrumb: ``MENU_ITEMS`` or more items (3 with › or »)
      between separators, each of 1 to ``MENU_ITEM_WORDS`` words, with no digit and no
      sentence punctuation (so "Makes 18 · Prep 20 min" and a byline with a date stay);
    - ``boilerplate:share``: at most ``SHARE_WORDS`` words, nearly all share-widget labels
      ("Share", "Tweet", "Copy link", "Teilen", "WhatsApp");
    - ``boilerplate:newsletter`` / ``boilerplate:login``: at most ``PROMPT_WORDS`` words, no
      closing full stop, nearly all sign-up or account phrases ("Subscribe to our newsletter",
      "Enter your email address", "Sign in | Register", "Mein Konto").

    ``fast``: as in :func:`cookie_evidence`.

    >>> template_line("Home | News | Sport | Culture", ("home", "news", "sport", "culture"))
    ('boilerplate:nav', 'a menu: 4 short items between separators')
    >>> template_line("The council met on Monday.", ("the", "council", "met", "on", "monday"))
    """
    if not toks:
        return None
    return _memo(_template_line, text)(text, tuple(toks), fast)


@lru_cache(maxsize=1 << 14)
def _template_line(text: str, toks: tuple[str, ...], fast: bool) -> tuple[str, str] | None:
    """:func:`template_line` of a line with tokens. Cached for lines up to ``MAX_KEY_CHARS``
    characters (an entry holds its text): a site's menu and footer lines recur word for word
    on its pages (on 2,500 generated pages 55,518 calls for 5,840 distinct lines)."""
    first = text[:1]
    if first.isspace():
        first = text.lstrip()[:1]
    # Each test runs only when the line holds what it needs: _COPYRIGHT_START can only match
    # after spaces when "©", "(", "c" or "C" comes first; the phrase patterns need an anchor.
    anchored = not _TEMPLATE_ANCHORS.isdisjoint(toks)
    if len(toks) <= LEGAL_WORDS and ((first in _COPYRIGHT_FIRST and _COPYRIGHT_START.match(text))
                                     or (anchored and not _RIGHTS_ANCHORS.isdisjoint(toks)
                                         and _RIGHTS.search(text.lower(), fast))):
        return "boilerplate:legal", "a copyright line"
    if (anchored and len(toks) <= SHARE_WORDS and not _SHARE_ANCHORS.isdisjoint(toks)
            and _covered(_SHARE, text.lower(), toks, fast)):
        return "boilerplate:share", "share-widget labels only"
    if anchored and len(toks) <= PROMPT_WORDS and text.rstrip()[-1:] not in ".…":
        for name, pattern in _PROMPTS.items():  # the rstrip: "Forgot password?" is a prompt
            if (not _PROMPT_ANCHORS[name].isdisjoint(toks)
                    and _covered(pattern, text.lower(), toks, fast)):
                return f"boilerplate:{name}", f"{name} prompt phrases only"
    if _MENU_CHAR.search(text):
        items = [x for x in _MENU_SPLIT.split(text.strip()) if x]
        need = 3 if _CRUMB.search(text) else MENU_ITEMS
        if len(items) >= need and all(
                1 <= len(x.split()) <= MENU_ITEM_WORDS and not any(c.isdigit() for c in x)
                and not any(c in ".!?:;…" for c in x) for x in items):
            return "boilerplate:nav", f"a menu: {len(items)} short items between separators"
    return None


RULE_PRESETS = {"precision": 0.8, "balanced": 0.5, "recall": 0.3}
_NOTHING = CookieEvidence((), (), (), (), (), 0.0, (), 0, 0.0)


class RuleClassifier:
    """Cookie and consent notices from multilingual cue phrases (see :mod:`.rules`).

    >>> from dedup.segment import split_paragraphs
    >>> doc = Document("d", "We use cookies to improve your experience. Accept all\\nHello")
    >>> doc.paragraphs = split_paragraphs(doc.text)
    >>> [v.reason if v else None for v in RuleClassifier().classify(doc)]
    ['boilerplate:cookie', None]
    """

    def __init__(self, cfg: BoilerplateConfig = BoilerplateConfig()) -> None:
        self.cfg = cfg
        self.threshold = RULE_PRESETS[cfg.preset] if cfg.threshold is None else cfg.threshold

    def classify(self, doc: Document) -> list[Verdict | None]:
        out: list[Verdict | None] = []
        for p in doc.paragraphs:
            if p.blank:
                out.append(None)
                continue
            ev = cookie_evidence(p.text, self.cfg, p.tokens or None)
            if ev.score >= self.threshold:
                out.append(Verdict(DROP, "boilerplate:cookie", round(ev.score, 4),
                                   detail=ev.describe()))
            else:
                out.append(None)
        for i, how in consent_block(doc, [v is not None for v in out]):
            out[i] = block_verdict(how)
        add_template_lines(doc, out)
        return out


def add_template_lines(doc: Document, verdicts: list[Verdict | None], fast: bool = True
                       ) -> None:
    """Fill in the undecided non-blank lines of ``doc`` that :func:`template_line` knows."""
    paras = doc.paragraphs
    for i in itertools.compress(range(len(paras)), map(is_, verdicts, itertools.repeat(None))):
        p = paras[i]
        if p.text:  # not blank
            found = template_line(p.text, p.tokens or tokens(p.text), fast)
            if found is not None:
                verdicts[i] = Verdict(DROP, found[0], TEMPLATE_SCORE, detail=found[1])


def classify_batch(batch: Sequence[Document], classifiers: Sequence[Classifier]) -> None:
    """Apply each classifier in turn to a batch of documents; the first drop verdict for a
    paragraph wins. A classifier with ``classify_batch`` scores the batch at once (giving the
    verdicts ``classify`` gives each document)."""
    for clf in classifiers:
        many = getattr(clf, "classify_batch", None)
        verdicts = many(batch) if many is not None else [clf.classify(d) for d in batch]
        for doc, doc_verdicts in zip(batch, verdicts, strict=True):
            for p, verdict in zip(doc.paragraphs, doc_verdicts, strict=True):
                if verdict is not None and p.verdict is None:
                    p.verdict = verdict


def classify(docs: Iterable[Document], classifiers: Sequence[Classifier]) -> Iterator[Document]:
    """Stage: :func:`classify_batch` over ``BATCH`` documents at a time."""
    for batch in batches(docs, BATCH):
        classify_batch(batch, classifiers)
        yield from batch

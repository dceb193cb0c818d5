"""The peer systems a benchmark compares dedup against, each reduced to one keep flag per line.

Every peer takes documents as lists of lines (already split on ``"\\n"``) and one language code
per document, and returns one boolean per input line (``True``: the peer keeps it). Blank lines
are dropped by every peer, so the flags compare like for like.

jusText, trafilatura and datatrove are optional (``pip install "dedup[bench]"``): they are
imported by name when the peers are listed, never when this module is imported, so a missing
library only removes its peer (:func:`unavailable_peers` says why). They are imported with
:func:`importlib.import_module` so that mypy passes whether or not they are installed.

>>> [p.name for p in available_peers()][:2]
['keep-all', 'exact-lines']
>>> get_peer("exact-lines").run([["Same line.", "", "Same line.", "Other line."]], ["en"])
[[True, False, False, True]]
"""

from __future__ import annotations

import html
import importlib
import importlib.metadata
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType, ModuleType
from typing import Any

import datasketch

from ..errors import ConfigError, InputError

Docs = Sequence[Sequence[str]]
RunFn = Callable[[Docs, Sequence[str]], list[list[bool]]]

#: Peer names in the fixed order :func:`available_peers` lists them.
PEER_NAMES = ("keep-all", "exact-lines", "c4-rules", "justext", "trafilatura", "datasketch-naive")
#: What to run when an optional peer library is missing.
BENCH_HINT = 'pip install "dedup[bench]"'

# The naive datasketch loop: MinHash of word 2-shingles, LSH at Jaccard 0.7, no verification.
NAIVE_THRESHOLD = 0.7
NAIVE_NUM_PERM = 128
NAIVE_SHINGLE_SIZE = 2

# C4's line rules (Raffel et al. 2020), as datatrove's C4QualityFilter applies them by default.
C4_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_ELLIPSIS = "..."
C4_MIN_WORDS = 3
C4_MAX_WORD_LENGTH = 1000
C4_POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                        "use of cookies", "use cookies")

# jusText stoplist per language code; anything else falls back to English.
JUSTEXT_STOPLISTS: Mapping[str, str] = MappingProxyType({
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pl": "Polish", "nl": "Dutch", "pt": "Portuguese", "sv": "Swedish", "da": "Danish",
    "cs": "Czech", "ro": "Romanian",
})


@dataclass(frozen=True, slots=True)
class Peer:
    """A system to compare against: a stable short name, a one-line description, and its runner.

    ``run(docs_lines, langs)`` returns one keep flag per input line of every document.
    """

    name: str
    description: str
    run: RunFn


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings peer libraries emit on import or use (tests turn warnings to errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _import(module: str) -> ModuleType:
    """Import an optional library by name, quietly (raises ImportError when it is missing)."""
    with _quiet():
        return importlib.import_module(module)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown version"


def _check(docs: Docs, langs: Sequence[str]) -> None:
    """Reject the two easy mistakes at the door: unsplit documents and a language list off by n."""
    if len(docs) != len(langs):
        raise InputError(f"{len(docs)} documents but {len(langs)} language codes",
                         hint="pass one language code per document")
    for doc in docs:
        if isinstance(doc, str):
            raise InputError("a document is a str, not a list of lines",
                             hint='split each document first: text.split("\\n")')


def _align(keys: Sequence[str | None], out: Sequence[str]) -> list[int | None]:
    """Match each line's key to an entry of a library's output, in order; ``None`` if unmatched.

    A sequential pointer that waits on entries a later line can still match and skips entries
    no remaining line can (text the library merged or rewrote), so it never gets stuck. A key of
    ``None`` (a blank line) never matches. Linear in lines plus output.
    """
    remaining = Counter(k for k in keys if k is not None)
    found: list[int | None] = []
    ptr = 0
    for key in keys:
        if key is None:
            found.append(None)
            continue
        while ptr < len(out) and remaining[out[ptr]] <= 0:
            ptr += 1
        if ptr < len(out) and out[ptr] == key:
            found.append(ptr)
            ptr += 1
        else:
            found.append(None)
        remaining[key] -= 1
    return found


def _html(lines: Sequence[str]) -> str:
    """The lines as a minimal HTML page: one ``<p>`` per non-blank line, text escaped."""
    body = "".join(f"<p>{html.escape(s)}</p>" for line in lines if (s := line.strip()))
    return f"<html><body>{body}</body></html>"


def _lang(code: str) -> str:
    """``en-US`` / ``en_us`` / ``EN`` -> ``en``."""
    return code.replace("_", "-").split("-")[0].lower()


# keep-all and exact-lines ------------------------------------------------------------------

def _run_keep_all(docs: Docs, langs: Sequence[str]) -> list[list[bool]]:
    _check(docs, langs)
    return [[bool(line.strip()) for line in doc] for doc in docs]


def _exact_lines(doc: Sequence[str], seen: set[str]) -> list[bool]:
    flags = []
    for line in doc:
        s = line.strip()
        flags.append(bool(s) and s not in seen)
        seen.add(s)
    return flags


def _run_exact_lines(docs: Docs, langs: Sequence[str]) -> list[list[bool]]:
    _check(docs, langs)
    seen: set[str] = set()  # one set for the whole corpus
    return [_exact_lines(doc, seen) for doc in docs]


# c4-rules ----------------------------------------------------------------------------------

def c4_kept_lines(text: str) -> list[str] | None:
    """The lines C4's rules keep from ``text`` (stripped, citations removed), or ``None`` when
    the whole document is dropped. Mirrors datatrove's ``C4QualityFilter.filter`` with
    ``min_num_sentences=-1``, rule by rule and in its order (the order decides which lines can
    drop the document: only a line that passed the punctuation and length rules is checked for
    "lorem ipsum" and "{").

    >>> c4_kept_lines("We use cookies to improve your experience.\\nA normal sentence is here.")
    ['A normal sentence is here.']
    """
    kept = []
    for raw in text.splitlines():
        line = raw.strip()
        words = line.split()
        if any(len(word) > C4_MAX_WORD_LENGTH for word in words):
            continue
        line = C4_CITATION.sub("", line)
        if not line.endswith(C4_END_PUNCTUATION) or line.endswith(C4_ELLIPSIS):
            continue
        if len(words) < C4_MIN_WORDS:  # words counted before citations were removed, as C4 does
            continue
        lower = line.lower()
        if "lorem ipsum" in lower:
            return None
        if "javascript" in lower:
            continue
        if "{" in line:
            return None
        if any(p in lower for p in C4_POLICY_SUBSTRINGS):
            continue
        kept.append(line)
    return kept


def _c4_flags(doc: Sequence[str], kept: list[str] | None, citation: re.Pattern[str]) -> list[bool]:
    """Map C4's kept lines back onto the input lines: compare stripped, citation-free text."""
    if kept is None:
        return [False] * len(doc)
    keys = [citation.sub("", s).strip() if (s := line.strip()) else None for line in doc]
    return [i is not None for i in _align(keys, [k.strip() for k in kept])]


def _run_c4_reimplemented(docs: Docs, langs: Sequence[str]) -> list[list[bool]]:
    _check(docs, langs)
    return [_c4_flags(doc, c4_kept_lines("\n".join(doc)), C4_CITATION) for doc in docs]


def _c4_peer() -> Peer:
    """datatrove's C4QualityFilter when it imports, else dedup's line-for-line reimplementation."""
    name = "c4-rules"
    try:
        c4 = _import("datatrove.pipeline.filters.c4_filters")
        document_cls: Any = _import("datatrove.data").Document
    except ImportError:
        return Peer(name, "C4 line rules, reimplemented in dedup after datatrove's "
                          "C4QualityFilter (datatrove not installed); no sentence-count rule",
                    _run_c4_reimplemented)
    filter_cls: Any = c4.C4QualityFilter
    citation: re.Pattern[str] = c4.CITATION_REGEX

    def run(docs: Docs, langs: Sequence[str]) -> list[list[bool]]:
        _check(docs, langs)
        with _quiet():
            # min_num_sentences=-1: the sentence count needs spacy, which downloads models.
            c4_filter = filter_cls(min_num_sentences=-1)
            out = []
            for n, doc in enumerate(docs):
                record = document_cls(text="\n".join(doc), id=str(n))
                verdict = c4_filter.filter(record)
                keep = verdict[0] if isinstance(verdict, tuple) else verdict
                kept = (record.text.split("\n") if record.text else []) if keep else None
                out.append(_c4_flags(doc, kept, citation))
        return out

    return Peer(name, f"C4 line rules: datatrove {_version('datatrove')} C4QualityFilter, "
                      "min_num_sentences=-1 (its sentence splitter needs spacy models)", run)


# justext -----------------------------------------------------------------------------------

def _justext_peer() -> Peer:
    """jusText's paragraph classifier, one ``<p>`` per line."""
    justext = _import("justext")
    normalize_whitespace: Callable[[str], str] = _import("justext.utils").normalize_whitespace

    @cache
    def stoplist(lang: str) -> frozenset[str]:
        with _quiet():
            words: frozenset[str] = justext.get_stoplist(JUSTEXT_STOPLISTS.get(lang, "English"))
        return words

    def flags(doc: Sequence[str], lang: str) -> list[bool]:
        keys = [normalize_whitespace(s) if (s := line.strip()) else None for line in doc]
        if not any(keys):
            return [False] * len(doc)
        paragraphs = justext.justext(_html(doc), stoplist(_lang(lang)))
        found = _align(keys, [p.text for p in paragraphs])
        return [i is not None and not paragraphs[i].is_boilerplate for i in found]

    def run(docs: Docs, langs: Sequence[str]) -> list[list[bool]]:
        _check(docs, langs)
        with _quiet():
            return [flags(doc, lang) for doc, lang in zip(docs, langs, strict=True)]

    return Peer("justext", f"jusText {_version('jusText')}, default settings, stoplist per "
                           "language, on one <p> per line", run)


# trafilatura -------------------------------------------------------------------------------

def _trafilatura_key(text: str) -> str:
    """Text as trafilatura writes it: non-printable characters removed, whitespace collapsed."""
    if not text.isprintable():
        text = "".join(c for c in text if c.isprintable() or c.isspace())
    return " ".join(text.split())


def _trafilatura_peer() -> Peer:
    """trafilatura's main-content extraction, one ``<p>`` per line."""
    trafilatura = _import("trafilatura")

    def flags(doc: Sequence[str]) -> list[bool]:
        keys = [_trafilatura_key(s) if (s := line.strip()) else None for line in doc]
        keys = [k or None for k in keys]
        if not any(keys):
            return [False] * len(doc)
        text = trafilatura.extract(_html(doc), include_comments=False, include_tables=False,
                                   favor_precision=False, deduplicate=False)
        out = [_trafilatura_key(line) for line in (text or "").split("\n")]
        return [i is not None for i in _align(keys, out)]

    def run(docs: Docs, langs: Sequence[str]) -> list[list[bool]]:
        _check(docs, langs)
        with _quiet():
            return [flags(doc) for doc in docs]

    return Peer("trafilatura", f"trafilatura {_version('trafilatura')} extract(), no comments or "
                               "tables, deduplicate=False, on one <p> per line", run)


# datasketch-naive --------------------------------------------------------------------------

def _naive_shingles(line: str) -> list[str]:
    """Word shingles of the lowercased line; the whole line when it is shorter than a shingle."""
    words = line.lower().split()
    k = NAIVE_SHINGLE_SIZE
    if len(words) < k:
        return [" ".join(words)]
    return [" ".join(words[j:j + k]) for j in range(len(words) - k + 1)]


def _naive(doc: Sequence[str], lsh: Any, n: int) -> list[bool]:
    flags = []
    for i, line in enumerate(doc):
        key = f"{n}:{i}"
        if not line.strip():
            flags.append(False)
            continue
        m = datasketch.MinHash(num_perm=NAIVE_NUM_PERM)
        for shingle in _naive_shingles(line):
            m.update(shingle.encode("utf8"))
        if lsh.query(m):
            flags.append(False)  # any candidate counts: the naive loop never verifies
        else:
            lsh.insert(key, m)
            flags.append(True)
    return flags


def _run_naive(docs: Docs, langs: Sequence[str]) -> list[list[bool]]:
    _check(docs, langs)
    # one index for the whole corpus, as text-dedup and most pipelines use datasketch
    lsh = datasketch.MinHashLSH(threshold=NAIVE_THRESHOLD, num_perm=NAIVE_NUM_PERM)
    return [_naive(doc, lsh, n) for n, doc in enumerate(docs)]


# the registry ------------------------------------------------------------------------------

_OPTIONAL: dict[str, tuple[str, Callable[[], Peer]]] = {
    "justext": ("jusText", _justext_peer),
    "trafilatura": ("trafilatura", _trafilatura_peer),
}


def _peers() -> tuple[list[Peer], dict[str, str]]:
    """Every peer that can run, in :data:`PEER_NAMES` order, and why the others cannot."""
    found = {
        "keep-all": Peer("keep-all", "keeps every non-blank line (the do-nothing floor)",
                         _run_keep_all),
        "exact-lines": Peer("exact-lines", "keeps the first copy of each stripped line in the "
                                           "corpus (exact line dedup)", _run_exact_lines),
        "c4-rules": _c4_peer(),
        "datasketch-naive": Peer(
            "datasketch-naive",
            f"datasketch {_version('datasketch')} MinHash ({NAIVE_NUM_PERM} perms, word "
            f"{NAIVE_SHINGLE_SIZE}-shingles) + one MinHashLSH({NAIVE_THRESHOLD}) over the corpus, "
            "candidates dropped unverified", _run_naive),
    }
    missing: dict[str, str] = {}
    for name, (library, make) in _OPTIONAL.items():
        try:
            found[name] = make()
        except ImportError as exc:
            why = " ".join(str(exc).split())
            missing[name] = f"{library} does not import ({why}): {BENCH_HINT}"
    return [found[n] for n in PEER_NAMES if n in found], missing


def available_peers() -> list[Peer]:
    """Every peer whose libraries import, in a fixed order (:data:`PEER_NAMES`)."""
    return _peers()[0]


def unavailable_peers() -> dict[str, str]:
    """The peers that cannot run here, each with why and how to fix it."""
    return _peers()[1]


def get_peer(name: str) -> Peer:
    """The peer called ``name``; :class:`~dedup.errors.ConfigError` if unknown or unavailable.

    >>> get_peer("keep-all").run([["a", " ", "a"]], ["en"])
    [[True, False, True]]
    """
    peers, missing = _peers()
    for peer in peers:
        if peer.name == name:
            return peer
    if name in missing:
        raise ConfigError(f"peer {name!r} is not available: {missing[name]}",
                          hint=f"install it with: {BENCH_HINT}")
    raise ConfigError(f"unknown peer {name!r}", hint=f"choose one of: {', '.join(PEER_NAMES)}")

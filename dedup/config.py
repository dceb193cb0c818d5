"""Configuration: one frozen dataclass per concern, shared by every stage.

The CLI and a TOML file map onto :class:`Config` in one place, :meth:`Config.from_mapping`.
:meth:`Config.fingerprint` identifies every setting that changes the output.

The dataclasses' annotations are the schema: each field's type (``int``, ``float``, ``bool``,
``str``, a ``Literal`` of the allowed words) and its range (``Annotated`` with
:mod:`annotated_types` bounds). :func:`validate` checks a mapping against it with pydantic in
strict mode (``"2"`` is not an integer, ``1.5`` is not an integer, ``"no"`` is not a boolean;
an integer is a number) and reports every bad key at once, one clear message each. pydantic is
imported on first use, so a run with the default config never loads it. Relations between
keys (``bands * rows <= num_perm``) are checked after the schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Interval, Le

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SCHEMA_HINT = 'pip install "pydantic>=2.7" (a dependency of dedup: reinstall it)'

# The value types of the schema: what each is, and the range it must be in.
Unit = Annotated[float, Interval(ge=0.0, le=1.0)]  # a probability or a similarity: [0, 1]
Share = Annotated[float, Interval(gt=0.0, le=1.0)]  # a threshold that must let something in
Count = Annotated[int, Ge(0)]  # 0 or more (0 often means: derived)
Positive = Annotated[int, Ge(1)]
Classifier = Literal["auto", "page", "learned", "rules"]
Preset = Literal["precision", "balanced", "recall"]
Repetition = Literal["off", "sample", "full"]
Documents = Literal["tag", "drop"]
Keep = Literal["first", "longest"]


@dataclass(frozen=True, slots=True)
class NormConfig:
    """How a paragraph is normalised for matching (the written text is never changed)."""

    casefold: bool = True
    strip_accents: bool = False


@dataclass(frozen=True, slots=True)
class BoilerplateConfig:
    """The boilerplate classifier.

    ``classifier``: ``page`` (the page-structure model trained on real pages, text alone: the
    same for one page as for a corpus), ``learned`` (the linear model trained on the generated
    corpus, with corpus counts as evidence when available), ``rules`` (cookie and consent
    notices and template lines from cue phrases and shapes only) or ``auto`` (``page``, plus
    the learned model's confident drops, P >= 0.8, when the run has corpus counts).
    ``preset`` picks the drop threshold on P(boilerplate) (page model: precision 0.8, balanced
    0.5, recall 0.35; learned: 0.8/0.6/0.35; rules: 0.8/0.5/0.3); ``threshold`` overrides it.
    A long sentence-like line (``guard_words`` words or more) needs ``guard`` or more.
    ``repetition``: corpus line counts as evidence (``auto`` and ``learned``) — ``off``,
    ``sample`` (the first
    ``repetition_sample`` documents of a run) or ``full`` (a first pass over every input).
    """

    enabled: bool = True
    classifier: Classifier = "auto"
    preset: Preset = "balanced"
    threshold: Unit | None = None
    guard: Unit = 0.9
    guard_words: Count = 20
    max_guard_words: Count = 80
    repetition: Repetition = "sample"
    repetition_sample: Positive = 10000
    repetition_min_docs: Count = 50
    model: str = ""
    page_model: str = ""


@dataclass(frozen=True, slots=True)
class ShingleConfig:
    """Word shingles for MinHash; lines shorter than ``min_words`` are matched exactly instead."""

    size: Annotated[int, Interval(ge=1, le=16)] = 2
    min_words: Positive = 8
    min_exact_words: Positive = 4
    seed: int = 1


@dataclass(frozen=True, slots=True)
class LSHConfig:
    """MinHash/LSH: permutations, the verified Jaccard threshold, bands x rows (0 = derived)."""

    num_perm: Annotated[int, Ge(2), Le(4096)] = 128
    threshold: Share = 0.7
    bands: Count = 0
    rows: Count = 0
    gap_similarity: Share = 0.6


@dataclass(frozen=True, slots=True)
class CorpusConfig:
    """Cross-document dedup: paragraphs against every earlier document, and document clusters.

    ``bands`` x ``rows`` of the MinHash signature key the corpus index (0 = derived: 5 rows and
    up to 16 bands, as many as ``lsh.num_perm`` allows; with 128 permutations, 16 x 5: a pair at
    Jaccard 0.7 becomes a candidate with probability 0.95, at 0.8 with 0.999; about 140 bytes
    per indexed paragraph). A document whose content Jaccard with an earlier one (estimated from its
    matched paragraphs) reaches ``document_threshold`` joins that one's cluster; ``documents``
    says what happens to it: ``tag`` (written, with its cluster id) or ``drop`` (not written).
    """

    enabled: bool = True
    bands: Count = 0
    rows: Count = 0
    documents: Documents = "tag"
    document_threshold: Share = 0.5


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting of a run. Build one with keyword arguments, :meth:`from_toml` or
    :meth:`from_mapping`; all stages read the same instance.

    >>> Config().lsh.threshold
    0.7
    >>> Config.from_mapping({"lsh": {"threshold": 0.8}}).lsh.threshold
    0.8
    """

    norm: NormConfig = field(default_factory=NormConfig)
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    shingle: ShingleConfig = field(default_factory=ShingleConfig)
    lsh: LSHConfig = field(default_factory=LSHConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    keep: Keep = "first"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), _section_type(f)
            if kind is not None and not isinstance(value, kind):
                raise ConfigError(f"config: {f.name}: expected a {kind.__name__}, got "
                                  f"{_show(value)}", hint=f"give {f.name}={kind.__name__}(...)")
        if not _is_default(self):  # the defaults are valid: no schema to load for them
            problems = _problems(self.to_dict())
            if problems:
                raise _invalid(problems, self.to_dict())
        lsh, c = self.lsh, self.corpus
        _check(lsh.bands * lsh.rows <= lsh.num_perm, "lsh.bands*rows", lsh.bands * lsh.rows,
               f"<= num_perm ({lsh.num_perm})")
        _check((lsh.bands == 0) == (lsh.rows == 0), "lsh.bands/rows", (lsh.bands, lsh.rows),
               "both set or both 0")
        _check((c.bands == 0) == (c.rows == 0), "corpus.bands/rows", (c.bands, c.rows),
               "both >= 1, or both 0 (derived)")
        _check(c.bands * c.rows <= lsh.num_perm, "corpus.bands*rows", c.bands * c.rows,
               f"<= num_perm ({lsh.num_perm})")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Config:
        """Build a config from nested mappings (a parsed TOML file, CLI overrides): the keys
        given replace the defaults. Every key is checked against the schema first (see
        :func:`validate`): a ConfigError lists every bad key at once.

        >>> try:
        ...     Config.from_mapping({"lsh": {"threshold": "high"}, "shingle": {"size": "2"}})
        ... except ConfigError as exc:
        ...     print(exc.message.replace("; ", ";\\n"), exc.hint, sep="\\n")
        config: lsh.threshold: expected a number, got 'high';
        shingle.size: expected an integer, got '2'
        the defaults: lsh.threshold = 0.7, shingle.size = 2
        """
        plain = validate(data)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in plain:
                continue
            if _section_type(f) is not None:
                section = _default(f)
                kwargs[f.name] = dataclasses.replace(section, **plain[f.name])
            else:
                kwargs[f.name] = plain[f.name]
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> Config:
        """Read a TOML file whose tables mirror the dataclasses (``[lsh]``, ``[shingle]`` ...)."""
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        try:
            return cls.from_mapping(data)
        except ConfigError as exc:
            message = exc.message.removeprefix("config: ")
            raise ConfigError(f"config file {path}: {message}", hint=exc.hint) from None

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys of some sections changed.

        >>> Config().replace(lsh={"threshold": 0.8}).lsh.threshold
        0.8
        """
        merged = {
            name: {**dataclasses.asdict(getattr(self, name)), **dict(values)}
            for name, values in sections.items()
        }
        return Config.from_mapping({**self.to_dict(), **merged})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def corpus_bands(self) -> tuple[int, int]:
        """``(bands, rows)`` of the corpus index: the configured ones, or derived.

        >>> Config().corpus_bands(), Config().replace(lsh={"num_perm": 32}).corpus_bands()
        ((16, 5), (6, 5))
        """
        if self.corpus.bands:
            return self.corpus.bands, self.corpus.rows
        rows = min(5, self.lsh.num_perm)
        return max(1, min(16, self.lsh.num_perm // rows)), rows

    def fingerprint(self) -> str:
        """A short stable hash of every setting: equal fingerprints mean equal output."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{name} = {value!r} is out of range", hint=f"it must be {expected}")


def _section_type(f: dataclasses.Field[Any]) -> type | None:
    """The dataclass of a section field of :class:`Config` (None for a plain key)."""
    factory = f.default_factory
    return factory if isinstance(factory, type) and dataclasses.is_dataclass(factory) else None


def _default(f: dataclasses.Field[Any]) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _is_default(cfg: Config) -> bool:
    return all(getattr(cfg, f.name) == _default(f) for f in dataclasses.fields(cfg))


def validate(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (a parsed TOML file, or nested mappings) checked against the schema of
    :class:`Config`, as plain dicts; a :class:`~dedup.errors.ConfigError` lists every bad key
    at once, one message each (wrong type, out of range, not one of the allowed words,
    unknown, with a "did you mean" when a known key is close), its hint the defaults.

    >>> try:
    ...     validate({"lsh": {"num_perm": 1.5}, "boilerplate": {"enabled": "no"}, "kep": 1})
    ... except ConfigError as exc:
    ...     print(exc.message.replace("; ", ";\\n"), exc.hint, sep="\\n")
    config: boilerplate.enabled: expected true or false, got 'no';
    lsh.num_perm: expected an integer, got 1.5;
    kep: unknown key (did you mean 'keep'?)
    the defaults: boilerplate.enabled = true, lsh.num_perm = 128
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"config: expected a table of sections, got {_show(data)}",
                          hint="a mapping like {'lsh': {'threshold': 0.8}}")
    plain = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    problems = _problems(plain) if plain else []
    if problems:
        raise _invalid(problems, plain)
    return plain


@functools.cache
def _schema() -> Any:
    """The pydantic model of :class:`Config`, made once from the dataclasses' annotations
    (types, ``Literal`` words, ``annotated_types`` bounds): strict, no unknown keys."""
    try:
        import pydantic
    except ImportError as exc:  # pragma: no cover - pydantic is a dependency
        raise ConfigError("checking a config needs pydantic, which is not installed",
                          hint=SCHEMA_HINT) from exc
    strict = pydantic.ConfigDict(strict=True, extra="forbid")

    def model(cls: type) -> Any:
        hints = typing.get_type_hints(cls, include_extras=True)
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            section = _section_type(f)
            if section is not None:
                sub = model(section)
                fields[f.name] = (sub, pydantic.Field(default_factory=sub))
            else:
                fields[f.name] = (hints[f.name], f.default)
        return pydantic.create_model(cls.__name__, __config__=strict, **fields)

    return model(Config)


_EXPECTED = {"int_type": "an integer", "float_type": "a number", "bool_type": "true or false",
             "string_type": "a string", "model_type": "a table", "dict_type": "a table"}
_BOUNDS = {"greater_than": ("more than", "gt"), "greater_than_equal": ("at least", "ge"),
           "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}


def _problems(data: dict[str, Any]) -> list[str]:
    """One message per bad key of ``data``, sorted by key (none: it is valid)."""
    try:
        _schema().model_validate(data)
    except ValueError as exc:  # pydantic.ValidationError
        errors: list[dict[str, Any]] = exc.errors(include_url=False)  # type: ignore[attr-defined]
        return sorted({_describe(e) for e in errors}, key=_in_key_order)
    return []


def _in_key_order(msg: str) -> tuple[bool, str]:
    """Messages in key order (``boilerplate.enabled`` before ``lsh.num_perm``), unknown keys
    last."""
    return ": unknown " in msg, msg.split(": ", 1)[0]


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(str(p) for p in err["loc"])
    where, kind, got = ".".join(loc), err["type"], err.get("input")
    if kind == "extra_forbidden":
        known = _known(loc[:-1])
        what = "config section" if len(loc) == 1 and isinstance(got, Mapping) else "key"
        close = difflib.get_close_matches(loc[-1], known, n=1)
        return (f"{where}: unknown {what}"
                + (f" (did you mean {close[0]!r}?)" if close else
                   f" (known: {', '.join(known)})"))
    if kind in _EXPECTED:
        table = f" ([{where}])" if kind in ("model_type", "dict_type") else ""
        return f"{where}: expected {_EXPECTED[kind]}{table}, got {_show(got)}"
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        return f"{where}: expected {ctx.get('expected')}, got {_show(got)}"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"{where}: must be {words} {ctx.get(key)}, got {_show(got)}"
    return f"{where}: {str(err['msg']).lower()}, got {_show(got)}"


def _known(section: tuple[str, ...]) -> list[str]:
    cls: Any = Config
    for name in section:
        cls = _section_type(next(f for f in dataclasses.fields(cls) if f.name == name))
    return [f.name for f in dataclasses.fields(cls)]


def _show(value: object) -> str:
    """A value as a config file user recognises it (true, not True), cut to 40 characters."""
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _toml(value: object) -> str:
    if value is None:
        return "unset"
    return json.dumps(value) if isinstance(value, bool | str) else repr(value)


def _invalid(problems: list[str], data: Mapping[str, Any]) -> ConfigError:
    """The error of a config with these problems; its hint names the defaults of the known
    keys among them."""
    defaults = []
    for msg in problems:
        where = msg.split(": ", 1)[0]
        if ": unknown " in msg:
            continue
        value: Any = Config()
        for part in where.split("."):
            value = getattr(value, part, None)
        if not dataclasses.is_dataclass(value):
            defaults.append(f"{where} = {_toml(value)}")
    return ConfigError("config: " + "; ".join(problems),
                       hint="the defaults: " + ", ".join(defaults) if defaults else
                       "check the names against the [norm], [boilerplate], [shingle], [lsh] "
                       "and [corpus] tables of the reference")

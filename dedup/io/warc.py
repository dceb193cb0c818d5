"""WET and WARC input: Common Crawl's text dumps and web archives -> :class:`~dedup.types.Document`.

A file is read record by record, so memory stays bounded per record whatever the file's size.
Which records become documents:

- ``conversion`` (a WET file's text records): one document; its text is the payload, decoded
  as UTF-8 as ``--encoding-errors`` says.
- ``response`` with HTTP status 200 and an HTML content type (``text/html`` or
  ``application/xhtml+xml``, from the HTTP ``Content-Type`` header, else from the WARC
  ``WARC-Identified-Payload-Type`` header): one document; its text is the page converted to one
  line per block element (:func:`html_lines`), decoded in the charset the HTTP header, a byte
  order mark or a ``<meta>`` tag names, else UTF-8, with U+FFFD for bytes that do not decode
  (web pages often lie about their charset: one bad byte does not cost the page).
- Other responses (not 200, not HTML, an HTTP header block that cannot be parsed, a
  ``Content-Encoding`` other than gzip or deflate) are not documents: each file that had any
  ends with one *skipped* entry counting them by reason (in ``--report`` and on stderr, exit 0).
- ``warcinfo``, ``request``, ``metadata``, ``revisit``, ``resource`` and any other record type
  are not documents and are not counted.

Each document's id is its ``WARC-Record-ID`` without the angle brackets (``urn:uuid:...``) and
it keeps the fields ``id``, ``url`` (``WARC-Target-URI``), ``record_id`` and ``date``
(``WARC-Date``), which a JSONL or Parquet output writes beside the cleaned text. The file kinds
``wet`` and ``warc`` are read alike (either may hold either record type); they differ only in
the names they are found by.

Limits and broken files: a record whose WARC ``Content-Length`` is over ``--max-doc-bytes`` is a
failure naming it and is skipped without being held (the next records are read); a line over
``--max-line-bytes`` makes its record a failure. A gzip member that is truncated or corrupt, a
record cut short by the end of the file, or bytes after the last record that are not a WARC
record end the file with one failure naming the place; the records before it are cleaned.

Choices: FastWARC (from resiliparse) reads the records: it reads 2.5 to 4 times as fast as
warcio on the same files (see docs/web-archives.md), raises an error where warcio, meeting a
record whose length is wrong, writes a warning to stderr, and ships a writer, which the tests
use. Gzip is decoded by
Python's :mod:`gzip` rather than by FastWARC, which ends a truncated gzip file silently, so a
cut file is reported like a cut JSONL file. selectolax (the Lexbor engine: an HTML5 parser,
as browsers parse) builds the tree the converter walks; lxml's libxml2 parser is HTML 4 and
slower on the same pages.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import importlib
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from ..errors import DedupError, InputError
from ..types import Document
from .readers import (
    _DOC_HINT,
    _STREAM_ERRORS,
    WARC_KINDS,
    Limits,
    Source,
    ZstdReader,
    _decode,
    _first_long_line,
    _too_long_line,
    _unreadable,
    strip_compression,
)

__all__ = ["WARC_KINDS", "html_lines", "html_text", "mirrored_name", "read_warc", "warc_modules"]

WARC_HINT = 'pip install "dedup[warc]"'
HTML_TYPES = ("text/html", "application/xhtml+xml")
MIRROR_SUFFIX = ".jsonl"  # a mirrored WET/WARC input's output: a.warc.wet.gz -> a.warc.wet.jsonl.gz
_GZIP_MAGIC = b"\x1f\x8b"
READ_ALL = 1 << 20  # the most a read of the WARC stream takes at a time

# One line per block element; a <br> ends a line too. Rules as data, read once.
BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
    "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend",
    "li", "listing", "main", "menu", "nav", "ol", "optgroup", "option", "p", "plaintext", "pre",
    "section", "summary", "table", "tbody", "td", "textarea", "tfoot", "th", "thead", "title",
    "tr", "ul",
))
# Never text a reader sees: code, styles, embedded media and their fallbacks, the head (whose
# <title> is read on its own, as the first line).
DROPPED_TAGS = frozenset((
    "audio", "canvas", "embed", "head", "iframe", "math", "noscript", "object", "script",
    "style", "svg", "template", "video",
))
PRE_TAGS = frozenset(("pre", "textarea", "listing", "plaintext"))  # their newlines end lines

# WHATWG's encoding labels where Python's codec of the same name differs from what browsers
# decode: a page labelled latin-1 or ASCII is decoded as windows-1252; a <meta> that says
# UTF-16 on a page read as bytes means UTF-8 (the HTML standard's rule).
_WHATWG = {"iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252",
           "latin-1": "cp1252", "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
           "windows-1252": "cp1252", "x-user-defined": "cp1252"}
_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""",
                           re.IGNORECASE)
META_PROBE = 1024  # bytes of a page searched for a <meta> charset (as the HTML standard says)


def warc_modules(error: type[DedupError] = InputError) -> tuple[Any, Any]:
    """``(fastwarc.warc, selectolax.lexbor)``, or ``error`` saying how to install them.

    Imported on first use: both are an optional extra (``dedup[warc]``)."""
    try:
        return (importlib.import_module("fastwarc.warc"),
                importlib.import_module("selectolax.lexbor"))
    except ImportError as exc:
        raise error(f"WET and WARC files need fastwarc and selectolax ({exc.name} is not "
                    f"installed)", hint=WARC_HINT) from exc


def mirrored_name(rel: str) -> str:
    """The name a WET or WARC input's output gets in a mirrored output directory: JSONL, its
    compression kept (a record with fields cannot be written back as a WET record).

    >>> mirrored_name("crawl/CC-MAIN-1.warc.wet.gz"), mirrored_name("a.warc")
    ('crawl/CC-MAIN-1.warc.wet.jsonl.gz', 'a.warc.jsonl')
    """
    base = strip_compression(rel)
    return base + MIRROR_SUFFIX + rel[len(base):]


# -- HTML to text lines ----------------------------------------------------------------------

def _collapsed(parts: list[str]) -> str:
    return " ".join("".join(parts).split())


_END_BLOCK = object()  # walk markers: a block element ends here; a <pre>-like one ends here
_END_PRE = object()


def html_lines(html: str) -> list[str]:
    """An HTML page as text lines, the shape of the text dumps the classifier is trained on.

    The ``<title>`` is the first line; then each block element (``p``, ``div``, ``li``,
    ``h1``-``h6``, ``td``, ``pre``, ...: :data:`BLOCK_TAGS`) starts and ends a line, and so does
    a ``<br>``; inline elements (``a``, ``span``, ``b``) stay within their line. Scripts,
    styles, ``noscript``, ``template``, ``svg``, ``iframe``, media and the rest of the head are
    dropped (:data:`DROPPED_TAGS`), and so are comments. Entities are decoded; whitespace runs
    within a line become one space; empty lines are dropped. In ``pre`` each newline ends a line.

    >>> html_lines("<title>T</title><p>One <b>bold</b>&amp;<br>two</p><script>x()</script>"
    ...            "<ul><li>a</li><li> b  c </li></ul>")
    ['T', 'One bold&', 'two', 'a', 'b c']
    """
    _, lexbor = warc_modules()
    tree = lexbor.LexborHTMLParser(html)
    lines: list[str] = []
    cur: list[str] = []

    def flush() -> None:
        if cur:
            line = _collapsed(cur)
            if line:
                lines.append(line)
            cur.clear()

    head = tree.head
    node = head.child if head is not None else None
    while node is not None:
        if node.tag == "title":
            cur.append(node.text(deep=True))
            flush()
            break
        node = node.next
    pre = 0
    stack: list[Any] = [tree.root] if tree.root is not None else []
    while stack:
        item = stack.pop()
        if item is _END_BLOCK:
            flush()
            continue
        if item is _END_PRE:
            flush()
            pre -= 1
            continue
        tag = item.tag
        if tag == "-text":
            text = item.text(deep=False)
            if pre and "\n" in text:
                first, *rest = text.split("\n")
                cur.append(first)
                for part in rest:
                    flush()
                    cur.append(part)
            else:
                cur.append(text)
            continue
        if tag in DROPPED_TAGS or not tag[:1].isalpha():  # comments, processing instructions
            continue
        if tag == "br":
            flush()
            continue
        if tag in BLOCK_TAGS:
            flush()
            if tag in PRE_TAGS:
                pre += 1
                stack.append(_END_PRE)
            else:
                stack.append(_END_BLOCK)
        children = []
        child = item.child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend(reversed(children))
    flush()
    return lines


def _codec(label: str | None, meta: bool = False) -> str | None:
    """The Python codec of a charset label (WHATWG's mapping first), or None if unknown."""
    if not label:
        return None
    name = label.strip().lower()
    name = _WHATWG.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    if meta and codec.startswith("utf-16"):
        return "utf-8"
    return codec


def html_charset(body: bytes, content_type: str | None = None) -> str:
    """The charset a page is decoded in: a byte order mark, else the HTTP ``Content-Type``'s
    charset, else a ``<meta>`` charset in its first ``META_PROBE`` bytes, else UTF-8.

    >>> html_charset(b"<meta charset='latin-1'><p>caf\\xe9"), html_charset(b"", "text/html")
    ('cp1252', 'utf-8')
    """
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    found = _CHARSET.search(content_type or "")
    codec = _codec(found.group(1) if found else None)
    if codec is None:
        meta = _META_CHARSET.search(body, 0, META_PROBE)
        codec = _codec(meta.group(1).decode("ascii") if meta else None, meta=True)
    return codec or "utf-8"


def html_text(body: bytes, content_type: str | None = None) -> str:
    """A page's bytes as text lines (:func:`html_lines`) joined by newlines, decoded in
    :func:`html_charset`'s charset with U+FFFD for bytes that do not decode."""
    try:
        html = body.decode(html_charset(body, content_type), errors="replace")
    except LookupError:  # a codec that cannot decode (a text-to-text codec named as charset)
        html = body.decode("utf-8", errors="replace")
    return "\n".join(html_lines(html))


# -- reading records ---------------------------------------------------------------------------

class _Guarded(io.RawIOBase):
    """A decompressed stream that ends instead of raising when the compressed data is truncated
    or corrupt, and keeps the error: FastWARC buffers ahead, so an error raised through it would
    lose records that had been read whole."""

    def __init__(self, inner: io.BufferedIOBase) -> None:
        super().__init__()
        self._inner = inner
        self.error: BaseException | None = None
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes, taken a buffer at a time (``read1``), so the bytes decoded
        before an error are returned, not lost with the call that raised."""
        want = READ_ALL if size is None or size < 0 else size
        parts: list[bytes] = []
        got = 0
        while got < want and self.error is None:
            try:
                part = self._inner.read1(min(want - got, READ_ALL))
            except _STREAM_ERRORS as exc:
                self.error = exc
                break
            if not part:
                break
            parts.append(part)
            got += len(part)
        self.read_bytes += got
        return b"".join(parts)

    def tell(self) -> int:  # FastWARC asks where a record starts
        return self.read_bytes

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only to where the stream is (FastWARC asks for no more): it reads forward only."""
        here = self.read_bytes
        if (whence, offset) in ((io.SEEK_SET, here), (io.SEEK_CUR, 0)):
            return here
        raise io.UnsupportedOperation("a WARC input is read forward only")

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _decompressed(source: Source, raw: BinaryIO) -> tuple[io.BufferedIOBase, str]:
    """``raw`` decoded, and what its data is called in messages: gzip when it starts with the
    gzip magic bytes (whatever its name: stdin too), zstd when its name says ``.zst``."""
    if source.compression == "zst":
        return io.BufferedReader(ZstdReader(raw)), "zstd data"
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(cast(io.RawIOBase, raw))
    if cast(io.BufferedReader, buffered).peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb"), "gzip data"
    return cast(io.BufferedIOBase, buffered), "the file"


class _Cut(Exception):
    """A record cut short by the end of the data (internal to :func:`read_warc`)."""


class _NotRead(Exception):
    """A response that is not a document, and why (a reason counted in the skipped entry)."""


def _record_id(record: Any, fallback: str) -> str:
    rid = record.record_id or ""
    rid = rid.strip()
    if rid.startswith("<") and rid.endswith(">"):
        rid = rid[1:-1]
    return rid or fallback


def _payload(record: Any, where: str) -> bytes:
    """The rest of a record's block, whole, or :class:`_Cut` when the data ends before it."""
    expected = record.content_length
    data = bytes(record.reader.read())
    if len(data) < expected:
        raise _Cut(f"{where} ({len(data)} of its {expected} bytes were there)")
    return data


def _dechunked(body: bytes) -> bytes:
    """An HTTP body sent with ``Transfer-Encoding: chunked``, joined (as is, when it is not
    valid chunked data: some crawlers store the body already joined and keep the header)."""
    out: list[bytes] = []
    pos = 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            return body
        try:
            size = int(body[pos:end].split(b";")[0].strip(), 16)
        except ValueError:
            return body
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2:end + 2 + size])
        pos = end + 2 + size + 2


def _decoded_body(body: bytes, headers: Any, limits: Limits) -> bytes:
    """An HTTP body with its transfer and content encodings undone (gzip and deflate; others
    are :class:`_NotRead`), never more than ``limits.doc_bytes`` bytes (:class:`_Cut` is not
    raised here: an over-large body raises ValueError naming its size)."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        body = _dechunked(body)
    encoding = (headers.get("Content-Encoding") or "").strip().lower()
    if encoding in ("", "identity", "none"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise _NotRead(f"Content-Encoding {encoding}")
    wbits = 47 if encoding != "deflate" else 15  # 47: gzip or zlib header, found by zlib
    for bits in (wbits, -15):  # a "deflate" body is often raw deflate, without zlib's header
        inflater = zlib.decompressobj(bits)
        try:
            out = inflater.decompress(body, limits.doc_bytes + 1)
        except zlib.error:
            continue
        if len(out) > limits.doc_bytes:
            raise ValueError(f"its body is over {limits.doc_bytes} bytes when decompressed")
        return out
    raise _NotRead(f"corrupt {encoding} body")


def _content_type(record: Any) -> str:
    header = record.http_headers.get("Content-Type") if record.http_headers is not None else None
    return header or record.headers.get("WARC-Identified-Payload-Type") or ""


def _fields(record: Any, rid: str) -> dict[str, Any]:
    return {"id": rid, "url": record.headers.get("WARC-Target-URI"), "record_id": rid,
            "date": record.headers.get("WARC-Date")}


def _oversized(source: Source, rid: str, size: int, limits: Limits) -> Document:
    return Document(id=rid, text="", source=source.rel, error=str(InputError(
        f"{source.path}: record {rid} is {size} bytes, over --max-doc-bytes "
        f"({limits.doc_bytes} bytes); it was skipped", hint=_DOC_HINT)))


def _checked(source: Source, rid: str, text: str, meta: dict[str, Any], where: str,
             limits: Limits) -> Document:
    long = _first_long_line(text, limits.line_bytes)
    if long:
        return Document(id=rid, text="", source=source.rel, meta=meta,
                        error=_too_long_line(where, f"line {long}", limits))
    return Document(id=rid, text=text, meta=meta, source=source.rel)


def _conversion(source: Source, record: Any, rid: str, encoding_errors: str,
                limits: Limits) -> Document:
    where = f"{source.path}: record {rid}"
    data = _payload(record, f"record {rid}")
    meta = _fields(record, rid)
    nul = data.find(b"\x00")
    if nul >= 0:
        return Document(id=rid, text="", source=source.rel, meta=meta,
                        error=f"{where}: binary data, not text (NUL byte at offset {nul})")
    try:
        text = _decode(data, where, encoding_errors)
    except InputError as exc:
        doc = _unreadable(rid, source, exc, encoding_errors)
        doc.meta = meta
        return doc
    return _checked(source, rid, text, meta, where, limits)


def _response(source: Source, record: Any, rid: str, limits: Limits) -> Document:
    """A response record's page as a document, or :class:`_NotRead` saying why it is not one."""
    try:
        record.parse_http(auto_decode="none", quirks_mode=True)
    except (OSError, ValueError) as exc:
        raise _NotRead("HTTP headers unreadable") from exc
    status = record.http_headers.status_code
    if status != 200:
        raise _NotRead(f"HTTP status {status}")
    ctype = _content_type(record)
    mime = ctype.split(";")[0].strip().lower()
    if mime not in HTML_TYPES:
        raise _NotRead(f"not HTML ({mime or 'no Content-Type'})")
    body = _payload(record, f"record {rid}")
    where = f"{source.path}: record {rid}"
    try:
        body = _decoded_body(body, record.http_headers, limits)
    except ValueError as exc:
        return Document(id=rid, text="", source=source.rel, error=str(InputError(
            f"{where}: {exc} (--max-doc-bytes); it was skipped", hint=_DOC_HINT)))
    return _checked(source, rid, html_text(body, ctype), _fields(record, rid), where, limits)


def _skipped(source: Source, reasons: Counter[str]) -> Document:
    """The one skipped entry of a file whose responses were not all documents."""
    total = sum(reasons.values())
    detail = ", ".join(f"{why}: {n}" for why, n in sorted(reasons.items(),
                                                           key=lambda kv: (-kv[1], kv[0])))
    return Document(id=source.rel, text="", source=source.rel, skipped=True,
                    error=f"{source.path}: {total} response record{'s' if total != 1 else ''} "
                          f"not read as {'documents' if total != 1 else 'a document'} "
                          f"({detail})")


def read_warc(source: Source, raw: BinaryIO, encoding_errors: str = "strict",
              limits: Limits = Limits()) -> Iterator[Document]:
    """Documents of one WET or WARC file (see the module docstring), read from ``raw``, its
    opened stream (closed here unless stdin; :func:`~dedup.io.readers.read_source` opens it):
    one per ``conversion`` record and per HTML ``response`` record with status 200, in file
    order."""
    try:
        warc, _ = warc_modules()
    except DedupError:
        if not source.is_stdin:
            raw.close()
        raise
    conversion, response = warc.WarcRecordType.conversion, warc.WarcRecordType.response
    reasons: Counter[str] = Counter()
    records = 0  # WARC records read, of every type (for messages)
    cut: str | None = None  # the record the data ended in
    cut_id = ""
    invalid: BaseException | None = None  # a record that could not be parsed
    with contextlib.nullcontext(raw) if source.is_stdin else raw:
        inner, what = _decompressed(source, raw)
        stream = _Guarded(inner)
        it = warc.ArchiveIterator(stream, parse_http=False, stream_detect=False,
                                  fsspec_args=False)
        while True:
            try:
                record = next(it, None)
            except (OSError, ValueError) as exc:
                invalid = exc
                break
            if record is None:
                break
            records += 1
            kind = record.record_type
            if kind != conversion and kind != response:
                continue
            rid = _record_id(record, f"{source.rel}:{records}")
            if record.content_length > limits.doc_bytes:
                yield _oversized(source, rid, record.content_length, limits)
                continue
            try:
                if kind == conversion:
                    yield _conversion(source, record, rid, encoding_errors, limits)
                else:
                    yield _response(source, record, rid, limits)
            except _NotRead as exc:
                if stream.error is not None:  # the headers were cut by a broken stream
                    cut, cut_id = f"record {rid}", rid
                    break
                reasons[str(exc)] += 1
            except _Cut as exc:
                cut, cut_id = str(exc), rid
                break
    if stream.error is not None or cut is not None or invalid is not None:
        doc = _broken_file(source, what, records, cut, stream.error, invalid)
        yield Document(id=cut_id, text="", source=source.rel, error=doc.error) if cut_id else doc
    if reasons:
        yield _skipped(source, reasons)


def _broken_file(source: Source, what: str, records: int, cut: str | None,
                 error: BaseException | None, invalid: BaseException | None) -> Document:
    """The failure that ends a file whose data broke off or went bad after ``records``."""
    before = records - (1 if cut else 0)
    read = (f"the {before} record{'s' if before != 1 else ''} before it were read" if before
            else "no record before it")
    if error is not None:
        detail = str(error) or type(error).__name__
        where = f"in {cut}" if cut else f"after record {records}"
        message = f"{source.path}: {what} is truncated or corrupt {where}; {read} ({detail})"
    elif cut is not None:
        message = f"{source.path}: the file ends inside {cut}; {read}"
    else:
        detail = str(invalid) or type(invalid).__name__
        message = (f"{source.path}: not a WARC file ({detail})" if not records else
                   f"{source.path}: not a valid WARC record after record {records} "
                   f"({detail}); the rest of the file is not read")
    return Document(id=f"{source.rel}:{records + (0 if cut else 1)}", text="",
                    source=source.rel, error=message)

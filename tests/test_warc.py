"""WET and WARC input (dedup/io/warc.py): files written by FastWARC's own writer, read through the
readers and through ``dedup clean`` / ``dedup explain``."""

from __future__ import annotations

import gzip
import importlib
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner, Result
from fastwarc.stream_io import GzipWriter
from fastwarc.warc import WarcRecord, WarcRecordType
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.cli import main
from dedup.errors import InputError
from dedup.io import warc
from dedup.io.readers import Limits, discover, read_all
from dedup.io.warc import html_charset, html_lines, html_text, mirrored_name

DATE = "2024-02-21T03:10:54Z"
# Article text the cleaner keeps (checked below: every line of it comes out).
ARTICLE = [
    "The river rose slowly through the night, and by morning the lower fields of the valley "
    "were under a foot of brown water.",
    "Farmers who had moved their cattle to the ridge the evening before watched from the "
    "road as the current carried fence posts and hay bales past the old mill.",
    "By noon the county had opened the school gymnasium as a shelter, and volunteers were "
    "handing out blankets, soup and dry socks to the families who arrived.",
]
SHARED = ("The bridge on the north road was closed after engineers found that the flood had "
          "undermined two of its stone piers, and traffic was sent the long way round.")
OTHER = [
    "A new bakery opened on the market square this week, selling rye bread from a recipe the "
    "owner brought from her grandmother's village in the mountains.",
    "Its wood-fired oven, built by hand over the winter, holds forty loaves at a time and is "
    "lit every morning at four so that the first batch is ready when the doors open.",
]


def run(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


def record(kind: Any, n: int, payload: bytes, url: str = "", http: bool = False,
           headers: dict[str, str] | None = None) -> Any:
    """A WARC record made by FastWARC, with a fixed date and the id ``urn:uuid:rec-<n>``."""
    rec = WarcRecord()
    rec.init_headers(kind, f"uuid:rec-{n}".encode())
    rec.headers["WARC-Date"] = DATE
    if url:
        rec.headers["WARC-Target-URI"] = url
    for key, value in (headers or {}).items():
        rec.headers[key] = value
    if http:
        rec.is_http = True
    rec.set_bytes_content(payload)
    return rec


def wet(n: int, text: str, url: str = "") -> Any:
    return record(WarcRecordType.conversion, n, text.encode("utf-8"),
                  url or f"https://news.example/{n}", headers={"Content-Type": "text/plain"})


def response(n: int, body: bytes, content_type: str = "text/html; charset=utf-8",
             status: str = "200 OK", url: str = "") -> Any:
    http = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body
    return record(WarcRecordType.response, n, http, url or f"https://site.example/{n}",
                  http=True)


def warcinfo() -> Any:
    return record(WarcRecordType.warcinfo, 0, b"software: test\r\n",
                  headers={"Content-Type": "application/warc-fields"})


def write(path: Path, records: list[Any]) -> Path:
    """``records`` written by FastWARC's writer; a ``.gz`` name gets one gzip member per record,
    as Common Crawl writes them."""
    path.write_bytes(b"")
    for rec in records:
        with open(path, "ab") as fh:
            if path.name.endswith(".gz"):
                writer = GzipWriter(fh)
                rec.write(writer)
                writer.close()
            else:
                rec.write(fh)
    return path


def jsonl(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    if path.name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    elif path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def article_page(title: str, paragraphs: list[str]) -> bytes:
    paras = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><title>{title}</title>"
            f"<style>p {{ color: red }}</style><script>var x = 1;</script></head>"
            f"<body><article><h1>{title}</h1>{paras}</article>"
            f"<script>track('page');</script></body></html>").encode()


# -- WET round trip ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["CC-MAIN-x.warc.wet.gz", "dump.wet"])
def test_wet_round_trip_keeps_url_record_id_and_date(tmp_path: Path, name: str) -> None:
    src = write(tmp_path / name, [warcinfo(), wet(1, "\n".join(ARTICLE) + "\n"),
                                  wet(2, "\n".join(OTHER) + "\n")])
    out = tmp_path / "out.jsonl.zst"
    result = run("clean", str(src), "-o", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert jsonl(out) == [
        {"id": "urn:uuid:rec-1", "url": "https://news.example/1",
         "record_id": "urn:uuid:rec-1", "date": DATE, "text": "\n".join(ARTICLE) + "\n"},
        {"id": "urn:uuid:rec-2", "url": "https://news.example/2",
         "record_id": "urn:uuid:rec-2", "date": DATE, "text": "\n".join(OTHER) + "\n"},
    ]


def test_a_glob_of_wet_files_into_one_jsonl_file(tmp_path: Path) -> None:
    # The Common Crawl way: `dedup clean 'CC-MAIN-*.warc.wet.gz' -o out.jsonl.zst`, every
    # record of every file in the one output, in file order.
    write(tmp_path / "CC-MAIN-1.warc.wet.gz", [warcinfo(), wet(1, "\n".join(ARTICLE) + "\n")])
    write(tmp_path / "CC-MAIN-2.warc.wet.gz", [warcinfo(), wet(2, "\n".join(OTHER) + "\n"),
                                               wet(3, "\n".join(ARTICLE) + "\n")])
    out = tmp_path / "out" / "all.jsonl.zst"
    result = run("clean", str(tmp_path / "CC-MAIN-*.warc.wet.gz"), "-o", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    records = jsonl(out)
    assert [r["id"] for r in records] == ["urn:uuid:rec-1", "urn:uuid:rec-2", "urn:uuid:rec-3"]
    assert records[2]["text"] == ""  # the second copy of the article, in the other file
    assert [r["url"] for r in records][:2] == ["https://news.example/1", "https://news.example/2"]


def test_input_format_wet_for_another_name_and_stdin(tmp_path: Path) -> None:
    src = write(tmp_path / "crawl.bin.gz", [wet(1, ARTICLE[0])])
    out = tmp_path / "a.jsonl"
    assert run("clean", str(src), "-o", str(out), "--input-format", "wet").exit_code == 0
    assert [r["id"] for r in jsonl(out)] == ["urn:uuid:rec-1"]
    # gzip is recognised by its magic bytes, so a compressed dump can come on stdin
    result = run("clean", "-", "-o", "-", "--input-format", "wet", "--quiet",
                 stdin=src.read_bytes())
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["record_id"] == "urn:uuid:rec-1"


def test_directory_output_is_mirrored_as_jsonl(tmp_path: Path) -> None:
    src = tmp_path / "crawl"
    src.mkdir()
    write(src / "CC-MAIN-1.warc.wet.gz", [wet(1, ARTICLE[0])])
    write(src / "CC-MAIN-1.warc.gz", [response(2, article_page("Bakery", OTHER))])
    out = tmp_path / "out"
    result = run("clean", str(src), "-o", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["CC-MAIN-1.warc.jsonl.gz",
                                                     "CC-MAIN-1.warc.wet.jsonl.gz"]
    assert jsonl(out / "CC-MAIN-1.warc.wet.jsonl.gz")[0]["id"] == "urn:uuid:rec-1"
    assert jsonl(out / "CC-MAIN-1.warc.jsonl.gz")[0]["url"] == "https://site.example/2"
    assert mirrored_name("a/b.wet") == "a/b.wet.jsonl"


def test_explain_names_documents_by_record_id(tmp_path: Path) -> None:
    src = write(tmp_path / "a.warc.wet.gz", [wet(7, "\n".join(ARTICLE))])
    result = run("explain", str(src))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "# urn:uuid:rec-7"


# -- duplicates across records -----------------------------------------------------------------

def test_duplicate_paragraph_across_records_is_removed_and_named_by_record_id(
        tmp_path: Path) -> None:
    src = write(tmp_path / "a.warc.wet.gz", [
        wet(1, "\n".join([*ARTICLE, SHARED])),
        wet(2, "\n".join([*OTHER, SHARED])),
    ])
    out, removed = tmp_path / "out.jsonl", tmp_path / "removed.jsonl"
    result = run("clean", str(src), "-o", str(out), "--removed", str(removed), "--quiet")
    assert result.exit_code == 0, result.output
    texts = {r["id"]: r["text"] for r in jsonl(out)}
    assert SHARED in texts["urn:uuid:rec-1"]
    assert SHARED not in texts["urn:uuid:rec-2"]
    dropped = [r for r in jsonl(removed) if r["text"] == SHARED]
    assert len(dropped) == 1
    assert dropped[0]["doc"] == "urn:uuid:rec-2"
    assert dropped[0]["reason"].startswith("duplicate:")
    assert dropped[0]["match"] == {"doc": "urn:uuid:rec-1", "line": 4}


# -- WARC responses ----------------------------------------------------------------------------

def test_warc_html_responses_become_documents_and_others_are_skipped(tmp_path: Path) -> None:
    request = record(WarcRecordType.request, 9, b"GET / HTTP/1.1\r\nHost: site.example\r\n\r\n",
                     "https://site.example/1", http=True)
    metadata = record(WarcRecordType.metadata, 8, b"fetchTimeMs: 12\r\n",
                      headers={"Content-Type": "application/warc-fields"})
    src = write(tmp_path / "crawl.warc.gz", [
        warcinfo(), request, response(1, article_page("Flood", ARTICLE)), metadata,
        response(2, b"\x89PNG\r\n", content_type="image/png"),
        response(3, b"<p>moved</p>", status="301 Moved Permanently"),
        response(4, b"<p>missing</p>", status="404 Not Found"),
    ])
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    result = run("clean", str(src), "-o", str(out), "--report", str(report))
    assert result.exit_code == 0, result.output
    records = jsonl(out)
    assert [(r["id"], r["url"], r["date"]) for r in records] == [
        ("urn:uuid:rec-1", "https://site.example/1", DATE)]
    assert records[0]["text"].splitlines()[-3:] == ARTICLE
    assert "var x" not in records[0]["text"] and "track(" not in records[0]["text"]
    message = (f"{src}: 3 response records not read as documents (HTTP status 301: 1, "
               f"HTTP status 404: 1, not HTML (image/png): 1)")
    assert f"skipped: {message}" in result.output
    assert json.loads(report.read_text())["skipped_records"] == [message]


def test_gzip_deflate_and_chunked_bodies_are_decoded(tmp_path: Path) -> None:
    page = article_page("Flood", ARTICLE)
    body = gzip.compress(page)
    rec = record(WarcRecordType.response, 1, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                 b"Content-Encoding: gzip\r\n\r\n" + body, "https://site.example/1", http=True)
    raw = zlib.compressobj(wbits=-15)
    deflated = raw.compress(page) + raw.flush()  # raw deflate, as many servers send it
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(deflated[i:i + 100]), deflated[i:i + 100])
                       for i in range(0, len(deflated), 100)) + b"0\r\n\r\n"
    rec2 = record(WarcRecordType.response, 2, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                  b"Transfer-Encoding: chunked\r\nContent-Encoding: deflate\r\n\r\n" + chunked,
                  "https://site.example/2", http=True)
    rec3 = record(WarcRecordType.response, 3, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                  b"Content-Encoding: br\r\n\r\n\x0b\x02", "https://site.example/3", http=True)
    src = write(tmp_path / "a.warc", [rec, rec2, rec3])
    docs = list(read_all(discover([str(src)])))
    assert [d.id for d in docs] == ["urn:uuid:rec-1", "urn:uuid:rec-2", "a.warc"]
    for doc in docs[:2]:
        assert doc.error is None
        assert doc.text.splitlines()[-3:] == ARTICLE
    assert docs[2].skipped and docs[2].error is not None
    assert docs[2].error.endswith("1 response record not read as a document "
                                  "(Content-Encoding br: 1)")


# -- HTML to lines -----------------------------------------------------------------------------

def test_html_blocks_become_lines_and_scripts_are_dropped() -> None:
    page = """<!DOCTYPE html><html><head><title> The  Title </title>
      <meta charset="utf-8"><style>body { color: red }</style>
      <script>var tracking = true;</script><link rel="stylesheet" href="a.css"></head>
      <body><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
      <div class="main"><h1>Heading &amp; more</h1>
      <p>First <b>bold</b> and <a href="#">linked</a>
         words&nbsp;here.</p><!-- a comment -->
      <p>Line one<br>line two<br/>  </p>
      <noscript>Enable JavaScript</noscript><template><p>hidden</p></template>
      <svg><text>svg text</text></svg><iframe>frame</iframe>
      <table><tr><td>cell 1</td><td>cell 2</td></tr></table>
      <pre>code line 1
    code   line 2</pre>
      <blockquote>Quoted &lt;text&gt; &#8212; &eacute;t&eacute;</blockquote>
      <div>outer <div>inner</div> tail</div></div>
      <script>document.write("x")</script></body></html>"""
    assert html_lines(page) == [
        "The Title", "Home", "News", "Heading & more", "First bold and linked words here.",
        "Line one", "line two", "cell 1", "cell 2", "code line 1", "code line 2",
        "Quoted <text> — été", "outer", "inner", "tail",
    ]


def test_html_charset_from_http_header_meta_tag_and_bom() -> None:
    body = "<p>Café crème</p>".encode("latin-1")
    assert html_text(body, "text/html; charset=ISO-8859-1") == "Café crème"
    cyrillic = '<meta charset="windows-1251"><p>Привет, мир</p>'.encode("cp1251")
    assert html_charset(cyrillic) == "cp1251"
    assert html_text(cyrillic, "text/html") == "Привет, мир"
    http_equiv = ('<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
                  "<p>Москва</p>").encode("koi8-r")
    assert html_text(http_equiv) == "Москва"
    assert html_text("<p>naïve</p>".encode("utf-16")) == "naïve"
    # no charset anywhere: UTF-8, with U+FFFD for the bytes that are not
    assert html_text(b"<p>ok \xff bad</p>") == "ok \ufffd bad"
    # an unknown label is ignored
    assert html_text("<p>ü</p>".encode(), "text/html; charset=no-such-codec") == "ü"


def test_http_charset_is_honoured_through_the_cli(tmp_path: Path) -> None:
    page = article_page("Caf\u00e9", ARTICLE).replace(b"valley", "vall\u00e9e".encode("latin-1"))
    src = write(tmp_path / "a.warc", [response(1, page, "text/html; charset=iso-8859-1")])
    out = tmp_path / "o.jsonl"
    assert run("clean", str(src), "-o", str(out), "--quiet").exit_code == 0
    assert "vallée" in jsonl(out)[0]["text"]


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
_INLINE = ("span", "b", "a")


def _model(parts: list[tuple[str, str]]) -> list[str]:
    """What html_lines must give for a flat run of elements: each block element its own line,
    neighbouring inline elements one line, scripts nothing, whitespace collapsed."""
    lines: list[str] = []
    run_: list[str] = []

    def flush(text: str) -> None:
        line = " ".join(text.split())
        if line:
            lines.append(line)

    for tag, text in parts:
        if tag == "script":
            continue
        if tag in _INLINE:
            run_.append(text)
        else:
            flush("".join(run_))
            run_.clear()
            flush(text)
    flush("".join(run_))
    return lines


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["p", "div", "li", "h2", "blockquote", "script", *_INLINE]), _TEXT),
    max_size=12))
def test_html_lines_property(parts: list[tuple[str, str]]) -> None:
    """Lines are stripped, non-empty, hold no newline and no run of spaces; each <p>'s text is
    its own line, in order; scripts give nothing (checked against a model of the rules)."""
    import html as htmlmod

    page = "".join(f"<{tag}>{htmlmod.escape(text)}</{tag}>" for tag, text in parts)
    lines = html_lines(page)
    for line in lines:
        assert line == line.strip() and line
        assert "\n" not in line and "  " not in line
    assert lines == _model(parts)


# -- limits and broken files -------------------------------------------------------------------

def test_oversized_record_is_a_failure_and_the_rest_is_read(tmp_path: Path) -> None:
    src = write(tmp_path / "a.warc.wet.gz", [wet(1, "x" * 5000), wet(2, ARTICLE[0])])
    docs = list(read_all(discover([str(src)]), limits=Limits(doc_bytes=4000)))
    assert [d.id for d in docs] == ["urn:uuid:rec-1", "urn:uuid:rec-2"]
    assert docs[0].error is not None and "over --max-doc-bytes (4000 bytes)" in docs[0].error
    assert docs[1].error is None and docs[1].text == ARTICLE[0]
    out = tmp_path / "o.jsonl"
    result = run("clean", str(src), "-o", str(out), "--max-doc-bytes", "4000")
    assert result.exit_code == 1
    assert "record urn:uuid:rec-1 is 5000 bytes, over --max-doc-bytes" in result.output
    assert [r["id"] for r in jsonl(out)] == ["urn:uuid:rec-2"]


def test_long_line_is_a_failure(tmp_path: Path) -> None:
    src = write(tmp_path / "a.wet", [wet(1, "short\n" + "y" * 300), wet(2, ARTICLE[0])])
    docs = list(read_all(discover([str(src)]), limits=Limits(line_bytes=200)))
    assert docs[0].error is not None and "line 2 is longer than --max-line-bytes" in docs[0].error
    assert docs[1].error is None


def test_encoding_errors_apply_to_wet_payloads(tmp_path: Path) -> None:
    bad = record(WarcRecordType.conversion, 1, b"caf\xe9 au lait\n", "https://a.example/")
    src = write(tmp_path / "a.wet", [bad])
    strict = list(read_all(discover([str(src)])))
    assert strict[0].error is not None and "not valid UTF-8 (byte 0xe9" in strict[0].error
    assert not strict[0].skipped
    replaced = list(read_all(discover([str(src)]), encoding_errors="replace"))
    assert replaced[0].text == "caf\ufffd au lait\n"
    skipped = list(read_all(discover([str(src)]), encoding_errors="skip"))
    assert skipped[0].skipped


def test_truncated_gzip_reports_a_failure_and_keeps_earlier_records(tmp_path: Path) -> None:
    src = write(tmp_path / "a.warc.wet.gz", [warcinfo(), wet(1, "\n".join(ARTICLE)),
                                            wet(2, "\n".join(OTHER)), wet(3, SHARED)])
    data = src.read_bytes()
    last = data.rfind(b"\x1f\x8b\x08")  # the last record's gzip member
    src.write_bytes(data[:last + 40])
    out = tmp_path / "out.jsonl"
    result = run("clean", str(src), "-o", str(out))
    assert result.exit_code == 1
    assert f"error: {src}: gzip data is truncated or corrupt" in result.output
    assert "Traceback" not in result.output
    assert [r["id"] for r in jsonl(out)] == ["urn:uuid:rec-1", "urn:uuid:rec-2"]


def test_garbage_after_the_last_record_is_a_failure(tmp_path: Path) -> None:
    src = write(tmp_path / "a.wet", [wet(1, "\n".join(ARTICLE)), wet(2, "\n".join(OTHER))])
    with open(src, "ab") as fh:
        fh.write(b"this is not a WARC record\r\n\r\n")
    out = tmp_path / "out.jsonl"
    result = run("clean", str(src), "-o", str(out))
    assert result.exit_code == 1
    assert f"{src}: not a valid WARC record after record 2" in result.output
    assert [r["id"] for r in jsonl(out)] == ["urn:uuid:rec-1", "urn:uuid:rec-2"]


def test_file_cut_inside_a_record_is_a_failure(tmp_path: Path) -> None:
    src = write(tmp_path / "a.warc", [wet(1, "\n".join(ARTICLE)), wet(2, "\n".join(OTHER))])
    src.write_bytes(src.read_bytes()[:-60])
    docs = list(read_all(discover([str(src)])))
    assert [d.error is None for d in docs] == [True, False]
    assert docs[1].error is not None
    assert "the file ends inside record urn:uuid:rec-2 (" in docs[1].error


def test_not_a_warc_file(tmp_path: Path) -> None:
    src = tmp_path / "notes.warc"
    src.write_text("just some text\n")
    result = run("clean", str(src), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 1
    assert f"error: {src}: not a WARC file" in result.output


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    src = write(tmp_path / "a.wet", [wet(1, ARTICLE[0])])
    real = importlib.import_module

    def no_fastwarc(name: str, *args: Any) -> Any:
        if name.startswith("fastwarc"):
            raise ImportError(f"No module named {name!r}", name="fastwarc")
        return real(name, *args)

    monkeypatch.setattr(warc.importlib, "import_module", no_fastwarc)
    with pytest.raises(InputError) as err:
        discover([str(src)])
    assert err.value.hint == 'pip install "dedup[warc]"'
    result = run("clean", str(src), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code != 0
    assert 'pip install "dedup[warc]"' in result.output
    assert "Traceback" not in result.output


# -- parallel runs -----------------------------------------------------------------------------

def test_parallel_and_dask_runs_write_the_same_bytes_as_jobs_1(tmp_path: Path) -> None:
    paragraphs = [*ARTICLE, *OTHER, SHARED]
    src = tmp_path / "crawl"
    src.mkdir()
    write(src / "a.warc.wet.gz", [
        wet(n, "\n".join(paragraphs[n % 6:] + paragraphs[:n % 6])
            + f"\nRecord number {n} closes with its own sentence about the weather.")
        for n in range(1, 71)])
    write(src / "b.warc.gz", [
        *(response(n, article_page(f"Page {n}", paragraphs[n % 6:])) for n in range(71, 81)),
        response(81, b"GIF89a", content_type="image/gif")])
    outs = []
    for engine, jobs in (("local", "1"), ("local", "2"), ("dask", "2")):
        out, removed = tmp_path / f"o-{engine}{jobs}", tmp_path / f"r-{engine}{jobs}.jsonl"
        result = run("clean", str(src), "-o", str(out), "--removed", str(removed),
                     "--jobs", jobs, "--engine", engine, "--quiet")
        assert result.exit_code == 0, result.output
        outs.append([(p.name, p.read_bytes()) for p in sorted(out.iterdir())]
                    + [("removed", removed.read_bytes())])
    assert outs[0] == outs[1] == outs[2]
    assert len(jsonl(tmp_path / "o-local1" / "a.warc.wet.jsonl.gz")) == 70
    assert len(jsonl(tmp_path / "o-local1" / "b.warc.jsonl.gz")) == 10


@pytest.mark.parametrize("name", ["big.warc.wet.gz", "big.wet"])
def test_progress_counts_a_web_archive_as_it_is_read(tmp_path: Path, name: str) -> None:
    # The progress bar is driven by the bytes read: a WET file reports them chunk by chunk
    # while its records are read, not in one jump at its end, and they add up to its size.
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
             "kappa"]

    def text(n: int) -> str:
        return "\n".join(" ".join(words[(n + i + j) % 10] for j in range(12)) + f" {n} {i}"
                         for i in range(60))

    records = [wet(n, text(n), f"https://site.example/{n}") for n in range(1, 201)]
    src = write(tmp_path / name, records)
    seen: list[int] = []
    at_doc: list[int] = []
    for _ in read_all(discover([str(src)]), on_read=seen.append):
        at_doc.append(sum(seen))
    assert sum(seen) == src.stat().st_size
    assert len(at_doc) == 200 and all(n > 0 for n in seen)
    assert 0 < at_doc[100] < src.stat().st_size  # counted while reading, not only at the end

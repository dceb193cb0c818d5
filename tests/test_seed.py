"""The reference case: the seed cleans to its expected text, also as JSONL, CRLF and edited."""

from __future__ import annotations

import json

import regex

from dedup import Cleaner, clean_text

_DOUBLE = regex.compile(r'"([^"]*)"')


def test_seed_golden(seed_text: str, seed_expected: str) -> None:
    assert clean_text(seed_text) == seed_expected


def test_seed_reasons(seed_text: str) -> None:
    result = Cleaner().clean(seed_text)
    by_line = {p.line: v for p, v in zip(result.doc.paragraphs, result.verdicts, strict=True)}
    assert by_line[1].reason == "boilerplate:cookie"
    assert by_line[3].reason == "duplicate:exact" and by_line[3].match.line == 2  # type: ignore[union-attr]
    assert by_line[27].reason == "duplicate:exact" and by_line[27].match.line == 2  # type: ignore[union-attr]
    assert {by_line[n].reason for n in range(28, 42)} <= {"duplicate:exact", "duplicate:run"}
    assert by_line[41].reason == "duplicate:run"  # "Key quotes", short, goes with its run
    assert all(by_line[n].reason == "content" for n in (2, *range(4, 27)))


def test_seed_with_crlf_line_endings(seed_text: str, seed_expected: str) -> None:
    crlf = seed_text.replace("\n", "\r\n")
    assert clean_text(crlf) == seed_expected


def test_seed_as_one_jsonl_record_through_the_cli(tmp_path, seed_text, seed_expected) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from dedup.cli import main

    src = tmp_path / "pages.jsonl"
    src.write_text(json.dumps({"url": "https://example.org/a", "text": seed_text}) + "\n",
                   encoding="utf-8")
    out = tmp_path / "clean.jsonl"
    res = CliRunner().invoke(main, ["clean", str(src), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record == {"url": "https://example.org/a", "text": seed_expected}


def _edit_second_copy(seed_text: str, edit) -> str:  # type: ignore[no-untyped-def]
    lines = seed_text.split("\n")
    return "\n".join(lines[:26] + [edit(i, line) for i, line in enumerate(lines[26:])])


def test_seed_with_curly_quotes_in_the_copies(seed_text: str, seed_expected: str) -> None:
    curly = _edit_second_copy(seed_text, lambda i, s: _DOUBLE.sub("“\\1”", s).replace("'", "’"))
    assert curly != seed_text
    assert clean_text(curly) == seed_expected


def test_seed_with_a_word_dropped_in_each_copy(seed_text: str, seed_expected: str) -> None:
    def drop_word(i: int, line: str) -> str:
        words = line.split(" ")
        if len(words) < 2:
            return line
        del words[(i * 7) % len(words)]
        return " ".join(words)

    edited = _edit_second_copy(seed_text, drop_word)
    assert clean_text(edited) == seed_expected


def test_seed_with_extra_spaces_in_the_copies(seed_text: str, seed_expected: str) -> None:
    spaced = _edit_second_copy(seed_text, lambda i, s: "  " + s.replace(" ", "   ") + " \t")
    assert clean_text(spaced) == seed_expected

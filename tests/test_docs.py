"""The documentation says what the code does: every command and option, every reason code and
every config key is documented; the README's first screen holds the three commands a newcomer
needs; every page of docs/ is in the site's navigation (in the spirit of sqlite-utils'
test_docs.py)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from dedup.boilerplate import rules
from dedup.boilerplate.model import CLASSES
from dedup.cli import main
from dedup.config import Config
from dedup.segment import BLANK

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SEED = "dedup clean corpus/seed/000_07834c4afbc45afc.txt -o -"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def commands(group: click.Group = main,
             prefix: str = "dedup") -> Iterator[tuple[str, click.Command]]:
    """Every leaf command under ``dedup`` with its full name (``dedup corpus generate``)."""
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from commands(cmd, f"{prefix} {name}")
        else:
            yield f"{prefix} {name}", cmd


COMMANDS = dict(commands())


def option_names(cmd: click.Command) -> list[str]:
    """Every spelling of every option of ``cmd`` (``-o``, ``--output``, ``--no-cross-doc``),
    the help option aside."""
    names: list[str] = []
    for param in cmd.params:
        if isinstance(param, click.Option) and param.name != "help":
            names.extend(param.opts + param.secondary_opts)
    return names


def mentions(text: str, name: str) -> bool:
    """``name`` as a whole word: ``--docs`` is not found inside ``--docs-x`` or ``docs``."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def test_the_walk_finds_every_command() -> None:
    assert set(COMMANDS) >= {"dedup clean", "dedup explain", "dedup corpus generate",
                             "dedup bench", "dedup train-classifier"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_usage_page(name: str) -> None:
    assert f"`{name}" in read(DOCS / "usage.md"), f"{name} is not described in docs/usage.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_in_the_usage_page(name: str) -> None:
    usage = read(DOCS / "usage.md")
    missing = [opt for opt in option_names(COMMANDS[name]) if not mentions(usage, opt)]
    assert not missing, f"docs/usage.md does not mention {name} {', '.join(missing)}"


def test_clean_has_its_options_checked() -> None:
    names = option_names(COMMANDS["dedup clean"])
    assert {"-o", "--output", "--removed", "--no-cross-doc", "--max-doc-bytes"} <= set(names)
    assert not mentions("--docs-x docs", "--docs")  # the whole-word match is not fooled


def emitted_reason_codes() -> set[str]:
    """The reason codes the code can give a dropped line: the literals in the source (the bench
    and the corpus generator only read gold labels), the classifier's categories, the template
    rules' prompt kinds, and ``blank``."""
    pattern = re.compile(r"""["']((?:duplicate|boilerplate):[a-z-]+)["']""")
    codes = {BLANK.reason}
    for path in (ROOT / "dedup").rglob("*.py"):
        if {"bench", "corpus"} & set(path.relative_to(ROOT / "dedup").parts[:-1]):
            continue
        codes.update(pattern.findall(read(path)))
    codes.update(f"boilerplate:{c}" for c in CLASSES if c != "content")
    codes.update(f"boilerplate:{name}" for name in rules.PROMPTS)
    return codes


def documented_reason_codes() -> set[str]:
    """The codes in the first column of the reason-code table of docs/pipeline.md."""
    text = read(DOCS / "pipeline.md")
    section = text.split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z:-]+)` \|", section, flags=re.MULTILINE))


def test_every_reason_code_is_in_the_table() -> None:
    emitted, documented = emitted_reason_codes(), documented_reason_codes()
    assert {"duplicate:cross-doc", "duplicate:document", "boilerplate:cookie", "blank"} <= emitted
    assert not emitted - documented, f"undocumented reason codes: {sorted(emitted - documented)}"
    assert not documented - emitted, f"documented but never emitted: {sorted(documented - emitted)}"


def test_every_config_key_is_in_the_configuration_page() -> None:
    text = read(DOCS / "configuration.md")
    keys = []
    for section in dataclasses.fields(Config):
        default = getattr(Config(), section.name)
        if dataclasses.is_dataclass(default):
            keys += [f"{section.name}.{f.name}" for f in dataclasses.fields(default)]
        else:
            keys.append(section.name)
    # the table names paired keys together: `lsh.bands`, `lsh.rows`
    missing = [k for k in keys if f"`{k}`" not in text]
    assert not missing, f"docs/configuration.md does not describe {', '.join(missing)}"


def first_screen() -> list[str]:
    return read(ROOT / "README.md").splitlines()[:20]


def test_readme_first_screen_has_one_sentence_and_the_three_commands() -> None:
    lines = first_screen()
    assert lines[0].startswith("# ")
    prose = [ln for ln in lines[1:lines.index("```bash")] if ln.strip()]
    assert len(prose) == 1 and prose[0].endswith("."), "one sentence before the commands"
    assert len(re.findall(r"[.!?](?:\s|$)", prose[0])) == 1, "exactly one sentence"
    block = lines[lines.index("```bash") + 1:]
    block = block[:block.index("```")]
    cmds = [ln.split("#", 1)[0].strip() for ln in block]
    assert cmds[0] == "pip install ."
    assert cmds[1] == SEED
    assert cmds[2].endswith("pytest")
    assert len(cmds) == 3


def test_readme_is_short_and_its_links_resolve() -> None:
    text = read(ROOT / "README.md")
    assert len(text.splitlines()) <= 150
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


def nav_pages() -> list[str]:
    text = read(ROOT / "mkdocs.yml")
    nav = text.split("\nnav:\n", 1)[1]
    return re.findall(r"^\s+-\s+(?:[^:\n]+:\s+)?(\S+\.md)\s*$", nav, flags=re.MULTILINE)


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    pages = nav_pages()
    assert pages and pages[0] == "index.md"
    assert len(pages) == len(set(pages))
    on_disk = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(pages) == on_disk


def test_docs_link_no_repository_file_outside_the_site() -> None:
    """mkdocs --strict fails on them; CI builds the site, this says which link early."""
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([^)#\s]+)", read(page)):
            assert "://" not in target, f"{page.name}: external link {target}"
            assert (page.parent / target).resolve().is_relative_to(DOCS), (
                f"{page.name}: {target} is outside docs/ (write it as a code span)")
            assert (page.parent / target).exists(), f"{page.name}: {target} does not exist"

"""The config is checked by its schema: every bad key at once, one clear message each, a
ConfigError (exit 2 from the CLI), never a traceback; valid configs are what they were."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import Config, ConfigError
from dedup.cli import main
from dedup.config import BoilerplateConfig, LSHConfig, ShingleConfig

SEED = Path(__file__).resolve().parents[1] / "corpus" / "seed" / "000_07834c4afbc45afc.txt"


def message(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        Config.from_mapping(data)
    return err.value.message


@pytest.mark.parametrize(("data", "expected"), [
    ({"lsh": {"threshold": "high"}}, "config: lsh.threshold: expected a number, got 'high'"),
    ({"shingle": {"size": "2"}}, "config: shingle.size: expected an integer, got '2'"),
    ({"boilerplate": {"enabled": "no"}},
     "config: boilerplate.enabled: expected true or false, got 'no'"),
    ({"lsh": {"num_perm": 1.5}}, "config: lsh.num_perm: expected an integer, got 1.5"),
    ({"lsh": {"num_perm": True}}, "config: lsh.num_perm: expected an integer, got true"),
    ({"corpus": {"enabled": 1}}, "config: corpus.enabled: expected true or false, got 1"),
    ({"lsh": {"threshold": 0}}, "config: lsh.threshold: must be more than 0.0, got 0"),
    ({"lsh": {"num_perm": 1}}, "config: lsh.num_perm: must be at least 2, got 1"),
    ({"boilerplate": {"classifier": "regex"}},
     "config: boilerplate.classifier: expected 'auto', 'page', 'learned' or 'rules', "
     "got 'regex'"),
    ({"keep": "last"}, "config: keep: expected 'first' or 'longest', got 'last'"),
    ({"lsh": 3}, "config: lsh: expected a table ([lsh]), got 3"),
    ({"lsh": {"treshold": 0.8}}, "config: lsh.treshold: unknown key (did you mean 'threshold'?)"),
    ({"shingles": {}}, "config: shingles: unknown config section (did you mean 'shingle'?)"),
])
def test_each_bad_value_has_one_clear_message(data: dict[str, Any], expected: str) -> None:
    assert message(data) == expected


def test_every_bad_key_is_listed_at_once_with_the_defaults_as_hint() -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_mapping({"lsh": {"threshold": "high", "num_perm": 1.5},
                             "shingle": {"size": "2"}, "boilerplate": {"enabled": "no"},
                             "norm": {"casefolding": True}})
    assert err.value.message.split("; ") == [
        "config: boilerplate.enabled: expected true or false, got 'no'",
        "lsh.num_perm: expected an integer, got 1.5",
        "lsh.threshold: expected a number, got 'high'",
        "shingle.size: expected an integer, got '2'",
        "norm.casefolding: unknown key (did you mean 'casefold'?)",
    ]
    assert err.value.hint == ("the defaults: boilerplate.enabled = true, lsh.num_perm = 128, "
                              "lsh.threshold = 0.7, shingle.size = 2")


def test_a_toml_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[lsh]\nthreshold = "high"\n[shingle]\nsize = "2"\n')
    with pytest.raises(ConfigError) as err:
        Config.from_toml(path)
    assert err.value.message == (f"config file {path}: lsh.threshold: expected a number, got "
                                 "'high'; shingle.size: expected an integer, got '2'")


@pytest.mark.parametrize("toml", [
    '[lsh]\nthreshold = "high"\n',
    '[shingle]\nsize = "2"\n',
    '[boilerplate]\nenabled = "no"\n',
    "[lsh]\nnum_perm = 1.5\n",
])
def test_the_cli_says_what_is_wrong_without_a_traceback(tmp_path: Path, toml: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml, encoding="utf-8")
    res = CliRunner().invoke(main, ["clean", str(SEED), "-o", str(tmp_path / "o.txt"),
                                    "--config", str(cfg)])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output and "out of range" not in res.output
    assert f"Error: config file {cfg}: " in res.output and "hint: the defaults: " in res.output
    assert not (tmp_path / "o.txt").exists()


def test_an_integer_is_a_number_and_is_kept_as_given() -> None:
    cfg = Config.from_mapping({"lsh": {"threshold": 1}, "boilerplate": {"guard": 1}})
    assert cfg.lsh.threshold == 1 and type(cfg.lsh.threshold) is int


# Fingerprints of valid configs as the hand-written checks built them (main at 4b430ce):
# saved indexes and checkpoints carry them, so the schema must build the very same configs.
GOLDEN = [
    ({}, "8b15fe653cedbd31"),
    ({"lsh": {"threshold": 1}}, "a4e7dbd3c574b5c7"),
    ({"lsh": {"threshold": 0.8, "num_perm": 64, "bands": 8, "rows": 8}}, "f53f8e124f1936e4"),
    ({"shingle": {"size": 3, "min_words": 5}, "keep": "longest"}, "f6caa3be9605617b"),
    ({"boilerplate": {"enabled": False, "classifier": "rules", "preset": "recall",
                      "threshold": 0.4, "guard": 1}}, "b760eb72e7c218d5"),
    ({"corpus": {"documents": "drop", "document_threshold": 0.9, "bands": 4, "rows": 4},
      "norm": {"strip_accents": True}}, "2a9ef65edd5a2c2e"),
]


@pytest.mark.parametrize(("data", "fingerprint"), GOLDEN)
def test_valid_configs_keep_their_fingerprints(data: dict[str, Any], fingerprint: str) -> None:
    cfg = Config.from_mapping(data)
    assert cfg.fingerprint() == fingerprint
    assert Config.from_mapping(cfg.to_dict()) == cfg


def test_relations_between_keys_are_still_checked() -> None:
    with pytest.raises(ConfigError, match=r"lsh\.bands\*rows = 256 is out of range"):
        Config.from_mapping({"lsh": {"bands": 64, "rows": 4}})
    with pytest.raises(ConfigError, match=r"corpus\.bands/rows"):
        Config.from_mapping({"corpus": {"bands": 4}})


def test_a_config_built_in_python_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"lsh\.threshold: must be at most 1\.0, got 5"):
        Config(lsh=LSHConfig(threshold=5))
    with pytest.raises(ConfigError, match=r"boilerplate\.enabled: expected true or false"):
        Config(boilerplate=BoilerplateConfig(enabled="no"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="config: shingle: expected a ShingleConfig"):
        Config(shingle={"size": 3})  # type: ignore[arg-type]
    assert Config(shingle=ShingleConfig(size=3)).shingle.size == 3


def test_the_default_config_does_not_load_the_schema_library() -> None:
    code = ("import sys; from dedup.config import Config; Config(); "
            "Config.from_mapping({}); assert 'pydantic' not in sys.modules; "
            "Config.from_mapping({'lsh': {'threshold': 0.8}}); "
            "assert 'pydantic' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# Values of the wrong kind for every key: always a ConfigError naming that key, never a crash.
FIELDS = [(section.name, f.name, f.type)
          for section in dataclasses.fields(Config) if section.name != "keep"
          for f in dataclasses.fields(section.default_factory())]  # type: ignore[misc]
WRONG = st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=60, deadline=None)
@given(picks=st.lists(st.tuples(st.sampled_from(FIELDS), WRONG), min_size=1, max_size=4,
                      unique_by=lambda p: p[0][:2]))
def test_wrong_kinds_are_config_errors_naming_each_key(
        picks: list[tuple[tuple[str, str, str], object]]) -> None:
    data: dict[str, dict[str, object]] = {}
    for (section, key, kind), value in picks:
        if isinstance(value, str) and "str" in kind and "Literal" not in kind:
            value = 3  # a string is right for a str key: give it a number instead
        data.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as err:
        Config.from_mapping(data)
    for section, values in data.items():
        for key in values:
            assert f"{section}.{key}: " in err.value.message

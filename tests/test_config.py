from __future__ import annotations

from pathlib import Path

import pytest

from dedup import Config, ConfigError


def test_toml_round_trip_and_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[lsh]\nthreshold = 0.8\nnum_perm = 64\n[shingle]\nsize = 3\n")
    cfg = Config.from_toml(path)
    assert cfg.lsh.threshold == 0.8 and cfg.lsh.num_perm == 64 and cfg.shingle.size == 3
    assert cfg.fingerprint() != Config().fingerprint()
    assert cfg.fingerprint() == Config.from_mapping(cfg.to_dict()).fingerprint()


@pytest.mark.parametrize("text, needle", [
    ("[lsh]\nthreshold = 2\n", "lsh.threshold"),
    ("[lsh]\nbands = 64\nrows = 4\n", r"lsh\.bands\*rows"),
    ("[lsh]\nbogus = 1\n", "unknown key"),
    ("[nope]\n", "unknown config section"),
    ("[lsh\n", "not valid TOML"),
])
def test_bad_config_says_what_and_how(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        Config.from_toml(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Config.from_toml(tmp_path / "none.toml")

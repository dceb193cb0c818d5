"""dedup inside other pipelines: a datatrove step and a function for ``datasets.Dataset.map``.

Each adapter is an optional extra, imported only when its module is:

- :mod:`dedup.integrations.datatrove`: :class:`~dedup.integrations.datatrove.DedupStep`
  (``pip install "dedup[datatrove]"``);
- :mod:`dedup.integrations.hf`: :class:`~dedup.integrations.hf.Deduper`
  (``pip install "dedup[hf]"``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Config
from ..errors import ConfigError

DATATROVE_HINT = 'pip install "dedup[datatrove]"'
HF_HINT = 'pip install "dedup[hf]"'

ConfigLike = Config | str | os.PathLike[str] | None


def load_config(config: ConfigLike) -> Config:
    """``config`` itself, the default config for ``None``, or the TOML file at that path.

    >>> load_config(None) == Config()
    True
    """
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, str | os.PathLike):
        return Config.from_toml(Path(config))
    raise ConfigError(f"config must be a dedup.Config or the path of a TOML file, not "
                      f"{type(config).__name__}", hint="Config.from_toml(path) reads one")

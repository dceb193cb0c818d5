from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "seed" / "000_07834c4afbc45afc.txt"
SEED_EXPECTED = ROOT / "corpus" / "seed" / "000_07834c4afbc45afc.expected.txt"


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def seed_expected() -> str:
    return SEED_EXPECTED.read_text(encoding="utf-8")

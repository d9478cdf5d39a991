"""Shared test set-up: the job scripts and the inference server are plain
scripts (they run flat inside their images), so their folders go on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT / "jobs", ROOT / "containers" / "inference"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

FIXTURES = ROOT / "fixtures"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/unit are `unit`, under tests/container `container`."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "unit" in parts:
            item.add_marker(pytest.mark.unit)
        elif "container" in parts:
            item.add_marker(pytest.mark.container)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES

"""A stand-in that cannot be built (no package index, here) fails the job that needs it, naming why and the
fix, instead of an error from the endpoint."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from harness.engine.docker import Engine
from harness.errors import UserError
from harness.images.recipes import RECIPES
from harness.images.standins import StandIns


def test_a_stand_in_without_its_wheels_is_a_user_error_naming_the_problem(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # none of this machine's local indexes
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "0")
    # Under a name of its own, so that the machine's real stand-in (if built) is not what is found.
    recipe = replace(RECIPES[("sklearn", "1.2-1")], repository="harness-test-unbuildable")
    notices: list[str] = []
    with pytest.raises(UserError) as caught:
        StandIns(engine, notices.append, cache=tmp_path)._ensure(recipe)
    assert caught.value.problem.startswith("the stand-in for AWS's sklearn 1.2-1 image could not be built: ")
    assert "could not download the wheels named in 1.2-1.lock" in caught.value.problem
    assert "PyPI is reachable" in caught.value.fix
    assert engine.image(recipe.local_name) is None
    assert not list(tmp_path.glob("wheels/*.partial"))  # nothing half-downloaded is kept

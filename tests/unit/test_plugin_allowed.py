"""allow_skipped takes True, one check name, or a collection of names."""

from __future__ import annotations

import pytest

from harness.pytest_plugin import _allowed


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (True, True),
        (False, False),
        ("inference.sigterm-30s", True),
        ("inference.ping-2s", False),
        (["inference.sigterm-30s"], True),
        ({"inference.ping-2s"}, False),
    ],
)
def test_allow_skipped_forms(allowed: bool | str | list[str] | set[str], expected: bool) -> None:
    assert _allowed("inference.sigterm-30s", allowed) is expected


def test_a_string_is_one_name_not_a_set_of_letters() -> None:
    assert _allowed("i", "inference.x") is False  # set("inference.x") holds "i"

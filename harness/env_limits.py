"""Limits a user sets through environment variables (HARNESS_HISTORY_RUNS, HARNESS_HISTORY_MB,
HARNESS_STEP_CACHE_MB): read one way, and a bad value refused with one clear error."""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.errors import UserError


def positive_whole(name: str, default: int, environment: Mapping[str, str] = os.environ) -> int:
    """The variable's value, a whole number of at least 1; `default` when it is unset or empty."""
    text = environment.get(name, "")
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{name}={text!r} is not a whole number of at least 1", fix=f"unset it (default {default})")
    return int(text)

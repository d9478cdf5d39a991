"""Waiting in the main thread without missing Ctrl-C or SIGTERM.

Python runs signal handlers in the main thread, but the kernel hands a process's signal to any of its threads:
one taken by a server or log thread leaves a main thread asleep in an unbounded wait (a child's waitpid, a
futures wait) until that wait ends by itself. A fresh CI run's `run` stopped 45 s after SIGTERM that way, when
the command's pending call returned. Waiting in short slices lets the handler run within a fraction of a second.
"""

from __future__ import annotations

import subprocess
from typing import Any

SIGNAL_CHECK_S = 0.2  # how often a waiting main thread looks for a pending signal


def wait_for_child(child: subprocess.Popen[Any]) -> int:
    """The child's exit code, waited for in slices."""
    while True:
        try:
            return child.wait(SIGNAL_CHECK_S)
        except subprocess.TimeoutExpired:
            continue

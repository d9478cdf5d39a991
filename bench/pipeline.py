"""Pipeline benchmark launcher: `python bench/pipeline.py [--repeat N] [--skip-stock]` from the repository root.

It re-executes itself in the sanitized environment `harness run-local` uses, then runs
bench/pipeline_bench.py (what is measured, and how, is described there).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    ROOT = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(ROOT))  # `python bench/pipeline.py` puts bench/, not the root, on sys.path
    from harness.engine.sandbox import is_sanitized, sanitized

    if not is_sanitized(os.environ):
        # The environment `harness run-local` runs in (no host AWS settings, instance
        # metadata off), for both sides; re-executed before the SDK is imported.
        os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], sanitized(os.environ))
    from bench.pipeline_bench import main

    sys.exit(main(sys.argv[1:]))

"""Run a small script in a fresh interpreter and read the one JSON line it prints.

For what only a new process shows: environment variables read at import or start, and a C
extension that failed to build (the script blocks its import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_probe(script: str, *args: str, variable: str, value: str | None) -> dict[str, object]:
    """Run ``script`` with ``args``, with ``variable`` set to ``value`` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != variable}
    if value is not None:
        env[variable] = value
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result

"""Build the project's C extensions into a temporary directory with a chosen environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_extensions(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``setup.py build_ext`` (output under ``tmp_path``) with ``env`` added; never raises
    on failure: the caller looks at the exit code and the output."""
    return subprocess.run(
        [
            sys.executable,
            "setup.py",
            "build_ext",
            "--build-lib",
            str(tmp_path / "lib"),
            "--build-temp",
            str(tmp_path / "temp"),
        ],
        cwd=REPO,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

"""Version ids for data, code and config.

A table's data version is a hash of its content that ignores row order, so the
UI can tell a real change from a rewrite of the same rows.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

import polars as pl

# Bump when the asset logic changes in a way that changes its output.
PIPELINE_CODE_VERSION = "1"


def content_hash(frame: pl.DataFrame) -> str:
    """Order-independent hash of a frame's schema and rows."""
    digest = hashlib.sha256(str(frame.schema).encode())
    if frame.height:
        digest.update(frame.hash_rows(seed=0).sort().to_numpy().tobytes())
    return digest.hexdigest()[:20]


@functools.cache
def git_commit() -> str:
    """The commit the code runs from: `GIT_COMMIT` (set in images) or the checkout's HEAD."""
    if os.environ.get("GIT_COMMIT"):
        return os.environ["GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"

"""Files written whole or not at all: a temporary file beside the target, then a rename."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .workbook import temp_beside


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` into a temporary file beside `path` (same file system), then rename it into
    place (os.replace), so that a reader sees the old file or the new one, never half of one;
    on any failure the temporary file is removed."""
    tmp = temp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

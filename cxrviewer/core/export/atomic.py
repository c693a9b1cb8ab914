"""Write an export all or nothing (`core.atomic`), with errors in the reader's words.

A failed export (disk full, no permission, an encoder error) leaves neither half a file nor a temp
file behind, and an older file of the same name stays as it was.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from cxrviewer.core.atomic import write_stream_atomically
from cxrviewer.core.errors import CxrError


class ExportError(CxrError):
    """An export could not be written. The message starts with the target path."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def os_problem(error: OSError) -> str:
    """An OSError in the reader's words (the path is said by ExportError)."""
    if error.errno == errno.ENOSPC:
        return "the disk is full; nothing was written"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write there; nothing was written"
    if error.errno == errno.ENOENT:
        return "the folder does not exist; nothing was written"
    return f"{error.strerror or error}; nothing was written"


def write_atomically(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(stream)` on a temp file beside `path`, fsync it, then move it onto `path`
    (`core.atomic`).

    Raises ExportError naming `path` for any OSError; other exceptions from `write` propagate after
    the temp file is removed.
    """
    try:
        return write_stream_atomically(path, write)
    except OSError as error:
        raise ExportError(path, os_problem(error)) from error

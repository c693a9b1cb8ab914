"""Write an export all or nothing: a hidden temp file in the target folder, then os.replace.

A failed export (disk full, no permission, an encoder error) leaves neither half a file nor a temp
file behind, and an older file of the same name stays as it was.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

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
    """Call `write(stream)` on a temp file beside `path`, fsync it, then move it onto `path`.

    Raises ExportError naming `path` for any OSError; other exceptions from `write` propagate after
    the temp file is removed.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as error:
        raise ExportError(path, os_problem(error)) from error
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(path, os_problem(error)) from error
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""The one way the program replaces a file: write a hidden temp file in the same folder, fsync it,
then `os.replace` it onto the target, so a reader (or a crash) never sees half a file and an older
file of the same name stays as it was until the new one is complete.

- `atomic_target(path)`: a temp path for a library that writes by file name (safetensors, a CSV
  writer); moved onto `path` when the block ends normally, removed when it raises.
- `write_bytes_atomically` / `write_text_atomically`: the common cases on top of it.
OSErrors propagate unchanged: callers say what failed in their own words (`core.export.atomic`
turns them into an ExportError naming the file).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as stream:  # the library closed it; make its bytes durable first
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_stream_atomically(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(stream)` on the temp file, then move it onto `path`."""
    with atomic_target(path) as tmp, open(tmp, "wb") as stream:
        write(stream)
    return Path(path)


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    return write_stream_atomically(path, lambda stream: stream.write(data))


def write_text_atomically(path: str | Path, text: str) -> Path:
    return write_bytes_atomically(path, text.encode("utf-8"))

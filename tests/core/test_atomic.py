"""core.atomic, the one way the program replaces a file: whole or not at all."""

from __future__ import annotations

import pytest

from cxrviewer.core.atomic import (
    atomic_target,
    write_bytes_atomically,
    write_stream_atomically,
    write_text_atomically,
)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "card.json"
    write_text_atomically(target, "old ✓")

    def half_then_fail(stream):
        stream.write(b"half")
        raise RuntimeError("encoder failed")

    with pytest.raises(RuntimeError, match="encoder failed"):
        write_stream_atomically(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "old ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]


def test_a_library_writing_by_name_gets_a_temp_path_beside_the_target(tmp_path):
    target = tmp_path / "w.bin"
    with atomic_target(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".w.bin.") and not target.exists()
        tmp.write_bytes(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01" and [p.name for p in tmp_path.iterdir()] == ["w.bin"]
    assert write_bytes_atomically(target, b"new") == target and target.read_bytes() == b"new"


def test_a_missing_folder_raises_the_os_error_unchanged(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_text_atomically(tmp_path / "absent" / "x.txt", "x")

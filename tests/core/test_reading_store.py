"""The reading store: round trips, a store that survives SIGKILL, CSV export, clear errors."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cxrviewer.core.reading_store import (
    STORE_NAME,
    ReadingStore,
    ReadingStoreError,
    StudyKey,
    store_location,
    study_key,
)


def test_key_is_the_path_relative_to_the_folder_plus_the_uid(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert study_key(tmp_path, tmp_path / "a" / "b" / "x.dcm", "1.2.3") == StudyKey("a/b/x.dcm", "1.2.3")
    assert study_key(tmp_path / "a", tmp_path / "a" / "y.png") == StudyKey("y.png", "")
    outside = study_key(tmp_path / "a", tmp_path / "z.png")
    assert outside.path == (tmp_path / "z.png").resolve().as_posix()


def test_state_round_trips_through_a_new_store_object(tmp_path):
    key, other = StudyKey("p1/img.dcm", "1.2.840.1"), StudyKey("p1/img.dcm", "1.2.840.2")
    with ReadingStore.for_folder(tmp_path) as store:
        assert store.path == tmp_path.resolve() / STORE_NAME
        assert store.get(key).note == "" and not store.get(key).viewed
        first = store.mark_viewed(key)
        store.set_flagged(key, True)
        store.set_note(key, "RUL opacity, compare with 2019 — ñ")
        again = store.mark_viewed(key)
    assert first.first_viewed and again.first_viewed == first.first_viewed
    with ReadingStore.for_folder(tmp_path) as reopened:
        state = reopened.get(key)
        assert (state.viewed, state.flagged, state.note) == (True, True, "RUL opacity, compare with 2019 — ñ")
        assert state.updated >= state.first_viewed
        assert reopened.get(other).note == ""  # another image under the same name is another study
        reopened.set_flagged(key, False)
        assert not reopened.get(key).flagged
        assert [s.key for s in reopened.all()] == [key]


WRITER = textwrap.dedent("""
    import sys, time
    from cxrviewer.core.reading_store import ReadingStore, StudyKey
    store = ReadingStore(sys.argv[1])
    n = 0
    while True:
        n += 1
        store.set_note(StudyKey(f"study{n:05d}.png"), f"note {n}")
        print(n, flush=True)
        if n >= 40:
            time.sleep(60)
""")


def test_notes_survive_sigkill_of_the_writer(tmp_path):
    path = tmp_path / STORE_NAME
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        committed = [int(writer.stdout.readline()) for _ in range(25)]
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    with ReadingStore(path) as store:
        notes = {s.key.path: s.note for s in store.all()}
    # Every note reported as written is there (the writer may have committed a few more before the kill).
    assert len(notes) >= committed[-1] == 25
    assert all(notes[f"study{n:05d}.png"] == f"note {n}" for n in committed)


def test_csv_export_has_every_state_and_the_scores(tmp_path):
    a, b, c = StudyKey("a.png"), StudyKey("b/c.dcm", "9.8.7"), StudyKey("d.png")
    with ReadingStore(tmp_path / STORE_NAME) as store:
        store.mark_viewed(a)
        store.set_note(b, 'says "hello", twice\nsecond line')
        store.set_flagged(b, True)
        out = tmp_path / "reading.csv"
        assert store.export_csv(out, {a: {"pneumonia-kermany": 0.91234}, c: {"tb-lesions": 0.25}}) == 3
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "sop_instance_uid", "viewed", "flagged", "note", "first_viewed", "updated",
                             "pneumonia-kermany", "tb-lesions"]
    assert [r["path"] for r in rows] == ["a.png", "b/c.dcm", "d.png"]
    assert (rows[0]["viewed"], rows[0]["flagged"], rows[0]["pneumonia-kermany"], rows[0]["tb-lesions"]) == \
        ("1", "0", "0.9123", "")
    assert (rows[1]["sop_instance_uid"], rows[1]["flagged"], rows[1]["note"]) == \
        ("9.8.7", "1", 'says "hello", twice\nsecond line')
    assert (rows[2]["viewed"], rows[2]["tb-lesions"], rows[2]["first_viewed"]) == ("0", "0.2500", "")
    assert not list(tmp_path.glob(".reading.csv.tmp"))


def test_a_file_that_is_not_a_store_gives_an_error_naming_it_and_is_left_alone(tmp_path):
    path = tmp_path / STORE_NAME
    garbage = b"this is not SQLite at all\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(ReadingStoreError) as caught:
        ReadingStore(path)
    assert str(caught.value).startswith(f"{path}: is damaged or not a reading store")
    assert path.read_bytes() == garbage


def test_a_damaged_store_is_refused_and_its_bytes_kept(tmp_path):
    path = tmp_path / STORE_NAME
    with ReadingStore(path) as store:
        for n in range(30):
            store.set_note(StudyKey(f"s{n}.png"), "x" * 2000)
    data = bytearray(path.read_bytes())
    data[4096 * 2:4096 * 4] = b"\xff" * 8192  # overwrite pages inside the table's b-tree
    path.write_bytes(bytes(data))
    with pytest.raises(ReadingStoreError) as caught:
        with ReadingStore(path) as store:
            store.all()
    assert str(path) in str(caught.value) and "damaged" in str(caught.value)
    assert path.read_bytes() == bytes(data)


def test_another_programs_sqlite_file_is_not_taken_over(tmp_path):
    path = tmp_path / STORE_NAME
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(ReadingStoreError, match="another program"):
        ReadingStore(path)


def test_a_locked_store_names_the_file_and_keeps_the_saved_note(tmp_path, monkeypatch):
    monkeypatch.setattr("cxrviewer.core.reading_store.BUSY_TIMEOUT_MS", 100)
    path = tmp_path / STORE_NAME
    key = StudyKey("a.png")
    store = ReadingStore(path)
    store.set_note(key, "saved")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        store._db.execute("PRAGMA busy_timeout=100")
        with pytest.raises(ReadingStoreError, match="is locked by another program") as caught:
            store.set_note(key, "lost")
        assert str(caught.value).startswith(str(path))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.get(key).note == "saved"
    store.set_note(key, "retried")
    assert ReadingStore(path).get(key).note == "retried"
    store.close()


def test_read_only_folder_puts_the_store_in_the_user_data_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cdrom"
    folder.mkdir()
    assert store_location(folder, user_data=tmp_path / "user") == folder.resolve() / STORE_NAME
    # Root writes through permission bits, so the read-only case is simulated at the probe.
    monkeypatch.setattr("cxrviewer.core.reading_store.folder_writable", lambda _folder: False)
    location = store_location(folder, user_data=tmp_path / "user")
    assert location.parent == tmp_path / "user" / "reading"
    assert location.name.startswith("cdrom-") and location.suffix == ".sqlite"
    assert store_location(tmp_path / "other" / "cdrom", user_data=tmp_path / "user") != location
    (folder / STORE_NAME).write_bytes(b"")  # a store already beside the studies is used wherever it is
    assert store_location(folder, user_data=tmp_path / "user") == folder.resolve() / STORE_NAME
    assert store_location(folder, user_data=tmp_path / "user", beside=False) == location

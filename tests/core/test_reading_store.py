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

from cxrviewer.core import reading_store
from cxrviewer.core.reading_store import (
    STORE_NAME,
    ReadingStore,
    ReadingStoreError,
    StudyKey,
    storable_text,
    store_location,
    study_key,
    user_store_location,
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


def test_reviewed_is_the_time_marked_and_is_cleared_when_unmarked(tmp_path):
    key = StudyKey("a.png")
    with ReadingStore(tmp_path / STORE_NAME) as store:
        assert store.get(key).reviewed == ""
        marked = store.set_reviewed(key, True).reviewed
        assert marked and marked == store.get(key).updated
        assert store.set_reviewed(key, True).reviewed == marked  # marking again keeps the first time
    with ReadingStore(tmp_path / STORE_NAME) as store:  # committed: a new store object reads it
        assert store.get(key).reviewed == marked
        assert [s.reviewed for s in store.all()] == [marked]
        assert store.set_reviewed(key, False).reviewed == ""
    with ReadingStore(tmp_path / STORE_NAME) as store:
        assert store.get(key).reviewed == ""


def _old_store(path: Path) -> None:
    """A store as cxrviewer wrote it before the reviewed mark: no reviewed column."""
    db = sqlite3.connect(path)
    db.executescript(f"""
        CREATE TABLE reading (path TEXT NOT NULL, sop_uid TEXT NOT NULL DEFAULT '',
            viewed INTEGER NOT NULL DEFAULT 0, flagged INTEGER NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT '', first_viewed TEXT NOT NULL DEFAULT '',
            updated TEXT NOT NULL DEFAULT '', PRIMARY KEY (path, sop_uid));
        PRAGMA application_id={reading_store.APPLICATION_ID};
        PRAGMA user_version=1;
        INSERT INTO reading VALUES ('a.png', '', 1, 1, 'old note', '2025-01-02T03:04:05+00:00',
                                    '2025-01-02T03:04:05+00:00');
    """)
    db.commit()
    db.close()


def test_a_store_written_before_the_reviewed_mark_loads_and_takes_it(tmp_path):
    _old_store(tmp_path / STORE_NAME)
    key = StudyKey("a.png")
    with ReadingStore(tmp_path / STORE_NAME) as store:
        state = store.get(key)
        assert (state.viewed, state.flagged, state.note, state.reviewed) == (True, True, "old note", "")
        assert store.set_reviewed(key, True).reviewed
    with ReadingStore(tmp_path / STORE_NAME) as store:
        assert store.get(key).reviewed and store.get(key).note == "old note"


def test_a_read_only_store_written_before_the_reviewed_mark_is_read(tmp_path):
    _old_store(tmp_path / STORE_NAME)
    rows = reading_store._read_only_rows(tmp_path / STORE_NAME)
    assert [row[:5] + row[7:] for row in rows] == [("a.png", "", 1, 1, "old note", "")]


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
                             "reviewed", "pneumonia-kermany", "tb-lesions"]
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
    (folder / STORE_NAME).write_bytes(b"")
    # A store beside the studies in a folder that cannot be written cannot be written either (SQLite
    # creates its journal there): the user data folder, as for a folder without one.
    assert store_location(folder, user_data=tmp_path / "user") == location
    assert store_location(folder, user_data=tmp_path / "user", beside=False) == location
    monkeypatch.setattr("cxrviewer.core.reading_store.folder_writable", lambda _folder: True)
    assert store_location(folder, user_data=tmp_path / "user") == folder.resolve() / STORE_NAME


# -- a store beside the studies that cannot be written (a CD burnt with its notes, a read-only share) --

def make_store(path: Path, notes: dict[str, str], flagged: tuple[str, ...] = ()) -> None:
    with ReadingStore(path) as store:
        for name, note in notes.items():
            store.set_note(StudyKey(name), note)
        for name in flagged:
            store.set_flagged(StudyKey(name), True)


def set_updated(path: Path, when: dict[str, str]) -> None:
    """Backdate (or postdate) rows' `updated`, to order two stores' changes without sleeping."""
    db = sqlite3.connect(path)
    db.executemany("UPDATE reading SET updated = ? WHERE path = ?", [(t, name) for name, t in when.items()])
    db.commit()
    db.close()


@pytest.fixture
def read_only_cd(tmp_path, monkeypatch):
    """A folder holding a store with two notes, made read-only with chmod (file 444, folder 555). Root
    writes through permission bits, so there SQLite is also made to open that file as it does when the
    operating system refuses it for writing: read-only (`mode=ro`)."""
    folder = tmp_path / "cd"
    folder.mkdir()
    store = folder / STORE_NAME
    make_store(store, {"a.png": "from the CD", "b.png": "=HYPERLINK(\"http://x\")"}, flagged=("b.png",))
    original = store.read_bytes()
    store.chmod(0o444)
    folder.chmod(0o555)
    if os.name == "posix" and os.geteuid() == 0:
        connect = sqlite3.connect

        def read_only_connect(database, *args, **kwargs):
            if Path(database) == store:
                return connect(f"{store.as_uri()}?mode=ro", *args, uri=True, **kwargs)
            return connect(database, *args, **kwargs)

        monkeypatch.setattr(reading_store.sqlite3, "connect", read_only_connect)
    yield folder, original
    folder.chmod(0o755)
    store.chmod(0o644)


def test_a_read_only_store_continues_in_the_user_data_folder_from_its_notes(read_only_cd, tmp_path):
    folder, original = read_only_cd
    user = tmp_path / "user"
    with ReadingStore.for_folder(folder, user) as store:
        assert store.path == user_store_location(folder, user) and store.path.parent == user / "reading"
        assert store.moved_from == folder.resolve() / STORE_NAME
        assert str(store.moved_from) in store.notice and str(store.path) in store.notice
        assert "read-only" in store.notice
        assert {s.key.path: (s.note, s.flagged) for s in store.all()} == \
            {"a.png": ("from the CD", False), "b.png": ('=HYPERLINK("http://x")', True)}
        store.set_note(StudyKey("a.png"), "read again at home")  # failed with "readonly database" before
        store.mark_viewed(StudyKey("c.png"))
    with ReadingStore.for_folder(folder, user) as again:  # the next session: same place, notes kept
        assert again.path == user_store_location(folder, user)
        assert again.get(StudyKey("a.png")).note == "read again at home"
        assert again.get(StudyKey("c.png")).viewed
    assert (folder / STORE_NAME).read_bytes() == original
    assert sorted(p.name for p in folder.iterdir()) == [STORE_NAME]


def test_merging_keeps_the_row_changed_last(tmp_path, monkeypatch):
    """The user data store of an earlier session meets the read-only store again (say the CD was
    re-burnt with another reader's notes): per study, the flag and note changed last win."""
    folder, user = tmp_path / "share", tmp_path / "user"
    folder.mkdir()
    shared = folder / STORE_NAME
    make_store(shared, {"a.png": "CD, older", "b.png": "CD, newer", "c.png": "only on the CD"}, flagged=("b.png",))
    with ReadingStore(shared) as store:
        store.mark_viewed(StudyKey("a.png"))
    set_updated(shared, {"a.png": "2026-01-01T00:00:00+00:00", "b.png": "2026-03-01T00:00:00+00:00",
                         "c.png": "2026-01-01T00:00:00+00:00"})
    own = user_store_location(folder, user)
    make_store(own, {"a.png": "mine, newer", "b.png": "mine, older", "d.png": "only mine"})
    set_updated(own, {"a.png": "2026-02-01T00:00:00+00:00", "b.png": "2026-02-01T00:00:00+00:00",
                      "d.png": "2026-02-01T00:00:00+00:00"})
    monkeypatch.setattr(reading_store, "store_writable", lambda _path: False)
    with ReadingStore.for_folder(folder, user) as store:
        assert store.path == own
        got = {s.key.path: (s.note, s.flagged, s.viewed, s.updated[:10]) for s in store.all()}
    assert got == {"a.png": ("mine, newer", False, True, "2026-02-01"),  # viewed on the CD: still viewed
                   "b.png": ("CD, newer", True, False, "2026-03-01"),
                   "c.png": ("only on the CD", False, False, "2026-01-01"),
                   "d.png": ("only mine", False, False, "2026-02-01")}


def test_a_damaged_read_only_store_is_named_and_left_alone(tmp_path, monkeypatch):
    folder = tmp_path / "cd"
    folder.mkdir()
    (folder / STORE_NAME).write_bytes(b"not SQLite\n" * 100)
    monkeypatch.setattr(reading_store, "store_writable", lambda _path: False)
    with pytest.raises(ReadingStoreError) as caught:
        ReadingStore.for_folder(folder, tmp_path / "user")
    assert str(caught.value).startswith(f"{folder.resolve() / STORE_NAME}: is damaged or not a reading store")
    assert (folder / STORE_NAME).read_bytes() == b"not SQLite\n" * 100


READ_ONLY_MOUNT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from cxrviewer.core.reading_store import ReadingStore, StudyKey
    folder, user = Path(sys.argv[1]), Path(sys.argv[2])
    with ReadingStore.for_folder(folder, user) as store:
        store.set_note(StudyKey("b.png"), "typed at home")
        print(store.path, flush=True)
    with ReadingStore.for_folder(folder, user) as again:
        print(again.path, flush=True)
        print(again.get(StudyKey("a.png")).note, "|", again.get(StudyKey("b.png")).note, flush=True)
""")


def test_a_store_on_a_read_only_mount_moves_to_the_user_data_folder(tmp_path):
    """The real thing where the machine allows it: the folder is a read-only bind mount (EROFS, even
    for root) in a private mount namespace, as a CD or a read-only share would be."""
    folder, user = tmp_path / "cd", tmp_path / "user"
    folder.mkdir()
    make_store(folder / STORE_NAME, {"a.png": "from the CD"})
    original = (folder / STORE_NAME).read_bytes()
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && exec "$2" -c "$3" "$1" "$4"'
    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh",
                               str(folder), sys.executable, READ_ONLY_MOUNT, str(user)],
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    except FileNotFoundError:
        pytest.skip("no unshare here to make a read-only mount")
    if done.returncode != 0 and "Traceback" not in done.stderr:
        pytest.skip(f"this machine does not allow a private read-only mount: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    moved, reopened, notes = done.stdout.splitlines()
    assert moved == reopened == str(user_store_location(folder, user))
    assert notes == "from the CD | typed at home"
    assert "is read-only: notes and flags are saved in" in done.stderr  # the warning logged
    assert (folder / STORE_NAME).read_bytes() == original


def test_a_store_that_stops_accepting_writes_moves_at_the_next_change(tmp_path):
    """A share remounted read-only while the viewer is open (simulated: the store's connection is
    swapped for a read-only one, as SQLite has when it cannot write the file)."""
    folder, user = tmp_path / "share", tmp_path / "user"
    folder.mkdir()
    with ReadingStore.for_folder(folder, user) as store:
        beside = folder.resolve() / STORE_NAME
        assert store.path == beside and store.notice == ""
        store.set_note(StudyKey("a.png"), "while writable")
        store._db.close()
        store._db = sqlite3.connect(f"{beside.as_uri()}?mode=ro", uri=True, isolation_level=None)
        state = store.set_flagged(StudyKey("a.png"), True)  # failed with "readonly database" before
        assert (state.note, state.flagged) == ("while writable", True)
        assert store.path == user_store_location(folder, user) and store.moved_from == beside
        assert "read-only" in store.notice
    with ReadingStore(beside) as untouched:
        assert not untouched.get(StudyKey("a.png")).flagged


# -- text SQLite cannot store, and CSV cells a spreadsheet would run --

def test_a_lone_surrogate_in_a_note_is_replaced_and_the_rest_kept(tmp_path, caplog):
    assert storable_text("abc\ud800def") == ("abc\ufffddef", 1)
    assert storable_text("ok \ud83d\ude00") == ("ok \U0001f600", 0)  # a whole pair is the character
    assert storable_text("plain ñ \ufffd") == ("plain ñ \ufffd", 0)
    with ReadingStore(tmp_path / STORE_NAME) as store:
        state = store.set_note(StudyKey("a.png"), "abc\ud800def")  # raised UnicodeEncodeError before
        assert state.note == "abc\ufffddef" and store.get(StudyKey("a.png")).note == "abc\ufffddef"
    assert "1 character(s) of the note on a.png cannot be stored" in caplog.text


def test_a_key_sqlite_cannot_store_gives_a_store_error(tmp_path):
    """A file name with undecodable bytes reaches Python with surrogate escapes: an error naming the
    store, not a UnicodeEncodeError."""
    with ReadingStore(tmp_path / STORE_NAME) as store:
        with pytest.raises(ReadingStoreError, match="cannot be stored"):
            store.set_flagged(StudyKey("bad\udcff.png"), True)
        with pytest.raises(ReadingStoreError, match="cannot be stored"):
            store.get(StudyKey("bad\udcff.png"))


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(tmp_path):
    notes = {"=cmd.png": "=HYPERLINK(\"http://evil\",\"x\")", "+1.png": "+1+1", "-2.png": "-2", "@a.png": "@SUM(A1)",
             "tab.png": "\tx", "cr.png": "\rx", "ok.png": "fine = ok, -1"}
    with ReadingStore(tmp_path / STORE_NAME) as store:
        for name, note in notes.items():
            store.set_note(StudyKey(name, "=1.2"), note)
        store.mark_viewed(StudyKey("ok.png", "=1.2"))
        out = tmp_path / "reading.csv"
        scores = {StudyKey("ok.png", "=1.2"): {"score": -0.5, "count": -3, "status": "-x failed", "gate": "@x"}}
        store.export_csv(out, scores)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {r["path"]: r for r in csv.DictReader(handle)}
    assert {path: row["note"] for path, row in rows.items()} == {
        "'=cmd.png": "'=HYPERLINK(\"http://evil\",\"x\")", "'+1.png": "'+1+1", "'-2.png": "'-2",
        "'@a.png": "'@SUM(A1)", "tab.png": "'\tx", "cr.png": "'\rx", "ok.png": "fine = ok, -1"}
    ok = rows["ok.png"]
    assert ok["sop_instance_uid"] == "'=1.2" and ok["viewed"] == "1"
    assert (ok["score"], ok["count"]) == ("-0.5000", "-3")  # the program's numbers stay numbers
    assert (ok["status"], ok["gate"]) == ("'-x failed", "'@x")
    assert ok["first_viewed"][:2] == "20"

"""The reader's reading state per study (viewed, flagged, a note, reviewed), kept in a small SQLite file.

"Reviewed" is the reader's own mark that the study is read (finished), as opposed to "viewed" (it was
on screen): the time it was marked, "" when it is not (unmarking clears it). Stores written before it
existed have no such column: it is added (empty) when the store is opened for writing, and read as
"" from a store that cannot be written, so older files stay valid. The schema version stays 1: the
column is additive, so an older cxrviewer still reads and writes such a store (ignoring the mark).

Where: `<worklist folder>/.cxrviewer-reading.sqlite`, beside the studies, so the state travels with
the folder (a USB stick, a shared reading folder). When the folder cannot be written (a CD, a
read-only share), the store goes to the user's data folder, named after the folder's resolved path
(`store_location` says which), so the reader still keeps notes.

A store beside the studies that cannot be written (the file or its folder read-only: a CD burnt with
its notes, a read-only share; SQLite needs the folder too, for its rollback journal) is read, never
written: the store continues in the user data folder, starting from its rows (`ReadingStore.moved_from`
and `notice` say so, for the reader). It is merged in at every opening, so a newer copy of the folder
brings its changes: a study in both keeps the flag and note of the row changed last (`updated`; a tie
keeps the user data folder's), is viewed if either says so, and keeps the earlier first view. The same
happens when a store that could be written when opened stops accepting writes (a share remounted).

Which study: `StudyKey(path, sop_uid)`: the file's path relative to the worklist folder, in POSIX
form, plus the DICOM SOP Instance UID ("" for plain images and DICOM without one). The path keeps the
key readable in the CSV; the UID tells a file replaced by another image from the one annotated.

Durability: one transaction per change, committed before the call returns, with the rollback journal
and `synchronous=FULL`, so a crash or a kill loses nothing committed. WAL would be faster, but needs
shared memory that network shares do not provide, and one click is one small write anyway.

Errors: a file that is not a reading store, a damaged one, or one locked by another program raises
`ReadingStoreError` naming the file. A damaged file is never overwritten or repaired in place: the
notes in it stay for the reader (or `sqlite3 .recover`) to rescue. Text SQLite cannot encode (a lone
UTF-16 surrogate half, as a text box may hand over) is stored with U+FFFD in its place (`storable_text`).

CSV: every text cell that comes from the reader or from a file (path, UID, note, status text) and
starts with =, +, -, @, a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows
it as text instead of running it as a formula (OWASP CSV injection); the numbers written by the
program are left as they are.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import sqlite3
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cxrviewer.core.atomic import write_text_atomically
from cxrviewer.core.errors import CxrError

log = logging.getLogger(__name__)

STORE_NAME = ".cxrviewer-reading.sqlite"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x43585256  # "CXRV": marks the file as ours in the SQLite header
# Another viewer on the same folder holds the lock for one write only; wait that long, not forever.
BUSY_TIMEOUT_MS = 3000
CSV_COLUMNS = ("path", "sop_instance_uid", "viewed", "flagged", "note", "first_viewed", "updated", "reviewed")
# A cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    path TEXT NOT NULL,
    sop_uid TEXT NOT NULL DEFAULT '',
    viewed INTEGER NOT NULL DEFAULT 0,
    flagged INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    first_viewed TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL DEFAULT '',
    reviewed TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (path, sop_uid)
)
"""
# Added after the first release: stores written before it lack the column.
_ADD_REVIEWED = "ALTER TABLE reading ADD COLUMN reviewed TEXT NOT NULL DEFAULT ''"


class ReadingStoreError(CxrError):
    """The reading store could not be opened, read or written. The message starts with its path."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class StudyKey:
    """path: relative to the worklist folder, POSIX separators. sop_uid: DICOM SOP Instance UID or ""."""

    path: str
    sop_uid: str = ""


@dataclass(frozen=True)
class ReadingState:
    """first_viewed / updated / reviewed: ISO 8601 UTC to the second, "" when never viewed / never
    changed / not marked reviewed."""

    key: StudyKey
    viewed: bool = False
    flagged: bool = False
    note: str = ""
    first_viewed: str = ""
    updated: str = ""
    reviewed: str = ""


def study_key(folder: Path, path: Path, sop_uid: str = "") -> StudyKey:
    """The key of study file `path` opened from worklist `folder` (a path outside it keeps its
    absolute form, so two such files never share a key)."""
    folder, path = Path(folder).resolve(), Path(path).resolve()
    try:
        relative = path.relative_to(folder).as_posix()
    except ValueError:
        relative = path.as_posix()
    return StudyKey(relative, sop_uid or "")


def user_data_dir() -> Path:
    """The per-user data folder for cxrviewer (XDG on Linux, LOCALAPPDATA on Windows)."""
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "cxrviewer"


def folder_writable(folder: Path) -> bool:
    """True when a file can really be created in `folder` (os.access misses read-only mounts and ACLs)."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".cxrviewer-probe-"):
            return True
    except OSError:
        return False


def store_writable(path: Path) -> bool:
    """True when the existing store file `path` can really be written: the file opens for writing and
    its folder takes new files (SQLite creates its rollback journal beside the store)."""
    try:
        with open(path, "r+b"):
            pass
    except OSError:
        return False
    return folder_writable(Path(path).parent)


def user_store_location(folder: Path, user_data: Path | None = None) -> Path:
    """`<user data>/reading/<folder name>-<hash of its resolved path>.sqlite`: the store of `folder`
    when the folder itself cannot hold one."""
    folder = Path(folder).resolve()
    digest = hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return (user_data or user_data_dir()) / "reading" / f"{folder.name or 'root'}-{digest}.sqlite"


def store_location(folder: Path, user_data: Path | None = None, *, beside: bool = True) -> Path:
    """The store for worklist `folder`: beside the studies when the store there can be written (or,
    with none there yet, the folder can), else `user_store_location`. beside=False always chooses the
    user data folder (for folders that ship with the program, like the demo)."""
    folder = Path(folder).resolve()
    here = folder / STORE_NAME
    if beside and (store_writable(here) if here.exists() else folder_writable(folder)):
        return here
    return user_store_location(folder, user_data)


def storable_text(text: str) -> tuple[str, int]:
    """`text` as SQLite (UTF-8) can store it, and how many characters were replaced: a lone UTF-16
    surrogate half becomes U+FFFD; a complete pair of halves becomes the character it stands for."""
    try:
        text.encode("utf-8")
        return text, 0
    except UnicodeEncodeError:
        fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return fixed, fixed.count(REPLACEMENT) - text.count(REPLACEMENT)


def csv_text(value: str) -> str:
    """A text cell for the CSV: an apostrophe before a leading =, +, -, @, tab or carriage return."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _problem(error: sqlite3.Error | UnicodeEncodeError) -> str:
    if isinstance(error, UnicodeEncodeError):
        return (f"text with characters that cannot be stored ({error.reason}, position {error.start}); "
                "the change was not saved")
    text = str(error)
    if isinstance(error, sqlite3.OperationalError) and "locked" in text:
        return f"is locked by another program (another cxrviewer on this folder?): {text}; the change was not saved"
    if isinstance(error, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return (f"is damaged or not a reading store ({text}); it was left untouched so its notes can be "
                "rescued; move it aside to start a new store")
    return f"SQLite error: {text}"


class _ReadOnly(Exception):
    """The store opened can be read but not written."""


class ReadingStore:
    """The reading state of one worklist folder. Use from one thread; every setter commits at once.

    path: the store file. fallback: where to continue when `path` turns out read-only (when opened
    or at a later write), starting from its rows; without one, a read-only store fails every write.
    After such a move `path` is the fallback, `moved_from` the read-only store and `notice` says so
    in words for the reader ("" when the store never moved).
    """

    def __init__(self, path: Path, *, fallback: Path | None = None):
        self.path = Path(path)
        self.fallback = None if fallback is None or Path(fallback) == self.path else Path(fallback)
        self.moved_from: Path | None = None
        self.notice = ""
        self._reviewed = "reviewed"  # the column, or '' for an older store that cannot be written
        if self.fallback is not None and self.path.exists() and not store_writable(self.path):
            self._move_to_fallback()
            return
        try:
            self._open(writable_check=self.fallback is not None)
        except _ReadOnly:
            self._move_to_fallback()

    @classmethod
    def for_folder(cls, folder: Path, user_data: Path | None = None, *, beside: bool = True) -> ReadingStore:
        if not beside:
            return cls(store_location(folder, user_data, beside=False))
        here = Path(folder).resolve() / STORE_NAME
        location = store_location(folder, user_data)
        if location != here and not here.exists():
            return cls(location)  # the folder cannot be written and holds no store
        return cls(here, fallback=user_store_location(folder, user_data))

    def _open(self, *, writable_check: bool = False) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ReadingStoreError(self.path, f"its folder cannot be created: {error.strerror}") from None
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as error:
            raise ReadingStoreError(self.path, f"cannot be opened: {error}") from None
        try:
            self._prepare(writable_check)
        except sqlite3.Error as error:
            self._db.close()
            raise ReadingStoreError(self.path, _problem(error)) from None
        except (ReadingStoreError, _ReadOnly):
            self._db.close()
            raise

    def _prepare(self, writable_check: bool = False) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=FULL")
        tables = _check_store(db, self.path)
        try:
            with self._transaction():
                if not tables:
                    db.execute(_SCHEMA)
                    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                elif writable_check:
                    # A write that changes nothing: SQLite refuses it in a store it opened read-only
                    # (permissions, a read-only medium) without touching the file.
                    db.execute("DELETE FROM reading WHERE 0")
        except sqlite3.Error as error:
            if writable_check and _read_only_error(error, self.path):
                raise _ReadOnly() from None
            raise
        self._reviewed = "reviewed"
        if tables and not _has_reviewed(db):
            try:
                with self._transaction():
                    db.execute(_ADD_REVIEWED)
            except sqlite3.Error as error:
                if not _read_only_error(error, self.path):
                    raise
                if writable_check:
                    raise _ReadOnly() from None
                self._reviewed = "''"  # read as never marked; marking fails as any write does

    def _move_to_fallback(self) -> None:
        """Continue in `fallback`, starting from (merging in) the rows of the read-only store `path`."""
        source, target = self.path, self.fallback
        rows = _read_only_rows(source)
        if getattr(self, "_db", None) is not None:
            self._db.close()
        self.path, self.fallback = target, None
        self._open()
        try:
            with self._transaction():
                self._db.executemany(_MERGE, rows)
        except sqlite3.Error as error:
            raise ReadingStoreError(self.path, f"cannot take the notes of {source}: {_problem(error)}") from None
        self.moved_from = source
        self.notice = (f"The reading store beside the studies, {source}, is read-only: notes and flags are "
                       f"saved in {target} from now on (the notes in it were copied there)")
        log.warning("%s", self.notice)

    def _transaction(self):
        return _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReadingStore:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------
    def get(self, key: StudyKey) -> ReadingState:
        """The state of `key`; a study never touched reads as not viewed, not flagged, no note."""
        row = self._query(f"SELECT viewed, flagged, note, first_viewed, updated, {self._reviewed} FROM reading "
                          "WHERE path = ? AND sop_uid = ?", (key.path, key.sop_uid))
        if not row:
            return ReadingState(key)
        viewed, flagged, note, first_viewed, updated, reviewed = row[0]
        return ReadingState(key, bool(viewed), bool(flagged), note, first_viewed, updated, reviewed)

    def all(self) -> list[ReadingState]:
        """Every study with a stored state, by path."""
        rows = self._query(f"SELECT path, sop_uid, viewed, flagged, note, first_viewed, updated, {self._reviewed} "
                           "FROM reading ORDER BY path, sop_uid", ())
        return [ReadingState(StudyKey(p, u), bool(v), bool(f), n, fv, up, r) for p, u, v, f, n, fv, up, r in rows]

    def _query(self, sql: str, parameters: tuple) -> list[tuple]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except (sqlite3.Error, UnicodeEncodeError) as error:
            raise ReadingStoreError(self.path, _problem(error)) from None

    # -- writing (one committed transaction each) ------------------------------------------------
    def mark_viewed(self, key: StudyKey) -> ReadingState:
        """Viewed from now on; the first time is kept."""
        now = _now()
        return self._upsert(key, "viewed = 1, first_viewed = CASE first_viewed WHEN '' THEN ? ELSE first_viewed END",
                            (now,), now)

    def set_reviewed(self, key: StudyKey, reviewed: bool) -> ReadingState:
        """Marked reviewed (read) now, or unmarked (the time cleared); marking again keeps the first time."""
        now = _now()
        if reviewed:
            return self._upsert(key, "reviewed = CASE reviewed WHEN '' THEN ? ELSE reviewed END", (now,), now)
        return self._upsert(key, "reviewed = ''", (), now)

    def set_flagged(self, key: StudyKey, flagged: bool) -> ReadingState:
        return self._upsert(key, "flagged = ?", (int(flagged),), _now())

    def set_note(self, key: StudyKey, note: str) -> ReadingState:
        """Stores the note as `storable_text` makes it: the state returned holds the note as stored,
        which differs from `note` when characters had to be replaced."""
        note, replaced = storable_text(note)
        if replaced:
            log.warning("%s: %d character(s) of the note on %s cannot be stored and were replaced by U+FFFD",
                        self.path, replaced, key.path)
        return self._upsert(key, "note = ?", (note,), _now())

    def _upsert(self, key: StudyKey, assignments: str, values: tuple, now: str) -> ReadingState:
        for attempt in (1, 2):
            try:
                with self._transaction():
                    self._db.execute("INSERT OR IGNORE INTO reading (path, sop_uid) VALUES (?, ?)",
                                     (key.path, key.sop_uid))
                    self._db.execute(f"UPDATE reading SET {assignments}, updated = ? "
                                     "WHERE path = ? AND sop_uid = ?", (*values, now, key.path, key.sop_uid))
                break
            except sqlite3.Error as error:
                if attempt == 1 and self.fallback is not None and _read_only_error(error, self.path):
                    self._move_to_fallback()  # it stopped accepting writes: continue there, then retry
                    continue
                raise ReadingStoreError(self.path, _problem(error)) from None
            except UnicodeEncodeError as error:
                raise ReadingStoreError(self.path, _problem(error)) from None
        return self.get(key)

    # -- export ----------------------------------------------------------------------------------
    def export_csv(self, out: Path, scores: Mapping[StudyKey, Mapping[str, object]] | None = None) -> int:
        """Write every stored state, and every study in `scores`, as CSV rows sorted by path; returns
        the number of rows. `scores` adds one column per name ({key: {column: value}}, "" where a
        study lacks it). Written to a temporary file and renamed, so `out` is never half written."""
        scores = scores or {}
        states = {state.key: state for state in self.all()}
        for key in scores:
            states.setdefault(key, ReadingState(key))
        extra = sorted({name for values in scores.values() for name in values} - set(CSV_COLUMNS))
        out = Path(out)
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow([*CSV_COLUMNS, *extra])
        for key in sorted(states, key=lambda k: (k.path, k.sop_uid)):
            s = states[key]
            row = [csv_text(key.path), csv_text(key.sop_uid), int(s.viewed), int(s.flagged),
                   csv_text(s.note), s.first_viewed, s.updated, s.reviewed]
            writer.writerow(row + [_cell(scores.get(key, {}).get(name, "")) for name in extra])
        try:
            write_text_atomically(out, text.getvalue())
        except OSError as error:
            raise ReadingStoreError(out, f"cannot write the CSV: {error.strerror}") from None
        return len(states)


def _cell(value: object) -> str:
    """An extra column's cell: numbers as the program writes them, any text neutralised (`csv_text`)."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (int, bool)):
        return str(int(value))
    return csv_text(str(value))


# A study in both stores keeps the flag, note and reviewed mark of the row changed last (a tie keeps
# the one already in the target), counts as viewed if either says so, and keeps the earlier first view.
_MERGE = """
INSERT INTO reading (path, sop_uid, viewed, flagged, note, first_viewed, updated, reviewed)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (path, sop_uid) DO UPDATE SET
    viewed = max(viewed, excluded.viewed),
    flagged = CASE WHEN excluded.updated > updated THEN excluded.flagged ELSE flagged END,
    note = CASE WHEN excluded.updated > updated THEN excluded.note ELSE note END,
    reviewed = CASE WHEN excluded.updated > updated THEN excluded.reviewed ELSE reviewed END,
    first_viewed = CASE WHEN first_viewed = '' THEN excluded.first_viewed
                        WHEN excluded.first_viewed = '' THEN first_viewed
                        ELSE min(first_viewed, excluded.first_viewed) END,
    updated = max(updated, excluded.updated)
"""


def _check_store(db: sqlite3.Connection, path: Path) -> bool:
    """Raises ReadingStoreError unless `db` is an empty file or a healthy store of ours that this
    version reads; True when it holds tables."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and app_id != APPLICATION_ID:
        raise ReadingStoreError(path, "is an SQLite file of another program, not a cxrviewer reading "
                                      "store; it was left untouched")
    if version > SCHEMA_VERSION:
        raise ReadingStoreError(path, f"was written by a newer cxrviewer (schema {version}, this one "
                                      f"reads {SCHEMA_VERSION}); it was left untouched")
    check = db.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise ReadingStoreError(path, f"is damaged ({check}); it was left untouched so its notes can be "
                                      "rescued; move it aside to start a new store")
    return bool(tables)


def _has_reviewed(db: sqlite3.Connection) -> bool:
    """Whether the store's table has the reviewed column (stores written before it do not)."""
    return any(row[1] == "reviewed" for row in db.execute("PRAGMA table_info(reading)"))


def _read_only_error(error: sqlite3.Error, path: Path) -> bool:
    """True when a failed write failed because the store cannot be written: SQLite says "readonly",
    or (a journal that cannot be created, ...) the file or its folder really refuse writes."""
    return "readonly" in str(error) or (path.exists() and not store_writable(path))


def _read_only_rows(path: Path) -> list[tuple]:
    """Every row of the store `path`, opened read-only (immutable when even the shared lock fails, as
    on some read-only media); ReadingStoreError naming it when it is not a healthy store of ours."""
    problem = ""
    for query in ("mode=ro", "immutable=1"):
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True, isolation_level=None)
        except sqlite3.Error as error:
            problem = _problem(error)
            continue
        try:
            if not _check_store(db, path):
                return []
            reviewed = "reviewed" if _has_reviewed(db) else "''"
            return db.execute("SELECT path, sop_uid, viewed, flagged, note, first_viewed, updated, "
                              f"{reviewed} FROM reading").fetchall()
        except sqlite3.Error as error:
            problem = _problem(error)
        finally:
            db.close()
    raise ReadingStoreError(path, f"{problem} (it is read-only: its notes could not be carried over to the "
                                  "user data folder)")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT; on any error (a failed COMMIT included) rolled back, error propagated."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, _value, _traceback) -> None:
        try:
            if kind is None:
                self._db.execute("COMMIT")
        finally:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

"""Where a class's submissions are kept: records in SQLite, files under the class folder named by their hash.

    DIR/class.sqlite3        one row per submission (who, when, the file's SHA-256, its name, the result)
    DIR/files/<sha256>.xlsx  the workbook exactly as handed in; the student's file name is only a column,
                             never a path

A submission is acknowledged (add() returns) only once it is on disk: the file written atomically and flushed
with its folder (files.write_durably), then the row committed with `synchronous=FULL`. A crash before that
leaves at most a file no row names, which remove_orphans() deletes at the next start. A submission is
`queued` until a result is saved for it (`graded`); queued() after a restart gives what is still to grade.
"""

import hashlib
import io
import json
import re
import secrets
import sqlite3
import threading
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from xlbackprop.errors import ClassError, WorkbookError
from xlbackprop.files import sync_folder, write_durably
from xlbackprop.validate.preflight import WORKBOOK_SUFFIXES

DATABASE = "class.sqlite3"
FILES = "files"
_HASH_NAME = re.compile(r"^[0-9a-f]{64}\.(xlsx|xlsm|ods|xls|csv)$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of arrival
    id           TEXT NOT NULL UNIQUE,   -- on the receipt; random, so one receipt does not lead to another
    student_id   TEXT NOT NULL,
    submitted_at TEXT NOT NULL,          -- UTC, ISO 8601 with microseconds: sorts as text
    sha256       TEXT NOT NULL,
    suffix       TEXT NOT NULL,
    file_name    TEXT NOT NULL,          -- as the browser sent it: shown, never a path
    size         INTEGER NOT NULL,
    upload_key   TEXT,                   -- the form's one-time key: an upload sent again is kept once
    status       TEXT NOT NULL CHECK (status IN ('queued', 'graded')),
    generation   INTEGER NOT NULL DEFAULT 0,  -- bumped by a re-grade: a result for an older one is dropped
    result       TEXT,                   -- the WorkbookResult as JSON (report.json_document's shape)
    graded_at    TEXT,
    UNIQUE (student_id, upload_key)
);
CREATE INDEX IF NOT EXISTS by_student ON submissions (student_id, submitted_at);
CREATE INDEX IF NOT EXISTS by_status ON submissions (status, seq);
"""


@dataclass(frozen=True)
class Submission:
    seq: int
    id: str
    student_id: str
    submitted_at: datetime
    sha256: str
    suffix: str
    file_name: str
    size: int
    status: str
    generation: int
    result: dict | None
    graded_at: datetime | None

    @property
    def stored_name(self):
        return f"{self.sha256}{self.suffix}"

    @property
    def verdict(self):
        return None if self.result is None else self.result.get("verdict")


def utc_text(when):
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_time(text):
    """An ISO 8601 time ('2026-12-20T23:59', '2026-12-20 23:59+01:00', '...Z') as an aware datetime; a time
    without a zone is the server's local time."""
    try:
        when = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ClassError(f"{text!r}: not a date and time; write it as 2026-12-20T23:59 "
                         "(local time) or 2026-12-20T23:59+01:00") from None
    return when if when.tzinfo is not None else when.astimezone()


class Store:
    """One class's submissions. Safe to share between threads (one connection behind a lock); another process
    (a grading worker) may open the same folder: SQLite's write-ahead log lets it read while this one writes."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.files = self.folder / FILES
        try:
            self.files.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClassError(f"{self.folder}: cannot create the class folder ({exc.strerror})") from None
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.folder / DATABASE, isolation_level=None, check_same_thread=False,
                                       timeout=30)
            # WAL: graders read while an upload commits; FULL: a commit is on disk when it returns (in WAL mode
            # NORMAL would survive a crash of the program but could lose the last commits in a power cut)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")  # a deleted submission's result is overwritten, not left
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ClassError(f"{self.folder / DATABASE}: cannot open the submissions database ({exc})") from None

    def close(self):
        with self._lock:
            self._db.close()

    # -- handing in ------------------------------------------------------------------------------------------

    def add(self, student_id, data, file_name, upload_key=None, now=None):
        """Keep a submission and return its record, once it is durable. With an `upload_key` already used by
        this student (the same form sent twice, or again after a lost answer), the first record is returned
        and nothing new is kept."""
        suffix = Path(str(file_name)).suffix.lower()
        if suffix not in WORKBOOK_SUFFIXES:
            raise ClassError(f"{file_name}: not a workbook name (expected {', '.join(WORKBOOK_SUFFIXES)})")
        if upload_key is not None:
            earlier = self._by_key(student_id, upload_key)
            if earlier is not None:
                return earlier
        digest = hashlib.sha256(data).hexdigest()
        path = self.files / f"{digest}{suffix}"
        try:
            if path.exists():
                sync_folder(self.files)  # its writer may have died before flushing the folder
            else:
                write_durably(path, data)
        except WorkbookError as exc:
            raise ClassError(f"submission of {student_id} not kept: {exc}") from None
        when = utc_text(now or datetime.now(timezone.utc))
        with self._lock:
            try:
                seq = self._db.execute(
                    "INSERT INTO submissions (id, student_id, submitted_at, sha256, suffix, file_name, size, "
                    "upload_key, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued')",
                    (secrets.token_hex(8), student_id, when, digest, suffix, str(file_name)[:255], len(data),
                     upload_key)).lastrowid
            except sqlite3.IntegrityError:  # the same key, committed by a request running beside this one
                seq = None
        if seq is None:
            return self._by_key(student_id, upload_key)
        return self._one("SELECT * FROM submissions WHERE seq = ?", seq)

    def _by_key(self, student_id, upload_key):
        return self._one("SELECT * FROM submissions WHERE student_id = ? AND upload_key = ?", student_id, upload_key)

    # -- reading ---------------------------------------------------------------------------------------------

    def get(self, submission_id):
        return self._one("SELECT * FROM submissions WHERE id = ?", submission_id)

    def all(self):
        """Every submission, in the order they arrived."""
        return self._many("SELECT * FROM submissions ORDER BY seq")

    def of_student(self, student_id):
        return self._many("SELECT * FROM submissions WHERE student_id = ? ORDER BY seq", student_id)

    def queued(self):
        """Submissions without a current result, oldest first: after a restart, what is still to grade."""
        return self._many("SELECT * FROM submissions WHERE status = 'queued' ORDER BY seq")

    def counted(self, deadline=None):
        """{student ID: the submission that counts}: each student's latest, or latest before `deadline` (an
        aware datetime); a student with none before it is left out."""
        limit = "" if deadline is None else "WHERE submitted_at <= ?"
        args = () if deadline is None else (utc_text(deadline),)
        rows = self._many(f"SELECT * FROM submissions {limit} ORDER BY seq", *args)
        latest = {}
        for s in rows:
            if s.student_id not in latest or (s.submitted_at, s.seq) >= (latest[s.student_id].submitted_at,
                                                                          latest[s.student_id].seq):
                latest[s.student_id] = s
        return latest

    def path(self, submission):
        return self.files / submission.stored_name

    def read(self, submission):
        """The file's bytes, checked against the hash on the receipt."""
        try:
            data = self.path(submission).read_bytes()
        except OSError as exc:
            raise ClassError(f"submission {submission.id}: its file {submission.stored_name} cannot be read "
                             f"({exc.strerror})") from None
        if hashlib.sha256(data).hexdigest() != submission.sha256:
            raise ClassError(f"submission {submission.id}: its file {submission.stored_name} no longer matches "
                             "its hash (changed on disk)")
        return data

    # -- grading ---------------------------------------------------------------------------------------------

    def save_result(self, submission, result, now=None):
        """Store `result` (a JSON-ready dict) for the grading of `submission` given; False when the submission
        was deleted or re-queued since (its newer grading will save its own)."""
        text = json.dumps(result, ensure_ascii=False, allow_nan=False)
        when = utc_text(now or datetime.now(timezone.utc))
        with self._lock:
            cur = self._db.execute(
                "UPDATE submissions SET status = 'graded', result = ?, graded_at = ? WHERE id = ? AND generation = ?",
                (text, when, submission.id, submission.generation))
        return cur.rowcount == 1

    def requeue_all(self):
        """Mark every submission to be graded again (the assignment or the validator changed); the old result
        stays visible until the new one replaces it. Returns them, oldest first."""
        with self._lock:
            self._db.execute("UPDATE submissions SET status = 'queued', generation = generation + 1")
        return self.queued()

    # -- deleting --------------------------------------------------------------------------------------------

    def delete(self, submission_id):
        """Delete one submission and, when no other submission has the same content, its file. False when
        there is no such submission."""
        sub = self.get(submission_id)
        if sub is None:
            return False
        with self._lock:
            self._db.execute("DELETE FROM submissions WHERE id = ?", (submission_id,))
            still = self._db.execute("SELECT 1 FROM submissions WHERE sha256 = ? AND suffix = ?",
                                     (sub.sha256, sub.suffix)).fetchone()
            self._checkpoint()
        if still is None:
            self._unlink(self.path(sub))
        return True

    def delete_all(self):
        """Delete every submission of the class, records and files. Returns how many there were."""
        with self._lock:
            n = self._db.execute("DELETE FROM submissions").rowcount
            self._checkpoint()
        for path in self.files.iterdir():
            self._unlink(path)
        return n

    def remove_orphans(self):
        """Delete files no submission names (a crash between writing a file and committing its row, or between
        deleting a row and its file). Call it at start, before uploads are taken. Returns how many."""
        with self._lock:
            named = {f"{h}{s}" for h, s in self._db.execute("SELECT DISTINCT sha256, suffix FROM submissions")}
        orphans = [p for p in self.files.iterdir() if p.name not in named
                   and (_HASH_NAME.match(p.name) or p.name.endswith(".tmp"))]
        for path in orphans:
            self._unlink(path)
        return len(orphans)

    def _checkpoint(self):
        # the write-ahead log still holds the deleted rows' pages until it is copied back and emptied
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _unlink(self, path):
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ClassError(f"{path}: cannot delete ({exc.strerror})") from None
        sync_folder(path.parent)

    # -- exporting -------------------------------------------------------------------------------------------

    def zip_bytes(self, roster=None):
        """Every submission in one zip: STUDENT_ID/NNNN-TIME-FILE_NAME (names made safe for any unzip tool),
        and submissions.csv listing each with its student's name, time, hash and verdict."""
        import csv

        out = io.BytesIO()
        listing = io.StringIO()
        writer = csv.writer(listing, lineterminator="\n")
        writer.writerow(["entry", "submission_id", "student_id", "name", "submitted_at", "sha256", "file_name",
                         "status", "verdict"])
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:  # workbooks are zips already
            for s in self.all():
                when = s.submitted_at.strftime("%Y%m%dT%H%M%SZ")
                entry = f"{_safe(s.student_id)}/{s.seq:04d}-{when}-{_safe(Path(s.file_name).stem)}{s.suffix}"
                z.writestr(entry, self.read(s))
                student = roster.get(s.student_id) if roster is not None else None
                writer.writerow([entry, s.id, s.student_id, student.name if student else "", utc_text(s.submitted_at),
                                 s.sha256, s.file_name, s.status, s.verdict or ""])
            z.writestr("submissions.csv", listing.getvalue())
        return out.getvalue()

    # -- rows ------------------------------------------------------------------------------------------------

    def _one(self, sql, *args):
        found = self._many(sql, *args)
        return found[0] if found else None

    def _many(self, sql, *args):
        with self._lock:
            cur = self._db.execute(sql, args)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return [_submission(dict(zip(names, row))) for row in rows]


def _submission(row):
    return Submission(
        seq=row["seq"], id=row["id"], student_id=row["student_id"],
        submitted_at=datetime.fromisoformat(row["submitted_at"]), sha256=row["sha256"], suffix=row["suffix"],
        file_name=row["file_name"], size=row["size"], status=row["status"], generation=row["generation"],
        result=None if row["result"] is None else json.loads(row["result"]),
        graded_at=None if row["graded_at"] is None else datetime.fromisoformat(row["graded_at"]))


def _safe(text):
    """A name for inside a zip: letters, digits, '.', '-', '_' (no folders, no '..'), at most 60 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "file"
    return cleaned[:60]

"""The submission store: records in SQLite, files named by their hash, nothing acknowledged is ever lost."""

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

import pytest

from xlbackprop.errors import ClassError
from xlbackprop.submissions.roster import Roster, Student
from xlbackprop.submissions.store import DATABASE, Store, parse_time

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "class")
    yield s
    s.close()


def test_a_submission_is_kept_under_its_hash_never_under_the_students_names(store):
    data = b"PK fake workbook"
    sub = store.add("s001", data, "../../Ada Lovelace's homework.XLSX", now=T0)
    digest = hashlib.sha256(data).hexdigest()
    assert (sub.student_id, sub.sha256, sub.suffix, sub.size, sub.status) == ("s001", digest, ".xlsx", len(data),
                                                                              "queued")
    assert sub.submitted_at == T0 and sub.file_name == "../../Ada Lovelace's homework.XLSX"
    assert [p.name for p in store.files.iterdir()] == [f"{digest}.xlsx"]
    assert sorted(p.name for p in store.folder.iterdir() if not p.name.startswith(DATABASE)) == ["files"]
    assert store.read(sub) == data


def test_database_is_durable_on_commit(store):
    con = sqlite3.connect(store.folder / DATABASE)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # synchronous is per connection: the store's own must be FULL (2)
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_only_workbook_names_are_taken(store):
    with pytest.raises(ClassError, match="not a workbook name"):
        store.add("s001", b"x", "essay.docx")


def test_the_same_upload_key_keeps_one_submission(store):
    first = store.add("s001", b"one", "a.xlsx", upload_key="k1")
    again = store.add("s001", b"one", "a.xlsx", upload_key="k1")
    other = store.add("s002", b"one", "a.xlsx", upload_key="k1")  # another student's form: its own
    assert again == first and other.id != first.id
    assert len(store.all()) == 2


def test_latest_before_the_deadline_counts(store):
    store.add("s001", b"early", "a.xlsx", now=T0)
    on_time = store.add("s001", b"on time", "a.xlsx", now=T0 + timedelta(hours=1))
    late = store.add("s001", b"late", "a.xlsx", now=T0 + timedelta(hours=3))
    only_late = store.add("s002", b"late too", "b.xlsx", now=T0 + timedelta(hours=3))
    deadline = T0 + timedelta(hours=2)
    assert store.counted() == {"s001": late, "s002": only_late}
    assert store.counted(deadline) == {"s001": on_time}
    assert [s.id for s in store.of_student("s001")][-1] == late.id


def test_deadline_times_are_read_with_their_zone():
    assert parse_time("2026-12-20T23:59+01:00") == datetime(2026, 12, 20, 22, 59, tzinfo=timezone.utc)
    assert parse_time("2026-12-20T23:59Z") == datetime(2026, 12, 20, 23, 59, tzinfo=timezone.utc)
    assert parse_time("2026-12-20 23:59").tzinfo is not None  # the server's local time
    with pytest.raises(ClassError, match="not a date and time"):
        parse_time("friday")


def test_results_are_saved_and_a_regrade_queues_everything_again(store):
    a = store.add("s001", b"a", "a.xlsx")
    b = store.add("s002", b"b", "b.xlsx")
    assert [s.id for s in store.queued()] == [a.id, b.id]
    assert store.save_result(a, {"verdict": "correct"})
    assert [s.id for s in store.queued()] == [b.id]
    assert store.get(a.id).result == {"verdict": "correct"} and store.get(a.id).status == "graded"
    requeued = store.requeue_all()
    assert [s.id for s in requeued] == [a.id, b.id]
    assert store.get(a.id).result == {"verdict": "correct"}  # still shown until the new grading replaces it
    # a grading that started before the re-grade does not count: the re-grade's own will
    assert not store.save_result(a, {"verdict": "wrong"})
    assert store.save_result(requeued[0], {"verdict": "wrong"})
    assert store.get(a.id).result == {"verdict": "wrong"}


def test_a_result_for_a_deleted_submission_is_dropped(store):
    a = store.add("s001", b"a", "a.xlsx")
    assert store.delete(a.id)
    assert not store.save_result(a, {"verdict": "correct"})
    assert not store.delete(a.id)


def test_deleting_one_submission_removes_its_file_unless_another_has_the_same_content(store):
    a = store.add("s001", b"same", "a.xlsx")
    b = store.add("s002", b"same", "b.xlsx")
    store.delete(a.id)
    assert store.path(b).exists() and store.read(b) == b"same"
    store.delete(b.id)
    assert not store.path(b).exists() and store.all() == []


def test_deleting_the_class_removes_every_record_and_file_and_leaves_no_trace_in_the_database(store):
    for i in range(5):
        store.add(f"s{i}", f"data {i}".encode(), "x.xlsx")
    store.save_result(store.all()[0], {"verdict": "wrong", "secret": "UNIQUE-MARKER-1234"})
    assert store.delete_all() == 5
    assert store.all() == [] and list(store.files.iterdir()) == []
    for name in os.listdir(store.folder):  # secure_delete and a checkpoint: the result's text is gone
        if name.startswith(DATABASE):
            assert b"UNIQUE-MARKER-1234" not in (store.folder / name).read_bytes()


def test_orphan_files_from_a_crash_are_removed_at_start(store):
    kept = store.add("s001", b"kept", "a.xlsx")
    orphan = store.files / (hashlib.sha256(b"orphan").hexdigest() + ".xlsx")
    orphan.write_bytes(b"orphan")
    (store.files / ".abc.xlsx.x1.tmp").write_bytes(b"half")
    assert store.remove_orphans() == 2
    assert [p.name for p in store.files.iterdir()] == [kept.stored_name]


def test_a_file_changed_on_disk_is_refused(store):
    sub = store.add("s001", b"original", "a.xlsx")
    store.path(sub).write_bytes(b"tampered")
    with pytest.raises(ClassError, match="no longer matches its hash"):
        store.read(sub)


def test_zip_holds_every_submission_under_safe_names_and_a_listing(store):
    store.add("s001", b"one", "Ada's/../work.xlsx", now=T0)
    store.add("../s002", b"two", "b.xlsm", now=T0)
    roster = Roster([Student("s001", "Ada", "abcd1234")])
    z = zipfile.ZipFile(BytesIO(store.zip_bytes(roster)))
    names = z.namelist()
    assert names[:2] == ["s001/0001-20261201T090000Z-work.xlsx", "s002/0002-20261201T090000Z-b.xlsm"]
    assert z.read(names[0]) == b"one"
    listing = z.read("submissions.csv").decode().splitlines()
    assert listing[1].split(",")[2:4] == ["s001", "Ada"]


def test_the_store_reopens_with_everything_in_it(tmp_path):
    s = Store(tmp_path / "c")
    sub = s.add("s001", b"x", "a.xlsx")
    s.save_result(sub, {"verdict": "correct"})
    s.close()
    again = Store(tmp_path / "c")
    assert again.get(sub.id).result == {"verdict": "correct"}
    again.close()


WRITER = """
import sys
from xlbackprop.submissions.store import Store
store = Store(sys.argv[1])
i = 0
while True:
    sub = store.add(f"s{i % 30:03d}", f"workbook {i}".encode() * 200, f"w{i}.xlsx", upload_key=f"k{i}")
    print(sub.id, sub.sha256, flush=True)  # acknowledged: from here on it must survive
    i += 1
"""


@pytest.mark.slow
def test_sigkill_while_adding_loses_no_acknowledged_submission(tmp_path):
    folder = tmp_path / "class"
    acknowledged = []
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        time.sleep(1.5 + 0.3 * round_)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged += [line.split() for line in out.splitlines() if len(line.split()) == 2]
    assert len(acknowledged) > 10
    store = Store(folder)
    store.remove_orphans()
    kept = {s.id: s for s in store.all()}
    for sub_id, digest in acknowledged:
        assert sub_id in kept and kept[sub_id].sha256 == digest
        assert hashlib.sha256(store.read(kept[sub_id])).hexdigest() == digest
    named = {s.stored_name for s in kept.values()}
    assert {p.name for p in store.files.iterdir()} == named  # every file belongs to a record
    store.close()

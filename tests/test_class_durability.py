"""Nothing acknowledged is lost: `serve --class` killed with SIGKILL while an upload is arriving and while
workbooks are being graded, then restarted; every submission that got a receipt is there, graded or queued
again, and then graded."""

import time

import pytest

from tests.class_helpers import ClassServer, hand_in, make_roster, start_partial_upload
from tests.wb_fixtures import Layout, simulate, write_workbook
from xlbackprop.submissions.store import Store


def workbook_bytes(tmp_path, i):
    """A distinct correct or wrong workbook per i (the learning rate differs), so each has its own hash."""
    mistakes = {"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2} if i % 2 else None
    rows = simulate(rows=4, lr=0.1 + i / 100, mistakes=mistakes)
    return write_workbook(tmp_path / f"w{i}.xlsx", {"Sheet1": [Layout(rows=rows, lr=0.1 + i / 100)]}).read_bytes()


@pytest.mark.slow
def test_sigkill_mid_upload_and_mid_validation_loses_no_acknowledged_submission(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    students = make_roster(folder / "roster.csv", 4)
    server = ClassServer(folder, tmp_path / "serve.log").start()
    acknowledged = {}
    try:
        for i in range(8):
            status, receipt = hand_in(server.url, students[i % 4], workbook_bytes(tmp_path, i), name=f"w{i}.xlsx")
            assert status == 303, status
            acknowledged[receipt] = students[i % 4].id
        hanging = start_partial_upload(server.url, students[0], workbook_bytes(tmp_path, 99))
        time.sleep(0.5)
        server.kill()  # the upload half sent, grading going on (8 workbooks on one worker take seconds)
        hanging.close()
    finally:
        server.stop()

    store = Store(folder)
    kept = {s.id: s for s in store.all()}
    assert set(acknowledged) <= set(kept)
    assert {kept[r].student_id for r in acknowledged} == set(acknowledged.values())
    assert any(s.status == "queued" for s in kept.values()), "the kill came after grading ended: nothing tested"
    assert all(s.file_name != "partial.xlsx" for s in kept.values())  # never acknowledged, never kept
    store.close()

    server = ClassServer(folder, tmp_path / "serve.log").start()
    try:
        end = time.monotonic() + 180
        while True:
            store = Store(folder)
            subs = store.all()
            store.close()
            if all(s.status == "graded" for s in subs):
                break
            assert time.monotonic() < end, "not all re-queued submissions were graded after the restart"
            time.sleep(0.5)
    finally:
        server.stop()
    assert {s.id for s in subs} == set(acknowledged)  # nothing lost, nothing doubled
    assert sorted(s.verdict for s in subs) == ["correct"] * 4 + ["wrong"] * 4

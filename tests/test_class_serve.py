"""`serve --class`: the hand-in form, the receipt, the teacher's pages, in-process (Starlette's TestClient, the
real validator in the grading workers)."""

import csv
import io
import re
import time
import zipfile
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from starlette.testclient import TestClient

from tests.wb_fixtures import Layout, simulate, write_workbook
from xlbackprop.serve.class_app import TEACHER_COOKIE, WRONG_LOGIN, ClassConfig, create_class_app
from xlbackprop.submissions.roster import Roster, Student
from xlbackprop.submissions.throttle import FREE_FAILURES

ROSTER = Roster([Student("s001", "Ada Lovelace", "abcd-1234", section="A"),
                 Student("s002", "Alan Turing", "efgh-5678"),
                 Student("s003", "Carol <b>Shaw</b>", "ijkl-9012")])


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("books")
    right = write_workbook(folder / "right.xlsx", {"Sheet1": [Layout(rows=simulate(rows=4))]})
    rows = simulate(rows=4, mistakes={"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2})
    wrong = write_workbook(folder / "wrong.xlsx", {"Sheet1": [Layout(rows=rows)]})
    return {"right": right.read_bytes(), "wrong": wrong.read_bytes()}


def make_client(tmp_path, **options):
    config = ClassConfig(folder=tmp_path / "class", roster=ROSTER, **options)
    return TestClient(create_class_app(config), base_url="http://127.0.0.1"), config


def hand_in(client, student_id, code, data, name="backprop.xlsx", key=None):
    fields = {"student_id": student_id, "code": code}
    if key:
        fields["upload_key"] = key
    return client.post("/submit", data=fields, files={"workbook": (name, data)}, follow_redirects=False)


def graded(client, location, timeout=120):
    end = time.monotonic() + timeout
    while True:
        page = client.get(location).text
        if 'id="grading"' not in page:
            return page
        assert time.monotonic() < end, "not graded in time"
        time.sleep(0.3)


def login(client):
    token = client.app.state.token
    r = client.post("/teacher/login", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/teacher").text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def test_a_wrong_code_or_unknown_id_is_refused_alike_and_repeats_slow_down(tmp_path, books):
    client, _ = make_client(tmp_path)
    with client:
        wrong_code = hand_in(client, "s001", "efgh-5678", books["right"])
        unknown = hand_in(client, "s999", "abcd-1234", books["right"])
        assert wrong_code.status_code == unknown.status_code == 403
        assert WRONG_LOGIN in wrong_code.text and WRONG_LOGIN in unknown.text
        for _ in range(FREE_FAILURES):
            hand_in(client, "s002", "nope-nope", books["right"])
        slowed = hand_in(client, "s001", "abcd-1234", books["right"])  # even the right code must wait now
        assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
        assert "wait" in slowed.text
        assert client.app.state.store.all() == []  # nothing was kept


def test_receipt_gives_id_hash_and_time_then_the_result(tmp_path, books):
    import hashlib

    client, _ = make_client(tmp_path)
    with client:
        r = hand_in(client, "s002", "efgh-5678", books["wrong"], name="Alan's work.xlsx")
        assert r.status_code == 303
        page = client.get(r.headers["location"]).text
        sub = client.app.state.store.all()[0]
        assert sub.id in page and hashlib.sha256(books["wrong"]).hexdigest() in page
        assert sub.submitted_at.strftime("%Y-%m-%d %H:%M:%S") in page
        page = graded(client, r.headers["location"])
        assert 'id="verdict">WRONG' in page and "First error" in page and "E1" in page
        assert '<td class="wrong" data-cell=' in page  # the table's grid, the wrong cell marked


def test_the_same_form_sent_twice_is_kept_once(tmp_path, books):
    client, _ = make_client(tmp_path)
    with client:
        first = hand_in(client, "s001", "abcd-1234", books["right"], key="form-1")
        again = hand_in(client, "s001", "abcd-1234", books["right"], key="form-1")
        assert first.headers["location"] == again.headers["location"]
        assert len(client.app.state.store.all()) == 1


def test_not_a_workbook_is_refused_before_it_is_kept(tmp_path):
    client, _ = make_client(tmp_path)
    with client:
        r = hand_in(client, "s001", "abcd-1234", b"%PDF-1.4 essay", name="essay.xlsx")
        assert r.status_code == 415 and client.app.state.store.all() == []


def test_a_sheet_saved_as_csv_is_handed_in_and_graded(tmp_path):
    from tests.test_validate_csv import write_csv

    data = write_csv(tmp_path / "mine.csv", simulate(rows=4)).read_bytes()
    client, _ = make_client(tmp_path)
    with client:
        r = hand_in(client, "s001", "abcd-1234", data, name="mine.csv")
        assert r.status_code == 303
        assert 'id="verdict">CORRECT' in graded(client, r.headers["location"])
        assert client.app.state.store.all()[0].suffix == ".csv"


def test_verdict_feedback_shows_only_the_verdict_until_the_deadline(tmp_path, books):
    now = [datetime(2026, 12, 1, 12, tzinfo=timezone.utc)]
    client, config = make_client(tmp_path, feedback="verdict", deadline=now[0] + timedelta(hours=1),
                                 clock=lambda: now[0])
    with client:
        r = hand_in(client, "s001", "abcd-1234", books["wrong"])
        page = graded(client, r.headers["location"])
        assert 'id="verdict">WRONG' in page and 'id="verdict-only"' in page and "First error" not in page
        assert 'class="wrong"' not in page
        now[0] += timedelta(hours=2)
        page = client.get(r.headers["location"]).text
        assert "First error" in page and 'id="verdict-only"' not in page


def test_teacher_pages_need_the_token(tmp_path):
    client, _ = make_client(tmp_path)
    with client:
        assert 'id="login"' in client.get("/teacher").text
        assert client.get("/teacher/gradebook-canvas.csv").status_code == 403
        assert client.post("/teacher/login", data={"token": "guess"}).status_code == 403
        client.cookies.set(TEACHER_COOKIE, "1999999999.forged", path="/teacher")
        assert client.get("/teacher/submissions.zip").status_code == 403


def test_teacher_forms_need_the_csrf_token(tmp_path, books):
    client, _ = make_client(tmp_path)
    with client:
        hand_in(client, "s001", "abcd-1234", books["right"])
        csrf = login(client)
        sub = client.app.state.store.all()[0]
        assert client.post(f"/teacher/delete/{sub.id}", data={}).status_code == 403
        assert client.post(f"/teacher/delete/{sub.id}", data={"csrf": "0" * 32}).status_code == 403
        assert client.app.state.store.get(sub.id) is not None
        r = client.post(f"/teacher/delete/{sub.id}", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and client.app.state.store.get(sub.id) is None


def test_class_table_gradebooks_zip_regrade_and_deletion(tmp_path, books):
    client, _ = make_client(tmp_path, points=10, title="Backprop (42)")
    with client:
        for sid, code, data in [("s001", "abcd-1234", books["right"]), ("s002", "efgh-5678", books["wrong"])]:
            graded(client, hand_in(client, sid, code, data).headers["location"])
        csrf = login(client)
        page = client.get("/teacher").text
        assert "Ada Lovelace" in page and "Carol &lt;b&gt;Shaw&lt;/b&gt;" in page  # the roster, escaped
        assert "no submission" in page and 'id="mistakes-chart"' in page
        assert 'id="done"' not in client.get("/teacher?done=Your+token+expired,+enter+it+at+evil.example").text
        canvas = list(csv.reader(io.StringIO(client.get("/teacher/gradebook-canvas.csv").text)))
        assert canvas[0][-1] == "Backprop (42)"
        assert [row[2:] for row in canvas[2:]] == [["s001", "", "A", "10"], ["s002", "", "", "0"], ["s003", "", "", ""]]
        moodle = list(csv.DictReader(io.StringIO(client.get("/teacher/gradebook-moodle.csv").text)))
        assert [(m["ID number"], m["Backprop (42)"]) for m in moodle] == [("s001", "10"), ("s002", "0"), ("s003", "")]
        xlsx = openpyxl.load_workbook(io.BytesIO(client.get("/teacher/gradebook.xlsx").content))
        assert xlsx.sheetnames == ["Grades", "Class"]
        z = zipfile.ZipFile(io.BytesIO(client.get("/teacher/submissions.zip").content))
        assert len([n for n in z.namelist() if n.endswith(".xlsx")]) == 2
        r = client.post("/teacher/regrade", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and "re-grading 2" in client.get(r.headers["location"]).text
        end = time.monotonic() + 120
        while client.app.state.store.queued():
            assert time.monotonic() < end
            time.sleep(0.3)
        assert client.post("/teacher/delete-all", data={"csrf": csrf, "confirm": "no"},
                           follow_redirects=True).text.count("nothing deleted") == 1
        client.post("/teacher/delete-all", data={"csrf": csrf, "confirm": "delete all"})
        assert client.app.state.store.all() == [] and list(client.app.state.store.files.iterdir()) == []


def test_wrong_teacher_tokens_slow_down(tmp_path):
    client, _ = make_client(tmp_path)
    with client:
        for _ in range(FREE_FAILURES + 1):
            assert client.post("/teacher/login", data={"token": "guess"}).status_code == 403
        slowed = client.post("/teacher/login", data={"token": client.app.state.token})
        assert slowed.status_code == 429 and "Retry-After" in slowed.headers


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_cookies_are_marked_secure_exactly_when_the_page_came_over_tls(tmp_path, scheme):
    """Behind a TLS proxy uvicorn sees https (X-Forwarded-Proto); the cookies must then never go over plain HTTP."""
    from xlbackprop.serve.app import COOKIE, create_app

    config = ClassConfig(folder=tmp_path / "class", roster=ROSTER)
    with TestClient(create_class_app(config), base_url=f"{scheme}://127.0.0.1") as teacher:
        r = teacher.post("/teacher/login", data={"token": teacher.app.state.token}, follow_redirects=False)
        teacher_cookie = r.headers["set-cookie"]
    with TestClient(create_app(tmp_path / "uploads", workers=1), base_url=f"{scheme}://127.0.0.1") as student:
        student_cookie = student.get("/").headers["set-cookie"]
    assert teacher_cookie.startswith(TEACHER_COOKIE + "=") and student_cookie.startswith(COOKIE + "=")
    for cookie in (teacher_cookie, student_cookie):
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags
        assert ("secure" in flags) == (scheme == "https")

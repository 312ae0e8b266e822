"""`xlbackprop serve --class DIR`: a class hands in its workbooks, each kept, graded, and shown to the teacher.

Routes:
  GET  /                            the hand-in form: student ID, personal code, workbook
  POST /submit                      check the ID and code, keep the workbook (durably), queue its grading,
                                    redirect (303) to the receipt
  GET  /receipt/{id}                the receipt (submission id, SHA-256, time) and, once graded, the result as
                                    --feedback allows; it refreshes itself while the workbook waits
  GET  /teacher                     the token form, or (logged in) the class table and the Class report
  POST /teacher/login, /teacher/logout
  GET  /teacher/submission/{id}     a submission's full result;  .../file: the workbook as handed in
  GET  /teacher/gradebook-canvas.csv, /teacher/gradebook-moodle.csv, /teacher/gradebook.xlsx,
       /teacher/submissions.zip
  POST /teacher/delete/{id}, /teacher/delete-all, /teacher/regrade   (each form carries a CSRF token)

Safety: a wrong ID or code is refused without saying which part was wrong, and repeated failures from one
address or at one ID must wait longer each time (submissions/throttle.py); the teacher's token is compared in
constant time and its login sets a signed cookie (HttpOnly, SameSite=Strict, path /teacher) that expires;
every teacher form carries a token derived from that cookie (CSRF). A submission is acknowledged (the receipt)
only once the store has it on disk.
"""

import hashlib
import hmac
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from xlbackprop.errors import ClassError
from xlbackprop.serve.app import FORM_OVERHEAD, SECURITY_HEADERS, cookie_flags, declared_length, read_form
from xlbackprop.serve.class_grading import GradingQueue
from xlbackprop.serve.class_view import class_report, result_view
from xlbackprop.serve.limits import MB, Refused
from xlbackprop.submissions import gradebook
from xlbackprop.submissions.store import Store, WORKBOOK_SUFFIXES
from xlbackprop.submissions.throttle import Throttle
from xlbackprop.submissions.token import teacher_token, token_matches
from xlbackprop.validate.preflight import OLE2_MAGIC, ZIP_MAGIC, is_csv_text

HERE = Path(__file__).parent
TEACHER_COOKIE = "xlbackprop_teacher"
TEACHER_HOURS = 12          # a teacher's login lasts this long
REFRESH_SECONDS = 2
WRONG_LOGIN = "The student ID or the personal code is not right. Check both and try again."


@dataclass
class ClassConfig:
    folder: Path                  # DIR: the store, the files, the teacher's token
    roster: object                # submissions.roster.Roster
    deadline: datetime | None = None
    feedback: str = "full"        # "full" or "verdict" (the verdict alone until the deadline)
    assignment: object = None     # the Spec every submission is graded against
    points: float = 1.0
    title: str = "Backprop workbook"  # the assignment's column in the gradebooks
    upload_bytes: int = 20 * MB
    workers: int = 1
    limits: object = None         # validate.limits.Limits: CPU and memory per workbook, in the grading workers
    clock: object = None          # () -> aware datetime; the tests move time past the deadline

    def now(self):
        return self.clock() if self.clock else datetime.now(timezone.utc)

    def past_deadline(self):
        return self.deadline is not None and self.now() > self.deadline


def create_class_app(config):
    store = Store(config.folder)
    token = teacher_token(config.folder)
    grading = GradingQueue(store, config.assignment, config.workers, config.limits)
    throttle = Throttle()
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))

    def page(name, status=200, headers=None, **context):
        body = templates.get_template(name).render(config=config, max_mb=config.upload_bytes / MB, **context)
        return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})

    # -- students --------------------------------------------------------------------------------------------

    async def index(request):
        return page("class_submit.html", upload_key=_new_key())

    async def submit(request):
        try:
            sub = await _receive(request, config, store, throttle)
        except Refused as refused:
            headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else None
            return page("class_submit.html", status=refused.status, headers=headers, error=str(refused),
                        upload_key=_new_key())
        grading.put(sub.id)
        return RedirectResponse(f"/receipt/{sub.id}", status_code=303, headers=SECURITY_HEADERS)

    async def receipt(request):
        sub = await run_in_threadpool(store.get, request.path_params["id"])
        if sub is None:
            return page("class_submit.html", status=404, upload_key=_new_key(),
                        error="No such submission. Check the link on your receipt; the teacher may have deleted it.")
        full = config.feedback == "full" or config.past_deadline()
        view = result_view(sub.result, full) if sub.result is not None else None
        student = config.roster.get(sub.student_id)
        late = config.deadline is not None and sub.submitted_at > config.deadline
        return page("class_receipt.html", sub=sub, view=view, student=student, late=late,
                    refresh=REFRESH_SECONDS if sub.status == "queued" else None)

    # -- the teacher -----------------------------------------------------------------------------------------

    def teacher_session(request):
        """The login cookie's value when it is genuine and fresh, else None."""
        cookie = request.cookies.get(TEACHER_COOKIE, "")
        issued, _, signature = cookie.partition(".")
        if not issued.isdigit() or time.time() - int(issued) > TEACHER_HOURS * 3600:
            return None
        return cookie if hmac.compare_digest(signature, _sign(token, f"teacher:{issued}")) else None

    def csrf_for(session):
        return _sign(token, f"csrf:{session}")[:32]

    def teacher_only(handler):
        async def guarded(request):
            session = teacher_session(request)
            if session is None:
                if request.method == "GET" and request.url.path == "/teacher":
                    return page("class_login.html")
                return page("class_login.html", status=403, error="Log in with the teacher's token first.")
            if request.method == "POST":
                form = await request.form(max_files=0, max_fields=8)
                if not hmac.compare_digest(str(form.get("csrf", "")), csrf_for(session)):
                    return page("class_login.html", status=403,
                                error="This form has expired (or came from another site). Go back to the class "
                                      "page and try again.")
                request.state.form = form
            request.state.csrf = csrf_for(session)
            return await handler(request)
        return guarded

    async def login(request):
        address = _address(request)
        wait = throttle.wait(address)
        if wait:
            return page("class_login.html", status=429, headers={"Retry-After": str(int(wait) + 1)},
                        error=f"Too many wrong tokens from here: wait {int(wait) + 1} s and try again.")
        form = await request.form(max_files=0, max_fields=4)
        if not token_matches(form.get("token", ""), token):
            throttle.failed(address)
            return page("class_login.html", status=403, error="That is not the teacher's token.")
        throttle.succeeded(address)
        issued = str(int(time.time()))
        response = RedirectResponse("/teacher", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(TEACHER_COOKIE, f"{issued}.{_sign(token, f'teacher:{issued}')}",
                            max_age=TEACHER_HOURS * 3600, path="/teacher", samesite="strict", **cookie_flags(request))
        return response

    async def logout(request):
        response = RedirectResponse("/teacher", status_code=303, headers=SECURITY_HEADERS)
        response.delete_cookie(TEACHER_COOKIE, path="/teacher")
        return response

    async def dashboard(request):
        grades = await run_in_threadpool(gradebook.grades, config.roster, store, config.deadline, config.points)
        every = await run_in_threadpool(store.all)
        report = class_report([g.submission.result for g in grades if g.submission and g.submission.result])
        counted = {g.submission.id for g in grades if g.submission}
        names = {s.id: s.name for s in config.roster}
        queued = sum(s.status == "queued" for s in every)
        return page("class_teacher.html", grades=grades, every=every, report=report, counted=counted, names=names,
                    queued=queued, csrf=request.state.csrf, message=_done_message(request.query_params))

    async def submission(request):
        sub = await run_in_threadpool(store.get, request.path_params["id"])
        if sub is None:
            return page("class_login.html", status=404, error="No such submission (deleted?).")
        view = result_view(sub.result, True) if sub.result is not None else None
        return page("class_result.html", sub=sub, view=view, student=config.roster.get(sub.student_id),
                    csrf=request.state.csrf)

    async def submission_file(request):
        sub = await run_in_threadpool(store.get, request.path_params["id"])
        if sub is None:
            return page("class_login.html", status=404, error="No such submission (deleted?).")
        data = await run_in_threadpool(store.read, sub)
        return _download(data, f"{_ascii(sub.student_id)}-{sub.seq}{sub.suffix}", "application/octet-stream")

    async def download(request):
        kind = request.path_params["kind"]
        if kind == "submissions.zip":
            data = await run_in_threadpool(store.zip_bytes, config.roster)
            return _download(data, "submissions.zip", "application/zip")
        grades = await run_in_threadpool(gradebook.grades, config.roster, store, config.deadline, config.points)
        if kind == "gradebook-canvas.csv":
            data = gradebook.canvas_csv(grades, config.title, config.points).encode("utf-8")
        elif kind == "gradebook-moodle.csv":
            data = gradebook.moodle_csv(grades, config.title).encode("utf-8")
        elif kind == "gradebook.xlsx":
            data = await run_in_threadpool(gradebook.gradebook_xlsx, grades, config.title, config.points)
        else:
            return page("class_login.html", status=404, error="No such download.")
        media = "text/csv; charset=utf-8" if kind.endswith(".csv") else \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return _download(data, kind, media)

    async def delete(request):
        found = await run_in_threadpool(store.delete, request.path_params["id"])
        return _back("deleted" if found else "gone")

    async def delete_all(request):
        if request.state.form.get("confirm", "").strip().lower() != "delete all":
            return _back("unconfirmed")
        n = await run_in_threadpool(store.delete_all)
        return _back("deleted-all", n)

    async def regrade(request):
        n = await run_in_threadpool(grading.regrade_all)
        return _back("regrading", n)

    @asynccontextmanager
    async def lifespan(app):
        await grading.start()
        try:
            yield
        finally:
            await grading.stop()
            store.close()

    app = Starlette(routes=[
        Route("/", index),
        Route("/submit", submit, methods=["POST"]),
        Route("/receipt/{id}", receipt),
        Route("/teacher", teacher_only(dashboard)),
        Route("/teacher/login", login, methods=["POST"]),
        Route("/teacher/logout", logout, methods=["POST"]),
        Route("/teacher/submission/{id}", teacher_only(submission)),
        Route("/teacher/submission/{id}/file", teacher_only(submission_file)),
        Route("/teacher/delete/{id}", teacher_only(delete), methods=["POST"]),
        Route("/teacher/delete-all", teacher_only(delete_all), methods=["POST"]),
        Route("/teacher/regrade", teacher_only(regrade), methods=["POST"]),
        Route("/teacher/{kind}", teacher_only(download)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ], lifespan=lifespan)
    app.state.store, app.state.grading, app.state.token = store, grading, token
    return app


async def _receive(request, config, store, throttle):
    """Check the student and keep the workbook: the Submission, or Refused saying why not."""
    address = _address(request)
    if declared_length(request) > config.upload_bytes + FORM_OVERHEAD:
        raise Refused(f"This file is larger than {config.upload_bytes / MB:g} MB, the limit here.", 413)
    form = await read_form(request, max_fields=6)
    try:
        student_id = str(form.get("student_id", "")).strip()
        keys = (address, f"id:{student_id}")
        wait = throttle.wait(*keys)
        if wait:
            raise Refused(f"Too many wrong attempts: wait {int(wait) + 1} s and try again.", 429,
                          retry_after=int(wait) + 1)
        student = config.roster.check(student_id, str(form.get("code", "")))
        if student is None:
            throttle.failed(*keys)
            raise Refused(WRONG_LOGIN, 403)
        throttle.succeeded(*keys)
        upload = form.get("workbook")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Refused("Choose a workbook first.", 400)
        data = await upload.read(config.upload_bytes + 1)
        if not data:
            raise Refused("The file is empty (0 bytes).", 400)
        if len(data) > config.upload_bytes:
            raise Refused(f"This file is larger than {config.upload_bytes / MB:g} MB, the limit here.", 413)
        named = Path(upload.filename).suffix.lower() in WORKBOOK_SUFFIXES
        spreadsheet = data.startswith((ZIP_MAGIC, OLE2_MAGIC)) or is_csv_text(upload.filename, data[:4096])
        if not named or not spreadsheet:
            raise Refused("This file is not a workbook. Hand in an Excel (.xlsx, .xlsm, .xls) or LibreOffice "
                          "(.ods) spreadsheet, or a sheet saved as text (.csv, .tsv, .txt).", 415)
        key = str(form.get("upload_key", ""))[:64] or None
        try:
            return await run_in_threadpool(store.add, student.id, data, upload.filename, key)
        except ClassError as exc:
            raise Refused(f"Your workbook could not be kept ({exc}); it was NOT handed in. Tell your teacher.",
                          500) from None
    finally:
        await form.close()


def _address(request):
    return request.client.host if request.client else "unknown"


def _new_key():
    """The form's one-time upload key: the same form sent twice (a retry) is kept once."""
    return secrets.token_urlsafe(16)


def _sign(token, text):
    return hmac.new(token.encode(), text.encode(), hashlib.sha256).hexdigest()


def _ascii(text):
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in text)[:40] or "student"


def _download(data, filename, media_type):
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(data, media_type=media_type, headers=headers)


# what the class page says after a form; the redirect names one of these, so a link cannot put words there
DONE = {"deleted": "deleted 1 submission", "gone": "that submission was already deleted",
        "unconfirmed": "nothing deleted: type 'delete all' in the box to delete the whole class",
        "deleted-all": "deleted all {n} submissions", "regrading": "re-grading {n} submissions"}


def _back(done, n=0):
    return RedirectResponse(f"/teacher?done={done}&n={n}", status_code=303, headers=SECURITY_HEADERS)


def _done_message(query):
    n = query.get("n", "0")
    message = DONE.get(query.get("done", ""))
    return message.format(n=int(n) if n.isdigit() else 0) if message else None

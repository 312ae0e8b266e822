"""The routes of `xlbackprop serve`.

Starlette on uvicorn: an asynchronous server holds many uploads and waiting result pages at the cost of a
coroutine each, while the validation itself runs in worker processes (jobs.py); both are small and well
kept. Pages are rendered on the server with Jinja2 (autoescaping on: every text from a workbook is
untrusted) and work without JavaScript: the form posts, and the result page refreshes itself until the
result is there. static/page.js only adds the drop zone and live progress.

Routes:
  GET  /                          the upload form
  POST /check                     receive a workbook, queue it, redirect (303) to its result page
  GET  /result/{id}               the result (refreshes itself while the workbook waits or is checked)
  GET  /result/{id}/state         the same job's progress as JSON, for page.js
  GET  /result/{id}/annotated     the annotated copy, as a download
A result is served only to the browser session (cookie) that sent the workbook.
"""

import secrets
import shutil
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from xlbackprop.serve.jobs import JobQueue
from xlbackprop.serve.limits import MB, Refused, ServeLimits, safe_stem, workbook_suffix
from xlbackprop.serve.view import result_view

HERE = Path(__file__).parent
COOKIE = "xlbackprop_session"
FORM_OVERHEAD = 64 * 1024  # multipart headers and the boundary around the file
DRAIN_FACTOR = 4           # an oversized upload is read (and dropped) up to this many times the limit
REFRESH_SECONDS = 2
SECURITY_HEADERS = {
    # nothing is fetched from elsewhere, no inline script: a workbook's text cannot become code
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # result URLs are secrets
    "Cache-Control": "no-store",
}


def create_app(uploads, workers=2, limits=None):
    """The application; `uploads`: the folder uploads and annotated copies are kept in."""
    limits = limits or ServeLimits()
    queue = JobQueue(uploads, workers, limits)
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))

    def page(request, name, status=200, **context):
        session = _session(request)
        body = templates.get_template(name).render(limits=limits, max_mb=limits.upload_bytes / MB, **context)
        response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
        if request.cookies.get(COOKIE) != session:
            response.set_cookie(COOKIE, session, samesite="lax", **cookie_flags(request))
        return response

    async def index(request):
        return page(request, "index.html")

    async def check(request):
        session = _session(request)
        try:
            job = await _receive(request, session, queue, limits)
        except Refused as refused:
            response = page(request, "index.html", status=refused.status, error=str(refused))
            if refused.retry_after:
                response.headers["Retry-After"] = str(refused.retry_after)
            return response
        response = RedirectResponse(f"/result/{job.id}", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(COOKIE, session, samesite="lax", **cookie_flags(request))
        return response

    def job_or_404(request):
        return queue.get(request.path_params["id"], request.cookies.get(COOKIE))

    async def result(request):
        job = job_or_404(request)
        if job is None:
            return page(request, "index.html", status=404, error="No such result: results are kept for "
                        f"{limits.keep_seconds // 60} minutes, and only for the browser that sent the workbook.")
        if job.state != "done":
            return page(request, "waiting.html", job=job, position=queue.position(job), refresh=REFRESH_SECONDS)
        return page(request, "result.html", job=job, view=result_view(job))

    async def state(request):
        job = job_or_404(request)
        if job is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=SECURITY_HEADERS)
        return JSONResponse({"state": job.state, "position": queue.position(job)}, headers=SECURITY_HEADERS)

    async def annotated(request):
        job = job_or_404(request)
        if job is None or job.annotated is None or not Path(job.annotated).exists():
            return page(request, "index.html", status=404, error="No annotated copy here.")
        return FileResponse(job.annotated, filename=job.download_name, headers=SECURITY_HEADERS,
                            media_type="application/octet-stream", content_disposition_type="attachment")

    @asynccontextmanager
    async def lifespan(app):
        await queue.start()
        try:
            yield
        finally:
            await queue.stop()

    app = Starlette(routes=[
        Route("/", index),
        Route("/check", check, methods=["POST"]),
        Route("/result/{id}", result),
        Route("/result/{id}/state", state),
        Route("/result/{id}/annotated", annotated),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ], lifespan=lifespan)
    app.state.queue = queue
    return app


def cookie_flags(request):
    """HttpOnly always; Secure when the page came over TLS. Behind a reverse proxy on loopback, uvicorn takes
    the scheme from its X-Forwarded-Proto header, so the browser never sends the cookie over plain HTTP."""
    return {"httponly": True, "secure": request.url.scheme == "https"}


def _session(request):
    """The browser's session id from its cookie, or a new one (set on the response)."""
    cookie = request.cookies.get(COOKIE, "")
    if len(cookie) == 43 and cookie.replace("-", "").replace("_", "").isalnum():
        return cookie
    if not hasattr(request.state, "new_session"):
        request.state.new_session = secrets.token_urlsafe(32)
    return request.state.new_session


async def _receive(request, session, queue, limits):
    """Save the posted workbook into a new job folder and queue it; Refused with the reason otherwise.
    A refusal before the body is read still reads it (dropping it, up to a bound): a server that answers
    while the browser is still sending makes it show a reset connection instead of the message."""
    length = declared_length(request)
    if length > limits.upload_bytes + FORM_OVERHEAD:
        await _drain(request, limits.upload_bytes * DRAIN_FACTOR)
        raise Refused(_too_large(limits), 413)
    try:
        queue.check_session(session)
        queue.check_room()
    except Refused:
        await _drain(request, length)
        raise
    form = await read_form(request, max_fields=4)
    try:
        upload = form.get("workbook")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise Refused("Choose a workbook first.", 400)
        folder = queue.new_folder()
        received = folder / "received"
        size = 0
        with open(received, "wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > limits.upload_bytes:
                    break
                out.write(chunk)
        if size == 0:
            raise Refused("The file is empty (0 bytes).", 400)
        if size > limits.upload_bytes:
            raise Refused(_too_large(limits), 413)
        suffix = workbook_suffix(received, upload.filename or "")
        stem = safe_stem(upload.filename)
        path = received.rename(folder / f"{stem}{suffix}")
        return queue.submit(session, f"{stem}{suffix}", folder, path)
    except Refused:
        if "folder" in locals():
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        await form.close()


def declared_length(request):
    """The upload's size as its request declares it; Refused (411) when it does not say."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise Refused("The upload did not say its size; send it from the form on this page.", 411)
    return int(length)


async def read_form(request, max_fields):
    """The posted form (one file at most); Refused (400) when it was cut off or cannot be parsed."""
    try:
        return await request.form(max_files=1, max_fields=max_fields)
    except ClientDisconnect:
        raise Refused("The upload was cut off before it arrived.", 400) from None
    except Exception:  # noqa: BLE001 -- a malformed multipart body, whatever the parser raises for it
        raise Refused("The upload could not be read; send the workbook from the form on this page.", 400) from None


async def _drain(request, most):
    """Read and drop the body of a refused upload, so that the browser gets the page rather than a reset."""
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > most:
                return
    except ClientDisconnect:
        return


def _too_large(limits):
    return (f"This file is larger than {limits.upload_bytes / MB:g} MB, the limit here. Remove pictures or "
            "extra sheets, save it, and send it again.")

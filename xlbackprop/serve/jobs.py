"""The queue of uploaded workbooks and the worker processes that check them.

The server process only queues and waits: each workbook is validated in a worker process (validate/worker.py)
under the per-job CPU and memory limits, and a worker that dies or hits a limit is replaced, so a hostile
file ends its own job and nothing else. The queue is bounded: past it an upload is refused with the time a
place should take to free. A session (a browser's cookie) has at most one workbook waiting or in work.
Finished jobs, their upload and annotated copy, are deleted `keep_seconds` after the upload.
"""

import asyncio
import math
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from xlbackprop.serve.grid import table_grids
from xlbackprop.serve.limits import Refused
from xlbackprop.validate.annotate import annotated_name
from xlbackprop.validate.worker import Worker

TYPICAL_SECONDS = 2.0  # a course workbook's check, until the server has measured its own
SWEEP_SECONDS = 60


@dataclass
class Job:
    id: str              # unguessable: the result page's and the download's URL
    session: str         # the browser session that sent it; nobody else sees it
    name: str            # the file name the student gave, for the page only
    folder: Path
    upload: Path
    created: float = field(default_factory=time.time)
    state: str = "queued"  # queued, checking, done
    started: float | None = None
    finished: float | None = None
    result: object = None  # the WorkbookResult
    grids: list = field(default_factory=list)
    annotated: Path | None = None

    @property
    def download_name(self):
        return annotated_name(self.name)


class JobQueue:
    def __init__(self, root, workers, limits):
        """`root`: the folder uploads are kept in (one subfolder per job); `limits`: serve.limits.ServeLimits."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.limits = limits
        self.jobs = {}
        self.waiting = asyncio.Queue()
        self.tasks = []
        self.seconds = []  # how long recent jobs took, for "try again in N s"
        # a thread per worker waits on it, so that waiting blocks neither the server nor the other workers
        self.threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xlbackprop-worker")

    async def start(self):
        self.tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        self.tasks.append(asyncio.create_task(self._sweep_forever()))

    async def stop(self):
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.threads.shutdown(wait=False, cancel_futures=True)
        # results live in this process only: without them, their uploads are nobody's any more
        for job in list(self.jobs.values()):
            shutil.rmtree(job.folder, ignore_errors=True)
        self.jobs.clear()

    def check_session(self, session):
        """Refused (409) when this session has a workbook waiting or in work already."""
        for job in self.jobs.values():
            if job.session == session and job.state != "done":
                raise Refused("You already have a workbook being checked. Wait for its result, then send "
                              "the next one.", 409)

    def check_room(self):
        """Refused (429) when the queue is full, saying when to try again."""
        if self.waiting.qsize() >= self.limits.queue:
            wait = self.retry_after()
            raise Refused(f"The server is busy, try again in {wait} s.", 429, retry_after=wait)

    def retry_after(self):
        typical = sorted(self.seconds)[len(self.seconds) // 2] if self.seconds else TYPICAL_SECONDS
        return max(1, math.ceil(typical * (self.waiting.qsize() + 1) / self.workers))

    def new_folder(self):
        """A folder for an upload that is being received (it becomes the job's)."""
        folder = self.root / secrets.token_hex(16)
        folder.mkdir()
        return folder

    def submit(self, session, name, folder, upload):
        """Queue the workbook saved at `upload` (inside `folder`); the checks above run first."""
        self.check_session(session)
        self.check_room()
        job = Job(id=secrets.token_urlsafe(24), session=session, name=name, folder=folder, upload=upload)
        self.jobs[job.id] = job
        self.waiting.put_nowait(job)
        return job

    def get(self, job_id, session):
        """The job, only for the session that sent it; else None (the page says 'not found' either way)."""
        job = self.jobs.get(job_id)
        if job is None or not secrets.compare_digest(job.session, session or ""):
            return None
        return job

    def position(self, job):
        """How many workbooks are before this one in the queue (0 when it is being checked)."""
        if job.state != "queued":
            return 0
        return sum(1 for j in self.jobs.values() if j.state == "queued" and j.created < job.created)

    async def _work(self):
        loop = asyncio.get_running_loop()
        worker = None
        try:
            while True:
                job = await self.waiting.get()
                if job.id not in self.jobs:  # swept while it waited
                    continue
                if worker is None or not worker.alive:
                    worker = await loop.run_in_executor(self.threads, Worker, self.limits.job, table_grids)
                job.state, job.started = "checking", time.time()
                annotated = job.folder / "annotated"
                outcome = await loop.run_in_executor(self.threads, worker.run, job.upload, annotated)
                job.result = outcome.batch.results[0]
                job.grids = outcome.extra or []
                job.annotated = outcome.batch.annotated[0] if outcome.batch.annotated else None
                job.state, job.finished = "done", time.time()
                self.seconds = (self.seconds + [job.finished - job.started])[-50:]
                if outcome.retired:
                    worker = None
        finally:
            if worker is not None:
                worker.close()

    async def _sweep_forever(self):
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    def sweep(self, now=None):
        """Delete the jobs whose upload came more than keep_seconds ago (those still in work stay)."""
        now = time.time() if now is None else now
        for job in list(self.jobs.values()):
            if job.state != "checking" and now - job.created > self.limits.keep_seconds:
                del self.jobs[job.id]
                shutil.rmtree(job.folder, ignore_errors=True)

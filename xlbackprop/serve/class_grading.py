"""Grading a class's submissions in the background: a queue of submission ids, each graded in a worker process
(validate/worker.py, as serve's uploads are: under the per-job CPU and memory limits, a worker that dies or hits
a limit replaced) and its result saved in the store (submissions/store.py). The queue lives in memory only;
what is to be graded lives in the store (status `queued`), so a restart finds it again: start() queues every
submission without a current result, oldest first."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from xlbackprop.serve.grid import table_grids
from xlbackprop.submissions.grading import saved_result
from xlbackprop.validate.batch import Engine
from xlbackprop.validate.worker import Worker


class GradingQueue:
    def __init__(self, store, assignment=None, workers=1, limits=None):
        """`assignment`: the Spec every submission is graded against, or None; `limits`: validate.limits.Limits."""
        self.store = store
        self.engine = Engine(assignment)  # converts with LibreOffice in the worker when a file needs it
        self.workers = workers
        self.limits = limits
        self.waiting = asyncio.Queue()
        self.pending = set()    # ids queued or in work: a submission queued twice is graded once
        self.tasks = []
        # one thread per worker waits on it; the store's calls go to the loop's default executor
        self.threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xlbackprop-grader")

    async def start(self):
        """Remove files left by a crash, queue what is still to grade, and start grading."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.store.remove_orphans)
        for sub in await loop.run_in_executor(None, self.store.queued):
            self.put(sub.id)
        self.tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self):
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.threads.shutdown(wait=False, cancel_futures=True)

    def put(self, submission_id):
        if submission_id not in self.pending:
            self.pending.add(submission_id)
            self.waiting.put_nowait(submission_id)

    def regrade_all(self):
        """Queue every submission again (the assignment or the validator changed). Returns how many."""
        subs = self.store.requeue_all()
        for sub in subs:
            self.put(sub.id)
        return len(subs)

    async def _work(self):
        loop = asyncio.get_running_loop()
        worker = None
        try:
            while True:
                sub_id = await self.waiting.get()
                try:
                    sub = await loop.run_in_executor(None, self.store.get, sub_id)
                    if sub is None or sub.status != "queued":  # deleted, or graded meanwhile
                        continue
                    if worker is None or not worker.alive:
                        worker = await loop.run_in_executor(self.threads, Worker, self.limits, table_grids)
                    path = self.store.path(sub)
                    outcome = await loop.run_in_executor(self.threads, worker.run, path, None, False, self.engine)
                    if outcome.retired:
                        worker = None
                    doc = saved_result(outcome.batch.results[0], path, sub.file_name)
                    doc["grids"] = outcome.extra or []  # each table's top rows, wrong cells marked (serve/grid.py)
                    await loop.run_in_executor(None, self.store.save_result, sub, doc)
                finally:
                    self.pending.discard(sub_id)
        finally:
            if worker is not None:
                worker.close()

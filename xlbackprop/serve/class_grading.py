"""Grading a class's submissions in the background: a queue of submission ids, graded in worker processes,
each result saved in the store (submissions/store.py). The queue itself lives in memory only; what is to be
graded lives in the store (status `queued`), so a restart finds it again: start() queues every submission
without a current result, oldest first."""

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from xlbackprop.submissions.grading import grade_file


class GradingQueue:
    def __init__(self, store, assignment=None, workers=1):
        """`assignment`: the Spec every submission is graded against, or None."""
        self.store = store
        self.assignment = assignment
        self.workers = workers
        self.waiting = asyncio.Queue()
        self.pending = set()    # ids queued or in work: a submission queued twice is graded once
        self.tasks = []
        self.pool = None

    async def start(self):
        """Remove files left by a crash, queue what is still to grade, and start grading."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.store.remove_orphans)
        for sub in await loop.run_in_executor(None, self.store.queued):
            self.put(sub.id)
        self.pool = _pool(self.workers)
        self.tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self):
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)

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

    def position(self, submission_id):
        return self.waiting.qsize() if submission_id in self.pending else 0

    async def _work(self):
        loop = asyncio.get_running_loop()
        while True:
            sub_id = await self.waiting.get()
            try:
                sub = await loop.run_in_executor(None, self.store.get, sub_id)
                if sub is None or sub.status != "queued":  # deleted, or graded meanwhile
                    continue
                doc = await self._grade(loop, sub)
                await loop.run_in_executor(None, self.store.save_result, sub, doc)
            finally:
                self.pending.discard(sub_id)

    async def _grade(self, loop, sub):
        path = self.store.path(sub)
        try:
            return await loop.run_in_executor(self.pool, grade_file, path, sub.file_name, self.assignment)
        except BrokenProcessPool:
            # a worker died in this workbook (killed, out of memory): the workbook is judged unreadable and
            # the pool replaced, so the next submission is graded as usual
            self.pool = _pool(self.workers)
            why = "the validator's process ended while checking this workbook"
        except Exception as exc:  # a bug met in one workbook must not stop the class's grading
            why = f"xlbackprop failed on this workbook ({type(exc).__name__}: {exc}); please report it"
        return {"file": sub.file_name, "verdict": "unreadable", "error": f"{sub.file_name}: {why}", "tables": [],
                "sheets": [], "assignment": []}


def _pool(workers):
    # forkserver, not fork: the server has threads running (uvicorn, the thread pool), which a fork copies badly
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))

"""One worker process that validates one file at a time under per-job limits (validate/limits.py), and says
why a job ended when the process died in it. `serve` keeps a few of them and replaces any that ends;
validate --jobs runs a suspect file alone in one (validate/parallel.py).

The process is forked from the fork server that parallel.py sets up, with the validator (torch included)
already imported: a new worker starts in milliseconds.
"""

import os
import signal
from dataclasses import dataclass

from xlbackprop import libreoffice
from xlbackprop.validate import batch as batches
from xlbackprop.validate import limits as job_limits
from xlbackprop.validate.results import WorkbookResult


@dataclass
class Outcome:
    batch: object        # batches.Batch for the one file
    extra: object = None  # what the job's `then` function returned (serve: the grid of each table)
    usage: tuple = None  # (pid, max RSS, CPU seconds) of the worker after the job
    retired: bool = False  # the worker ended after this job (a limit was hit): start another


class Worker:
    def __init__(self, limits, then=None):
        """`then(path, result)`: run in the worker after validation (picklable, module level)."""
        from xlbackprop.validate.parallel import context

        ctx = context()
        self.limits = limits
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_main, args=(child, limits, then), daemon=True)
        self.process.start()
        child.close()

    def run(self, item, annotate_dir=None, overwrite=False, engine=None):
        """Validate `item` in the worker: an Outcome, whatever happens to the process."""
        try:
            self.conn.send((item, annotate_dir, overwrite, engine))
            wall = self.limits.wall_seconds() if self.limits else None
            if self.conn.poll(wall):
                outcome = self.conn.recv()
                if outcome.retired:
                    self.close()
                return outcome
            self.close()
            error = job_limits.over_wall(self.limits)
        except (EOFError, OSError, BrokenPipeError):
            self.process.join(5)
            error = job_limits.death_message(self.process.exitcode, self.limits)
            self.close()
        result = WorkbookResult(file=str(item), verdict="unreadable", error=f"{item}: {error}")
        return Outcome(batches.Batch(results=[result]), retired=True)

    @property
    def alive(self):
        return self.process.is_alive()

    def close(self):
        """Stop the process now (its LibreOffice runs with it: SIGTERM lets it end them first)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
        self.conn.close()


def _main(conn, limits, then):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, _stop)
    import xlbackprop.validate.api  # noqa: F401  (preloaded by the fork server)

    job_limits.start_worker()
    while True:
        try:
            item, annotate_dir, overwrite, engine = conn.recv()
        except EOFError:  # the parent has gone
            return
        if limits is not None:
            job_limits.apply(limits)
        batch = batches.run([item], annotate_dir, overwrite, engine)
        retired = any(r.error and r.error.endswith(job_limits.over_memory()) for r in batch.results)
        extra = None
        if then is not None and not retired:
            try:
                extra = then(item, batch.results[0])
            except MemoryError:
                retired = True
        usage = _usage()
        conn.send(Outcome(batch, extra, usage, retired))
        if retired:  # memory past the limit may be fragmented or half-freed: a fresh process takes the next job
            return


def _usage():
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return os.getpid(), usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def _stop(signum, frame):
    libreoffice.stop_all()
    os._exit(128 + signum)

"""validate --jobs N: a folder of workbooks on N processes, with the results --jobs 1 gives, in its order.

A worker runs batch.run on one file at a time (the very code --jobs 1 runs), so verdicts, annotated copies
and failures cannot differ. Workers are forked from a server process that has imported the validator
(torch included) once: a worker starts in milliseconds and shares torch's pages, instead of importing it
for seconds, and nothing is imported per file. LibreOffice runs a worker starts have their own profile and
process group (xlbackprop.libreoffice); a worker told to stop ends them before it exits.

Each file runs under the CPU and memory limits of validate/limits.py. A file that kills its worker (a limit,
a crash) breaks the pool: the files then in the workers' hands are validated again, each alone in a
validate/worker.py process, whose exit status says which limit ended the file.
"""

import multiprocessing
import os
import resource
import signal
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from xlbackprop import libreoffice
from xlbackprop.validate import batch as batches
from xlbackprop.validate import limits as job_limits
from xlbackprop.validate.results import WorkbookResult

PRELOAD = ["xlbackprop.validate.api"]  # what validate_file imports on first use: the engine and torch
QUEUED_PER_WORKER = 2  # files handed out ahead, so that no worker waits for the parent between files


def default_jobs():
    """The cores this process may use: on a cluster, the job's allocation rather than the whole machine."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run(items, jobs, annotate_dir=None, overwrite=False, engine=None, progress=None, stats=None, limits=None):
    """batch.run on `jobs` processes: the same Batch, in the order of `items`. `progress(done, total)` is
    called as each file finishes; `stats` (a dict) gets, by worker pid, {"peak_mib", "cpu_s"}: its peak
    memory and the CPU seconds it used (for benchmarks/bench_validate_class.py). `engine`
    must be picklable (a module-level function). Ctrl-C stops the workers and their LibreOffice runs and
    raises KeyboardInterrupt, with nothing written but the annotated copies already finished."""
    parts = [None] * len(items)
    done = 0

    def finished(i, part):
        nonlocal done
        parts[i] = part
        done += 1
        if progress is not None:
            progress(done, len(items))

    args = (annotate_dir, overwrite, engine, limits)
    todo = deque()
    for i, item in enumerate(items):
        if isinstance(item, WorkbookResult):  # a verdict already (a folder without workbooks)
            finished(i, batches.run([item]))
        else:
            todo.append(i)
    while todo:
        suspects = _on_pool(items, todo, min(jobs, len(todo)), args, finished, stats)
        for i in suspects:  # a worker died with these in hand: each alone shows which one killed it
            finished(i, _alone(items[i], args, stats))
    merged = batches.Batch()
    for part in parts:
        merged.results += part.results
        merged.annotated += part.annotated
        merged.failures += part.failures
    return merged


def _on_pool(items, todo, jobs, args, finished, stats):
    """Validate the files `todo` lists, taking them off it, until none is left or a worker dies; then
    return the ones that were in the workers' hands."""
    pool = _pool(jobs)
    flying, suspects = {}, []
    try:
        while (todo or flying) and not suspects:
            while todo and len(flying) < QUEUED_PER_WORKER * jobs:
                try:
                    future = pool.submit(_work, items[todo[0]], *args)
                except BrokenProcessPool:  # a worker died since the last answers came
                    return sorted(flying.values())
                flying[future] = todo.popleft()
            ready, _ = wait(flying, return_when=FIRST_COMPLETED)
            for future in ready:
                i = flying.pop(future)
                try:
                    part, usage = future.result()
                except BrokenProcessPool:
                    suspects.append(i)
                    continue
                _note(stats, usage)
                finished(i, part)
    except BaseException:  # Ctrl-C above all: stop now, not after the files in hand
        _terminate(pool)
        raise
    finally:
        pool.shutdown(wait=not flying, cancel_futures=True)
    return sorted(suspects + list(flying.values()))


def _alone(item, args, stats):
    from xlbackprop.validate.worker import Worker

    annotate_dir, overwrite, engine, limits = args
    worker = Worker(limits)
    try:
        outcome = worker.run(item, annotate_dir, overwrite, engine)
    finally:
        worker.close()
    if outcome.usage is not None:
        _note(stats, outcome.usage)
    return outcome.batch


def context():
    """The multiprocessing context workers start from: a fork server that has imported the validator."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _pool(jobs):
    return ProcessPoolExecutor(jobs, mp_context=context(), initializer=_start_worker)


def _start_worker():
    # Ctrl-C reaches every process of the terminal's group: the parent decides, then stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    import xlbackprop.validate.api  # noqa: F401  (preloaded by the fork server; once per worker under spawn)

    job_limits.start_worker()


def _stop_worker(signum, frame):
    libreoffice.stop_all()
    os._exit(128 + signum)


def _work(item, annotate_dir, overwrite, engine, limits):
    if limits is not None:
        job_limits.apply(limits)
    part = batches.run([item], annotate_dir, overwrite, engine)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return part, (os.getpid(), usage.ru_maxrss, usage.ru_utime + usage.ru_stime)


def _note(stats, usage):
    if stats is not None:
        pid, maxrss, cpu = usage
        mib = maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes there, KiB on Linux
        seen = stats.get(pid, {"peak_mib": 0, "cpu_s": 0})  # answers may come out of order: keep the most
        stats[pid] = {"peak_mib": max(seen["peak_mib"], mib), "cpu_s": max(seen["cpu_s"], cpu)}


def _terminate(pool):
    """Stop the workers now; ProcessPoolExecutor has no public way to before Python 3.14."""
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
        return
    processes = list((pool._processes or {}).values())
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()

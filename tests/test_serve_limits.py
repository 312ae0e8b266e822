"""Per-job limits (validate/limits.py) in the worker processes of serve (validate/worker.py) and of
validate --jobs (validate/parallel.py): a file over a limit ends its own job with a clear verdict, its
worker is replaced, and the next file is checked as usual. Hostile uploads end their own job only."""

import asyncio
import itertools
import time

import pytest

from tests.serve_helpers import EatMemory, SpinForever, right_workbook, wrong_workbook
from xlbackprop.serve.jobs import JobQueue
from xlbackprop.serve.limits import Refused, ServeLimits
from xlbackprop.validate import parallel
from xlbackprop.validate.limits import Limits
from xlbackprop.validate.worker import Worker


def test_a_file_over_the_cpu_limit_is_too_big_and_its_worker_is_replaced(tmp_path):
    good = right_workbook(tmp_path / "right.xlsx")
    worker = Worker(Limits(cpu_seconds=1, memory_mib=1024))
    try:
        start = time.monotonic()
        outcome = worker.run(good, engine=SpinForever())
        assert time.monotonic() - start < 60
        result = outcome.batch.results[0]
        assert result.verdict == "unreadable"
        assert result.error.endswith("too big to check: over the 1 s limit")
        assert outcome.retired and not worker.alive
    finally:
        worker.close()
    fresh = Worker(Limits(cpu_seconds=30))
    try:
        assert fresh.run(good).batch.results[0].verdict == "correct"
    finally:
        fresh.close()


def test_a_file_over_the_memory_limit_is_too_big_and_its_worker_retires(tmp_path):
    good = right_workbook(tmp_path / "right.xlsx")
    worker = Worker(Limits(cpu_seconds=60, memory_mib=256))
    try:
        outcome = worker.run(good, engine=EatMemory())
        assert outcome.batch.results[0].error.endswith("too big to check: over the 256 MiB memory limit")
        assert outcome.retired
        worker.process.join(10)
        assert not worker.alive
    finally:
        worker.close()


def test_validate_jobs_ends_only_the_file_over_the_limit(tmp_path):
    good = [right_workbook(tmp_path / f"right{k}.xlsx") for k in range(3)]
    engine = SpinForever()
    # every file spins under this engine: each must end as too big, none may hang or take the batch down
    batch = parallel.run(good[:2], 2, engine=engine, limits=Limits(cpu_seconds=1))
    assert [r.error.endswith("too big to check: over the 1 s limit") for r in batch.results] == [True, True]
    batch = parallel.run(good, 2, limits=Limits(cpu_seconds=30))
    assert [r.verdict for r in batch.results] == ["correct"] * 3


def test_validate_cli_has_the_limit_options():
    from click.testing import CliRunner

    from xlbackprop.cli import main

    out = CliRunner().invoke(main, ["validate", "--help"]).output
    assert "--cpu-limit" in out and "--memory-limit" in out


def _queue(tmp_path, **limits):
    return JobQueue(tmp_path / "uploads", 2, ServeLimits(**limits))


def test_a_full_queue_says_busy_try_again_in_n_seconds(tmp_path):
    async def scenario():
        queue = _queue(tmp_path, queue=2)  # workers not started: every job waits
        for k in range(2):
            folder = queue.new_folder()
            queue.submit(f"session{k}", "w.xlsx", folder, folder / "w.xlsx")
        with pytest.raises(Refused) as refused:
            folder = queue.new_folder()
            queue.submit("session9", "w.xlsx", folder, folder / "w.xlsx")
        return refused.value

    refused = asyncio.run(scenario())
    assert refused.status == 429 and refused.retry_after >= 1
    assert f"busy, try again in {refused.retry_after} s" in str(refused)


def test_one_upload_in_flight_per_session(tmp_path):
    async def scenario():
        queue = _queue(tmp_path)
        folder = queue.new_folder()
        queue.submit("same", "w.xlsx", folder, folder / "w.xlsx")
        with pytest.raises(Refused) as refused:
            queue.submit("same", "w.xlsx", folder, folder / "w.xlsx")
        queue.submit("another", "w.xlsx", folder, folder / "w.xlsx")  # a classmate on the same network may
        return refused.value

    assert asyncio.run(scenario()).status == 409


def test_uploads_are_deleted_after_the_keep_time(tmp_path):
    async def scenario():
        queue = _queue(tmp_path, keep_seconds=3600)
        folder = queue.new_folder()
        job = queue.submit("s", "w.xlsx", folder, folder / "w.xlsx")
        job.state = "done"
        queue.sweep(now=job.created + 3599)
        kept = folder.exists() and queue.get(job.id, "s") is job
        queue.sweep(now=job.created + 3601)
        return kept, folder.exists(), queue.get(job.id, "s")

    kept, exists, job = asyncio.run(scenario())
    assert kept and not exists and job is None


def test_a_result_is_only_for_the_session_that_sent_it(tmp_path):
    async def scenario():
        queue = _queue(tmp_path)
        folder = queue.new_folder()
        job = queue.submit("mine", "w.xlsx", folder, folder / "w.xlsx")
        return job, queue.get(job.id, "mine"), queue.get(job.id, "someone else"), queue.get(job.id, None)

    job, mine, other, none = asyncio.run(scenario())
    assert mine is job and other is None and none is None
    assert len(job.id) >= 32  # 24 random bytes: unguessable


@pytest.mark.slow
def test_hostile_uploads_end_their_own_job_only(tmp_path):
    """Every mutant of the fuzz test's seed and count goes through the server's queue and workers, with correct and
    wrong workbooks between them: each mutant ends in a verdict, and every honest workbook is judged as alone."""
    from tests.test_fuzz_uploads import COUNT, SEED
    from tests.upload_mutants import mutants, sources

    originals = sources(tmp_path / "sources")
    right = right_workbook(tmp_path / "right.xlsx")
    wrong = wrong_workbook(tmp_path / "wrong.xlsx")
    files = []
    for k, _, _, data in itertools.islice(mutants(SEED, originals), COUNT):
        path = tmp_path / f"mutant-{k}.xlsx"
        path.write_bytes(data)
        files.append((path, None))
        if k % 30 == 0:
            files += [(right, "correct"), (wrong, "wrong")]

    async def scenario():
        queue = JobQueue(tmp_path / "uploads", 2, ServeLimits(queue=len(files)))
        await queue.start()
        try:
            jobs = []
            for n, (path, _) in enumerate(files):
                folder = queue.new_folder()
                jobs.append(queue.submit(f"s{n}", path.name, folder, path))
            while any(j.state != "done" for j in jobs):
                await asyncio.sleep(0.2)
            return jobs
        finally:
            await queue.stop()

    jobs = asyncio.run(scenario())
    for job, (path, expected) in zip(jobs, files):
        assert job.result is not None and job.result.verdict in ("correct", "wrong", "incomplete", "unsupported",
                                                                 "unreadable"), path
        assert "please report it" not in (job.result.error or ""), (path, job.result.error)
        if expected:
            assert job.result.verdict == expected, (path, job.result.error)


def test_a_job_over_a_limit_reads_too_big_to_check_without_server_paths(tmp_path):
    from xlbackprop.serve.jobs import Job
    from xlbackprop.serve.view import result_view
    from xlbackprop.validate.results import WorkbookResult

    folder = tmp_path / "job"
    upload = folder / "mine.xlsx"
    job = Job(id="x", session="s", name="mine.xlsx", folder=folder, upload=upload, state="done",
              result=WorkbookResult(file=str(upload), verdict="unreadable",
                                    error=f"{upload}: too big to check: over the 60 s limit"))
    view = result_view(job)
    assert view["verdict"] == "too big to check"
    assert view["error"] == "mine.xlsx: too big to check: over the 60 s limit"
    assert str(tmp_path) not in str(view)


def test_stopping_the_server_deletes_the_uploads_it_held(tmp_path):
    async def scenario():
        queue = _queue(tmp_path)
        await queue.start()
        folder = queue.new_folder()
        queue.submit("s", "w.xlsx", folder, folder / "w.xlsx")
        await queue.stop()
        return folder

    assert not asyncio.run(scenario()).exists()

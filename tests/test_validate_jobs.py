"""validate --jobs N: the results of --jobs 1, in its order, from several processes; progress per file;
a worker that dies costs one file, not the batch; Ctrl-C leaves no gradebook and no process behind."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile

import pytest
from click.testing import CliRunner

from tests.wb_fixtures import one_table, simulate
from xlbackprop.cli import main
from xlbackprop.validate import batch
from xlbackprop.validate.results import TableResult, WorkbookResult

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and signals as on Unix")


def class_folder(folder):
    """A small class: right and wrong tables, an empty upload, a workbook without a table, in a subfolder too."""
    folder.mkdir()
    (folder / "sub").mkdir()
    one_table(folder / "a_right.xlsx")
    one_table(folder / "b_wrong.xlsx", rows=simulate(mistakes={"E1": lambda e: (e["t1"] - e["a_o1"]) ** 2}))
    (folder / "c_empty.xlsx").write_bytes(b"")
    one_table(folder / "sub" / "d_right.xlsx", lr=0.8)
    with zipfile.ZipFile(folder / "e_notes.xlsx", "w") as z:
        z.writestr("notes.txt", "no workbook")
    return folder


def validate_cli(*args):
    return CliRunner().invoke(main, ["validate", *map(str, args)])


def test_jobs_gives_the_results_of_one_job_in_the_same_order(tmp_path):
    folder = class_folder(tmp_path / "class")
    one = validate_cli("--json", "--jobs", "1", "--annotate", tmp_path / "one", folder)
    two = validate_cli("--json", "--jobs", "2", "--annotate", tmp_path / "two", folder)
    assert one.exit_code == two.exit_code == 2  # the empty upload is unreadable
    docs = [json.loads(r.stdout) for r in (one, two)]
    assert docs[0] == docs[1]
    verdicts = [(os.path.relpath(w["file"], folder), w["verdict"]) for w in docs[1]["workbooks"]]
    assert verdicts == [("a_right.xlsx", "correct"), ("b_wrong.xlsx", "wrong"), ("c_empty.xlsx", "unreadable"),
                        ("e_notes.xlsx", "unreadable"), (os.path.join("sub", "d_right.xlsx"), "correct")]
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted(p.name for p in (tmp_path / "two").iterdir())


def correct_engine(path):
    """A stand-in validator (module level, so a worker can import it): every workbook has one right table."""
    if "dies" in os.path.basename(path):
        os._exit(3)  # as an out-of-memory kill or a crash in C code would end the worker
    return WorkbookResult(str(path), "correct", tables=[TableResult("Sheet", 1, 3, 0.5, "correct", 0.0)])


def test_progress_counts_each_file_once(tmp_path):
    files = [one_table(tmp_path / f"s{i}.xlsx") for i in range(5)]
    calls = []
    result = batch.run(files, engine=correct_engine, progress=lambda done, total: calls.append((done, total)),
                       jobs=2)
    assert calls == [(k, 5) for k in range(1, 6)]
    assert [r.file for r in result.results] == [str(f) for f in files]


def test_a_worker_that_dies_costs_its_file_only(tmp_path):
    files = [one_table(tmp_path / name) for name in ("a.xlsx", "b_dies.xlsx", "c.xlsx", "d.xlsx", "e.xlsx")]
    result = batch.run(files, engine=correct_engine, jobs=2)
    assert [(os.path.basename(r.file), r.verdict) for r in result.results] == [
        ("a.xlsx", "correct"), ("b_dies.xlsx", "unreadable"), ("c.xlsx", "correct"), ("d.xlsx", "correct"),
        ("e.xlsx", "correct")]
    assert result.results[1].error == f"{files[1]}: the process validating it died (out of memory, or a crash); " \
                                      "please report it"


HANGING_SOFFICE = """#!/bin/sh
sleep 300 &
echo $$ $! >> "$FAKE_SOFFICE_DIR/pids"
wait
"""


def session_members(sid):
    """Live processes of a session (the CLI, its fork server and workers; LibreOffice has sessions of its own)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_for(condition, seconds):
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_ctrl_c_stops_workers_and_their_libreoffice_and_writes_no_gradebook(tmp_path):
    """Two .ods uploads whose conversions hang, then Ctrl-C as a terminal sends it: to the whole group."""
    bin_dir, record, folder = tmp_path / "bin", tmp_path / "record", tmp_path / "class"
    for d in (bin_dir, record, folder):
        d.mkdir()
    exe = bin_dir / "soffice"
    exe.write_text(HANGING_SOFFICE)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    for name in ("a.ods", "b.ods", "c.ods"):
        with zipfile.ZipFile(folder / name, "w") as z:
            z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SOFFICE_DIR": str(record)}
    gradebook = tmp_path / "grades.csv"
    # SIG_DFL for the CLI as a terminal's shell gives it: a suite launched in the background of a script inherits
    # SIGINT ignored, and the CLI would then never hear the Ctrl-C this test sends.
    cli = subprocess.Popen([sys.executable, "-c", "from xlbackprop.cli import main; main()", "validate", "--jobs",
                            "2", "--gradebook", str(gradebook), str(folder)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        pids = record / "pids"
        assert wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 4, 120), "no conversion started"
        os.killpg(cli.pid, signal.SIGINT)
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
    assert cli.returncode == 130, err
    assert [line for line in err.splitlines() if line.strip()] == ["xlbackprop: interrupted"]
    assert "Traceback" not in out + err
    assert not gradebook.exists() and list(tmp_path.glob(".grades.csv*")) == []
    soffice_pids = [int(p) for p in pids.read_text().split()]
    assert wait_for(lambda: not any(alive(p) for p in soffice_pids), 10)
    assert wait_for(lambda: not session_members(cli.pid), 10), session_members(cli.pid)
